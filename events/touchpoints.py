"""A contact between the customer and the company at a touchpoint."""

from __future__ import annotations

from typing import Literal

from touchstream.events.envelope import CloudEvent, Payload
from touchstream.events.vocabulary import (
    Channel,
    CustomerId,
    JourneyStage,
    Reference,
    Seconds,
    ShortText,
    Slug,
    Touchpoint,
)


class ContactRecordedData(Payload):
    customer_id: CustomerId
    channel: Channel
    touchpoint: Touchpoint
    stage: JourneyStage
    direction: Literal["inbound", "outbound"] = "inbound"
    reason: ShortText | None = None
    wait_seconds: Seconds | None = None
    handle_seconds: Seconds | None = None
    outcome: Literal["resolved", "unresolved", "escalated", "transferred"] | None = None
    agent_id: Reference | None = None
    team: Slug | None = None
    case_id: Reference | None = None


class ContactRecorded(CloudEvent):
    """The customer was in contact with the company (a call, a visit, a session, a delivery)."""

    type: Literal["cx.touchpoint.contact.v1"] = "cx.touchpoint.contact.v1"
    data: ContactRecordedData
