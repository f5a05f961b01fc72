"""Hostile input, property-based: whatever bytes, headers, keys or JSON arrive, the decoding
paths answer with a typed event or with an error that says why (`EventInvalid`, or for a whole
HTTP request `RequestInvalid` with a 4xx status), never with another exception; an event they
accept can be published and read back unchanged; and every valid event survives each binding.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from touchstream.events import CloudEvent, EventInvalid, parse_event
from touchstream.events.alerts import AlertRaisedData
from touchstream.events.catalog import EVENT_TYPES
from touchstream.events.envelope import (
    CORE_ATTRIBUTES,
    EARLIEST_TIME,
    LATEST_TIME,
    MAX_EXTENSION_CHARS,
)
from touchstream.events.http_binding import (
    RequestInvalid,
    decode_http,
    encode_batch_http,
    encode_structured_http,
)
from touchstream.events.kafka_binding import decode_record, encode_binary, encode_structured
from touchstream.events.vocabulary import Channel, CustomerId, JourneyStage

FAST = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# ---- strategies -------------------------------------------------------------------------------

#: Text that any binding can carry: every Unicode scalar value (no lone surrogates, which
#: UTF-8 cannot encode and JSON decoders refuse).
UTF8 = st.characters(codec="utf-8")
PIECES = [
    "客服没有回电话，包裹破损",
    "Terrible service, never again",
    "😡📦👍🏽",
    "\u200b\u200c\u200d\ufeff",  # zero-width characters and a BOM
    "\u202eRTL override\u202c",
    "שלום עולם",
    "مرحبا بالعالم",
    "'; DROP TABLE cx.events; --",
    '" OR 1=1 --',
    "{id:String}",
    "\\N\\0\\x00\\",
    "\x00\x01\x07\x1b[31m\x7f",
    "\r\n\t\u2028\u2029",
    "%s%n%x",
    "\U0010ffff",
]
hostile_text = (
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(UTF8, max_size=12)), min_size=1, max_size=6)
    .map("".join)
    .filter(bool)
)


def _accepted_by(annotation: Any) -> Any:
    adapter = TypeAdapter(annotation)

    def check(value: str) -> bool:
        try:
            adapter.validate_python(value)
        except ValidationError:
            return False
        return True

    return check


#: Identifiers as the contract allows them: no whitespace or control characters, any script.
identifiers = st.text(UTF8, min_size=1, max_size=30).filter(_accepted_by(CustomerId))
slugs = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,20}", fullmatch=True)
event_ids = hostile_text.filter(lambda s: len(s) <= 256)
sources = hostile_text.filter(lambda s: len(s) <= 1024)

#: Offsets with minute resolution, as RFC 3339 writes them, up to a day either way.
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))


@st.composite
def event_times(draw: st.DrawFn) -> str:
    """A valid `time`: any instant the contract accepts, in any zone, in RFC 3339."""
    instant = draw(
        st.datetimes(
            min_value=EARLIEST_TIME.replace(tzinfo=None),
            max_value=LATEST_TIME.replace(tzinfo=None) - timedelta(microseconds=1),
        )
    ).replace(tzinfo=UTC)
    moment = instant.astimezone(draw(offsets))
    return moment.isoformat().replace("+00:00", draw(st.sampled_from(["Z", "+00:00"])))


extension_names = st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True).filter(
    lambda name: name not in CORE_ATTRIBUTES | {"data", "partitionkey"}
)
extension_values = st.one_of(
    hostile_text.filter(lambda s: len(s) <= MAX_EXTENSION_CHARS),
    st.integers(-(2**31), 2**31 - 1),
    st.booleans(),
)
channels = st.sampled_from([c.value for c in Channel])
stages = st.sampled_from([s.value for s in JourneyStage])


def _survey(customer: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "customer_id": st.just(customer),
            "survey_id": identifiers,
            "touchpoint": slugs,
            "nps": st.integers(0, 10),
        },
        optional={
            "csat": st.integers(1, 5),
            "ces": st.integers(1, 7),
            "comment": hostile_text,
            "channel": channels,
            "language": st.sampled_from(["zh", "en", "other"]),
        },
    )


def _contact(customer: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "customer_id": st.just(customer),
            "channel": channels,
            "touchpoint": slugs,
            "stage": stages,
        },
        optional={
            "reason": hostile_text.filter(lambda s: len(s) <= 500),
            "wait_seconds": st.floats(0, 7 * 24 * 3600),
            "outcome": st.sampled_from(["resolved", "unresolved", "escalated", "transferred"]),
            "case_id": identifiers,
        },
    )


def _voice(customer: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "customer_id": st.just(customer),
            "kind": st.sampled_from(["complaint", "inquiry", "suggestion", "chat", "social_post"]),
            "text": hostile_text,
            "channel": channels,
            "touchpoint": slugs,
        }
    )


def _purchase(customer: str) -> st.SearchStrategy[dict[str, Any]]:
    amounts = st.decimals(min_value=0, max_value=10**13, places=4)
    return st.fixed_dictionaries(
        {
            "customer_id": st.just(customer),
            "order_id": identifiers,
            "amount": st.one_of(amounts.map(str), st.integers(0, 10**9)),
            "currency": st.from_regex(r"[A-Z]{3}", fullmatch=True),
            "channel": channels,
        }
    )


def _identified(customer: str) -> st.SearchStrategy[dict[str, Any]]:
    values = st.one_of(
        hostile_text.filter(lambda s: len(s) <= 1024),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
    )
    return st.fixed_dictionaries(
        {"customer_id": st.just(customer)},
        optional={
            "segment": slugs,
            "locale": st.sampled_from(["zh-CN", "en-GB", "ar", "he-IL"]),
            "attributes": st.dictionaries(slugs, values, max_size=4),
        },
    )


PAYLOADS = {
    "cx.feedback.survey.v1": _survey,
    "cx.touchpoint.contact.v1": _contact,
    "cx.feedback.voice.v1": _voice,
    "cx.commerce.purchase.v1": _purchase,
    "cx.customer.identified.v1": _identified,
}


@st.composite
def valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid structured-mode event as a producer writes it (JSON-ready values only)."""
    type_ = draw(st.sampled_from(sorted(PAYLOADS)))
    doc = {
        "specversion": "1.0",
        "id": draw(event_ids),
        "source": draw(sources),
        "type": type_,
        "time": draw(event_times()),
        "data": draw(PAYLOADS[type_](draw(identifiers))),
    }
    if draw(st.booleans()):
        doc["subject"] = draw(hostile_text)
    doc.update(draw(st.dictionaries(extension_names, extension_values, max_size=3)))
    return doc


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    """A valid event with one thing broken: a member dropped, retyped or added, in the
    envelope or in `data`, or the type name replaced."""
    doc = draw(valid_documents())
    target = doc["data"] if draw(st.booleans()) else doc
    name = draw(st.sampled_from(sorted(target)))
    action = draw(st.sampled_from(["drop", "retype", "add", "type"]))
    if action == "drop":
        del target[name]
    elif action == "retype":
        target[name] = draw(json_values)
    elif action == "add":
        target[draw(hostile_text)] = draw(json_values)
    else:
        doc["type"] = draw(
            st.one_of(
                st.sampled_from(
                    [*EVENT_TYPES, "cx.feedback.survey.v2", "", "CX.FEEDBACK.SURVEY.V1"]
                ),
                json_values,
            )
        )
    return doc


