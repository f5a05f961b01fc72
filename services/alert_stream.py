"""`GET /v1/alerts/stream`: the live alert feed as server-sent events.

One aiokafka consumer per process, without a consumer group, tails `cx.alerts.v1` and fans each
alert revision out to the connected clients whose filter it passes, through a bounded queue per
client. A client that falls `QUEUE_SIZE` alerts behind is disconnected rather than buffered
without bound (its browser reconnects; the gap is in `GET /v1/alerts`). The consumer starts
with the first subscriber and stops when the HTTP server shuts down.

`since=earliest` replays the topic from the start with a short-lived consumer of the client's
own, then hands over to the shared tail without a gap or a repeat: the replay reads each
partition up to its end offset taken after the client subscribed, and the tail skips what lies
below that offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args

import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import TypeAdapter, ValidationError

from touchstream.events.alerts import AlertRaised, Priority
from touchstream.events.vocabulary import Slug, Touchpoint
from touchstream.services.alert_feed import alert_of
from touchstream.services.settings import Settings

log = logging.getLogger(__name__)

#: Alerts a client may have queued before it counts as too slow and is disconnected.
QUEUE_SIZE = 1000
#: Idle seconds between `: keep-alive` comments, well under common proxy idle timeouts (60 s).
HEARTBEAT_S = 15.0
#: Reconnection delay a browser's EventSource is told to use.
RECONNECT_MS = 3000

PRIORITIES: tuple[str, ...] = get_args(Priority)
PARAMETERS = ("priority", "kind", "touchpoint", "since")
SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx: pass each message on at once
}
_KIND = TypeAdapter(Slug)
_TOUCHPOINT = TypeAdapter(Touchpoint)


class FilterInvalid(ValueError):
    """A query parameter of the stream that cannot be used; the message says why."""


class StreamUnavailable(RuntimeError):
    """The alerts topic cannot be read right now (broker unreachable, shutting down)."""


@dataclass(frozen=True)
class AlertFilter:
    """Which alert revisions a client wants; `None` means any value."""

    priorities: frozenset[str] | None = None
    kinds: frozenset[str] | None = None
    touchpoints: frozenset[str] | None = None
    since: Literal["now", "earliest"] = "now"

    def matches(self, alert: Mapping[str, Any]) -> bool:
        return all(
            allowed is None or alert.get(field) in allowed
            for field, allowed in (
                ("priority", self.priorities),
                ("kind", self.kinds),
                ("touchpoint", self.touchpoints),
            )
        )


def parse_filter(params: Iterable[tuple[str, str]]) -> AlertFilter:
    """The filter of a stream request's query parameters; each of `priority`, `kind` and
    `touchpoint` takes one value or a comma-separated list, and may be repeated."""
    values: dict[str, list[str]] = {}
    for name, raw in params:
        if name not in PARAMETERS:
            raise FilterInvalid(
                f"unknown parameter {name!r}; the stream takes {', '.join(PARAMETERS)}"
            )
        values.setdefault(name, []).extend(part.strip() for part in raw.split(","))
    since = values.get("since", ["now"])
    if len(since) != 1 or since[0] not in ("now", "earliest"):
        raise FilterInvalid("since must be 'now' (new alerts only) or 'earliest' (replay)")
    return AlertFilter(
        priorities=_priorities(values.get("priority")),
        kinds=_slugs("kind", values.get("kind"), _KIND),
        touchpoints=_slugs("touchpoint", values.get("touchpoint"), _TOUCHPOINT),
        since=since[0],  # type: ignore[arg-type]
    )


def _priorities(values: list[str] | None) -> frozenset[str] | None:
    if values is None:
        return None
    for value in values:
        if value not in PRIORITIES:
            raise FilterInvalid(f"priority {value!r} is not one of {', '.join(PRIORITIES)}")
    return frozenset(values)


def _slugs(name: str, values: list[str] | None, adapter: TypeAdapter) -> frozenset[str] | None:
    if values is None:
        return None
    for value in values:
        try:
            adapter.validate_python(value)
        except ValidationError:
            raise FilterInvalid(
                f"{name} {value!r} is not valid: 1-64 lowercase letters, digits, '_', '.', '-'"
            ) from None
    return frozenset(values)


def alert_document(alert: AlertRaised) -> dict[str, Any]:
    """An alert revision as the stream sends it: the `GET /v1/alerts` fields plus the
    revision's own (revision, status, score, previous_score, sla_hours, channel)."""
    doc = alert.data.model_dump(mode="json")
    doc["reason_codes"] = [reason.code for reason in alert.data.reasons]
    return doc


