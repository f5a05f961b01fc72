"""`GET /v1/alerts/stream` on the real runtime: filtered live alerts, replay, refused filters.

Alerts are written straight to `cx.alerts.v1` (as the processors would), so these tests hold
whatever detectors raise alerts.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from tests.e2e.conftest import Runtime, eventually
from touchstream.events.alerts import AlertRaised, AlertRaisedData, Reason
from touchstream.events.kafka_binding import encode_binary

pytestmark = pytest.mark.e2e
ALERTS_TOPIC = "cx.alerts.v1"


def raised(
    customer: str, touchpoint: str, priority: str = "P2", kind: str = "customer.churn_risk"
) -> AlertRaised:
    alert_id = f"alrt-test-{uuid.uuid4().hex[:12]}"
    now = datetime.now(UTC)
    return AlertRaised(
        id=f"{alert_id}.r1",
        source="/tests/alerts",
        time=now,
        subject=customer,
        data=AlertRaisedData(
            alert_id=alert_id,
            kind=kind,
            rule="test-rule",
            priority=priority,
            title=f"{kind} for {customer} at {touchpoint}",
            customer_id=customer,
            touchpoint=touchpoint,
            reasons=[Reason(code="score_rose", text="churn risk 0.4 → 0.8", observed=0.8)],
            evidence=[f"ev-{alert_id}"],
            suggested_action="Call the customer",
            raised_at=now,
            score=0.8,
            previous_score=0.4,
            sla_hours=4,
            channel="phone",
        ),
    )


def publish(bootstrap: str, *alerts: AlertRaised) -> None:
    """Write alerts to the alerts topic, in order, acknowledged by the broker."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for alert in alerts:
            r = encode_binary(alert)
            producer.send(ALERTS_TOPIC, key=r.key, value=r.value, headers=r.headers).get(10)
    finally:
        producer.close()


class SseClient:
    """Reads a server-sent-events stream on a thread; `events` grows as messages arrive."""

    def __init__(self, runtime: Runtime, query: str) -> None:
        port = int(runtime.env["TOUCHSTREAM_HTTP_PORT"])
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.connection.request("GET", f"/v1/alerts/stream?{query}")
        self.response = self.connection.getresponse()
        self.events: list[dict[str, Any]] = []
        self.comments: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                elif line:
                    name, _, value = line.partition(": ")
                    fields[name] = value
                else:
                    if "data" in fields:
                        self.events.append(fields | {"data": orjson.loads(fields["data"])})
                    fields = {}
        except (OSError, ValueError, AttributeError):
            pass  # closed by the test

    def following(self) -> bool:
        """True once the stream is live: alerts appended from now on are sent."""
        return any(c.startswith("following") for c in self.comments)

    def close(self) -> None:
        # shut the socket down first: it wakes the reader blocked in recv() at once
        with contextlib.suppress(OSError):
            self.connection.sock.shutdown(socket.SHUT_RDWR)
        self.connection.close()


def test_a_filtered_stream_gets_exactly_the_matching_alert(runtime: Runtime) -> None:
    touchpoint = f"sse-{uuid.uuid4().hex[:8]}"
    customer = f"c-sse-{uuid.uuid4().hex[:8]}"
    client = SseClient(runtime, f"priority=P2&touchpoint={touchpoint}")
    try:
        assert client.response.status == 200
        assert client.response.getheader("Content-Type").startswith("text/event-stream")
        eventually(client.following, timeout=20)
        wrong_priority = raised(customer, touchpoint, priority="P3")
        wrong_touchpoint = raised(customer, f"{touchpoint}-other")
        wanted = raised(customer, touchpoint)
        # one customer, so one partition: the two misses are read before the match
        publish(runtime.bootstrap, wrong_priority, wrong_touchpoint, wanted)
        eventually(lambda: client.events, timeout=20)
        time.sleep(0.5)  # room for anything that should not come
        assert [e["id"] for e in client.events] == [wanted.id]
        message = client.events[0]
        assert message["event"] == "alert"
        data = message["data"]
        assert data["alert_id"] == wanted.data.alert_id and data["priority"] == "P2"
        assert data["touchpoint"] == touchpoint and data["customer_id"] == customer
        assert data["reasons"][0]["text"] == "churn risk 0.4 → 0.8"
        assert data["reason_codes"] == ["score_rose"]
        assert data["evidence"] == wanted.data.evidence
        assert (data["status"], data["score"], data["previous_score"]) == ("open", 0.8, 0.4)
        assert (data["sla_hours"], data["channel"]) == (4, "phone")
    finally:
        client.close()


def test_since_earliest_replays_the_topic_then_follows_it(runtime: Runtime) -> None:
    kind = f"test.replay-{uuid.uuid4().hex[:8]}"
    customer = f"c-replay-{uuid.uuid4().hex[:8]}"
    earlier = raised(customer, "billing", kind=kind)
    publish(runtime.bootstrap, earlier)
    client = SseClient(runtime, f"kind={kind}&since=earliest")
    try:
        eventually(lambda: client.events, timeout=20)
        later = raised(customer, "billing", kind=kind)
        publish(runtime.bootstrap, later)
        eventually(lambda: len(client.events) >= 2, timeout=20)
        time.sleep(0.5)
        assert [e["id"] for e in client.events] == [earlier.id, later.id], "once each, in order"
    finally:
        client.close()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("priority=P7", "priority 'P7' is not one of P1, P2, P3, P4"),
        ("kind=Churn%20Risk", "kind 'Churn Risk' is not valid"),
        ("since=yesterday", "since must be 'now'"),
        ("priorty=P1", "unknown parameter 'priorty'"),
    ],
)
def test_a_bad_filter_is_refused_with_400(runtime: Runtime, query: str, message: str) -> None:
    status, body = runtime.client.get_json(f"/v1/alerts/stream?{query}")
    assert status == 400
    assert message in body["error"]
