"""Webhooks: every alert revision on `cx.alerts.v1` POSTed, signed, to each configured URL.

The body is the alert as a structured-mode CloudEvent (`application/cloudevents+json`). The
signature `X-Touchstream-Signature: sha256=<hex>` is the HMAC-SHA256, keyed with the webhook
secret, of `<X-Touchstream-Timestamp>.<body>`: a receiver checks it and the timestamp's age,
so a captured request cannot be replayed later (`verify_signature` is the reference check).

Delivery is at least once and in order per partition (so per customer) and per URL: a consumer
group of its own reads the topic, and the offset of a record is committed only once every URL
has accepted it or failed permanently, so a restart re-delivers rather than loses; receivers
deduplicate by the CloudEvent id (`ce-id`). Connection errors, timeouts, 408, 429 and 5xx are
retried with exponential back-off (honouring Retry-After) up to `webhook_max_attempts`; any
other status (4xx, 3xx) fails at once. Partitions are delivered concurrently; while one is busy
it is paused, so the consumer keeps polling and stays in its group.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import aiohttp
import mode
import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from touchstream.events.envelope import STRUCTURED_CONTENT_TYPE
from touchstream.services import metrics
from touchstream.services.alert_feed import alert_of
from touchstream.services.settings import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Touchstream-Signature"
TIMESTAMP_HEADER = "X-Touchstream-Timestamp"
USER_AGENT = "touchstream-webhooks/1"
#: Receivers should refuse a signature whose timestamp is further than this from their clock.
SIGNATURE_TOLERANCE_S = 300
#: The first retry waits about this long; each further one twice as long, up to the cap.
FIRST_RETRY_S = 1.0
# Printable ASCII but space, '"' and '%': what a ce- header value may hold unencoded.
_HEADER_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"%')

Verdict = Literal["delivered", "retry", "failed"]


class WebhookConfigError(ValueError):
    """The webhook settings cannot work; the message names the setting."""


@dataclass(frozen=True)
class WebhookConfig:
    urls: tuple[str, ...]
    secret: bytes
    timeout_s: float
    max_attempts: int
    retry_max_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookConfig | None:
        """The webhook configuration, or None when no URL is set (webhooks off)."""
        urls = parse_urls(settings.webhook_urls)
        if not urls:
            return None
        secret = settings.webhook_secret.get_secret_value()
        if not secret:
            raise WebhookConfigError(
                "TOUCHSTREAM_WEBHOOK_SECRET must be set when TOUCHSTREAM_WEBHOOK_URLS is: "
                "receivers need it to check that an alert came from Touchstream"
            )
        return cls(
            urls,
            secret.encode(),
            settings.webhook_timeout_s,
            settings.webhook_max_attempts,
            settings.webhook_retry_max_s,
        )


def parse_urls(text: str) -> tuple[str, ...]:
    """The http(s) URLs of a comma-separated list (blanks ignored, duplicates kept once)."""
    urls: dict[str, None] = {}
    for raw in text.split(","):
        url = raw.strip()
        if not url:
            continue
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise WebhookConfigError(
                f"TOUCHSTREAM_WEBHOOK_URLS: {_redacted(url)!r} is not an http(s) URL with a host"
            )
        urls[url] = None
    return tuple(urls)


def target(url: str) -> str:
    """The receiver's host[:port]: the metric label and log name of a URL, whose path or query
    may hold a token."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}/…" if parts.path or parts.query else url


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of `<timestamp>.<body>`."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signed: str,
    *,
    now: float | None = None,
    tolerance_s: float = SIGNATURE_TOLERANCE_S,
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(signature(secret, timestamp, body), signed)


