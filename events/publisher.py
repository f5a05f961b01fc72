"""The Python publisher for upstream channels: validated events onto Kafka, with broker acks.

Each event is checked against the contract before it leaves the process (an invalid one is
reported, never sent), written in the CloudEvents Kafka binary mode keyed by its customer, and
reported as delivered only once the broker acknowledged it with acks=all. Every wait is
bounded by `delivery_timeout_s`, so a dead broker shows up as an error, not a hang.

    with Publisher("127.0.0.1:9092") as publisher:
        deliveries = publisher.publish(events)
        rejected = [d for d in deliveries if not d.accepted]

Re-sending an event after an error is always safe: its `id` is the idempotency key, and
Touchstream never counts the same id twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.producer.future import RecordMetadata

from touchstream.events.catalog import EVENT_TYPES, EventInvalid, parse_event
from touchstream.events.envelope import CloudEvent
from touchstream.events.kafka_binding import encode_binary

DEFAULT_TOPIC = "cx.touchpoints.v1"


@dataclass(frozen=True)
class Delivery:
    """The outcome of publishing one event."""

    event_id: str | None
    accepted: bool
    partition: int | None = None
    offset: int | None = None
    error: str | None = None


class BrokerUnavailable(RuntimeError):
    """No Kafka broker answered in time; nothing further can be published until one does."""


class Publisher:
    """Publishes events to one topic through a kafka-python producer; thread-safe."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str = DEFAULT_TOPIC,
        *,
        acks: int | str = "all",
        enable_idempotence: bool = True,
        delivery_timeout_s: float = 10.0,
        **producer_config: Any,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.delivery_timeout_s = delivery_timeout_s
        config = _producer_config(
            bootstrap_servers, acks, enable_idempotence, delivery_timeout_s, producer_config
        )
        self._max_block_s = config["max_block_ms"] / 1000
        self._answered = time.monotonic()  # when the broker last answered a send
        try:
            self._producer = KafkaProducer(**config)
        except KafkaError as exc:
            raise BrokerUnavailable(
                f"no Kafka broker reachable at {bootstrap_servers} within "
                f"{config['bootstrap_timeout_ms'] / 1000:g}s ({exc}); start the broker or "
                "check the bootstrap address"
            ) from None
        self._closed = False

    def submit(self, event: CloudEvent | Mapping[str, Any]) -> Future[Delivery]:
        """Send one event without waiting; the future resolves once the broker answered.

        Raises `BrokerUnavailable` when the broker cannot be reached to route the event.
        """
        if self._closed:
            raise RuntimeError("the publisher is closed")
        result: Future[Delivery] = Future()
        # A record handed to Kafka cannot be taken back, so the future cannot be cancelled.
        result.set_running_or_notify_cancel()
        try:
            event = _validated(event)
        except EventInvalid as invalid:
            result.set_result(Delivery(invalid.event_id, accepted=False, error=str(invalid)))
            return result
        record = encode_binary(event)
        try:
            sent = self._producer.send(
                self.topic, value=record.value, key=record.key, headers=record.headers
            )
        except KafkaTimeoutError as exc:
            raise BrokerUnavailable(
                f"Kafka at {self.bootstrap_servers} did not take an event for topic "
                f"{self.topic!r} within {self._max_block_s:g}s ({exc}): the broker is "
                "unreachable, or the topic does not exist"
            ) from None
        except KafkaError as exc:  # e.g. a record larger than the broker allows
            result.set_result(Delivery(event.id, accepted=False, error=_describe(exc)))
            return result
        sent.add_callback(self._acknowledged, result, event.id)
        sent.add_errback(self._failed, result, event.id)
        return result

    def _acknowledged(self, result: Future[Delivery], event_id: str, meta: RecordMetadata) -> None:
        self._answered = time.monotonic()
        result.set_result(Delivery(event_id, True, meta.partition, meta.offset))

    def _failed(self, result: Future[Delivery], event_id: str, exc: BaseException) -> None:
        self._answered = time.monotonic()
        result.set_result(Delivery(event_id, accepted=False, error=_describe(exc)))

    def publish(
        self, events: Iterable[CloudEvent | Mapping[str, Any]], timeout: float | None = None
    ) -> list[Delivery]:
        """Send all events and wait for the broker; one `Delivery` per event, in input order.

        Never raises for a broker problem, and never waits forever: events that could not be
        sent, or were not acknowledged within `timeout` (without one: while the broker went
        `delivery_timeout_s` without answering), come back with `accepted=False` and the reason.
        """
        pending = list(events)
        deadline = None if timeout is None else time.monotonic() + timeout
        self._answered = time.monotonic()  # the broker's silence counts from now
        futures: list[Future[Delivery]] = []
        for index, event in enumerate(pending):
            try:
                futures.append(self.submit(event))
            except BrokerUnavailable as exc:
                return self._collect(futures, pending, deadline) + _not_sent(pending[index:], exc)
        return self._collect(futures, pending, deadline)

    def _collect(
        self, futures: list[Future[Delivery]], events: list[Any], deadline: float | None
    ) -> list[Delivery]:
        """Each event's outcome, waiting until `deadline` at most, and only while the broker
        keeps answering. kafka-python's delivery timeout is not enough: its idempotent producer
        never expires the batches of a broker that died (it waits for a new producer id
        first), so their futures would wait forever."""
        deliveries = []
        for future, event in zip(futures, events, strict=False):
            try:
                deliveries.append(self._wait(future, deadline))
            except FutureTimeout:
                error = (
                    "no acknowledgement in time; the event may still arrive, and re-sending it "
                    "is safe (its id deduplicates)"
                )
                deliveries.append(Delivery(_event_id(event), accepted=False, error=error))
        return deliveries

    def _wait(self, future: Future[Delivery], deadline: float | None) -> Delivery:
        """The future's outcome; FutureTimeout at `deadline`, or once the broker has gone
        `delivery_timeout_s` without answering any event."""
        while True:
            idle_until = self._answered + self.delivery_timeout_s
            limit = idle_until if deadline is None else min(idle_until, deadline)
            try:
                return future.result(max(0.0, limit - time.monotonic()))
            except FutureTimeout:
                if limit != idle_until or self._answered + self.delivery_timeout_s <= limit:
                    raise  # the deadline passed, or the broker stayed silent all along

    def flush(self, timeout: float | None = None) -> None:
        """Send everything submitted so far and wait for the answers; TimeoutError if late."""
        try:
            self._producer.flush(timeout)
        except KafkaTimeoutError as exc:
            raise TimeoutError(f"not all events were acknowledged within {timeout}s") from exc

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is pending (at most `timeout` seconds), then release the connections."""
        if self._closed:
            return
        self._closed = True
        try:
            self._producer.close(timeout=self.delivery_timeout_s if timeout is None else timeout)
        except KafkaTimeoutError:
            # kafka-python flushes before closing and raises when the broker no longer answers
            # (publish() has reported every event not acknowledged by then); its close() has no
            # way to give up, so stop its I/O thread, which fails what is still pending.
            sender = getattr(self._producer, "_sender", None)
            if sender is not None:
                sender.force_close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _producer_config(
    bootstrap_servers: str,
    acks: int | str,
    enable_idempotence: bool,
    delivery_timeout_s: float,
    overrides: dict[str, Any],
) -> dict[str, Any]:
    """kafka-python settings where every wait fits in the delivery timeout."""
    timeout_ms = max(1000, int(delivery_timeout_s * 1000))
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "client_id": "touchstream-publisher",
        "acks": acks,
        "delivery_timeout_ms": timeout_ms,
        # One request may time out and be retried inside the delivery timeout.
        "request_timeout_ms": timeout_ms // 2,
        "max_block_ms": timeout_ms,
        "bootstrap_timeout_ms": timeout_ms,
        "reconnect_backoff_max_ms": 1000,
    }
    # kafka-python enables idempotence by default and turns it off itself when the broker is
    # too old; passing True explicitly would make that an error instead.
    if not enable_idempotence:
        config["enable_idempotence"] = False
    config.update(overrides)
    return config


def _validated(event: CloudEvent | Mapping[str, Any]) -> CloudEvent:
    """A catalog event; anything else (a dict, a bare envelope) is checked by the contract."""
    if isinstance(event, CloudEvent) and EVENT_TYPES.get(event.type) is type(event):
        return event
    if isinstance(event, CloudEvent):
        return parse_event(event.to_json_dict())
    return parse_event(dict(event) if isinstance(event, Mapping) else event)


def _not_sent(events: list[Any], exc: BrokerUnavailable) -> list[Delivery]:
    return [Delivery(_event_id(e), accepted=False, error=f"not sent: {exc}") for e in events]


def _event_id(event: Any) -> str | None:
    if isinstance(event, CloudEvent):
        return event.id
    event_id = event.get("id") if isinstance(event, Mapping) else None
    return event_id if isinstance(event_id, str) else None


def _describe(exc: BaseException) -> str:
    """The error text with its kind; kafka-python's messages usually start with the kind."""
    text, name = str(exc), type(exc).__name__
    if text.startswith(name):
        return text
    return f"{name}: {text}" if text else name
