"""Alerts raised by Touchstream on `cx.alerts.v1`: explained, prioritised, with evidence."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field

from touchstream.events.envelope import CloudEvent, EventId, Payload
from touchstream.events.vocabulary import (
    Channel,
    CustomerId,
    Reference,
    ShortText,
    Slug,
    Touchpoint,
)

Priority = Literal["P1", "P2", "P3", "P4"]
AlertStatus = Literal["open", "resolved"]
Score = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class Reason(Payload):
    """One reason an alert was raised: what was observed, against which threshold."""

    code: Slug = Field(examples=["nps_detractor"])
    text: ShortText
    observed: int | float | str | None = None
    threshold: int | float | str | None = None


class AlertRaisedData(Payload):
    alert_id: Reference = Field(description="Deterministic: the same evidence gives the same id.")
    kind: Slug = Field(examples=["customer.churn_risk", "touchpoint.incident", "alert.sla_breach"])
    rule: Slug
    priority: Priority
    title: ShortText
    customer_id: CustomerId | None = None
    touchpoint: Touchpoint | None = None
    reasons: Annotated[list[Reason], Field(min_length=1)]
    evidence: Annotated[list[EventId], Field(min_length=1, description="Event ids.")]
    suggested_action: ShortText | None = None
    raised_at: AwareDatetime
    revision: int = Field(1, ge=1)
    status: AlertStatus = Field(
        "open", description="resolved: the detector saw the problem end (a last revision)."
    )
    score: Score | None = Field(None, description="The risk or severity score of this revision.")
    previous_score: Score | None = Field(None, description="The score before this revision.")
    sla_hours: float | None = Field(
        None, gt=0, le=24 * 365, description="Time to first action the priority asks for."
    )
    channel: Channel | None = None


class AlertRaised(CloudEvent):
    key_field: ClassVar[str] = "alert_id"
    type: Literal["cx.alert.raised.v1"] = "cx.alert.raised.v1"
    data: AlertRaisedData

    @property
    def key(self) -> str | None:
        return self.data.customer_id or self.data.alert_id


def alert_event_id(alert_id: str, revision: int) -> str:
    """CloudEvent id of one revision of an alert; stable across replays."""
    return f"{alert_id}.r{revision}"
