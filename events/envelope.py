"""The CloudEvents 1.0 envelope shared by every Touchstream event.

Each event type subclasses `CloudEvent`, pinning `type` to one versioned name and `data` to
its payload model. Touchstream's profile of CloudEvents is stricter than the spec in two ways
that the read models rely on: `time` is required (the moment the contact happened, with a
timezone), and `data` is always a JSON object.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

SPECVERSION = "1.0"
JSON_CONTENT_TYPE = "application/json"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"

# Attributes defined by the spec (or the partitioning extension), everything else is an extension.
CORE_ATTRIBUTES = frozenset(
    {"specversion", "id", "source", "type", "time", "subject", "datacontenttype", "dataschema"}
)
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
#: Bounds that keep every valid event well inside one Kafka record (1 MB by default), so
#: that an event the gateway accepts can always be published, and dead-lettered if need be.
MAX_EXTENSIONS = 50
MAX_EXTENSION_CHARS = 1024
#: CloudEvents' Integer type is 32-bit.
_INT32 = range(-(2**31), 2**31)
#: Event times the read models hold faithfully: the hourly and daily tables are ClickHouse
#: `DateTime` and `Date`, which begin in 1970 and end in 2106.
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2100, 1, 1, tzinfo=UTC)

EventId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Source = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


def _json_media_type(value: object) -> object:
    """`application/json; charset=utf-8` is JSON too: keep the media type, drop the parameter."""
    if isinstance(value, str) and value.split(";")[0].strip().lower() == JSON_CONTENT_TYPE:
        charset = value.partition("charset=")[2].strip().strip('"').lower()
        if charset in ("", "utf-8", "utf8"):
            return JSON_CONTENT_TYPE
    return value


def _within_warehouse_range(moment: datetime) -> datetime:
    if not EARLIEST_TIME <= moment < LATEST_TIME:
        raise ValueError(
            f"must be on or after {EARLIEST_TIME:%Y-%m-%d} and before {LATEST_TIME:%Y-%m-%d} "
            f"(UTC), got {moment.isoformat()}"
        )
    return moment


EventTime = Annotated[
    AwareDatetime,
    AfterValidator(_within_warehouse_range),
    Field(description="When it happened, with a time zone; from 1970 to before 2100 (UTC)."),
]


class Payload(BaseModel):
    """Base of every `data` model: immutable, and unknown fields are an error, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event; subclasses fix `type` and `data`."""

    model_config = ConfigDict(frozen=True, extra="allow")

    #: Name of the Kafka/HTTP partition key source; subclasses override when it is not the
    #: customer (for example alerts about a touchpoint).
    key_field: ClassVar[str] = "customer_id"

    specversion: Literal["1.0"] = SPECVERSION
    id: EventId
    source: Source
    type: str
    time: EventTime
    subject: Annotated[str, StringConstraints(max_length=1024)] | None = None
    datacontenttype: Annotated[Literal["application/json"], BeforeValidator(_json_media_type)] = (
        JSON_CONTENT_TYPE
    )
    dataschema: Annotated[str, StringConstraints(max_length=1024)] | None = None
    partitionkey: Annotated[str, StringConstraints(max_length=256)] | None = None
    data: Any = Field(description="The event payload; its model depends on `type`.")

    @model_validator(mode="after")
    def _check_extensions(self) -> CloudEvent:
        extensions = self.model_extra or {}
        if len(extensions) > MAX_EXTENSIONS:
            raise ValueError(
                f"at most {MAX_EXTENSIONS} extension attributes, got {len(extensions)}"
            )
        for name, value in extensions.items():
            if not _EXTENSION_NAME.fullmatch(name):
                raise ValueError(
                    f"extension attribute {name!r} must be 1-20 lowercase letters or digits"
                )
            if not isinstance(value, str | int | bool):
                raise ValueError(
                    f"extension attribute {name!r} must be a string, integer or boolean"
                )
            if isinstance(value, str) and len(value) > MAX_EXTENSION_CHARS:
                raise ValueError(
                    f"extension attribute {name!r} is longer than {MAX_EXTENSION_CHARS} characters"
                )
            if isinstance(value, str) and not value.isascii():
                try:
                    value.encode()
                except UnicodeEncodeError:  # a lone surrogate: no binding can carry it
                    raise ValueError(f"extension attribute {name!r} is not valid Unicode") from None
            if isinstance(value, int) and not isinstance(value, bool) and value not in _INT32:
                raise ValueError(f"extension attribute {name!r} must be a 32-bit integer")
        return self

    @property
    def key(self) -> str | None:
        """The partition key: the customer id for customer events, so their order is kept."""
        value = getattr(self.data, self.key_field, None)
        return value or self.partitionkey

    def attributes(self) -> dict[str, Any]:
        """Context attributes (everything but `data`) as JSON-ready values, extensions included."""
        attrs = self.model_dump(mode="json", exclude={"data"}, exclude_none=True)
        return attrs

    def to_json_dict(self) -> dict[str, Any]:
        """The structured-mode JSON object for this event."""
        return self.model_dump(mode="json", exclude_none=True)
