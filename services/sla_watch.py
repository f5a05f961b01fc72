"""SLA-breach alerts: an alert nobody acknowledged within the time its priority allows is
escalated by a new alert, one priority higher, naming the alert it escalates.

Checked on a timer by the processors, against the stream time (`cx.alert_lifecycle`): the
breach is dated at the due time, so the same breach always gives the same alert, and an alert
already escalated is not escalated again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from touchstream.events.alerts import AlertRaised, AlertRaisedData, Reason, alert_event_id
from touchstream.projections import queries
from touchstream.projections.alert_ids import ALERT_SOURCE, alert_id
from touchstream.services.projector import Projector

KIND = "alert.sla_breach"
ESCALATED = {"P1": "P1", "P2": "P1", "P3": "P2", "P4": "P3"}
#: Hours to act on the escalation itself: whoever owns escalations should act at once.
SLA_HOURS = 1.0


class SlaWatch:
    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    async def alerts(self) -> list[AlertRaised]:
        return [breach_alert(row) for row in await self.projector.query(queries.SLA_BREACHES)]


def breach_alert(row: dict) -> AlertRaised:
    """The escalation of one breached alert (a row of `SLA_BREACHES`)."""
    due = datetime.fromisoformat(row["due_at"]).replace(tzinfo=UTC)
    ident = alert_id(KIND, row["alert_id"])
    hours = float(row["sla_hours"])
    priority = ESCALATED[row["priority"]]
    return AlertRaised(
        id=alert_event_id(ident, 1),
        source=ALERT_SOURCE,
        time=due,
        subject=row["customer_id"] or row["touchpoint"] or row["alert_id"],
        data=AlertRaisedData(
            alert_id=ident,
            kind=KIND,
            rule="sla-breach",
            priority=priority,
            title=(
                f"SLA missed: {row['priority']} {row['kind']} alert {row['alert_id']} "
                f"not acknowledged within {hours:g} h"
            ),
            customer_id=row["customer_id"] or None,
            touchpoint=row["touchpoint"] or None,
            reasons=[
                Reason(
                    code="sla_breached",
                    text=f"Opened {row['opened_at'][:16]}, due {row['due_at'][:16]}, "
                    "no acknowledgement",
                    observed="unacknowledged",
                    threshold=f"{hours:g} h",
                )
            ],
            evidence=[row["alert_id"]],
            suggested_action=(
                f"Escalate to the team lead: acknowledge and assign alert {row['alert_id']} now"
            ),
            raised_at=due,
            sla_hours=SLA_HOURS,
        ),
    )
