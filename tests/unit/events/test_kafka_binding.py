"""Kafka binding: what producers write is what consumers read, and bad records say why."""

from __future__ import annotations

import orjson
import pytest

from touchstream.events import EventInvalid, parse_event
from touchstream.events.kafka_binding import decode_record, encode_binary, encode_structured


def reject(value, headers, key=None) -> EventInvalid:
    with pytest.raises(EventInvalid) as caught:
        decode_record(value, headers, key)
    return caught.value


def test_binary_round_trip_keeps_every_attribute(contact):
    event = parse_event(contact())
    record = encode_binary(event)
    assert decode_record(record.value, record.headers, record.key) == event


def test_binary_mode_puts_attributes_in_ce_headers_and_data_in_value(survey_answer):
    record = encode_binary(parse_event(survey_answer()))
    headers = dict(record.headers)
    assert headers["ce_id"] == b"e-1"
    assert headers["ce_type"] == b"cx.feedback.survey.v1"
    assert headers["ce_time"] == b"2026-01-01T10:00:00Z"
    assert headers["content-type"] == b"application/json"
    assert "ce_datacontenttype" not in headers and "ce_data" not in headers
    assert orjson.loads(record.value)["nps"] == 3


def test_records_are_keyed_by_customer_so_their_order_is_kept(survey_answer):
    event = parse_event(survey_answer())
    assert encode_binary(event).key == b"c-1"
    assert encode_structured(event).key == b"c-1"


def test_structured_round_trip(contact):
    event = parse_event(contact())
    record = encode_structured(event)
    assert dict(record.headers) == {"content-type": b"application/cloudevents+json"}
    assert decode_record(record.value, record.headers, record.key) == event


def test_structured_record_without_headers_is_read(survey_answer):
    """Any Kafka client can publish plain JSON events with no headers at all."""
    event = decode_record(orjson.dumps(survey_answer()), None)
    assert event.id == "e-1" and event.data.nps == 3


def test_header_names_are_case_insensitive(survey_answer):
    record = encode_binary(parse_event(survey_answer()))
    shouting = [(name.upper(), value) for name, value in record.headers]
    assert decode_record(record.value, shouting) == parse_event(survey_answer())


def test_headers_may_be_a_mapping_and_unrelated_headers_are_ignored(survey_answer):
    record = encode_binary(parse_event(survey_answer()))
    headers = {**dict(record.headers), "traceparent": b"00-abc-def-01"}
    assert decode_record(record.value, headers).id == "e-1"


def test_json_content_type_with_charset_is_the_same_contract(survey_answer):
    record = encode_binary(parse_event(survey_answer()))
    headers = [(n, v) for n, v in record.headers if n != "content-type"]
    headers.append(("Content-Type", b"application/json; charset=utf-8"))
    assert decode_record(record.value, headers).datacontenttype == "application/json"


def test_binary_extension_values_are_canonical_cloudevents_strings(survey_answer):
    record = encode_binary(parse_event(survey_answer(replayed=True, attempt=3)))
    headers = dict(record.headers)
    assert (headers["ce_replayed"], headers["ce_attempt"]) == (b"true", b"3")


def test_a_foreign_record_key_is_kept_as_partitionkey(survey_answer):
    record = encode_binary(parse_event(survey_answer()))
    assert decode_record(record.value, record.headers, b"c-1").partitionkey is None
    assert decode_record(record.value, record.headers, b"store-9").partitionkey == "store-9"


@pytest.mark.parametrize(
    ("value", "headers", "field", "reason"),
    [
        (None, [("ce_id", b"e-1")], "data", "empty record"),
        (b"", None, "", "empty record"),
        (b'{"nps": 3}', [("ce_source", b"\xff/crm")], "source", "not valid UTF-8"),
        (b'{"nps": "\xff"}', [("ce_id", b"e-1")], "data", "not valid UTF-8"),
        (b'{"id": "\xff"}', None, "", "not valid UTF-8"),
        (b'{"nps": 3', [("ce_id", b"e-1")], "data", "not valid JSON"),
        (b"nps=3", [], "", "not valid JSON"),
        (b"[1, 2]", [("ce_id", b"e-1")], "data", "must be a JSON object, got an array"),
        (b'"an event"', None, "", "must be a JSON object, got a string"),
        (b"{}", [("ce_id", b"e-1"), ("CE_ID", b"e-2")], "id", "more than once"),
        (b"{}", [("ce_id", b"e-1"), ("ce_data", b"{}")], "data", "record value"),
        (b"{}", [("content-type", b"application/avro")], "content-type", "unsupported"),
        (b"{}", [("content-type", b"\xfe")], "content-type", "not valid UTF-8"),
    ],
)
def test_undecodable_records_say_which_field_and_why(value, headers, field, reason):
    error = reject(value, headers).errors[0]
    assert error.field == field
    assert reason in error.reason


def test_undecodable_binary_record_still_names_its_event_id():
    assert reject(b"not json", [("ce_id", b"e-77")]).event_id == "e-77"


def test_non_utf8_record_key_is_refused(survey_answer):
    record = encode_binary(parse_event(survey_answer()))
    error = reject(record.value, record.headers, b"\xff\xfe").errors[0]
    assert error.field == "partitionkey"


def test_unknown_type_is_refused_with_the_known_types(survey_answer):
    record = encode_binary(parse_event(survey_answer()))
    headers = [(n, b"cx.feedback.survey.v9" if n == "ce_type" else v) for n, v in record.headers]
    invalid = reject(record.value, headers)
    assert invalid.errors[0].field == "type"
    assert "cx.feedback.survey.v1" in invalid.errors[0].reason
    assert invalid.event_id == "e-1"


def test_field_outside_the_contract_is_refused(survey_answer):
    record = encode_binary(parse_event(survey_answer()))
    value = orjson.dumps({**orjson.loads(record.value), "vip": True})
    error = reject(value, record.headers).errors[0]
    assert (error.field, error.reason) == ("data.vip", "unknown field (not in the contract)")


def test_time_without_time_zone_is_refused(survey_answer):
    error = reject(orjson.dumps(survey_answer(time="2026-01-01T10:00:00")), None).errors[0]
    assert error.field == "time"
    assert "timezone" in error.reason


def test_every_problem_in_the_data_is_reported_at_once(survey_answer):
    bad = survey_answer(
        data={"customer_id": "c 1", "survey_id": "s-1", "touchpoint": "X", "nps": 11}
    )
    fields = {e.field for e in reject(orjson.dumps(bad), None).errors}
    assert fields == {"data.customer_id", "data.touchpoint", "data.nps"}