def request_headers(event_id: str, body: bytes, secret: bytes, now: float) -> dict[str, str]:
    timestamp = str(int(now))
    return {
        "Content-Type": STRUCTURED_CONTENT_TYPE,
        "ce-id": quote(event_id, safe=_HEADER_SAFE),  # percent-encoded, as the HTTP binding says
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def verdict(status: int) -> Verdict:
    """What an HTTP status means for the delivery."""
    if 200 <= status < 300:
        return "delivered"
    if status in (408, 429) or status >= 500:
        return "retry"
    return "failed"  # the receiver refuses this request: sending it again will not help


def retry_after_s(value: str | None, now: float) -> float | None:
    """Seconds a Retry-After header asks for (delay-seconds or an HTTP date), if readable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def backoff_s(
    failures: int,
    cap_s: float,
    retry_after: float | None = None,
    jitter: Callable[[], float] = random.random,
) -> float:
    """The wait after the `failures`-th failed attempt: Retry-After when the receiver gave one,
    else doubling from `FIRST_RETRY_S` with jitter (half to all of it); never above the cap."""
    if retry_after is not None:
        return min(cap_s, retry_after)
    full = min(cap_s, FIRST_RETRY_S * 2 ** (failures - 1))
    return full * (0.5 + jitter() / 2)


@dataclass(frozen=True)
class Attempt:
    status: int | None
    retry_after: str | None = None
    error: str | None = None


class WebhookSender:
    """Delivers one alert to one URL, with the retry policy."""

    def __init__(
        self,
        config: WebhookConfig,
        session: aiohttp.ClientSession,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.session = session
        self.sleep = sleep
        self.clock = clock

    async def deliver(
        self, url: str, event_id: str, body: bytes, appended_at: float | None = None
    ) -> bool:
        """True once the receiver accepted it, False when it failed permanently."""
        name = target(url)
        attempt = 0
        while True:
            attempt += 1
            result = await self._attempt(url, event_id, body)
            outcome = "retry" if result.status is None else verdict(result.status)
            if outcome == "delivered":
                metrics.WEBHOOK_DELIVERIES.labels(name, "delivered").inc()
                if appended_at is not None:
                    delay = max(0.0, self.clock() - appended_at)
                    metrics.WEBHOOK_DELIVERY_SECONDS.labels(name).observe(delay)
                return True
            problem = result.error or f"HTTP {result.status}"
            if outcome == "failed" or attempt >= self.config.max_attempts:
                metrics.WEBHOOK_DELIVERIES.labels(name, "failed").inc()
                log.warning(
                    "webhook %s: alert event %s failed for good after %d attempt(s): %s",
                    name,
                    event_id,
                    attempt,
                    problem,
                )
                return False
            wait = backoff_s(
                attempt,
                self.config.retry_max_s,
                retry_after_s(result.retry_after, self.clock()),
            )
            metrics.WEBHOOK_DELIVERIES.labels(name, "retried").inc()
            log.info(
                "webhook %s: alert event %s attempt %d: %s; retrying in %.1fs",
                name,
                event_id,
                attempt,
                problem,
                wait,
            )
            await self.sleep(wait)

    async def _attempt(self, url: str, event_id: str, body: bytes) -> Attempt:
        headers = request_headers(event_id, body, self.config.secret, self.clock())
        try:
            async with self.session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                return Attempt(response.status, response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Attempt(None, error=f"{type(exc).__name__}: {exc}".rstrip(": "))


@dataclass(frozen=True)
class Delivery:
    """The request of one alert record: its CloudEvent id and the structured-mode body."""

    event_id: str
    body: bytes


def delivery_of(record: Any) -> Delivery | None:
    """The body to POST for a record, or None for a record that is not a valid alert (the
    processors dead-letter those)."""
    event = alert_of(record, "webhooks")
    if event is None:
        return None
    return Delivery(event.id, orjson.dumps(event.to_json_dict()))


async def deliver_in_order(
    records: Sequence[Any],
    deliver: Callable[[Any], Awaitable[None]],
    commit: Callable[[int], Awaitable[None]],
) -> None:
    """One partition's records, one after the other, each committed only once delivered."""
    for record in records:
        await deliver(record)
        await commit(record.offset + 1)


class _Revocations(ConsumerRebalanceListener):
    def __init__(self, on_revoked: Callable[[Iterable[TopicPartition]], Awaitable[None]]) -> None:
        self.on_revoked = on_revoked

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        pass


class WebhookService(mode.Service):
    """The webhook consumer inside `touchstream up` (only when webhook URLs are set)."""

    def __init__(self, settings: Settings, config: WebhookConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings, self.config = settings, config
        self._consumer: AIOKafkaConsumer | None = None
        self._session: aiohttp.ClientSession | None = None
        self._sender: WebhookSender | None = None
        self._poller: asyncio.Task[None] | None = None
        self._workers: dict[TopicPartition, asyncio.Task[None]] = {}

    def _new_consumer(self) -> AIOKafkaConsumer:
        s = self.settings
        timeouts = s.group_timeouts
        return AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap,
            group_id=s.webhook_consumer_group,
            client_id="touchstream-webhooks",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=max(1, round(s.consumer_fetch_wait_s * 1000)),
            session_timeout_ms=int(timeouts["session"] * 1000),
            rebalance_timeout_ms=int(timeouts["rebalance"] * 1000),
            heartbeat_interval_ms=int(timeouts["heartbeat"] * 1000),
            max_poll_records=100,
        )

    async def on_start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config.timeout_s),
            headers={"User-Agent": USER_AGENT},
        )
        self._sender = WebhookSender(self.config, self._session)
        self._consumer = self._new_consumer()
        self._consumer.subscribe(
            [self.settings.alerts_topic], listener=_Revocations(self._stop_workers)
        )
        await self._consumer.start()
        self._poller = asyncio.create_task(self._poll(), name="webhooks")
        log.info(
            "webhooks: delivering %s to %s",
            self.settings.alerts_topic,
            ", ".join(target(url) for url in self.config.urls),
        )

    async def on_stop(self) -> None:
        # In-flight deliveries are abandoned uncommitted: the next start sends them again.
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        await self._stop_workers(list(self._workers))
        if self._consumer is not None:
            await self._consumer.stop()
        if self._session is not None:
            await self._session.close()

    async def _poll(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        while True:  # comes round every second, so the consumer stays in its group
            try:
                batches = await consumer.getmany(timeout_ms=1000)
            except Exception as exc:
                log.warning("webhooks: reading %s failed: %s", self.settings.alerts_topic, exc)
                await asyncio.sleep(1.0)
                continue
            for tp, records in batches.items():
                if records:
                    consumer.pause(tp)  # until its worker has delivered and committed these
                    self._workers[tp] = asyncio.create_task(self._work(tp, records))

    async def _work(self, tp: TopicPartition, records: Sequence[Any]) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        next_offset = records[0].offset

        async def commit(offset: int) -> None:
            nonlocal next_offset
            next_offset = offset
            try:
                await consumer.commit({tp: offset})
            except KafkaError as exc:  # e.g. a rebalance took the partition: it is re-sent
                log.warning("webhooks: commit of %s at %d failed: %s", tp, offset, exc)

        try:
            await deliver_in_order(records, self._deliver, commit)
        except Exception:
            log.exception("webhooks: delivering %s at %d failed; again in 5 s", tp, next_offset)
            await asyncio.sleep(5.0)
            if tp in consumer.assignment():
                consumer.seek(tp, next_offset)
        finally:
            if self._workers.get(tp) is asyncio.current_task():
                del self._workers[tp]
            if tp in consumer.assignment():
                consumer.resume(tp)

    async def _deliver(self, record: Any) -> None:
        assert self._sender is not None
        delivery = delivery_of(record)
        if delivery is None:
            return
        appended_at = record.timestamp / 1000 if record.timestamp else None
        await asyncio.gather(
            *(
                self._sender.deliver(url, delivery.event_id, delivery.body, appended_at)
                for url in self.config.urls
            )
        )

    async def _stop_workers(self, partitions: Iterable[TopicPartition]) -> None:
        tasks = [task for tp in list(partitions) if (task := self._workers.pop(tp, None))]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