def sse_message(event_id: str, alert: Mapping[str, Any]) -> bytes:
    """One `alert` message; the id line is left out when the id could break the framing."""
    data = orjson.dumps(alert)  # one line: orjson never writes a raw newline
    id_line = b"" if any(c in event_id for c in "\r\n\0") else f"id: {event_id}\n".encode()
    return id_line + b"event: alert\ndata: " + data + b"\n\n"


@dataclass(frozen=True)
class StreamItem:
    """One alert revision read from the topic, ready to send."""

    partition: int
    offset: int
    alert: dict[str, Any]
    message: bytes


def stream_item(record: Any) -> StreamItem | None:
    """The item of a Kafka record, or None for a record that is not a valid alert (the
    processors dead-letter those)."""
    event = alert_of(record, "alert stream")
    if event is None:
        return None
    doc = alert_document(event)
    return StreamItem(record.partition, record.offset, doc, sse_message(event.id, doc))


class Subscription:
    """One connected client: a bounded queue of the alerts that pass its filter."""

    def __init__(
        self, alert_filter: AlertFilter, capacity: int, on_overflow: Callable[[], None]
    ) -> None:
        self.filter = alert_filter
        self.ended = False
        self._capacity = capacity
        self._on_overflow = on_overflow
        self._queue: asyncio.Queue[StreamItem | None] = asyncio.Queue(capacity + 1)  # + end mark

    def offer(self, item: StreamItem) -> None:
        if self.ended or not self.filter.matches(item.alert):
            return
        if self._queue.qsize() >= self._capacity:
            log.warning("alert stream client fell %d alerts behind; disconnecting", self._capacity)
            self.end()
            self._on_overflow()
            return
        self._queue.put_nowait(item)

    def end(self) -> None:
        """No more items: the reader gets None after what is queued."""
        if not self.ended:
            self.ended = True
            self._queue.put_nowait(None)

    async def next(self) -> StreamItem | None:
        return await self._queue.get()


class AlertLog(Protocol):
    """The alerts topic: a shared tail from its end, and replays from its start."""

    async def start_tail(self) -> None: ...

    async def poll(self) -> list[Any]: ...

    def replay(self) -> contextlib.AbstractAsyncContextManager[tuple[dict[int, int], Any]]: ...

    async def close(self) -> None: ...


class KafkaAlertLog:
    """`AlertLog` on aiokafka, without a consumer group (every process reads every partition)."""

    def __init__(self, settings: Settings) -> None:
        self.bootstrap = settings.kafka_bootstrap
        self.topic = settings.alerts_topic
        # Tansu answers a fetch only when the wait expires: it bounds the feed's latency.
        self.fetch_wait_ms = max(1, round(settings.consumer_fetch_wait_s * 1000))
        self._tail: AIOKafkaConsumer | None = None

    async def _open(
        self, start: Literal["earliest", "latest"]
    ) -> tuple[AIOKafkaConsumer, list[TopicPartition]]:
        """A started consumer assigned every partition of the topic, from its start or end.

        The start is the consumer's offset-reset policy, not a seek after `assign`: aiokafka
        resets a new assignment in the background, and that reset can land after a seek and
        undo it.
        """
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset=start,
            fetch_max_wait_ms=self.fetch_wait_ms,
            client_id="touchstream-alert-stream",
        )
        try:
            await consumer.start()
            await consumer.topics()  # fetch the metadata of every topic
            partitions = consumer.partitions_for_topic(self.topic)
            if not partitions:
                raise StreamUnavailable(f"topic {self.topic} does not exist")
            assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            for partition in assigned:  # resolve the start now
                await consumer.position(partition)
        except (KafkaError, OSError) as exc:
            await consumer.stop()
            raise StreamUnavailable(
                f"cannot read {self.topic} from {self.bootstrap}: {exc}"
            ) from exc
        except BaseException:
            await consumer.stop()
            raise
        return consumer, assigned

    async def start_tail(self) -> None:
        """Follow the topic from its end: what is appended from now on is new."""
        self._tail, _ = await self._open("latest")

    async def poll(self) -> list[Any]:
        assert self._tail is not None, "start_tail first"
        batches = await self._tail.getmany(timeout_ms=1000)
        return [record for records in batches.values() for record in records]

    @contextlib.asynccontextmanager
    async def replay(self) -> AsyncIterator[tuple[dict[int, int], AsyncIterator[Any]]]:
        """The end offset of each partition, and the records before them."""
        consumer, assigned = await self._open("earliest")
        try:
            ends = await consumer.end_offsets(assigned)
            yield {tp.partition: end for tp, end in ends.items()}, self._until(consumer, ends)
        finally:
            await consumer.stop()

    @staticmethod
    async def _until(
        consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]
    ) -> AsyncIterator[Any]:
        remaining = {tp for tp, end in ends.items() if await consumer.position(tp) < end}
        consumer.pause(*(set(ends) - remaining))  # read each partition only up to its end
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset < ends[tp]:
                        yield record
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
                    consumer.pause(tp)

    async def close(self) -> None:
        if self._tail is not None:
            tail, self._tail = self._tail, None
            await tail.stop()