# ---- what every outcome must look like ---------------------------------------------------------


def assert_explained(invalid: EventInvalid) -> None:
    assert invalid.errors, "a refusal names at least one problem"
    assert all(error.reason.strip() for error in invalid.errors)
    assert str(invalid).strip()


def assert_publishable(event: CloudEvent) -> None:
    """What a decoder accepts, the gateway and the processors can publish and read again."""
    structured = encode_structured(event)
    assert decode_record(structured.value, structured.headers, structured.key) == event
    binary = encode_binary(event)  # header bytes: raises if any attribute is not UTF-8
    assert binary.value


def assert_event_or_explained(decode: Any) -> None:
    try:
        result = decode()
    except EventInvalid as invalid:
        assert_explained(invalid)
        return
    assert isinstance(result, CloudEvent)
    assert_publishable(result)


def canonical_binary(event: CloudEvent) -> CloudEvent:
    """The event as binary mode carries it: extension values become CloudEvents strings."""
    doc = event.to_json_dict()
    for name, value in (event.model_extra or {}).items():
        doc[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return parse_event(doc)


# ---- properties: anything in, an event or a reason out -----------------------------------------

HEADER_NAMES = st.one_of(
    st.sampled_from(
        [
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_time",
            "ce_specversion",
            "ce_subject",
            "ce_partitionkey",
            "ce_datacontenttype",
            "ce_data",
            "ce_",
            "CE_TYPE",
            "ce_region",
            "content-type",
            "Content-Type",
            "traceparent",
        ]
    ),
    st.text(UTF8, max_size=12),
)
HEADER_VALUES = st.one_of(
    st.none(),
    st.binary(max_size=40),
    st.sampled_from(
        [
            b"1.0",
            b"0.3",
            b"cx.feedback.survey.v1",
            b"cx.alert.raised.v1",
            b"2026-03-01T10:00:00Z",
            b"2026-03-01T10:00:00",
            b"9999-12-31T23:59:59Z",
            b"application/json",
            b"application/json; charset=latin-1",
            b"application/cloudevents+json",
            b"text/plain",
            b"\xff\xfe",
        ]
    ),
    hostile_text.map(str.encode),
)
RECORD_VALUES = st.one_of(
    st.none(),
    st.binary(max_size=200),
    json_values.map(orjson.dumps),
    mutated_documents().map(orjson.dumps),
    valid_documents().map(lambda doc: orjson.dumps(doc["data"])),
)


@FAST
@given(
    value=RECORD_VALUES,
    headers=st.one_of(st.none(), st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=8)),
    key=st.one_of(st.none(), st.binary(max_size=300)),
)
def test_any_kafka_record_decodes_to_an_event_or_is_refused_with_a_reason(value, headers, key):
    assert_event_or_explained(lambda: decode_record(value, headers, key))


