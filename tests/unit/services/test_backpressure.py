"""Overload: the gateway sheds ingest requests beyond its in-flight limit at once, with 503 and
Retry-After and without reading their bodies, instead of queueing them without bound."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import free_port
from tests.e2e.test_failures import EVENT
from touchstream.services.gateway import Gateway
from touchstream.services.http_server import build_http_app
from touchstream.services.settings import Settings


def test_requests_beyond_the_in_flight_limit_are_shed_at_once():
    # an unreachable broker holds each admitted request for the publish timeout
    settings = Settings(
        kafka_bootstrap=f"127.0.0.1:{free_port()}", publish_timeout_s=3, max_inflight_requests=2
    )
    gateway = Gateway(settings)

    async def flood() -> list[tuple[int, dict, str | None]]:
        app = build_http_app(settings, gateway, projector=None, health=dict)  # type: ignore[arg-type]
        async with TestClient(TestServer(app)) as client:

            async def post(n: int) -> tuple[int, dict, str | None]:
                response = await client.post("/v1/events", json=[{**EVENT, "id": f"flood-{n}"}])
                body = await response.json()
                return response.status, body, response.headers.get("Retry-After")

            first = [asyncio.create_task(post(n)) for n in range(2)]
            await asyncio.sleep(0.5)  # both admitted and waiting for the broker
            rest = await asyncio.gather(*(post(n) for n in range(2, 8)))
            return [*await asyncio.gather(*first), *rest]

    answers = asyncio.run(flood())
    gateway.close()
    admitted, shed = answers[:2], answers[2:]
    assert all(status == 503 and body["failed"] == 1 for status, body, _ in admitted)
    for status, body, retry_after in shed:
        assert status == 503 and "overloaded" in body["error"] and retry_after == "1"
