"""The publisher against a real broker: acknowledged events are on the topic, readable as sent."""

from __future__ import annotations

import os
import signal
import uuid
from typing import Any

import pytest
from kafka import KafkaConsumer

from tests.conftest import free_port
from touchstream.events import parse_event
from touchstream.events.kafka_binding import decode_record
from touchstream.events.publisher import BrokerUnavailable, Delivery, Publisher
from touchstream.services.broker import EmbeddedBroker, ensure_topics

pytestmark = pytest.mark.e2e


def survey_answer(event_id: str, customer_id: str = "c-1", **overrides: Any) -> dict[str, Any]:
    event = {
        "specversion": "1.0",
        "id": event_id,
        "source": "/crm/web",
        "type": "cx.feedback.survey.v1",
        "time": "2026-01-01T10:00:00Z",
        "data": {
            "customer_id": customer_id,
            "survey_id": "s-1",
            "touchpoint": "call_center",
            "nps": 3,
        },
    }
    return {**event, **overrides}


@pytest.fixture
def topic(broker_bootstrap: str) -> str:
    name = f"test.publisher.{uuid.uuid4().hex[:8]}"
    ensure_topics(broker_bootstrap, {name: 3})
    return name


def read_back(bootstrap: str, topic: str, expected: int) -> list:
    """The topic's records from the start, until `expected` arrived or 3 s passed quietly."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    try:
        records = []
        for record in consumer:
            records.append(record)
            if len(records) == expected:
                break
        return records
    finally:
        consumer.close()


def test_published_events_are_on_the_topic_in_binary_mode_keyed_by_customer(
    broker_bootstrap, topic
):
    sent = [survey_answer("e-1", "c-1"), survey_answer("e-2", "c-2"), survey_answer("e-3", "c-1")]
    with Publisher(broker_bootstrap, topic) as publisher:
        deliveries = publisher.publish(sent, timeout=15)
    assert all(d.accepted and d.offset is not None for d in deliveries), deliveries
    assert [d.event_id for d in deliveries] == ["e-1", "e-2", "e-3"]

    records = read_back(broker_bootstrap, topic, expected=3)
    by_id = {dict(r.headers)["ce_id"].decode(): r for r in records}
    assert sorted(by_id) == ["e-1", "e-2", "e-3"]
    for event in sent:
        record = by_id[event["id"]]
        assert record.key == event["data"]["customer_id"].encode()
        assert dict(record.headers)["content-type"] == b"application/json"
        assert decode_record(record.value, record.headers, record.key) == parse_event(event)
    # One customer's events share a partition, so their order is kept.
    assert by_id["e-1"].partition == by_id["e-3"].partition


def test_invalid_event_is_rejected_while_the_others_are_accepted(broker_bootstrap, topic):
    sent = [
        survey_answer("ok-1"),
        survey_answer("bad", time="2026-01-01T10:00:00"),
        survey_answer("ok-2"),
    ]
    with Publisher(broker_bootstrap, topic) as publisher:
        deliveries = publisher.publish(sent, timeout=15)
    assert [d.accepted for d in deliveries] == [True, False, True]
    assert deliveries[1].event_id == "bad"
    assert "time" in deliveries[1].error
    ids = sorted(dict(r.headers)["ce_id"] for r in read_back(broker_bootstrap, topic, expected=2))
    assert ids == [b"ok-1", b"ok-2"]


def test_submit_resolves_once_the_broker_acknowledged(broker_bootstrap, topic):
    with Publisher(broker_bootstrap, topic) as publisher:
        delivery = publisher.submit(parse_event(survey_answer("e-9"))).result(timeout=15)
    assert delivery == Delivery("e-9", True, delivery.partition, delivery.offset)
    assert delivery.partition in (0, 1, 2)


def test_publisher_without_a_broker_fails_fast_instead_of_hanging():
    bootstrap = f"127.0.0.1:{free_port()}"
    try:
        with Publisher(bootstrap, delivery_timeout_s=1.0) as publisher:
            deliveries = publisher.publish([survey_answer("e-1")], timeout=5)
    except BrokerUnavailable as exc:
        assert bootstrap in str(exc)
    else:
        assert not deliveries[0].accepted
        assert deliveries[0].error


def test_events_sent_after_the_broker_died_are_reported_not_hung(tmp_path):
    bootstrap = f"127.0.0.1:{free_port()}"
    broker = EmbeddedBroker(bootstrap, tmp_path / "tansu.log")
    broker.start()
    try:
        publisher = Publisher(bootstrap, "cx.touchpoints.v1", delivery_timeout_s=1.0)
        assert publisher.publish([survey_answer("before")], timeout=10)[0].accepted
        # A topic it never wrote to needs metadata from the broker before the first send.
        unrouted = Publisher(bootstrap, "cx.never.used.v1", delivery_timeout_s=1.0)
    finally:
        os.kill(broker.pid, signal.SIGKILL)  # a crash, not a polite shutdown
        broker.stop()
    try:
        [delivery] = publisher.publish([survey_answer("after")], timeout=10)
        assert (delivery.event_id, delivery.accepted) == ("after", False)
        assert delivery.error
        with pytest.raises(BrokerUnavailable, match=r"cx\.never\.used\.v1"):
            unrouted.submit(survey_answer("lost"))
        [delivery] = unrouted.publish([survey_answer("lost")])
        assert not delivery.accepted and "not sent" in delivery.error
    finally:
        publisher.close(timeout=1)
        unrouted.close(timeout=1)


def test_topics_are_created_with_the_configured_replication(broker_bootstrap: str) -> None:
    from kafka import KafkaAdminClient

    name = f"test.replicated.{uuid.uuid4().hex[:8]}"
    ensure_topics(broker_bootstrap, {name: 2}, replication=3)
    ensure_topics(broker_bootstrap, {name: 2}, replication=3)  # existing topics are left alone
    admin = KafkaAdminClient(bootstrap_servers=broker_bootstrap)
    try:
        (described,) = admin.describe_topics([name])
    finally:
        admin.close()
    assert len(described["partitions"]) == 2
    assert all(len(p["replica_nodes"]) == 3 for p in described["partitions"])
