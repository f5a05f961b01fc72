"""Rows of `cx.dead_letters`, the projection of the `cx.deadletter.v1` topic."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson

from touchstream.events.dead_letter import DeadLetter
from touchstream.projections.timeline import ch_time

_PREVIEW_CHARS = 2000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def refused_event_attr(letter: DeadLetter, name: str) -> str:
    """Best-effort id/type of the refused record, for finding it again; never raises."""
    for header, raw in letter.headers:
        if header.lower() == f"ce_{name}":
            return raw.decode("utf-8", "replace")
    try:
        body = orjson.loads(letter.value or b"")
    except orjson.JSONDecodeError:
        return ""
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) else ""


def _parse_time(text: str) -> datetime:
    """The failure time of a dead letter; a missing or garbled one becomes the epoch, so the
    row still fits its table (anyone can write to the dead-letter topic)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return _EPOCH
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def dead_letter_row(letter: DeadLetter) -> dict[str, Any]:
    value = letter.value or b""
    failed_at = ch_time(_parse_time(letter.failed_at))
    return {
        "source_topic": letter.source_topic,
        "source_partition": letter.source_partition,
        "source_offset": letter.source_offset,
        "dead_lettered_at": failed_at,
        "reason": letter.reason,
        "event_id": refused_event_attr(letter, "id")[:256],
        "event_type": refused_event_attr(letter, "type")[:256],
        "key": (letter.key or b"").decode("utf-8", "replace"),
        "headers": {name: raw.decode("utf-8", "replace") for name, raw in letter.headers},
        "value_preview": value[:_PREVIEW_CHARS].decode("utf-8", "replace"),
        "value_base64": base64.b64encode(value).decode(),
        "value_sha256": hashlib.sha256(value).hexdigest(),
    }


def dead_letter_key(row: dict[str, Any]) -> str:
    """Identity of a dead letter: its source position and its bytes.

    The bytes are part of it because the embedded broker forgets its log on restart, so the
    same position can later hold a different record.
    """
    return "/".join(
        (
            row["source_topic"],
            str(row["source_partition"]),
            str(row["source_offset"]),
            row["value_sha256"],
        )
    )
