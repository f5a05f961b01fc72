"""The catalog of event types and the one entry point that turns raw JSON into a typed event.

`parse_event` is used by the gateway, the publisher and every stream processor, so an event is
judged by exactly the same rules wherever it enters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from touchstream.events.alerts import AlertRaised
from touchstream.events.campaigns import CampaignResponded, CampaignSent
from touchstream.events.commerce import PurchaseMade
from touchstream.events.customers import ChurnObserved, CustomerIdentified
from touchstream.events.envelope import CloudEvent
from touchstream.events.feedback import ComplaintResolved, FeedbackGiven, SurveyAnswered
from touchstream.events.loop import AlertAcknowledged, AlertAssigned, AlertResolved, RecoveryOffered
from touchstream.events.privacy import ErasureRequested
from touchstream.events.touchpoints import ContactRecorded

#: Inbound types, published by upstream channels on `cx.touchpoints.v1`.
INBOUND_EVENTS: tuple[type[CloudEvent], ...] = (
    CustomerIdentified,
    ContactRecorded,
    PurchaseMade,
    SurveyAnswered,
    FeedbackGiven,
    ComplaintResolved,
    CampaignSent,
    CampaignResponded,
    AlertAcknowledged,
    AlertAssigned,
    AlertResolved,
    RecoveryOffered,
    ChurnObserved,
    ErasureRequested,
)
#: Outbound types, published by Touchstream on `cx.alerts.v1`.
OUTBOUND_EVENTS: tuple[type[CloudEvent], ...] = (AlertRaised,)

EVENT_TYPES: dict[str, type[CloudEvent]] = {
    cls.model_fields["type"].default: cls for cls in INBOUND_EVENTS + OUTBOUND_EVENTS
}

Event = Annotated[
    CustomerIdentified
    | ContactRecorded
    | PurchaseMade
    | SurveyAnswered
    | FeedbackGiven
    | ComplaintResolved
    | CampaignSent
    | CampaignResponded
    | AlertAcknowledged
    | AlertAssigned
    | AlertResolved
    | RecoveryOffered
    | ChurnObserved
    | ErasureRequested
    | AlertRaised,
    Field(discriminator="type"),
]
_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


@dataclass(frozen=True)
class FieldError:
    """One reason an event was refused: the dotted path of the field, and what is wrong."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


class EventInvalid(ValueError):
    """An event that does not satisfy the contract; `errors` says where and why."""

    def __init__(self, errors: list[FieldError], event_id: str | None = None) -> None:
        self.errors = errors
        self.event_id = event_id
        super().__init__("; ".join(str(e) for e in errors))


def parse_event(obj: Any) -> CloudEvent:
    """Validate one event given as a structured-mode JSON object (already decoded)."""
    event_id = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
    if not isinstance(obj, dict):
        raise EventInvalid([FieldError("", "an event must be a JSON object")], event_id)
    got = obj.get("type")
    if not isinstance(got, str) or got not in EVENT_TYPES:  # a list or object is not hashable
        known = ", ".join(sorted(EVENT_TYPES))
        reason = "missing" if got is None else f"unknown event type {got!r}; known types: {known}"
        raise EventInvalid([FieldError("type", reason)], event_id)
    try:
        return _EVENT_ADAPTER.validate_python(obj)
    except ValidationError as exc:
        raise EventInvalid(field_errors(exc), event_id) from None


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic errors as dotted field paths, without the union tag pydantic puts first."""
    errors = []
    for err in exc.errors(include_url=False):
        loc = list(err["loc"])
        if loc and loc[0] in EVENT_TYPES:
            loc = loc[1:]
        field = ".".join(str(part) for part in loc)
        reason = err["msg"]
        if err["type"] == "extra_forbidden":
            reason = "unknown field (not in the contract)"
        elif err["type"] == "value_error":  # our own validators: drop pydantic's "Value error, "
            reason = str(err["ctx"]["error"])
        errors.append(FieldError(field, reason))
    return errors
