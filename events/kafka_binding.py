"""The CloudEvents Kafka protocol binding: Touchstream events to and from Kafka records.

Producers write binary mode (attributes as `ce_*` headers, the JSON `data` as the value,
the partition key as the record key); structured mode (the whole event as the value) is read
too. `decode_record` is the one way any consumer turns a record it read back into a typed
event: it never lets a malformed record through and says precisely what is wrong with one, so
that the caller can dead-letter it with the reason.

This runs once per record on the consumer hot path, so it decodes with orjson and walks the
headers once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from touchstream.events.catalog import EventInvalid, FieldError, parse_event
from touchstream.events.envelope import JSON_CONTENT_TYPE, STRUCTURED_CONTENT_TYPE, CloudEvent

CE_PREFIX = "ce_"
CONTENT_TYPE_HEADER = "content-type"
_STRUCTURED_MEDIA_TYPES = frozenset({STRUCTURED_CONTENT_TYPE, JSON_CONTENT_TYPE})

Headers = Sequence[tuple[str, bytes | None]] | Mapping[str, bytes | None]


@dataclass(frozen=True)
class KafkaRecord:
    """What to hand to any Kafka client's produce call (kafka-python wants headers as a list)."""

    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def encode_binary(event: CloudEvent) -> KafkaRecord:
    """Binary mode: one `ce_<attribute>` header per attribute, `data` as the JSON value."""
    doc = event.model_dump(mode="json", exclude_none=True)
    data = doc.pop("data")
    content_type = doc.pop("datacontenttype", JSON_CONTENT_TYPE)
    headers = [(CE_PREFIX + name, _header_bytes(value)) for name, value in doc.items()]
    headers.append((CONTENT_TYPE_HEADER, content_type.encode()))
    return KafkaRecord(key=_key_bytes(event), value=orjson.dumps(data), headers=headers)


def encode_structured(event: CloudEvent) -> KafkaRecord:
    """Structured mode: the whole event as one JSON object in the value."""
    value = event.__pydantic_serializer__.to_json(event, exclude_none=True)
    headers = [(CONTENT_TYPE_HEADER, STRUCTURED_CONTENT_TYPE.encode())]
    return KafkaRecord(key=_key_bytes(event), value=value, headers=headers)


def decode_record(
    value: bytes | None, headers: Headers | None, key: bytes | None = None
) -> CloudEvent:
    """Turn a Kafka record into a typed event, or raise `EventInvalid` saying why not.

    Binary mode is chosen when any header starts with `ce_` (names are case-insensitive, as
    the binding requires); otherwise the value must be a structured-mode event. A record key
    that differs from the event's own partition key is kept as its `partitionkey` attribute,
    so re-publishing the event lands it on the same partition again.
    """
    attrs, content_type, errors = _read_headers(headers)
    if errors:
        raise EventInvalid(errors, attrs.get("id"))
    if attrs:
        obj = _binary_event(attrs, content_type, value)
    else:
        obj = _structured_event(content_type, value)
    event = parse_event(obj)
    if key is not None and event.partitionkey is None:
        event = _keep_record_key(obj, event, key)
    return event


def _read_headers(headers: Headers | None) -> tuple[dict[str, Any], str | None, list[FieldError]]:
    """The `ce_` attributes and the content type, with every header that cannot be read."""
    attrs: dict[str, Any] = {}
    content_type: str | None = None
    errors: list[FieldError] = []
    items = headers.items() if isinstance(headers, Mapping) else headers or ()
    for name, raw in items:
        lowered = name.lower()
        if lowered[:3] == CE_PREFIX:
            field = lowered[3:]
        elif lowered == CONTENT_TYPE_HEADER:
            field = lowered
        else:
            continue  # other headers (tracing, client metadata) are not part of the event
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            errors.append(FieldError(field, f"header {name!r} is not valid UTF-8"))
            continue
        except AttributeError:  # a null header value, or a client that hands over text
            text = raw or ""
        if field == CONTENT_TYPE_HEADER:
            if content_type is not None:
                errors.append(FieldError(field, "header 'content-type' appears more than once"))
            content_type = text
        elif field in attrs:
            errors.append(FieldError(field, f"header {name!r} appears more than once"))
        elif field == "data":
            errors.append(FieldError(field, "no 'ce_data' header: data is the record value"))
        else:
            attrs[field] = text
    return attrs, content_type, errors


def _binary_event(
    attrs: dict[str, Any], content_type: str | None, value: bytes | None
) -> dict[str, Any]:
    event_id = attrs.get("id")
    if content_type is not None:
        # `application/json; charset=utf-8` is the same contract as `application/json`.
        media = _media_type(content_type)
        attrs["datacontenttype"] = JSON_CONTENT_TYPE if media == JSON_CONTENT_TYPE else content_type
    if not value:
        raise EventInvalid(
            [FieldError("data", "empty record: the value must hold the data")], event_id
        )
    data = _loads(value, "data", event_id)
    if not isinstance(data, dict):
        reason = f"must be a JSON object, got {_json_kind(data)}"
        raise EventInvalid([FieldError("data", reason)], event_id)
    attrs["data"] = data
    return attrs


def _structured_event(content_type: str | None, value: bytes | None) -> Any:
    if content_type is not None and _media_type(content_type) not in _STRUCTURED_MEDIA_TYPES:
        reason = (
            f"unsupported content type {content_type!r}: a record without ce_ headers must be "
            f"a structured event ({STRUCTURED_CONTENT_TYPE})"
        )
        raise EventInvalid([FieldError(CONTENT_TYPE_HEADER, reason)])
    if not value:
        raise EventInvalid([FieldError("", "empty record: no ce_ headers and no value")])
    obj = _loads(value, "", None)
    if not isinstance(obj, dict):
        reason = f"a structured event must be a JSON object, got {_json_kind(obj)}"
        raise EventInvalid([FieldError("", reason)])
    return obj


def _keep_record_key(obj: dict[str, Any], event: CloudEvent, key: bytes) -> CloudEvent:
    try:
        key_text = key.decode()
    except UnicodeDecodeError:
        raise EventInvalid(
            [FieldError("partitionkey", "record key is not valid UTF-8")], event.id
        ) from None
    if key_text == event.key:
        return event  # the usual case: keyed by its customer, nothing to keep
    return parse_event({**obj, "partitionkey": key_text})


def _loads(value: bytes, field: str, event_id: str | None) -> Any:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise EventInvalid([FieldError(field, _json_error(value, exc))], event_id) from None


def _json_error(value: bytes, exc: orjson.JSONDecodeError) -> str:
    # orjson reports bad UTF-8 as a JSON error; name the real problem for the dead letter.
    try:
        value.decode()
    except UnicodeDecodeError as bad:
        return f"record value is not valid UTF-8 (byte {bad.start})"
    return f"record value is not valid JSON: {exc}"


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def _header_bytes(value: Any) -> bytes:
    # CloudEvents' canonical string forms: booleans are `true`/`false`, not Python's repr.
    if isinstance(value, bool):
        return b"true" if value else b"false"
    return str(value).encode()


def _key_bytes(event: CloudEvent) -> bytes | None:
    key = event.key
    return key.encode() if key else None
