"""The HTTP ingest gateway: `POST /v1/events`.

Accepts one event or a batch in any CloudEvents HTTP mode (binary, structured, batch). Each
event is validated on its own; valid ones are published and acknowledged only once the broker
has them (acks=all), invalid ones are reported with the field and the reason.

Responses: 202 every event accepted; 207 some accepted, some rejected; 400 nothing accepted
(or the request itself is malformed); 401/403 no valid API key, or a key not allowed to publish
one of the events' source or type (nothing is published; services/access.py); 413 body or
batch too large; 415 unsupported content type; 429 rate limit; 503 the broker did not
acknowledge (those events are reported `failed`: retry them), the gateway is overloaded
(`max_inflight_requests` requests in progress: the request was not read; retry after the
`Retry-After` delay), or the process is stopping.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from touchstream.events.catalog import EventInvalid, FieldError
from touchstream.events.envelope import CloudEvent
from touchstream.events.http_binding import RequestInvalid, decode_http
from touchstream.events.publisher import BrokerUnavailable, Delivery, Publisher
from touchstream.services import metrics
from touchstream.services.access import API_KEY
from touchstream.services.processor import INBOUND_TYPES
from touchstream.services.settings import Settings

log = logging.getLogger(__name__)
UNKNOWN_KIND = (metrics.UNKNOWN, metrics.UNKNOWN)


def problem(status: int, message: str, retry_after: str = "5", **extra: Any) -> web.Response:
    metrics.INGEST_REQUESTS.labels(str(status)).inc()
    headers = {"Retry-After": retry_after} if status == 503 else None
    return web.json_response({"error": message, **extra}, status=status, headers=headers)


def _rejected(index: int, exc: EventInvalid) -> dict[str, Any]:
    return {
        "index": index,
        "id": exc.event_id,
        "status": "rejected",
        "errors": [{"field": e.field, "reason": e.reason} for e in exc.errors],
    }


def _delivered(index: int, delivery: Delivery) -> dict[str, Any]:
    if delivery.accepted:
        return {
            "index": index,
            "id": delivery.event_id,
            "status": "accepted",
            "partition": delivery.partition,
            "offset": delivery.offset,
        }
    return {"index": index, "id": delivery.event_id, "status": "failed", "error": delivery.error}


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._publisher: Publisher | None = None
        self._lock = asyncio.Lock()
        self._inflight = 0  # requests being handled (one event loop: no lock needed)
        self.stopping = False

    def stop_accepting(self) -> None:
        """Answer every later ingest request 503: the process is stopping."""
        self.stopping = True

    async def publisher(self) -> Publisher:
        """The producer, created on first use so that a gateway can start before the broker."""
        async with self._lock:
            if self._publisher is None:
                self._publisher = await asyncio.to_thread(
                    Publisher,
                    self.settings.kafka_bootstrap,
                    self.settings.touchpoints_topic,
                    delivery_timeout_s=self.settings.publish_timeout_s,
                )
            return self._publisher

    async def publish(self, events: list[CloudEvent]) -> list[Delivery]:
        """Each event's delivery; one not acknowledged within the publish timeout is reported
        failed (a broker that died mid-request never answers, and kafka-python's idempotent
        producer never expires what it sent there)."""
        publisher = await self.publisher()
        futures = await asyncio.to_thread(lambda: [publisher.submit(e) for e in events])
        waiting = [asyncio.wrap_future(f) for f in futures]
        timeout = self.settings.publish_timeout_s
        done, _ = await asyncio.wait(waiting, timeout=timeout)
        late = f"no acknowledgement within {timeout:g} s; re-sending is safe (the id deduplicates)"
        return [
            w.result() if w in done else Delivery(e.id, accepted=False, error=late)
            for w, e in zip(waiting, events, strict=True)
        ]

    async def post_events(self, request: web.Request) -> web.Response:
        if self.stopping:
            return problem(503, "stopping: this process takes no more events; send them to another")
        limit = self.settings.max_inflight_requests
        if self._inflight >= limit:  # shed load: never queue without bound
            return problem(
                503,
                f"overloaded: {limit} ingest requests are in progress; retry after the delay",
                retry_after="1",
            )
        self._inflight += 1
        try:
            return await self._post_events(request)
        finally:
            self._inflight -= 1

    async def _post_events(self, request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            limit = self.settings.max_body_bytes
            return problem(413, f"request body is larger than the limit of {limit} bytes")
        try:
            items = decode_http(request.headers, body, max_events=self.settings.max_batch_events)
        except RequestInvalid as exc:
            return problem(exc.status, str(exc))
        key = request.get(API_KEY)
        if key is not None:
            outside = [
                {"index": i, "id": item.id, "source": item.source, "type": item.type}
                for i, item in enumerate(items)
                if isinstance(item, CloudEvent) and not key.may_publish(item.source, item.type)
            ]
            if outside:
                metrics.ACCESS_REFUSED.labels("403").inc()
                return problem(
                    403,
                    f"key {key.name!r} ({key.id}) may publish only sources "
                    f"{list(key.sources)} and types {list(key.types)}: nothing was published",
                    outside=outside,
                )
        results: list[dict[str, Any] | None] = [None] * len(items)
        to_publish: list[tuple[int, CloudEvent]] = []
        for index, item in enumerate(items):
            if isinstance(item, EventInvalid):
                results[index] = _rejected(index, item)
            elif item.type not in INBOUND_TYPES:
                reason = f"{item.type} is published by Touchstream itself, not accepted as input"
                results[index] = _rejected(
                    index, EventInvalid([FieldError("type", reason)], item.id)
                )
            else:
                to_publish.append((index, item))
        if to_publish:
            try:
                deliveries = await self.publish([event for _, event in to_publish])
            except BrokerUnavailable as exc:
                deliveries = [
                    Delivery(event.id, accepted=False, error=str(exc)) for _, event in to_publish
                ]
            for (index, _), delivery in zip(to_publish, deliveries, strict=True):
                results[index] = _delivered(index, delivery)
        kinds = [
            (item.type, item.source) if isinstance(item, CloudEvent) else UNKNOWN_KIND
            for item in items
        ]
        return self._respond([r for r in results if r is not None], kinds)

    def _respond(self, results: list[dict[str, Any]], kinds: list[tuple[str, str]]) -> web.Response:
        counts = {
            s: sum(r["status"] == s for r in results) for s in ("accepted", "rejected", "failed")
        }
        for status in counts:
            chosen = (kind for kind, r in zip(kinds, results, strict=True) if r["status"] == status)
            metrics.tally(metrics.INGEST_EVENTS, (status,), chosen)
        if counts["failed"]:
            status = 503
            message = "the broker did not acknowledge some events; nothing marked failed was stored"
        elif counts["rejected"] and counts["accepted"]:
            status, message = 207, "some events were rejected"
        elif counts["rejected"]:
            status, message = 400, "every event was rejected"
        else:
            status, message = 202, "accepted"
        metrics.INGEST_REQUESTS.labels(str(status)).inc()
        body = {"message": message, **counts, "results": results}
        headers = {"Retry-After": "5"} if status == 503 else None
        return web.json_response(body, status=status, headers=headers)

    def close(self) -> None:
        if self._publisher is not None:
            self._publisher.close()