@st.composite
def damaged_binary_records(draw: st.DrawFn) -> tuple[bytes | None, list, bytes | None]:
    """A valid event's binary-mode record with one header or the value damaged."""
    event = parse_event(draw(valid_documents()))
    record = encode_binary(event)
    headers = list(record.headers)
    index = draw(st.integers(0, len(headers) - 1))
    value: bytes | None = record.value
    action = draw(st.sampled_from(["drop", "replace", "repeat", "value"]))
    if action == "drop":
        del headers[index]
    elif action == "replace":
        headers[index] = (headers[index][0], draw(HEADER_VALUES))
    elif action == "repeat":
        headers.append(headers[index])
    else:
        value = draw(RECORD_VALUES)
    return value, headers, draw(st.one_of(st.just(record.key), st.binary(max_size=300)))


@FAST
@given(damaged_binary_records())
def test_a_damaged_binary_record_decodes_or_is_refused_with_a_reason(record):
    value, headers, key = record
    assert_event_or_explained(lambda: decode_record(value, headers, key))


@FAST
@given(st.one_of(mutated_documents(), json_values))
def test_any_json_document_is_an_event_or_is_refused_naming_the_problem(doc):
    assert_event_or_explained(lambda: parse_event(doc))


#: Header values as an HTTP server hands them over: any text, and raw non-UTF-8 bytes as the
#: surrogate escapes aiohttp decodes them to.
HTTP_HEADER_TEXT = st.one_of(
    hostile_text,
    st.binary(max_size=20).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
    st.sampled_from(["%FF", "%E4%BD%A0", "caf%C3%A9", "%", "2026-03-01T10:00:00Z"]),
)
CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/cloudevents+json",
            "application/cloudevents-batch+json",
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=latin-1",
            "APPLICATION/JSON",
            "text/plain",
            "multipart/form-data; boundary=x",
        ]
    ),
    HTTP_HEADER_TEXT,
)
BODIES = st.one_of(
    st.binary(max_size=200),
    json_values.map(orjson.dumps),
    mutated_documents().map(orjson.dumps),
    st.lists(st.one_of(mutated_documents(), valid_documents(), json_values), max_size=4).map(
        orjson.dumps
    ),
    valid_documents().map(lambda doc: orjson.dumps(doc["data"])),
)


@st.composite
def http_requests(draw: st.DrawFn) -> tuple[dict[str, str], bytes]:
    headers = {}
    content_type = draw(CONTENT_TYPES)
    if content_type is not None:
        headers["content-type"] = content_type
    for name in draw(st.lists(st.sampled_from(["id", "source", "type", "time", "x", "data"]))):
        headers[f"ce-{name}"] = draw(HTTP_HEADER_TEXT)
    return headers, draw(BODIES)


