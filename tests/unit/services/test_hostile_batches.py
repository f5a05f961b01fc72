"""Hostile batches through the processors' pipeline (no faust; a real in-process chDB): the
same event id twice in one micro-batch, with different payloads."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from touchstream.events.catalog import parse_event
from touchstream.events.kafka_binding import encode_binary
from touchstream.projections.migrations import migrate
from touchstream.projections.warehouse import Warehouse, open_warehouse
from touchstream.services import metrics
from touchstream.services.processor import INBOUND_TYPES, Pipeline, Record, decode_all
from touchstream.services.projector import Projector
from touchstream.services.settings import Settings

TOPIC = "cx.touchpoints.v1"
SURVEY = "cx.feedback.survey.v1"


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[tuple[Pipeline, Warehouse]]:
    warehouse = open_warehouse(f"chdb://{tmp_path / 'warehouse'}")
    migrate(warehouse)
    projector = Projector(warehouse, retry_max_s=0.5)

    async def send(topic, key, value, headers) -> None:
        pass

    yield Pipeline(Settings(touchpoints_topic=TOPIC), projector, send), warehouse
    projector.close()
    warehouse.close()


def survey(event_id: str, source: str, nps: int) -> dict:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": SURVEY,
        "time": "2026-03-01T10:00:00Z",
        "data": {"customer_id": "c-dup", "survey_id": "s", "touchpoint": "app", "nps": nps},
    }


def batch_with_a_duplicate(source: str) -> list[Record]:
    records = []
    for offset, nps in enumerate([9, 0]):
        encoded = encode_binary(parse_event(survey("ev-dup", source, nps)))
        records.append(Record(TOPIC, 0, offset, encoded.key, encoded.value, tuple(encoded.headers)))
    return records


def processed(source: str, outcome: str) -> float:
    return metrics.PROCESSED_EVENTS.labels(TOPIC, outcome, SURVEY, source)._value.get()


def test_the_first_of_two_payloads_with_one_id_in_a_batch_is_stored_once(pipeline):
    pipe, warehouse = pipeline
    asyncio.run(asyncio.wait_for(pipe.touchpoints(batch_with_a_duplicate("/dup")), 15))
    rows = warehouse.query("SELECT kafka_offset, data FROM cx.events WHERE id = 'ev-dup'")
    assert [(int(r["kafka_offset"]), '"nps":9' in r["data"]) for r in rows] == [(0, True)]


def test_a_duplicate_in_the_same_batch_is_counted_as_a_duplicate(pipeline):
    pipe, _ = pipeline
    source = f"/tests/hostile-{uuid.uuid4().hex[:8]}"  # its own metric labels
    asyncio.run(asyncio.wait_for(pipe.touchpoints(batch_with_a_duplicate(source)), 15))
    assert (processed(source, "projected"), processed(source, "duplicate")) == (1, 1)


def test_a_record_too_large_to_dead_letter_whole_is_dead_lettered_without_its_value():
    huge = b"{" + b" " * (3 * 1024 * 1024) + b"}"
    (letter,) = decode_all([Record(TOPIC, 0, 7, b"k", huge, ())], INBOUND_TYPES)[1]
    assert letter.value is None and letter.key == b"k"
    assert "3,145,730 bytes not kept" in letter.reason and "SHA-256" in letter.reason
