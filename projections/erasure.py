"""The right to erasure, as data: which rows hold a customer's identity and how each read model
forgets it (services/erasure.py carries it out).

- **Anonymised in place** (mutations): the archive (`cx.events`) keeps each of the customer's
  events by id, type, source, time and position, with no customer id, subject, payload or
  extensions, so a replay of the Kafka log still recognises every event as projected and the
  aggregates are not counted twice; the dead letters keyed by or carrying the customer keep
  their position, reason and digest, without their bytes.
- **Deleted** (lightweight deletes): the timeline, the profile state, the alerts with their
  revisions and actions, and the customer value.
- **Kept**: the hourly aggregates (satisfaction, voice, touchpoint, SERVQUAL, campaigns), which
  hold counts by touchpoint, channel, segment and hour and no identity.
- **Tombstone** (`cx.erasures`): the erasure request's id, who asked, why, when it was asked
  and executed, the rows affected per table, and the customer only as the SHA-256 of their id.
- **Afterwards**: an event naming an erased customer is projected anonymised (`anonymised`), so
  it still counts in the aggregates but identifies nobody; a dead letter of theirs loses its
  bytes; an alert about them is not projected.

The immutable Kafka log still holds the original events until its retention removes them
(docs/reliability.md); replays go through the same check, so they re-identify nobody.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime
from typing import Any

import orjson

from touchstream.events.privacy import ErasureRequested
from touchstream.projections.timeline import ch_time

_CUSTOMER = "customer_id = {customer_id:String}"
_LETTER = (
    "(key = {customer_id:String} OR JSONExtractString(tryBase64Decode(value_base64), 'data', "
    "'customer_id') = {customer_id:String})"
)
#: Per table, the rows naming a customer (`{customer_id:String}` bound).
ERASED_ROWS = {
    "events": _CUSTOMER,
    "dead_letters": f"{_LETTER} AND value_base64 != ''",
    "timeline": _CUSTOMER,
    "customer_profile_state": _CUSTOMER,
    "alerts": _CUSTOMER,
    "alert_revisions": _CUSTOMER,
    "alert_actions": _CUSTOMER,
    "customer_value": _CUSTOMER,
}
#: The extension attribute that marks an archived event as anonymised (not projectable again).
ERASED_MARK = "touchstreamerased"
#: The tables anonymised in place, and how; the others' rows are deleted.
ANONYMISE = {
    "events": f"customer_id = '', subject = '', extensions = map('{ERASED_MARK}', 'true'), "
    "data = if(JSONHas(data, "
    "'alert_id'), concat('{\"alert_id\":', JSONExtractRaw(data, 'alert_id'), '}'), '{}')",
    "dead_letters": "key = '', headers = map(), value_preview = '', value_base64 = '', "
    "reason = concat(reason, {erased_note:String})",
}
ANONYMOUS_SUMMARY = "(event of an erased customer)"
LETTER_ERASED = " [payload removed: the customer is erased]"
#: Ingest-row columns that can name or single out a person, and what replaces them.
_IDENTIFYING = {
    "customer_id": "",
    "subject": "",
    "summary": ANONYMOUS_SUMMARY,
    "case_id": "",
    "matter": "",
}
#: Payload fields an anonymised event keeps: opaque ids the closed-loop tables join on.
_KEPT_FIELDS = ("alert_id",)


def subject_hash(customer_id: str) -> str:
    return hashlib.sha256(customer_id.encode()).hexdigest()


def anonymised(row: dict[str, Any]) -> dict[str, Any]:
    """An ingest row with everything identifying removed; its facts (type, time, touchpoint,
    channel, scores, sentiment) stay for the aggregates."""
    data = orjson.loads(row["data"])
    kept = {name: data[name] for name in _KEPT_FIELDS if name in data}
    data = orjson.dumps(kept).decode()
    return {**row, **_IDENTIFYING, "data": data, "extensions": {ERASED_MARK: "true"}}


def count_sql(table: str) -> str:
    return f"SELECT count() AS n FROM cx.{table} WHERE {ERASED_ROWS[table]}"


def erase_sql(table: str, cluster: str | None = None) -> str:
    """The statement that makes a table forget a customer: an anonymising mutation or a
    lightweight delete; on a cluster, of the shards' local tables (a Distributed table takes
    neither)."""
    name = f"cx.{table}" if cluster is None else f"cx.{table}_local ON CLUSTER '{cluster}'"
    where = ERASED_ROWS[table]
    if table in ANONYMISE:
        mutation = f"UPDATE {ANONYMISE[table]} WHERE {where} SETTINGS mutations_sync = 2"
        return f"ALTER TABLE {name} {mutation}"
    return f"DELETE FROM {name} WHERE {where}"


def tombstone(
    request: ErasureRequested, removed: dict[str, int], executed_at: datetime, status: str
) -> dict:
    data = request.data
    return {
        "subject_sha256": subject_hash(data.customer_id),
        "erasure_id": request.id,
        "requested_by": data.requested_by,
        "reason": data.reason or "",
        "requested_at": ch_time(request.time),
        "executed_at": ch_time(executed_at),
        "status": status,
        "rows_removed": removed,
    }


def dead_letter_customer(row: dict[str, Any]) -> str:
    """The customer a dead letter row names: its key, else its payload's `data.customer_id`."""
    if row["key"]:
        return row["key"]
    try:
        data = orjson.loads(base64.b64decode(row["value_base64"])).get("data")
        return str(data.get("customer_id") or "") if isinstance(data, dict) else ""
    except (ValueError, AttributeError, binascii.Error):
        return ""


def anonymised_dead_letter(row: dict[str, Any]) -> dict[str, Any]:
    """A dead letter of an erased customer: position, reason and digest kept (so it is counted
    and deduplicated), the bytes that could identify them gone."""
    return {
        **row,
        "reason": f"{row['reason']}{LETTER_ERASED}",
        "key": "",
        "headers": {},
        "value_preview": "",
        "value_base64": "",
    }
