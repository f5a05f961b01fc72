"""HTTP binding: the gateway accepts every CloudEvents mode and keeps good events of bad batches."""

from __future__ import annotations

import orjson
import pytest
from multidict import CIMultiDict

from touchstream.events import CloudEvent, EventInvalid, parse_event
from touchstream.events.http_binding import (
    RequestInvalid,
    decode_http,
    encode_batch_http,
    encode_structured_http,
)

STRUCTURED = {"content-type": "application/cloudevents+json"}
BATCH = {"content-type": "application/cloudevents-batch+json"}
JSON = {"content-type": "application/json"}


def refuse(headers, body, **options) -> RequestInvalid:
    with pytest.raises(RequestInvalid) as caught:
        decode_http(headers, body, **options)
    return caught.value


def test_structured_round_trip(contact):
    event = parse_event(contact())
    assert decode_http(*encode_structured_http(event)) == [event]


def test_batch_round_trip_keeps_order(survey_answer, contact):
    events = [parse_event(contact()), parse_event(survey_answer()), parse_event(contact(id="e-3"))]
    assert decode_http(*encode_batch_http(events)) == events


def test_batch_accepts_valid_events_next_to_invalid_ones_in_order(survey_answer, contact):
    items = [
        survey_answer(id="ok-1"),
        survey_answer(id="no-tz", time="2026-01-01T10:00:00"),
        42,
        contact(id="ok-2"),
        survey_answer(id="odd", type="cx.feedback.survey.v0"),
    ]
    results = decode_http(BATCH, orjson.dumps(items))
    assert [r.id if isinstance(r, CloudEvent) else r.event_id for r in results] == [
        "ok-1",
        "no-tz",
        None,
        "ok-2",
        "odd",
    ]
    assert [type(r) for r in results[1:3] + results[4:]] == [EventInvalid] * 3
    assert results[1].errors[0].field == "time"
    assert "JSON object" in results[2].errors[0].reason
    assert results[4].errors[0].field == "type"


def test_plain_json_takes_one_event_or_an_array(survey_answer):
    [one] = decode_http(JSON, orjson.dumps(survey_answer()))
    assert one.id == "e-1"
    many = decode_http(JSON, orjson.dumps([survey_answer(id="a"), survey_answer(id="b")]))
    assert [e.id for e in many] == ["a", "b"]


def test_binary_mode_headers_are_case_insensitive_and_percent_decoded(survey_answer):
    headers = {
        "CE-SpecVersion": "1.0",
        "Ce-Id": "e-1",
        "ce-source": "%2Fcrm%2Fweb",
        "CE-TYPE": "cx.feedback.survey.v1",
        "ce-time": "2026-01-01T10:00:00Z",
        "ce-subject": "%E5%94%AE%E5%90%8E 100%25",
        "Content-Type": "application/json; charset=utf-8",
    }
    body = orjson.dumps(survey_answer()["data"])
    [event] = decode_http(headers, body)
    assert event == parse_event(survey_answer(subject="售后 100%"))


def test_binary_mode_reports_a_bad_event_instead_of_failing_the_request():
    headers = {"ce-id": "e-5", "ce-type": "cx.feedback.survey.v1", "ce-source": "%FF"}
    [invalid] = decode_http(headers, b'{"customer_id": "c-1"}')
    assert isinstance(invalid, EventInvalid)
    assert invalid.event_id == "e-5"
    assert invalid.errors[0].field == "source"


def test_binary_mode_refuses_an_attribute_given_twice(survey_answer):
    headers = CIMultiDict(
        [("ce-id", "e-1"), ("ce-type", "cx.feedback.survey.v1"), ("CE-ID", "e-2")]
    )
    [invalid] = decode_http(headers, orjson.dumps(survey_answer()["data"]))
    assert invalid.errors[0].field == "id"
    assert "more than once" in invalid.errors[0].reason


def test_binary_mode_data_must_be_an_object():
    headers = {"ce-id": "e-5", "ce-type": "cx.feedback.survey.v1"}
    [invalid] = decode_http(headers, b"[1]")
    assert (invalid.errors[0].field, invalid.event_id) == ("data", "e-5")


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        (STRUCTURED, b'{"id": ', 400, "not valid JSON"),
        (STRUCTURED, b'{"id": "\xff"}', 400, "not valid UTF-8"),
        (STRUCTURED, b"", 400, "empty"),
        (BATCH, b'{"id": "e-1"}', 400, "JSON array"),
        (BATCH, b"[]", 400, "batch is empty"),
        (JSON, b"[]", 400, "batch is empty"),
        ({"content-type": "text/plain"}, b"{}", 415, "unsupported Content-Type"),
        ({}, b"{}", 415, "Content-Type is missing"),
        ({"content-type": "application/json; charset=latin-1"}, b"{}", 415, "UTF-8"),
        ({"ce-id": "e-1", "content-type": "text/xml"}, b"<a/>", 415, "binary-mode data"),
    ],
)
def test_unreadable_requests_are_refused_whole_with_a_status(headers, body, status, message):
    refused = refuse(headers, body)
    assert refused.status == status
    assert message in str(refused)


def test_oversized_batch_is_refused_before_validation(survey_answer):
    body = orjson.dumps([survey_answer(id=str(i)) for i in range(3)])
    refused = refuse(BATCH, body, max_events=2)
    assert refused.status == 413
