"""The Touchstream event contract.

Everything an upstream channel needs to speak to Touchstream lives here and nowhere else:
the CloudEvents 1.0 envelope, one frozen pydantic model per versioned event type, the Kafka
and HTTP protocol bindings, the JSON Schemas generated from the models, and a publisher.
This package imports nothing from `projections` or `services`.
"""

from touchstream.events.catalog import (
    EVENT_TYPES,
    Event,
    EventInvalid,
    FieldError,
    parse_event,
)
from touchstream.events.envelope import CloudEvent

__all__ = ["EVENT_TYPES", "CloudEvent", "Event", "EventInvalid", "FieldError", "parse_event"]
