"""Dead letters: the original record survives the dead-letter topic byte for byte, and its row
in `cx.dead_letters` can be built from anything, however broken."""

from __future__ import annotations

import base64
import hashlib

import orjson
import pytest

from touchstream.events.dead_letter import DLQ_HEADERS, DeadLetter
from touchstream.projections.dead_letters import dead_letter_key, dead_letter_row

ORIGINAL_HEADERS = (
    ("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    ("ce_id", b"ev-42"),
    ("ce_type", b"cx.touchpoint.contact.v1"),
    ("x-retry", b"1"),
    ("x-retry", b"2"),
    ("binary", b"\x00\xff\xfe"),
)


def letter(**overrides) -> DeadLetter:
    fields = {
        "key": b"c-1001",
        "value": b'{"customer_id": "c-1001"',
        "headers": ORIGINAL_HEADERS,
        "reason": "data: record value is not valid JSON: unexpected end of data",
        "source_topic": "cx.touchpoints.v1",
        "source_partition": 3,
        "source_offset": 4217,
        "failed_at": "2026-03-01T09:00:00.123Z",
    }
    return DeadLetter(**{**fields, **overrides})


def row(**overrides) -> dict:
    return dead_letter_row(letter(**overrides))


# ---- the dead-letter record format ------------------------------------------------------------


def test_a_dead_letter_reads_back_exactly_as_it_was_written():
    original = letter()
    assert DeadLetter.from_record(original.key, original.value, original.record_headers()) == (
        original
    )


def test_original_headers_come_first_in_their_order_then_the_reasons():
    headers = letter().record_headers()
    assert tuple(headers[: len(ORIGINAL_HEADERS)]) == ORIGINAL_HEADERS
    added = dict(headers[len(ORIGINAL_HEADERS) :])
    assert set(added) == DLQ_HEADERS
    assert added["dlq_reason"] == letter().reason.encode()
    assert (added["dlq_source_partition"], added["dlq_source_offset"]) == (b"3", b"4217")


def test_a_record_without_dead_letter_headers_reads_as_an_unknown_failure():
    read = DeadLetter.from_record(None, b"x", [("trace", b"t")])
    assert (read.reason, read.source_partition, read.source_offset) == ("unknown", -1, -1)
    assert read.headers == (("trace", b"t"),)


def test_a_record_with_malformed_dead_letter_headers_is_still_read():
    """Any client can write to the dead-letter topic; one odd record must not stop its agent."""
    read = DeadLetter.from_record(
        None,
        b"x",
        [("dlq_reason", b"manual"), ("dlq_source_partition", b"two"), ("dlq_source_offset", b"")],
    )
    assert read.reason == "manual" and read.source_offset == -1


# ---- rows of cx.dead_letters ------------------------------------------------------------------


def test_invalid_utf8_values_keep_their_exact_bytes():
    value = b'{"id": "ev-1", "note": "\xe9t\xe9"}\xff'
    built = row(value=value)
    assert base64.b64decode(built["value_base64"]) == value
    assert built["value_sha256"] == hashlib.sha256(value).hexdigest()
    assert "\ufffd" in built["value_preview"] and built["value_preview"].startswith('{"id"')


def test_binary_headers_and_keys_become_readable_text():
    built = row(key=b"c-\xff")
    assert built["headers"]["binary"] == "\x00\ufffd\ufffd"
    assert built["key"] == "c-\ufffd"


def test_event_id_and_type_come_from_ce_headers_whatever_their_case():
    built = row(headers=(("CE_ID", b"ev-7"), ("Ce_Type", b"cx.feedback.survey.v1")))
    assert (built["event_id"], built["event_type"]) == ("ev-7", "cx.feedback.survey.v1")


def test_event_id_and_type_come_from_a_structured_json_body():
    body = {"id": "ev-9", "type": "cx.unknown.v9", "source": "/x", "data": {}}
    built = row(headers=(), value=orjson.dumps(body))
    assert (built["event_id"], built["event_type"]) == ("ev-9", "cx.unknown.v9")


@pytest.mark.parametrize(
    "value",
    [None, b"", b"\x00\xff\xfe", b"[1, 2]", b'"ev-1"', b"null", b'{"id": 5, "type": ["a"]}'],
    ids=["none", "empty", "binary", "array", "string", "null", "wrong-types"],
)
def test_garbage_never_raises_and_names_no_event(value):
    built = row(headers=(("x", b"\xff"),), value=value, key=None)
    assert (built["event_id"], built["event_type"]) == ("", "")
    assert base64.b64decode(built["value_base64"]) == (value or b"")
    assert built["key"] == ""


def test_oversized_values_are_previewed_short_and_kept_whole():
    value = b"x" * 10_000
    built = row(value=value)
    assert len(built["value_preview"]) == 2000
    assert base64.b64decode(built["value_base64"]) == value


def test_oversized_ids_are_cut_to_fit():
    assert len(row(headers=(("ce_id", b"e" * 1000),))["event_id"]) == 256


def test_failure_time_is_clickhouse_text():
    assert row()["dead_lettered_at"] == "2026-03-01 09:00:00.123"
    assert row(failed_at="")["dead_lettered_at"] == "1970-01-01 00:00:00.000"


def test_a_dead_letter_with_a_malformed_failure_time_still_fits_its_table(warehouse):
    """Otherwise the projector would retry the insert forever and the topic would stall."""
    warehouse.insert("cx.dead_letters", [row(failed_at="yesterday")])
    assert warehouse.query("SELECT count() AS n FROM cx.dead_letters") == [{"n": 1}]


def test_the_same_position_with_other_bytes_is_another_dead_letter():
    """The embedded broker forgets its log on restart, so offsets are reused."""
    first = dead_letter_key(row(value=b"first"))
    assert dead_letter_key(row(value=b"first")) == first
    assert dead_letter_key(row(value=b"second")) != first
    assert dead_letter_key(row(value=b"first", source_offset=4218)) != first
    assert dead_letter_key(row(value=b"first", source_partition=0)) != first
