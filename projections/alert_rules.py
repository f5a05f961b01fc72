"""The first alert rule: a detractor survey answer raises an explained customer alert.

Pure and deterministic: the alert id, its time and its text depend only on the evidence event,
so a replay or a restart raises the very same alert, which the projection then keeps once.
The early-warning work replaces this rule with real detectors; the plumbing stays.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from touchstream.events.alerts import AlertRaised, AlertRaisedData, Reason, alert_event_id
from touchstream.events.envelope import CloudEvent
from touchstream.events.feedback import SurveyAnswered

ALERT_SOURCE = "/touchstream/processors"
_ALERT_NAMESPACE = uuid.UUID("5b0f4bb8-4d3c-4f55-9a3a-6f1d0b6e2c11")


def alert_id(rule: str, *keys: str) -> str:
    """A stable alert id from the rule and what the alert is about."""
    return f"alrt-{uuid.uuid5(_ALERT_NAMESPACE, '|'.join((rule, *keys))).hex[:20]}"


def detractor_alerts(events: Iterable[CloudEvent], threshold: int) -> list[AlertRaised]:
    """One alert per survey answer whose NPS is at or below `threshold` (once per answer, even
    if the same answer arrives twice)."""
    alerts: dict[str, AlertRaised] = {}
    for event in events:
        if not isinstance(event, SurveyAnswered) or event.data.nps is None:
            continue
        score = event.data.nps
        if score > threshold:
            continue
        d = event.data
        reasons = [
            Reason(
                code="nps_detractor",
                text=f"NPS {score} is at or below the detractor threshold {threshold}",
                observed=score,
                threshold=threshold,
            )
        ]
        if d.csat is not None and d.csat <= max(1, d.csat_scale // 2):
            reasons.append(
                Reason(
                    code="csat_low",
                    text=f"CSAT {d.csat}/{d.csat_scale} in the same answer",
                    observed=d.csat,
                    threshold=d.csat_scale // 2,
                )
            )
        ident = alert_id("customer.detractor", d.customer_id, event.id)
        alerts.setdefault(
            ident,
            AlertRaised(
                id=alert_event_id(ident, 1),
                source=ALERT_SOURCE,
                time=event.time,
                subject=d.customer_id,
                data=AlertRaisedData(
                    alert_id=ident,
                    kind="customer.detractor",
                    rule="nps-detractor",
                    priority="P2" if score <= 3 else "P3",
                    title=f"Detractor at {d.touchpoint}: customer {d.customer_id} gave NPS {score}",
                    customer_id=d.customer_id,
                    touchpoint=d.touchpoint,
                    reasons=reasons,
                    evidence=[event.id],
                    suggested_action="Call the customer back within one working day; "
                    "apologise and consider a recovery offer",
                    raised_at=event.time,
                ),
            ),
        )
    return list(alerts.values())