class AlertStream:
    """The fan-out from one tail of the alerts topic to the connected SSE clients."""

    def __init__(
        self,
        settings: Settings,
        alert_log: AlertLog | None = None,
        *,
        heartbeat_s: float = HEARTBEAT_S,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.source = alert_log or KafkaAlertLog(settings)
        self.topic = settings.alerts_topic
        self.heartbeat_s = heartbeat_s
        self.queue_size = queue_size
        self._subscriptions: set[Subscription] = set()
        self._pump: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    async def subscribe(
        self, alert_filter: AlertFilter, on_overflow: Callable[[], None]
    ) -> Subscription:
        """A new subscription; starts the tail on the first one."""
        async with self._lock:
            if self._closed:
                raise StreamUnavailable("the server is shutting down")
            if self._pump is None:
                await self.source.start_tail()
                self._pump = asyncio.create_task(self._fan_out(), name="alert-stream")
            subscription = Subscription(alert_filter, self.queue_size, on_overflow)
            self._subscriptions.add(subscription)
            return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)
        subscription.end()

    async def _fan_out(self) -> None:
        while True:
            try:
                records = await self.source.poll()
            except Exception:
                log.exception("reading %s for the alert stream failed; retrying", self.topic)
                await asyncio.sleep(1.0)
                continue
            for record in records:
                item = stream_item(record)
                if item is not None:
                    for subscription in list(self._subscriptions):
                        subscription.offer(item)

    async def close(self) -> None:
        """Stop the tail and end every open stream (the server is shutting down)."""
        async with self._lock:
            self._closed = True
            pump, self._pump = self._pump, None
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        for subscription in list(self._subscriptions):
            self.unsubscribe(subscription)
        await self.source.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """`GET /v1/alerts/stream?priority=&kind=&touchpoint=&since=now|earliest`."""
        try:
            alert_filter = parse_filter(request.query.items())
        except FilterInvalid as exc:
            return web.json_response({"error": str(exc)}, status=400)

        def disconnect() -> None:  # a slow client: drop the connection, not the other clients
            if request.transport is not None:
                request.transport.abort()

        try:
            subscription = await self.subscribe(alert_filter, disconnect)
        except StreamUnavailable as exc:
            return web.json_response({"error": str(exc)}, status=503, headers={"Retry-After": "5"})
        response = web.StreamResponse(headers=SSE_HEADERS)
        try:
            await response.prepare(request)
            await response.write(f"retry: {RECONNECT_MS}\n: following {self.topic}\n\n".encode())
            skip_below: dict[int, int] = {}
            if alert_filter.since == "earliest":
                skip_below = await self._replay(alert_filter, response)
            await self._follow(subscription, response, skip_below)
        except ConnectionError:
            pass  # the client went away (or was too slow)
        except (StreamUnavailable, KafkaError) as exc:
            log.warning("alert stream replay failed: %s", exc)
        finally:
            self.unsubscribe(subscription)
        return response

    async def _replay(
        self, alert_filter: AlertFilter, response: web.StreamResponse
    ) -> dict[int, int]:
        async with self.source.replay() as (ends, records):
            async for record in records:
                item = stream_item(record)
                if item is not None and alert_filter.matches(item.alert):
                    await response.write(item.message)
        return ends

    async def _follow(
        self, subscription: Subscription, response: web.StreamResponse, skip_below: dict[int, int]
    ) -> None:
        while True:
            try:
                async with asyncio.timeout(self.heartbeat_s):
                    item = await subscription.next()
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if item is None:
                return
            if item.offset >= skip_below.get(item.partition, 0):
                await response.write(item.message)

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v1/alerts/stream", self.handle)]