@FAST
@given(http_requests())
def test_any_http_request_is_read_or_refused_with_a_4xx_and_a_reason(request):
    headers, body = request
    try:
        results = decode_http(headers, body, max_events=3)
    except RequestInvalid as refused:
        assert 400 <= refused.status < 500
        assert str(refused).strip()
        return
    assert results
    for result in results:
        assert_event_or_explained(lambda r=result: _raise_if_invalid(r))


def binary_http(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    """An event as an HTTP binary-mode request: percent-encoded `ce-` headers, data as body."""
    headers = {
        f"ce-{name}": quote(str(value).lower() if isinstance(value, bool) else str(value), safe="")
        for name, value in event.attributes().items()
    }
    headers["content-type"] = "application/json"
    return headers, orjson.dumps(event.data.model_dump(mode="json", exclude_none=True))


@st.composite
def damaged_binary_http_requests(draw: st.DrawFn) -> tuple[dict[str, str], bytes]:
    """A valid event's binary-mode request with one header's value replaced."""
    headers, body = binary_http(parse_event(draw(valid_documents())))
    name = draw(st.sampled_from(sorted(headers)))
    headers[name] = draw(HTTP_HEADER_TEXT)
    return headers, body


@FAST
@given(damaged_binary_http_requests())
def test_a_damaged_binary_http_request_is_read_or_refused_with_a_reason(request):
    headers, body = request
    try:
        results = decode_http(headers, body)
    except RequestInvalid as refused:
        assert 400 <= refused.status < 500
        assert str(refused).strip()
        return
    (result,) = results
    assert_event_or_explained(lambda: _raise_if_invalid(result))


def _raise_if_invalid(result: CloudEvent | EventInvalid) -> CloudEvent:
    if isinstance(result, EventInvalid):
        raise result
    return result


# ---- properties: valid events survive every binding ------------------------------------------


@FAST
@given(valid_documents())
def test_valid_events_round_trip_through_every_binding(doc):
    event = parse_event(doc)
    assert parse_event(orjson.loads(orjson.dumps(doc))) == event
    assert parse_event(event.to_json_dict()) == event

    structured = encode_structured(event)
    assert decode_record(structured.value, structured.headers, structured.key) == event
    binary = encode_binary(event)
    assert decode_record(binary.value, binary.headers, binary.key) == canonical_binary(event)

    assert decode_http(*encode_structured_http(event)) == [event]
    assert decode_http(*encode_batch_http([event, event])) == [event, event]
    assert decode_http(*binary_http(event)) == [canonical_binary(event)]


@FAST
@given(
    moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    offset=offsets,
)
def test_event_times_the_warehouse_cannot_hold_are_refused_naming_time(moment, offset):
    doc = {
        "specversion": "1.0",
        "id": "e-time",
        "source": "/tests",
        "type": "cx.customer.churned.v1",
        "time": moment.replace(tzinfo=offset).isoformat(),
        "data": {"customer_id": "c-1"},
    }
    instant = moment.replace(tzinfo=offset)
    if EARLIEST_TIME <= instant < LATEST_TIME:
        assert parse_event(doc).time == instant
    else:
        with pytest.raises(EventInvalid) as refused:
            parse_event(doc)
        assert [error.field for error in refused.value.errors] == ["time"]


@FAST
@given(event_ids)
def test_any_event_id_can_be_the_evidence_of_an_alert(event_id):
    """Detectors cite the ids of the events they saw; an id the contract accepted must never
    make the alert built from it invalid (that stalled the stream, retrying the batch)."""
    data = AlertRaisedData(
        alert_id="alrt-1",
        kind="customer.churn_risk",
        rule="churn_risk",
        priority="P2",
        title="Churn risk",
        reasons=[{"code": "nps_detractor", "text": "NPS 1"}],
        evidence=[event_id],
        raised_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert data.evidence == [event_id]


# ---- the bugs these properties found, one example each --------------------------------------


def _survey_doc(**changes: Any) -> dict[str, Any]:
    data = {"customer_id": "c-1", "survey_id": "s-1", "touchpoint": "delivery", "nps": 3}
    doc = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "/tests",
        "type": "cx.feedback.survey.v1",
        "time": "2026-03-01T10:00:00Z",
        "data": data,
    }
    for name, value in changes.items():
        if name.startswith("data_"):
            data[name[5:]] = value
        else:
            doc[name] = value
    return doc


def refusal(doc: Any) -> list[tuple[str, str]]:
    with pytest.raises(EventInvalid) as refused:
        parse_event(doc)
    return [(error.field, error.reason) for error in refused.value.errors]


@pytest.mark.parametrize("type_", [["cx.feedback.survey.v1"], {"name": "x"}, 7, True])
def test_a_type_that_is_not_a_string_is_refused_not_a_crash(type_):
    (field, reason), *_ = refusal(_survey_doc(type=type_))
    assert field == "type" and "unknown event type" in reason


@pytest.mark.parametrize(
    "time",
    [
        "0001-01-01T00:00:00+01:00",  # converting it to UTC overflowed in the projector
        "9999-12-31T23:59:59-01:00",
        "1969-12-31T23:59:59Z",  # before ClickHouse's DateTime: its hour would be garbage
        "2100-01-01T00:00:00Z",
        -1,
    ],
)
def test_times_outside_the_warehouse_range_are_refused(time):
    ((field, reason),) = refusal(_survey_doc(time=time))
    assert field == "time" and "1970-01-01" in reason


def test_the_edges_of_the_time_range_are_accepted():
    assert parse_event(_survey_doc(time="1970-01-01T00:00:00Z")).time == EARLIEST_TIME
    latest = parse_event(_survey_doc(time="2099-12-31T23:59:59.999+00:00")).time
    assert latest == LATEST_TIME - timedelta(milliseconds=1)


@pytest.mark.parametrize("name", ["nps", "csat", "ces"])
def test_a_boolean_is_not_read_as_a_score(name):
    assert refusal(_survey_doc(**{f"data_{name}": True})) == [
        (f"data.{name}", "must be a number, not a boolean")
    ]


@pytest.mark.parametrize(
    "attribute",
    [float("nan"), float("inf"), -float("inf"), 2**64, "x" * 1025],
    ids=["nan", "inf", "-inf", "beyond-64-bit", "long-text"],
)
def test_profile_attributes_must_survive_json_and_the_warehouse(attribute):
    doc = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "/tests",
        "type": "cx.customer.identified.v1",
        "time": "2026-03-01T10:00:00Z",
        "data": {"customer_id": "c-1", "attributes": {"score": attribute}},
    }
    if isinstance(attribute, int):  # too big for an integer, it is still a float
        event = parse_event(doc)
        assert event.data.attributes["score"] == float(attribute)
        assert_publishable(event)
    else:
        assert all(field.startswith("data.attributes.score") for field, _ in refusal(doc))


