"""Hostile input reaching the projector: every event the contract accepts becomes a read-model
row (a row that cannot be built is dead-lettered as an internal error: a bug, not bad input)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given

from tests.unit.events.test_hostile_properties import FAST, valid_documents
from touchstream.events import parse_event
from touchstream.projections.timeline import RecordOrigin, from_ch_time, ingest_row

RECEIVED = datetime(2026, 3, 1, tzinfo=UTC)


@FAST
@given(valid_documents())
def test_every_valid_event_projects_to_a_row_the_warehouse_takes(doc):
    event = parse_event(doc)
    row = ingest_row(event, RecordOrigin("cx.touchpoints.v1", 0, 0), RECEIVED)
    assert from_ch_time(row["time"]) == event.time.replace(
        microsecond=event.time.microsecond // 1000 * 1000
    )
    assert orjson.loads(row["data"]) == event.data.model_dump(mode="json", exclude_none=True)
    assert "\n" not in row["summary"]
    orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS)  # the warehouse's JSONEachRow encoding
