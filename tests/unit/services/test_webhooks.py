"""Webhooks: the signature receivers check, the retry policy, and commit-after-delivery."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import UTC, datetime
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cloudevents.core.bindings import http as sdk_http
from cloudevents.core.formats.json import JSONFormat
from prometheus_client import REGISTRY

from tests.conftest import free_port
from tests.unit.services.test_alert_stream import alert, record
from touchstream.services.settings import Settings
from touchstream.services.webhooks import (
    WebhookConfig,
    WebhookConfigError,
    WebhookSender,
    backoff_s,
    deliver_in_order,
    delivery_of,
    parse_urls,
    request_headers,
    retry_after_s,
    signature,
    target,
    verdict,
    verify_signature,
)

SECRET = b"whsec-test"


def config(**overrides: Any) -> WebhookConfig:
    values = {
        "urls": ("http://127.0.0.1:1/hook",),
        "secret": SECRET,
        "timeout_s": 2.0,
        "max_attempts": 4,
        "retry_max_s": 60.0,
    }
    return WebhookConfig(**(values | overrides))


def sample(target: str, outcome: str) -> float:
    labels = {"target": target, "outcome": outcome}
    return REGISTRY.get_sample_value("touchstream_webhook_deliveries_total", labels) or 0.0


# --- signing --------------------------------------------------------------------------------


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id":"alrt-1.r1"}'
    expected = hmac.new(SECRET, b"1767261600." + body, hashlib.sha256).hexdigest()
    assert signature(SECRET, "1767261600", body) == f"sha256={expected}"


def test_a_receiver_refuses_tampering_other_secrets_and_old_requests() -> None:
    body, now = b'{"id":"alrt-1.r1"}', 1_767_261_600.0
    signed = signature(SECRET, "1767261600", body)
    assert verify_signature(SECRET, "1767261600", body, signed, now=now + 10)
    assert not verify_signature(SECRET, "1767261600", body + b" ", signed, now=now)
    assert not verify_signature(b"other", "1767261600", body, signed, now=now)
    assert not verify_signature(SECRET, "1767261601", body, signed, now=now), "timestamp signed"
    assert not verify_signature(SECRET, "1767261600", body, signed, now=now + 301), "replayed"
    assert not verify_signature(SECRET, "soon", body, signed, now=now)


def test_request_headers_sign_the_exact_body() -> None:
    body = b'{"id":"a b%"}'
    headers = request_headers("a b%", body, SECRET, now=1_767_261_600.9)
    assert headers["Content-Type"] == "application/cloudevents+json"
    assert headers["ce-id"] == "a%20b%25", "percent-encoded as the CloudEvents HTTP binding says"
    assert headers["X-Touchstream-Timestamp"] == "1767261600"
    assert verify_signature(
        SECRET, "1767261600", body, headers["X-Touchstream-Signature"], now=1_767_261_600
    )


def test_an_alert_record_is_posted_as_a_structured_cloudevent() -> None:
    event = alert(1, score=0.7)
    delivery = delivery_of(record(event, offset=3))
    assert delivery is not None and delivery.event_id == "alrt-1.r1"
    headers = request_headers(delivery.event_id, delivery.body, SECRET, now=0)
    # CloudEvents SDKs tell the mode by Content-Type; this one guesses from any ce- header, so
    # receivers using it call from_structured (docs/operations.md says so).
    sdk_event = sdk_http.from_structured(sdk_http.HTTPMessage(headers, delivery.body), JSONFormat())
    assert sdk_event.get_id() == "alrt-1.r1"
    assert sdk_event.get_type() == "cx.alert.raised.v1"
    assert sdk_event.get_data()["score"] == 0.7
    assert orjson.loads(delivery.body) == event.to_json_dict()
    garbage = SimpleNamespace(partition=0, offset=1, key=None, value=b"{", headers=[])
    assert delivery_of(garbage) is None


# --- configuration --------------------------------------------------------------------------


def test_urls_are_a_comma_separated_list_of_http_urls() -> None:
    assert parse_urls("") == ()
    assert parse_urls(" https://ops.example.com/hook , http://10.0.0.5:8080/a?t=1,") == (
        "https://ops.example.com/hook",
        "http://10.0.0.5:8080/a?t=1",
    )
    with pytest.raises(WebhookConfigError, match="is not an http"):
        parse_urls("ftp://example.com/x")
    with pytest.raises(WebhookConfigError, match="is not an http"):
        parse_urls("hooks.example.com/x")


def test_webhooks_are_off_without_urls_and_need_a_secret_with_them() -> None:
    assert WebhookConfig.from_settings(Settings(webhook_urls="")) is None
    with pytest.raises(WebhookConfigError, match="TOUCHSTREAM_WEBHOOK_SECRET must be set"):
        WebhookConfig.from_settings(
            Settings(webhook_urls="https://ops.example.com/hook", webhook_secret="")
        )
    on = WebhookConfig.from_settings(
        Settings(webhook_urls="https://ops.example.com/hook", webhook_secret="s")
    )
    assert on is not None and on.urls == ("https://ops.example.com/hook",)
    assert on.secret == b"s"


def test_metrics_name_the_receiver_host_never_the_path_that_may_hold_a_token() -> None:
    assert target("https://hooks.example.com/services/T0/B0/SECRET") == "hooks.example.com"
    assert target("http://127.0.0.1:8080/hook?token=x") == "127.0.0.1:8080"


# --- retry policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "delivered"),
        (202, "delivered"),
        (204, "delivered"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (301, "failed"),
        (400, "failed"),
        (401, "failed"),
        (404, "failed"),
        (410, "failed"),
        (422, "failed"),
    ],
)
def test_which_statuses_are_retried(status: int, expected: str) -> None:
    assert verdict(status) == expected


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 3, 1, 10, tzinfo=UTC).timestamp()
    assert retry_after_s("7", now) == 7
    later = format_datetime(datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC), usegmt=True)
    assert retry_after_s(later, now) == 30
    assert retry_after_s(format_datetime(datetime(2020, 1, 1, tzinfo=UTC), usegmt=True), now) == 0
    assert retry_after_s("soon", now) is None
    assert retry_after_s(None, now) is None


def test_back_off_doubles_with_jitter_up_to_the_cap_and_honours_retry_after() -> None:
    full = [backoff_s(n, cap_s=60, jitter=lambda: 1.0) for n in range(1, 9)]
    assert full == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff_s(3, cap_s=60, jitter=lambda: 0.0) == 2, "jitter keeps at least half"
    assert backoff_s(1, cap_s=60, retry_after=12) == 12
    assert backoff_s(1, cap_s=60, retry_after=3600) == 60, "Retry-After is honoured up to the cap"


# --- delivery against a real HTTP receiver ------------------------------------------------


def deliver_to(answers: list[tuple[int, dict]], max_attempts: int = 4) -> dict[str, Any]:
    """Deliver one alert to a local receiver answering (status, headers) in turn; the last
    answer repeats."""
    received: list[tuple[dict, bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        status, headers = answers[min(len(received), len(answers)) - 1]
        return web.Response(status=status, headers=headers)

    async def main() -> dict[str, Any]:
        app = web.Application()
        app.router.add_post("/hook", hook)
        async with TestServer(app) as server, aiohttp.ClientSession() as session:
            url = str(server.make_url("/hook"))
            waits: list[float] = []

            async def sleep(seconds: float) -> None:
                waits.append(seconds)

            sender = WebhookSender(config(max_attempts=max_attempts), session, sleep=sleep)
            before = {o: sample(target(url), o) for o in ("delivered", "retried", "failed")}
            ok = await sender.deliver(url, "alrt-1.r1", b'{"id":"alrt-1.r1"}', appended_at=0)
            counts = {o: sample(target(url), o) - n for o, n in before.items()}
            return {"ok": ok, "received": received, "waits": waits, "counts": counts}

    return asyncio.run(main())


def test_a_503_is_retried_after_retry_after_then_delivered() -> None:
    result = deliver_to([(503, {"Retry-After": "1"}), (200, {})])
    assert result["ok"] is True
    assert len(result["received"]) == 2 and result["waits"] == [1]
    assert result["counts"] == {"delivered": 1, "retried": 1, "failed": 0}
    for headers, body in result["received"]:
        assert headers["ce-id"] == "alrt-1.r1"
        assert verify_signature(
            SECRET, headers["X-Touchstream-Timestamp"], body, headers["X-Touchstream-Signature"]
        )


def test_a_refusal_is_not_retried() -> None:
    result = deliver_to([(410, {})])
    assert result["ok"] is False and len(result["received"]) == 1
    assert result["counts"] == {"delivered": 0, "retried": 0, "failed": 1}


def test_server_errors_are_retried_up_to_the_attempt_limit() -> None:
    result = deliver_to([(500, {})], max_attempts=3)
    assert result["ok"] is False and len(result["received"]) == 3
    first, second = result["waits"]
    assert 0.5 <= first <= 1 and 1 <= second <= 2, "exponential back-off with jitter"
    assert result["counts"] == {"delivered": 0, "retried": 2, "failed": 1}


def test_an_unreachable_receiver_is_retried_with_growing_waits() -> None:
    async def main() -> tuple[bool, list[float]]:
        waits: list[float] = []

        async def sleep(seconds: float) -> None:
            waits.append(seconds)

        async with aiohttp.ClientSession() as session:
            sender = WebhookSender(config(max_attempts=4), session, sleep=sleep)
            url = f"http://127.0.0.1:{free_port()}/hook"
            return await sender.deliver(url, "alrt-1.r1", b"{}"), waits

    ok, waits = asyncio.run(main())
    assert ok is False and len(waits) == 3
    assert 0.5 <= waits[0] <= 1 and 1 <= waits[1] <= 2 and 2 <= waits[2] <= 4


# --- at least once --------------------------------------------------------------------------


def test_each_record_is_committed_only_once_it_was_delivered() -> None:
    async def main() -> list[tuple[str, int]]:
        log: list[tuple[str, int]] = []
        second_may_finish = asyncio.Event()

        async def deliver(r: SimpleNamespace) -> None:
            log.append(("sent", r.offset))
            if r.offset == 11:
                await second_may_finish.wait()

        async def commit(offset: int) -> None:
            log.append(("committed", offset))

        records = [SimpleNamespace(offset=n) for n in (10, 11, 12)]
        worker = asyncio.create_task(deliver_in_order(records, deliver, commit))
        await asyncio.sleep(0.05)
        assert log == [("sent", 10), ("committed", 11), ("sent", 11)], "waits for the delivery"
        second_may_finish.set()
        await worker
        return log

    assert asyncio.run(main())[3:] == [("committed", 12), ("sent", 12), ("committed", 13)]
