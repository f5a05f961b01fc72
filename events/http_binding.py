"""The CloudEvents HTTP protocol binding, as the ingest gateway reads it and clients write it.

One request carries one event (binary or structured mode) or many (batch mode, or a plain
`application/json` array for clients that know no CloudEvents). The contract says a bad event
must not sink its good neighbours, so problems are reported at two levels:

- the request as a whole cannot be read (not JSON, wrong media type, empty batch):
  `RequestInvalid`, which carries the HTTP status the gateway should answer with;
- one event breaks the contract: an `EventInvalid` in that event's place in the result list,
  while the valid events around it are returned as typed events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

import orjson

from touchstream.events.catalog import EventInvalid, FieldError, parse_event
from touchstream.events.envelope import (
    BATCH_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    STRUCTURED_CONTENT_TYPE,
    CloudEvent,
)

CE_PREFIX = "ce-"
_ACCEPTED = f"{STRUCTURED_CONTENT_TYPE}, {BATCH_CONTENT_TYPE} or {JSON_CONTENT_TYPE}"


class RequestInvalid(ValueError):
    """The request as a whole cannot be read; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def decode_http(
    headers: Mapping[str, str], body: bytes, *, max_events: int | None = None
) -> list[CloudEvent | EventInvalid]:
    """Decode one request into one result per event, in the order they were sent.

    `max_events` lets the gateway refuse an oversized batch (413) before validating any of it.
    """
    lowered: dict[str, str] = {}
    repeated: set[str] = set()
    for name, value in headers.items():  # a multidict may repeat a name
        key = name.lower()
        if key in lowered:
            repeated.add(key)
        lowered[key] = value
    content_type = lowered.get("content-type")
    if any(name.startswith(CE_PREFIX) for name in lowered):
        return [_binary_event(lowered, repeated, content_type, body)]
    media = _media_type(content_type)
    if media == STRUCTURED_CONTENT_TYPE:
        return [_parse(_loads(body))]
    if media == BATCH_CONTENT_TYPE:
        items = _loads(body)
        if not isinstance(items, list):
            raise RequestInvalid(f"a {BATCH_CONTENT_TYPE} body must be a JSON array of events")
        return _parse_batch(items, max_events)
    if media == JSON_CONTENT_TYPE:
        doc = _loads(body)
        return _parse_batch(doc, max_events) if isinstance(doc, list) else [_parse(doc)]
    if content_type is None:
        raise RequestInvalid(f"Content-Type is missing; send {_ACCEPTED}", status=415)
    raise RequestInvalid(f"unsupported Content-Type {content_type!r}; send {_ACCEPTED}", 415)


def encode_structured_http(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    """Headers and body of a structured-mode request carrying one event."""
    return {"content-type": STRUCTURED_CONTENT_TYPE}, _event_json(event)


def encode_batch_http(events: Iterable[CloudEvent]) -> tuple[dict[str, str], bytes]:
    """Headers and body of a batch-mode request carrying the events in order."""
    body = b"[" + b",".join(_event_json(event) for event in events) + b"]"
    return {"content-type": BATCH_CONTENT_TYPE}, body


def _binary_event(
    headers: dict[str, str], repeated: set[str], content_type: str | None, body: bytes
) -> CloudEvent | EventInvalid:
    """Binary mode: attributes in percent-encoded `ce-` headers, the data as the body."""
    if content_type is not None and _media_type(content_type) != JSON_CONTENT_TYPE:
        raise RequestInvalid(
            f"binary-mode data must be {JSON_CONTENT_TYPE}, got Content-Type {content_type!r}",
            status=415,
        )
    obj: dict[str, Any] = {}
    errors = []
    for name, value in headers.items():
        if not name.startswith(CE_PREFIX):
            continue
        attr = name[len(CE_PREFIX) :]
        if attr == "data":
            errors.append(FieldError("data", "no 'ce-data' header: the data is the body"))
            continue
        if name in repeated:
            errors.append(FieldError(attr, f"header {name!r} appears more than once"))
        try:
            text = unquote(value, errors="strict")
            text.encode()  # raw non-UTF-8 header bytes reach us as surrogate escapes
            obj[attr] = text
        except UnicodeError:
            errors.append(FieldError(attr, f"header {name!r} is not percent-encoded UTF-8"))
    if errors:
        return EventInvalid(errors, obj.get("id"))
    if body:
        data = obj["data"] = _loads(body)
        if not isinstance(data, dict):
            return EventInvalid([FieldError("data", "must be a JSON object")], obj.get("id"))
    return _parse(obj)


def _parse_batch(items: list[Any], max_events: int | None) -> list[CloudEvent | EventInvalid]:
    if not items:
        raise RequestInvalid("the batch is empty; send at least one event")
    if max_events is not None and len(items) > max_events:
        raise RequestInvalid(
            f"the batch has {len(items)} events; at most {max_events} per request", status=413
        )
    return [_parse(item) for item in items]


def _parse(obj: Any) -> CloudEvent | EventInvalid:
    try:
        return parse_event(obj)
    except EventInvalid as invalid:
        return invalid


def _loads(body: bytes) -> Any:
    if not body:
        raise RequestInvalid("the request body is empty")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:
            body.decode()
        except UnicodeDecodeError as bad:
            raise RequestInvalid(f"the body is not valid UTF-8 (byte {bad.start})") from None
        raise RequestInvalid(f"the body is not valid JSON: {exc}") from None


def _media_type(content_type: str | None) -> str | None:
    """The media type without parameters; JSON is UTF-8 only, so another charset is refused."""
    if content_type is None:
        return None
    media, _, params = content_type.partition(";")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            raise RequestInvalid(f"charset {charset!r} is not supported; send UTF-8", status=415)
    return media.strip().lower()


def _event_json(event: CloudEvent) -> bytes:
    return event.__pydantic_serializer__.to_json(event, exclude_none=True)
