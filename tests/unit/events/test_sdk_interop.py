"""Interoperability with the official CloudEvents SDK: channels using it and Touchstream agree.

Events the SDK writes (Kafka and HTTP, binary and structured mode) decode with Touchstream's
bindings, and what Touchstream writes decodes with the SDK to the same attributes and data.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from cloudevents.core.bindings import http as sdk_http
from cloudevents.core.bindings import kafka as sdk_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkEvent

from touchstream.events import parse_event
from touchstream.events.http_binding import decode_http, encode_batch_http, encode_structured_http
from touchstream.events.kafka_binding import decode_record, encode_binary, encode_structured


def sdk_event(structured: dict, **extensions) -> SdkEvent:
    attributes = {k: v for k, v in structured.items() if k != "data"}
    attributes["time"] = datetime.fromisoformat(attributes["time"])
    return SdkEvent({**attributes, **extensions}, structured["data"])


def assert_same_event(sdk: SdkEvent, ours, **extra_attributes) -> None:
    """The SDK event carries exactly our attributes (plus `extra_attributes`) and our data."""
    expected = {**ours.attributes(), **extra_attributes}
    expected["time"] = ours.time
    got = sdk.get_attributes()
    assert got == expected
    assert sdk.get_data() == ours.model_dump(mode="json", exclude_none=True)["data"]


def test_sdk_kafka_binary_record_decodes_with_its_partition_key(survey_answer):
    message = sdk_kafka.to_binary_event(sdk_event(survey_answer(), partitionkey="c-1"))
    assert message.key == "c-1"
    event = decode_record(message.value, message.headers, message.key.encode())
    assert event == parse_event(survey_answer(partitionkey="c-1"))


def test_sdk_kafka_structured_record_decodes(contact):
    message = sdk_kafka.to_structured_event(sdk_event(contact()))
    assert decode_record(message.value, message.headers, None) == parse_event(contact())


def test_our_kafka_binary_record_decodes_with_the_sdk(contact):
    ours = parse_event(contact())
    record = encode_binary(ours)
    message = sdk_kafka.KafkaMessage(dict(record.headers), record.key, record.value)
    # The SDK turns the record key into the partitionkey attribute, as the binding suggests.
    assert_same_event(sdk_kafka.from_kafka_event(message), ours, partitionkey="c-2")


def test_our_kafka_structured_record_decodes_with_the_sdk(survey_answer):
    ours = parse_event(survey_answer())
    record = encode_structured(ours)
    message = sdk_kafka.KafkaMessage(dict(record.headers), None, record.value)
    assert_same_event(sdk_kafka.from_kafka_event(message), ours)


def test_sdk_http_binary_request_decodes(contact):
    message = sdk_http.to_binary_event(sdk_event(contact()))
    assert decode_http(message.headers, message.body) == [parse_event(contact())]


def test_sdk_http_structured_request_decodes(contact):
    message = sdk_http.to_structured_event(sdk_event(contact()))
    assert decode_http(message.headers, message.body) == [parse_event(contact())]


def test_sdk_written_batch_decodes(survey_answer, contact):
    samples = [survey_answer(), contact()]
    body = b"[" + b",".join(JSONFormat().write(sdk_event(s)) for s in samples) + b"]"
    headers = {"Content-Type": "application/cloudevents-batch+json"}
    assert decode_http(headers, body) == [parse_event(s) for s in samples]


def test_our_http_requests_decode_with_the_sdk(survey_answer, contact):
    ours = parse_event(contact())
    headers, body = encode_structured_http(ours)
    assert_same_event(sdk_http.from_http_event(sdk_http.HTTPMessage(headers, body)), ours)

    batch = [parse_event(survey_answer()), ours]
    _, body = encode_batch_http(batch)
    read = [JSONFormat().read(None, orjson.dumps(item)) for item in orjson.loads(body)]
    for sdk, event in zip(read, batch, strict=True):
        assert_same_event(sdk, event)


def test_sdk_default_event_without_content_type_is_accepted(survey_answer):
    """The SDK omits datacontenttype unless told; JSON data is then implied."""
    sdk = SdkEvent(
        {"type": "cx.feedback.survey.v1", "source": "/crm/web", "time": datetime.now(UTC)},
        survey_answer()["data"],
    )
    message = sdk_kafka.to_binary_event(sdk)
    assert "content-type" not in message.headers
    event = decode_record(message.value, message.headers)
    assert (event.id, event.datacontenttype) == (sdk.get_id(), "application/json")
