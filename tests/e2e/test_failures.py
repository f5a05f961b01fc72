"""Clear failures: a dead broker gives 503 (never a silent drop), a taken port a one-line error."""

from __future__ import annotations

import asyncio
import socket
import uuid

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import free_port
from tests.e2e.conftest import Runtime, eventually, failed_up, runtime_env
from touchstream.services.gateway import Gateway
from touchstream.services.http_server import build_http_app
from touchstream.services.settings import Settings

pytestmark = pytest.mark.e2e

EVENT = {
    "specversion": "1.0",
    "id": "down-1",
    "source": "/tests",
    "type": "cx.feedback.survey.v1",
    "time": "2026-03-01T10:00:00Z",
    "data": {"customer_id": "c-1", "survey_id": "s", "touchpoint": "app", "nps": 9},
}


def test_gateway_answers_503_when_the_broker_is_unreachable() -> None:
    settings = Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}", publish_timeout_s=2)
    gateway = Gateway(settings)
    app = build_http_app(settings, gateway, projector=None, health=dict)  # type: ignore[arg-type]

    async def post() -> tuple[int, dict, str | None]:
        async with TestClient(TestServer(app)) as client:
            response = await client.post("/v1/events", json=[EVENT])
            return response.status, await response.json(), response.headers.get("Retry-After")

    status, body, retry_after = asyncio.run(post())
    gateway.close()
    assert status == 503
    assert retry_after
    assert body["accepted"] == 0 and body["failed"] == 1
    assert body["results"][0]["status"] == "failed" and body["results"][0]["error"]


def test_up_with_a_taken_port_fails_in_one_actionable_line(tmp_path) -> None:
    env = runtime_env(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(env["TOUCHSTREAM_HTTP_PORT"])))
        taken.listen()
        message = failed_up(env)
    assert len(message.splitlines()) == 1
    assert "already in use" in message and "TOUCHSTREAM_HTTP_PORT" in message


def test_publish_command_sends_valid_lines_and_reports_bad_ones(runtime: Runtime) -> None:
    import orjson

    good = EVENT | {"id": "cli-pub-1"}
    bad = EVENT | {"id": "cli-pub-2", "type": "cx.nope.v1"}
    lines = b"\n".join([orjson.dumps(good), orjson.dumps(bad), b"{oops"]) + b"\n"
    result = runtime.cli("publish", "-", input=lines)
    assert result.returncode == 1
    out, err = result.stdout.decode(), result.stderr.decode()
    assert "published 1, refused 2" in out
    assert "line 2" in err and "line 3" in err
    sql = "SELECT count() AS n FROM cx.events WHERE id = 'cli-pub-1'"
    eventually(lambda: int(runtime.client.query(sql)[0]["n"]) == 1, timeout=10)


def test_up_refuses_a_network_address_without_api_keys(tmp_path) -> None:
    env = runtime_env(tmp_path)
    env["TOUCHSTREAM_HTTP_HOST"] = "0.0.0.0"
    message = failed_up(env)
    assert len(message.splitlines()) == 1 and "TOUCHSTREAM_API_KEYS_FILE" in message


def test_replay_rebuilds_inside_the_running_up_and_changes_nothing(runtime: Runtime) -> None:
    customer = f"c-{uuid.uuid4().hex[:8]}"
    assert (
        runtime.client.post_events(
            [{**EVENT, "id": f"rp-{customer}", "data": {**EVENT["data"], "customer_id": customer}}]
        )[0]
        == 202
    )
    timeline = "SELECT count() AS n FROM cx.timeline WHERE customer_id = {c:String}"
    eventually(lambda: int(runtime.client.query(timeline, c=customer)[0]["n"]) == 1, timeout=15)
    # (aggregates would drop the share of customers erased by other tests: not compared here)
    totals = (
        "SELECT (SELECT count() FROM cx.timeline) AS t,"
        " (SELECT count() FROM cx.customer_profile) AS p"
    )
    before = runtime.client.query(totals)
    result = runtime.cli("replay")
    assert result.returncode == 0, result.stderr
    assert "rebuilt from" in result.stdout.decode() and "cx.timeline" in result.stdout.decode()
    assert runtime.client.query(totals) == before
    later = {**EVENT, "id": f"rp2-{customer}", "data": {**EVENT["data"], "customer_id": customer}}
    assert runtime.client.post_events([later])[0] == 202  # processing goes on afterwards
    eventually(lambda: int(runtime.client.query(timeline, c=customer)[0]["n"]) == 2, timeout=15)
