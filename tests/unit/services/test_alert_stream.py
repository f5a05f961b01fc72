"""The SSE alert feed: filters, message framing, fan-out, slow clients, replay and shutdown.

The Kafka side is a stand-in here (`FakeLog`); tests/e2e/test_alert_stream.py runs the real one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from touchstream.events.alerts import AlertRaised, AlertRaisedData, Reason
from touchstream.events.kafka_binding import encode_binary
from touchstream.services.alert_stream import (
    AlertFilter,
    AlertStream,
    FilterInvalid,
    StreamUnavailable,
    Subscription,
    parse_filter,
    sse_message,
    stream_item,
)
from touchstream.services.settings import Settings


def alert(n: int, priority: str = "P2", kind: str = "customer.churn_risk", **data: Any):
    return AlertRaised(
        id=f"alrt-{n}.r1",
        source="/tests",
        time=datetime(2026, 3, 1, 10, tzinfo=UTC),
        data=AlertRaisedData(
            alert_id=f"alrt-{n}",
            kind=kind,
            rule="test",
            priority=priority,
            title=f"alert {n}",
            customer_id="c-1",
            touchpoint=data.pop("touchpoint", "billing"),
            reasons=[Reason(code="churn_score", text="score rose", observed=0.8, threshold=0.6)],
            evidence=["e-1"],
            raised_at=datetime(2026, 3, 1, 10, tzinfo=UTC),
            **data,
        ),
    )


def record(event: AlertRaised, offset: int, partition: int = 0) -> SimpleNamespace:
    r = encode_binary(event)
    return SimpleNamespace(
        partition=partition, offset=offset, key=r.key, value=r.value, headers=r.headers
    )


class FakeLog:
    """The alerts topic: `history` is on it already, `append` adds to the live tail."""

    def __init__(self, history: list[SimpleNamespace] = (), unreachable: bool = False) -> None:
        self.history = list(history)
        self.unreachable = unreachable
        self.tails_started = 0
        self.closed = False
        self.live: asyncio.Queue[SimpleNamespace] | None = None

    async def start_tail(self) -> None:
        if self.unreachable:
            raise StreamUnavailable("cannot read cx.alerts.v1 from 127.0.0.1:1: refused")
        self.tails_started += 1
        self.live = asyncio.Queue()

    def append(self, *records: SimpleNamespace) -> None:
        for r in records:
            self.live.put_nowait(r)

    async def poll(self) -> list[SimpleNamespace]:
        try:
            batch = [await asyncio.wait_for(self.live.get(), 0.02)]
        except TimeoutError:
            return []
        while not self.live.empty():
            batch.append(self.live.get_nowait())
        return batch

    @contextlib.asynccontextmanager
    async def replay(self) -> AsyncIterator[tuple[dict[int, int], AsyncIterator[Any]]]:
        ends: dict[int, int] = {}
        for r in self.history:
            ends[r.partition] = max(ends.get(r.partition, 0), r.offset + 1)

        async def records() -> AsyncIterator[SimpleNamespace]:
            for r in self.history:
                yield r

        yield ends, records()

    async def close(self) -> None:
        self.closed = True


async def read_sse(response: ClientResponse, events: int) -> tuple[list[dict], list[str]]:
    """The next `events` SSE messages (field -> value) and the comments read on the way."""
    messages: list[dict] = []
    comments: list[str] = []
    fields: dict[str, str] = {}
    while len(messages) < events:
        line = (await asyncio.wait_for(response.content.readline(), 5)).decode()
        if not line:
            raise AssertionError(f"stream ended after {messages}")
        line = line.rstrip("\n")
        if line.startswith(":"):
            comments.append(line[1:].strip())
        elif line:
            name, _, value = line.partition(": ")
            fields[name] = value
        else:  # a blank line ends a message; one without data (`retry:` only) is no event
            if "data" in fields:
                messages.append(fields)
            fields = {}
    return messages, comments


async def connected(response: ClientResponse) -> None:
    """Read the preamble: once it is there, the client is subscribed."""
    preamble = [await asyncio.wait_for(response.content.readline(), 5) for _ in range(3)]
    assert preamble == [b"retry: 3000\n", b": following cx.alerts.v1\n", b"\n"]


def run_with(
    stream: AlertStream, scenario: Callable[[TestClient], Awaitable[Any]], timeout: float = 15
) -> Any:
    app = web.Application()
    app.add_routes(stream.routes())

    async def close(app: web.Application) -> None:
        await stream.close()

    app.on_shutdown.append(close)

    async def main() -> Any:
        async with TestClient(TestServer(app)) as client:
            return await scenario(client)

    return asyncio.run(asyncio.wait_for(main(), timeout))


# --- filters ------------------------------------------------------------------------------


def test_no_parameters_means_every_new_alert() -> None:
    assert parse_filter([]) == AlertFilter(since="now")
    assert parse_filter([]).matches({"priority": "P4", "kind": "x", "touchpoint": None})


def test_filters_take_comma_lists_and_repeated_parameters() -> None:
    f = parse_filter(
        [
            ("priority", "P1, P2"),
            ("priority", "P3"),
            ("kind", "customer.churn_risk"),
            ("touchpoint", "billing,delivery"),
            ("since", "earliest"),
        ]
    )
    assert f.priorities == {"P1", "P2", "P3"}
    assert f.since == "earliest"
    assert f.matches({"priority": "P2", "kind": "customer.churn_risk", "touchpoint": "billing"})
    assert not f.matches({"priority": "P4", "kind": "customer.churn_risk", "touchpoint": "billing"})
    assert not f.matches({"priority": "P1", "kind": "customer.detractor", "touchpoint": "billing"})
    assert not f.matches({"priority": "P1", "kind": "customer.churn_risk", "touchpoint": None})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([("priority", "P9")], "priority 'P9' is not one of P1, P2, P3, P4"),
        ([("priority", "P1,")], "priority '' is not one of"),
        ([("priority", "p1")], "priority 'p1' is not one of"),
        ([("kind", "Churn Risk")], "kind 'Churn Risk' is not valid"),
        ([("touchpoint", "")], "touchpoint '' is not valid"),
        ([("since", "yesterday")], "since must be 'now'"),
        ([("since", "now"), ("since", "earliest")], "since must be 'now'"),
        ([("priorty", "P1")], "unknown parameter 'priorty'"),
    ],
)
def test_a_bad_filter_is_refused_with_the_reason(params: list, message: str) -> None:
    with pytest.raises(FilterInvalid, match=message.replace("(", r"\(")):
        parse_filter(params)


# --- messages -----------------------------------------------------------------------------


def test_an_alert_is_one_sse_message_with_its_cloudevent_id() -> None:
    event = alert(1, score=0.81, previous_score=0.4, sla_hours=4, channel="phone")
    item = stream_item(record(event, offset=7))
    assert item is not None and (item.partition, item.offset) == (0, 7)
    lines = item.message.decode().split("\n")
    assert lines[:2] == ["id: alrt-1.r1", "event: alert"]
    assert lines[3:] == ["", ""], "one data line, then the blank line that ends the message"
    data = orjson.loads(lines[2].removeprefix("data: "))
    assert data["alert_id"] == "alrt-1" and data["reason_codes"] == ["churn_score"]
    assert data["reasons"][0]["text"] == "score rose"
    assert (data["status"], data["score"], data["previous_score"]) == ("open", 0.81, 0.4)
    assert (data["sla_hours"], data["channel"], data["revision"]) == (4, "phone", 1)
    assert data["raised_at"] == "2026-03-01T10:00:00Z"


def test_an_id_that_would_break_the_framing_is_left_out() -> None:
    assert not sse_message("bad\nid", {"a": 1}).startswith(b"id:")
    assert sse_message("ok-1", {"a": 1}).startswith(b"id: ok-1\n")


def test_records_that_are_not_alerts_are_skipped() -> None:
    garbage = SimpleNamespace(partition=0, offset=1, key=None, value=b"{", headers=[])
    assert stream_item(garbage) is None


def test_a_slow_client_is_disconnected_rather_than_buffered() -> None:
    async def scenario() -> tuple[list, int]:
        disconnected = []
        sub = Subscription(AlertFilter(), capacity=2, on_overflow=lambda: disconnected.append(1))
        items = [stream_item(record(alert(n), offset=n)) for n in range(4)]
        for item in items:
            sub.offer(item)
        got = [await sub.next() for _ in range(3)]
        return got, len(disconnected)

    got, disconnected = asyncio.run(scenario())
    assert disconnected == 1, "disconnected once, when the queue was full"
    assert [i.offset for i in got[:2]] == [0, 1] and got[2] is None


def test_a_client_that_stops_reading_is_cut_off_and_the_others_go_on() -> None:
    log = FakeLog()
    stream = AlertStream(Settings(), log, queue_size=50)
    burst = [record(alert(n), n) for n in range(2_000)]

    async def scenario(client: TestClient) -> tuple[int, int]:
        stalled = await client.get("/v1/alerts/stream")
        reading = await client.get("/v1/alerts/stream?priority=P1")
        await connected(stalled)
        await connected(reading)
        log.append(*burst)  # far more than the stalled client's queue holds
        log.append(record(alert(99_999, priority="P1"), len(burst)))
        live, _ = await read_sse(reading, 1)
        received = 0
        with contextlib.suppress(Exception):  # EOF or a reset, depending on timing
            async for line in stalled.content:
                received += line.startswith(b"event: alert")
        return received, len(live)

    received, others = run_with(stream, scenario, timeout=60)
    assert received < len(burst), "the stalled client was disconnected, not buffered for"
    assert others == 1


# --- through HTTP ---------------------------------------------------------------------------


def test_a_client_receives_only_the_alerts_its_filter_passes() -> None:
    log = FakeLog()
    stream = AlertStream(Settings(), log)

    async def scenario(client: TestClient) -> tuple[int, dict, list[dict]]:
        response = await client.get("/v1/alerts/stream?priority=P1,P2&kind=customer.churn_risk")
        await connected(response)
        log.append(
            record(alert(1, priority="P3"), 0),
            record(alert(2, kind="customer.detractor"), 1),
            record(alert(3, priority="P1"), 2),
        )
        messages, _ = await read_sse(response, 1)
        return response.status, dict(response.headers), messages

    status, headers, messages = run_with(stream, scenario)
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    assert headers["Cache-Control"] == "no-cache"
    assert [m["id"] for m in messages] == ["alrt-3.r1"]
    assert messages[0]["event"] == "alert"
    assert log.tails_started == 1 and log.closed


def test_one_tail_serves_every_client() -> None:
    log = FakeLog()
    stream = AlertStream(Settings(), log)

    async def scenario(client: TestClient) -> list[list[str]]:
        first = await client.get("/v1/alerts/stream?priority=P2")
        second = await client.get("/v1/alerts/stream")
        await connected(first)
        await connected(second)
        log.append(record(alert(1, priority="P2"), 0), record(alert(2, priority="P4"), 1))
        got_first, _ = await read_sse(first, 1)
        got_second, _ = await read_sse(second, 2)
        return [[m["id"] for m in got_first], [m["id"] for m in got_second]]

    assert run_with(stream, scenario) == [["alrt-1.r1"], ["alrt-1.r1", "alrt-2.r1"]]
    assert log.tails_started == 1


def test_an_idle_stream_sends_keep_alive_comments() -> None:
    stream = AlertStream(Settings(), FakeLog(), heartbeat_s=0.05)

    async def scenario(client: TestClient) -> list[bytes]:
        response = await client.get("/v1/alerts/stream")
        await connected(response)
        return [await asyncio.wait_for(response.content.readline(), 2) for _ in range(3)]

    assert run_with(stream, scenario) == [b": keep-alive\n", b"\n", b": keep-alive\n"]


def test_since_earliest_replays_then_follows_without_gap_or_repeat() -> None:
    history = [record(alert(n), n) for n in range(3)] + [record(alert(9, priority="P4"), 3)]
    log = FakeLog(history)
    stream = AlertStream(Settings(), log)

    async def scenario(client: TestClient) -> list[str]:
        response = await client.get("/v1/alerts/stream?since=earliest&priority=P2")
        replayed, _ = await read_sse(response, 3)
        # the tail saw offset 2 too (appended while the client subscribed): sent once only
        log.append(record(alert(2), 2), record(alert(4), 4))
        live, _ = await read_sse(response, 1)
        return [m["id"] for m in replayed + live]

    assert run_with(stream, scenario) == ["alrt-0.r1", "alrt-1.r1", "alrt-2.r1", "alrt-4.r1"]


def test_shutdown_ends_open_streams() -> None:
    stream = AlertStream(Settings(), FakeLog())

    async def scenario(client: TestClient) -> tuple[bytes, int]:
        response = await client.get("/v1/alerts/stream")
        await connected(response)
        await stream.close()
        rest = await asyncio.wait_for(response.content.read(), 5)
        again = await client.get("/v1/alerts/stream")
        return rest, again.status

    rest, status_after = run_with(stream, scenario)
    assert rest == b"", "the stream ended (EOF) instead of hanging"
    assert status_after == 503


def test_bad_filter_is_400_and_an_unreachable_broker_503() -> None:
    stream = AlertStream(Settings(), FakeLog(unreachable=True))

    async def scenario(client: TestClient) -> list[tuple[int, dict, str | None]]:
        results = []
        for query in ("priority=P9", "priority=P1"):
            response = await client.get(f"/v1/alerts/stream?{query}")
            body = await response.json()
            results.append((response.status, body, response.headers.get("Retry-After")))
        return results

    (bad, bad_body, _), (down, down_body, retry_after) = run_with(stream, scenario)
    assert bad == 400 and "priority 'P9' is not one of P1, P2, P3, P4" in bad_body["error"]
    assert down == 503 and "cannot read cx.alerts.v1" in down_body["error"] and retry_after