@pytest.mark.parametrize(
    ("extensions", "expected"),
    [
        ({"seq": 2**31}, "32-bit integer"),
        ({"seq": -(2**31) - 1}, "32-bit integer"),
        ({"note": "x" * (MAX_EXTENSION_CHARS + 1)}, "longer than"),
        ({f"x{n}": n for n in range(51)}, "at most 50"),
        ({"note": "caf\udce9"}, "not valid Unicode"),  # from Python: it could not be encoded
    ],
)
def test_extensions_are_bounded_so_an_accepted_event_fits_a_kafka_record(extensions, expected):
    ((_, reason),) = refusal(_survey_doc(**extensions))
    assert expected in reason


def test_a_binary_http_header_that_is_not_utf8_is_refused_not_a_publish_crash():
    """aiohttp hands over a raw 0xFF byte in a header as a lone surrogate; in an extension
    attribute it used to pass validation and then crash the gateway while the publisher
    encoded the Kafka header (HTTP 500)."""
    headers = {
        "ce-id": "evt-1",
        "ce-source": "/tests",
        "ce-type": "cx.feedback.survey.v1",
        "ce-time": "2026-03-01T10:00:00Z",
        "ce-region": "east-\udcff",
        "content-type": "application/json",
    }
    body = orjson.dumps(_survey_doc()["data"])
    (result,) = decode_http(headers, body)
    assert isinstance(result, EventInvalid)
    assert [(e.field, e.reason) for e in result.errors] == [
        ("region", "header 'ce-region' is not percent-encoded UTF-8")
    ]
