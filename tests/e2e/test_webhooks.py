"""Webhooks on a real runtime of their own: signed, retried after a 503, in order, not retried
after a refusal, counted in /metrics; and `up` still stops promptly."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import pytest
from aiohttp import web

from tests.conftest import free_port
from tests.e2e.conftest import Runtime, eventually, runtime_env, start_runtime, stop_runtime
from tests.e2e.test_alert_stream import SseClient, publish, raised
from tests.e2e.test_metrics import scrape, value

pytestmark = pytest.mark.e2e
SECRET = "whsec-e2e-0f3c"


@dataclass(frozen=True)
class Received:
    at: float
    headers: dict[str, str]
    body: bytes

    @property
    def event_id(self) -> str:
        return orjson.loads(self.body)["id"]


class Receiver:
    """Webhook receivers on a free port, on a thread: `/flaky` answers its first request with
    503 and `Retry-After: 1`, then 204; `/gone` always answers 410."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: dict[str, list[Received]] = {"flaky": [], "gone": []}
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        assert ready.wait(10), "receiver did not start"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    async def _hook(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        seen = self.requests[name]
        seen.append(Received(time.time(), dict(request.headers), await request.read()))
        if name == "gone":
            return web.Response(status=410)
        if len(seen) == 1:
            return web.Response(status=503, headers={"Retry-After": "1"})
        return web.Response(status=204)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/{name}", self._hook)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, Receiver]]:
    receiver = Receiver()
    data_dir = tmp_path_factory.mktemp("webhooks")
    env = runtime_env(data_dir) | {
        "TOUCHSTREAM_WEBHOOK_URLS": f"{receiver.url('flaky')},{receiver.url('gone')}",
        "TOUCHSTREAM_WEBHOOK_SECRET": SECRET,
    }
    rt = start_runtime(env, data_dir)
    yield rt, receiver
    stop_runtime(rt)
    receiver.stop()


def signed_by_us(request: Received) -> bool:
    """The check docs/operations.md shows receivers: HMAC-SHA256 of `timestamp.body`."""
    timestamp = request.headers["X-Touchstream-Timestamp"]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    return hmac.compare_digest(
        f"sha256={expected.hexdigest()}", request.headers["X-Touchstream-Signature"]
    )


def test_alerts_are_posted_signed_retried_and_in_order(hooked: tuple[Runtime, Receiver]) -> None:
    rt, receiver = hooked
    first = raised("c-hook-1", "delivery", priority="P1")
    second = raised("c-hook-1", "delivery", priority="P3")
    publish(rt.bootstrap, first, second)

    eventually(lambda: len(receiver.requests["flaky"]) >= 3, timeout=45)
    flaky = receiver.requests["flaky"]
    # 503 for the first, the same alert again after Retry-After, and only then the next one
    assert [r.event_id for r in flaky] == [first.id, first.id, second.id]
    assert flaky[1].at - flaky[0].at >= 0.9, "Retry-After: 1 was honoured"
    eventually(lambda: len(receiver.requests["gone"]) >= 2, timeout=10)
    time.sleep(1.5)  # a wrongful retry of the 410 would come after about a second
    gone = receiver.requests["gone"]
    assert [r.event_id for r in gone] == [first.id, second.id], "a 410 is not retried"

    for request in flaky + gone:
        assert request.headers["Content-Type"] == "application/cloudevents+json"
        assert request.headers["ce-id"] == request.event_id
        assert signed_by_us(request)
        assert abs(time.time() - int(request.headers["X-Touchstream-Timestamp"])) < 120
    assert orjson.loads(flaky[0].body) == first.to_json_dict()
    assert orjson.loads(flaky[2].body)["data"]["priority"] == "P3"

    def counted() -> dict | None:
        samples = scrape(rt)
        flaky_target = f"127.0.0.1:{receiver.port}"
        counts = {
            outcome: value(
                samples,
                "touchstream_webhook_deliveries_total",
                target=flaky_target,
                outcome=outcome,
            )
            for outcome in ("delivered", "retried", "failed")
        }
        counts["timed"] = value(samples, "touchstream_webhook_delivery_seconds_count")
        return counts if counts["failed"] >= 2 and counts["delivered"] >= 2 else None

    counts = eventually(counted, timeout=10, interval=0.5)
    # both URLs are on the receiver's host: 2 delivered (flaky), 2 failed (gone), 1 retry
    assert counts == {"delivered": 2, "retried": 1, "failed": 2, "timed": 2}


def test_up_stops_promptly_with_webhooks_and_an_open_stream(
    hooked: tuple[Runtime, Receiver],
) -> None:
    rt, _ = hooked
    client = SseClient(rt, "priority=P1")
    try:
        eventually(client.following, timeout=20)
        started = time.monotonic()
        assert stop_runtime(rt) == 0
        assert time.monotonic() - started < 20
    finally:
        client.close()
