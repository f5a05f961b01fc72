"""The stream processors: a faust-streaming app that projects the topics into the warehouse.

Three agents, each consuming micro-batches (`take_events`), so per-event faust overhead is paid
once per batch:

- `cx.touchpoints.v1`: decode and re-validate every record; refused records go to
  `cx.deadletter.v1` (original bytes and headers, reason, source position); new valid events
  go to the read models in one insert; the customers of the batch are scored for churn risk,
  the hours of event time the batch completes are judged for touchpoint incidents, and the
  alert revisions they raise go to `cx.alerts.v1`.
- `cx.alerts.v1`: alerts projected into `cx.alerts`.
- `cx.deadletter.v1`: dead letters projected into `cx.dead_letters`.

`take_events` acknowledges a batch when the loop body returns, and the body only returns once
the warehouse write, the dead letters and the alerts are all acknowledged: offsets are never
committed ahead of the read models.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import faust

from touchstream.events.alerts import AlertRaised
from touchstream.events.catalog import INBOUND_EVENTS, EventInvalid
from touchstream.events.dead_letter import DeadLetter
from touchstream.events.envelope import CloudEvent
from touchstream.events.kafka_binding import decode_record, encode_binary
from touchstream.events.privacy import ErasureRequested
from touchstream.projections.alerts import alert_row
from touchstream.projections.churn_risk import RiskModel
from touchstream.projections.dead_letters import (
    dead_letter_key,
    dead_letter_row,
    refused_event_attr,
)
from touchstream.projections.erasure import (
    anonymised,
    anonymised_dead_letter,
    dead_letter_customer,
)
from touchstream.projections.timeline import RecordOrigin, ingest_row
from touchstream.projections.value_model import NotEnoughPurchases
from touchstream.projections.warehouse import WarehouseError
from touchstream.services import metrics
from touchstream.services.churn_watch import ChurnWatch
from touchstream.services.erasure import ErasureBook
from touchstream.services.kafka_transport import StreamApp
from touchstream.services.projector import Projector
from touchstream.services.replay import Replayer
from touchstream.services.segments import SegmentBook
from touchstream.services.settings import Settings
from touchstream.services.sla_watch import SlaWatch
from touchstream.services.touchpoint_watch import TouchpointWatch
from touchstream.services.value_refit import ValueBook

log = logging.getLogger(__name__)

SLA_CHECK_INTERVAL_S = 10.0
#: Largest record the processors publish: a refused record of up to 2 MiB and its headers.
DEAD_LETTER_MAX_BYTES = 2 * 1024 * 1024 + 64 * 1024
DEAD_LETTER_MAX_VALUE = 2 * 1024 * 1024
INBOUND_TYPES = frozenset(cls.model_fields["type"].default for cls in INBOUND_EVENTS)
ALERT_TYPES = frozenset({AlertRaised.model_fields["type"].default})

_EXISTING_EVENTS = "SELECT id FROM cx.events WHERE id IN {ids:Array(String)}"
# every revision ever projected: cx.alerts keeps only the latest of each alert
_EXISTING_ALERTS = "SELECT event_id FROM cx.alert_revisions WHERE event_id IN {ids:Array(String)}"
_EXISTING_LETTERS = (
    "SELECT concat(source_topic, '/', toString(source_partition), '/', toString(source_offset), "
    "'/', value_sha256) AS k FROM cx.dead_letters WHERE k IN {ids:Array(String)}"
)


@dataclass(frozen=True)
class Record:
    """A Kafka record as the processors see it, independent of the client library."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp: float | None = None

    @property
    def origin(self) -> RecordOrigin:
        return RecordOrigin(self.topic, self.partition, self.offset)


Send = Callable[[str, bytes | None, bytes | None, list[tuple[str, bytes]]], Awaitable[None]]


def now_utc() -> datetime:
    return datetime.now(UTC)


def _letter(record: Record, reason: str, failed_at: str) -> DeadLetter:
    value = record.value
    if value is not None and len(value) > DEAD_LETTER_MAX_VALUE:  # it could not be published
        digest = hashlib.sha256(value).hexdigest()
        reason = f"{reason} (value of {len(value):,} bytes not kept: too large; SHA-256 {digest})"
        value = None
    return DeadLetter(
        key=record.key,
        value=value,
        headers=record.headers,
        reason=reason,
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
        failed_at=failed_at,
    )


def decode_all(
    records: Iterable[Record], accepted_types: frozenset[str]
) -> tuple[list[tuple[CloudEvent, Record]], list[DeadLetter]]:
    """Split records into valid events and dead letters (with the reason)."""
    valid, letters = [], []
    failed_at = now_utc().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for record in records:
        try:
            event = decode_record(record.value, record.headers, record.key)
        except EventInvalid as exc:
            letters.append(_letter(record, str(exc), failed_at))
            continue
        except Exception as exc:  # a bug must not stop the stream: park the record, say why
            log.exception("decoding %s/%s/%s failed", record.topic, record.partition, record.offset)
            letters.append(_letter(record, f"internal error while decoding: {exc!r}", failed_at))
            continue
        if event.type not in accepted_types:
            reason = f"type: event type {event.type!r} is not accepted on {record.topic}"
            letters.append(_letter(record, reason, failed_at))
            continue
        valid.append((event, record))
    return valid, letters


def _by(column: str) -> Callable[[dict], str]:
    return lambda row: row[column]


class Pipeline:
    """What the agents do with a micro-batch; free of faust so it can be tested directly."""

    def __init__(
        self,
        settings: Settings,
        projector: Projector,
        send: Send,
        value: ValueBook | None = None,
        assigned: Callable[[], Iterable[int]] | None = None,
        partitions: Callable[[], Iterable[int]] | None = None,
    ) -> None:
        """`assigned`: the partitions of the touchpoints topic this process reads (default: all
        of them, one process); `partitions`: every partition of the topic (default: those
        seen so far)."""
        self.settings = settings
        self.projector = projector
        self.send = send
        self.assigned = assigned
        self.segments = SegmentBook(projector)
        self.value = value or ValueBook(projector)
        risk = RiskModel(raise_at=settings.churn_alert_at, clear_below=settings.churn_clear_below)
        self.churn = ChurnWatch(projector, self.value, risk)
        self.health = TouchpointWatch(projector, settings.touchpoints_topic, partitions=partitions)
        self.sla = SlaWatch(projector)
        self.erasures = ErasureBook(projector)
        self._judging = asyncio.Lock()

    def forget_state(self) -> None:
        """The read models were rebuilt (`touchstream replay`): drop what is held in memory, to be
        read again from the new tables."""
        self.segments = SegmentBook(self.projector)
        self.churn = ChurnWatch(self.projector, self.value, self.churn.model)
        self.health.resign()

    def is_judge(self) -> bool:
        """Whether this process judges what concerns the whole stream (touchpoint incidents,
        SLA breaches): the one replica that reads partition 0, so exactly one does at a time. A
        replica that loses partition 0 forgets its judging state (rebuilt if it judges again)."""
        judge = self.assigned is None or 0 in set(self.assigned())
        if not judge and self.health.next_hour is not None:
            self.health.resign()
        return judge

    async def dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        topic = self.settings.deadletter_topic
        await asyncio.gather(
            *(self.send(topic, dl.key, dl.value, dl.record_headers()) for dl in letters)
        )
        for letter in letters:
            log.info(
                "dead-lettered %s/%s/%s: %s",
                letter.source_topic,
                letter.source_partition,
                letter.source_offset,
                letter.reason,
            )

    async def touchpoints(self, records: Sequence[Record]) -> None:
        topic = self.settings.touchpoints_topic
        metrics.BATCH_SIZE.labels(topic).observe(len(records))

        def stage(name: str) -> AbstractContextManager[None]:
            return metrics.stage(topic, name)

        with stage("decode"):
            decoded, letters = decode_all(records, INBOUND_TYPES)
        with stage("enrich"):  # read-model rows: facets, sentiment, topics
            valid, rows = self._rows(decoded, letters)
        with stage("erasures"):
            requests, erased = await self._anonymise_erased(valid, rows)
        with stage("segments"):
            await self.segments.stamp(rows)
        with stage("dead_letters"):
            await self.dead_letter(letters)
        with stage("project"):
            fresh = await self.projector.insert_new("cx.ingest", rows, _by("id"), _EXISTING_EVENTS)
        with stage("erasures"):
            for request in requests:
                await self.erasures.execute(request)
            self.churn.forget(erased)
            self.segments.forget(erased)
        # Alerts come from every valid event, not only the fresh ones: if a crash fell between
        # the insert and the alert, the replay must still raise it. Ids are deterministic, so
        # a re-raised alert is recognised downstream and kept once.
        events = [event for event, _ in valid if _customer(event) not in erased]
        with stage("touchpoint_health"):
            await self.health.record([(record.partition, event.time) for event, record in valid])
        with stage("churn_risk"):
            alerts = await self.churn.alerts(events)
        async with self._judging:
            judge = self.is_judge()
            if judge:
                with stage("touchpoint_health"):
                    alerts += await self.health.alerts()
            with stage("publish_alerts"):
                await self.raise_alerts(alerts)
            self.churn.commit()  # the detectors move on only once their alerts are published
            if judge:
                with stage("touchpoint_health"):
                    await self.health.commit()
        with stage("metrics"):
            _observe_detection(alerts, valid)
            self._observe(topic, valid, {row["id"] for row in fresh}, letters)

    async def _anonymise_erased(
        self, valid: list[tuple[CloudEvent, Record]], rows: list[dict]
    ) -> tuple[list[ErasureRequested], set[str]]:
        """Anonymise the rows of customers erased before (or by an erasure earlier in this
        batch); return the batch's erasure requests and every erased customer it names."""
        erased = await self.erasures.erased(_customer(event) for event, _ in valid)
        requests = []
        for index, (event, _) in enumerate(valid):
            customer = _customer(event)
            if customer in erased:
                rows[index] = anonymised(rows[index])
            if isinstance(event, ErasureRequested):
                requests.append(event)
                erased.add(customer)
        return requests, erased

    async def raise_alerts(self, alerts: Sequence[AlertRaised]) -> None:
        records = [encode_binary(alert) for alert in alerts]
        await asyncio.gather(
            *(self.send(self.settings.alerts_topic, r.key, r.value, r.headers) for r in records)
        )

    async def escalate(self) -> None:
        """On the judge, raise the SLA-breach alerts of alerts nobody acknowledged in time and
        the incidents of hours completed while its own partitions were quiet."""
        async with self._judging:
            if not self.is_judge():
                return
            alerts = await self.health.alerts()
            await self.raise_alerts(alerts + await self.sla.alerts())
            await self.health.commit()

    def _observe(
        self,
        topic: str,
        valid: list[tuple[CloudEvent, Record]],
        fresh_ids: set[str],
        letters: list[DeadLetter],
    ) -> None:
        now = time.time()
        unseen = set(fresh_ids)  # an id inserted from this batch: only its first record is new
        kinds: dict[bool, list[tuple[str, str]]] = {True: [], False: []}
        for event, record in valid:
            new = event.id in unseen
            unseen.discard(event.id)
            if record.timestamp:
                metrics.EVENT_TO_PROJECTED_SECONDS.observe(max(0.0, now - record.timestamp))
            if new:
                metrics.EVENT_TIME_LAG_SECONDS.observe(max(0.0, now - event.time.timestamp()))
            kinds[new].append((event.type, event.source))
        counts = metrics.PROCESSED_EVENTS
        metrics.tally(counts, (topic, "projected"), kinds[True])
        metrics.tally(counts, (topic, "duplicate"), kinds[False])
        refused = (
            (refused_event_attr(dl, "type"), refused_event_attr(dl, "source")) for dl in letters
        )
        metrics.tally(counts, (topic, "dead_lettered"), refused)

    def _rows(
        self, decoded: list[tuple[CloudEvent, Record]], letters: list[DeadLetter]
    ) -> tuple[list[tuple[CloudEvent, Record]], list[dict]]:
        """Read-model rows of the decoded events; an event whose row cannot be built (a bug,
        not bad input) is dead-lettered with the reason instead of stopping the stream."""
        received_at = now_utc()
        valid, rows = [], []
        for event, record in decoded:
            try:
                rows.append(ingest_row(event, record.origin, received_at))
            except Exception as exc:
                log.exception("projecting event %s failed", event.id)
                stamp = received_at.isoformat(timespec="milliseconds")
                letters.append(_letter(record, f"internal error while projecting: {exc!r}", stamp))
                continue
            valid.append((event, record))
        return valid, rows

    async def alerts(self, records: Sequence[Record]) -> None:
        topic = self.settings.alerts_topic
        valid, letters = decode_all(records, ALERT_TYPES)
        await self.dead_letter(letters)
        projected_at = now_utc()
        erased = await self.erasures.erased(_customer(event) for event, _ in valid)
        rows = [
            alert_row(event, projected_at)  # type: ignore[arg-type]
            for event, _ in valid
            if _customer(event) not in erased
        ]
        fresh = await self.projector.insert_new(
            "cx.alerts", rows, _by("event_id"), _EXISTING_ALERTS
        )
        for row in fresh:
            metrics.ALERTS_RAISED.labels(row["kind"], row["priority"]).inc()
        self._observe(topic, valid, {row["event_id"] for row in fresh}, letters)

    async def dead_letters(self, records: Sequence[Record]) -> None:
        rows = [dead_letter_row(DeadLetter.from_record(r.key, r.value, r.headers)) for r in records]
        erased = await self.erasures.erased(dead_letter_customer(row) for row in rows)
        rows = [
            anonymised_dead_letter(row) if dead_letter_customer(row) in erased else row
            for row in rows
        ]
        fresh = await self.projector.insert_new(
            "cx.dead_letters", rows, dead_letter_key, _EXISTING_LETTERS
        )
        kinds = [(row["event_type"] or metrics.UNKNOWN, metrics.UNKNOWN) for row in fresh]
        metrics.tally(
            metrics.PROCESSED_EVENTS, (self.settings.deadletter_topic, "projected"), kinds
        )


def _customer(event: CloudEvent) -> str:
    return vars(event.data).get("customer_id") or ""


def _observe_detection(
    alerts: Sequence[AlertRaised], valid: list[tuple[CloudEvent, Record]]
) -> None:
    """Detection latency of the alert revisions a batch raised: from the broker append of the
    newest record of the alert's customer in the batch (or of the batch) to now."""
    if not alerts:
        return
    appended: dict[str, float] = {}
    for event, record in valid:
        customer = vars(event.data).get("customer_id") or ""
        if record.timestamp:
            appended[customer] = max(appended.get(customer, 0.0), record.timestamp)
    newest = max(appended.values(), default=None)
    now = time.time()
    for alert in alerts:
        moment = appended.get(alert.data.customer_id or "", newest)
        if moment:
            metrics.ALERT_DETECTION_SECONDS.labels(alert.data.kind).observe(max(0.0, now - moment))


async def until_done(
    handler: Callable[[Sequence[Record]], Awaitable[None]],
    records: Sequence[Record],
    retry_max_s: float = 30.0,
) -> None:
    """Run `handler` on the batch until it succeeds.

    `take_events` acknowledges a batch when the loop body ends, even when it ends by raising,
    so a failure here (broker unreachable for a dead letter or an alert, say) must be retried,
    never raised. Re-running a batch is safe: every write is idempotent.
    """
    delay = 0.25
    while True:
        try:
            await handler(records)
            return
        except Exception:
            log.exception("batch of %d records failed; retrying in %.1fs", len(records), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, retry_max_s)


def _record(event: faust.EventT) -> Record:
    message = event.message
    headers = message.headers or ()
    if isinstance(headers, dict):
        headers = headers.items()
    return Record(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers=tuple((name, bytes(value or b"")) for name, value in headers),
        timestamp=message.timestamp,
    )


class Activity:
    """When the agents last received records, and how many batches they are handling: once no
    batch is in progress and none has arrived for a few fetch waits, the processors have
    projected everything the broker holds."""

    def __init__(self) -> None:
        self.records = 0  # records received so far
        self.busy = 0  # batches in progress
        self._last = time.monotonic()
        self._lock = threading.Lock()  # the warehouse relay's threads count their calls too

    @contextmanager
    def batch(self, records: int) -> Iterator[None]:
        with self._lock:
            self.records += records
            self.busy += 1
        try:
            yield
        finally:
            with self._lock:
                self.busy -= 1
                self._last = time.monotonic()

    def quiet_for(self) -> float:
        """Seconds since the last batch ended (0 while one is in progress)."""
        return 0.0 if self.busy else time.monotonic() - self._last


def build_app(
    settings: Settings,
    projector: Projector,
    value: ValueBook | None = None,
    replayer: Replayer | None = None,
    activity: Activity | None = None,
) -> faust.App:
    """The faust app with its three agents, configured from `settings`; `activity` follows
    their batches."""
    timeouts = settings.group_timeouts
    app = StreamApp(
        settings.consumer_group,
        fetch_wait_s=settings.consumer_fetch_wait_s,
        broker=f"kafka://{settings.kafka_bootstrap}",
        web_enabled=False,
        datadir=str(settings.data_dir / "faust"),  # not the current directory
        topic_partitions=settings.topic_partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=timeouts["session"],
        broker_rebalance_timeout=timeouts["rebalance"],
        broker_heartbeat_interval=timeouts["heartbeat"],
        producer_acks=-1,
        # A refused record is dead-lettered whole, plus its dlq_ headers: the producer must take a
        # record as large as the touchpoints topic may hold (faust's default, 1 MB, is smaller
        # than Kafka's), or that batch would be retried forever and its partition stop.
        producer_max_request_size=DEAD_LETTER_MAX_BYTES,
        broker_commit_every=settings.batch_max_events,
        broker_commit_interval=1.0,
        # Do not wait for buffered events at shutdown: a batch stuck retrying the warehouse
        # would block Ctrl-C forever, and unacknowledged records are simply read again.
        stream_wait_empty=False,
    )

    def topic(name: str) -> faust.TopicT:
        return app.topic(name, key_serializer="raw", value_serializer="raw")

    topics = {
        settings.touchpoints_topic: topic(settings.touchpoints_topic),
        settings.alerts_topic: topic(settings.alerts_topic),
        settings.deadletter_topic: topic(settings.deadletter_topic),
    }

    async def send(name: str, key: bytes | None, value: bytes | None, headers: list) -> None:
        delivery = await topics[name].send(key=key, value=value, headers=headers)
        await delivery  # resolves once the broker acknowledged (acks=all)

    def assigned() -> list[int]:
        """The partitions of the touchpoints topic this process reads (none before it joins)."""
        if not app.started:
            return []
        return [
            tp.partition
            for tp in app.consumer.assignment()
            if tp.topic == settings.touchpoints_topic
        ]

    # `up` creates the topic with this many partitions (docs/production.md)
    pipeline = Pipeline(
        settings, projector, send, value, assigned, lambda: range(settings.topic_partitions)
    )
    if replayer is not None:
        replayer.after_switch.append(pipeline.forget_state)

    activity = activity or Activity()

    def agent(name: str, handler: Callable[[Sequence[Record]], Awaitable[None]]) -> None:
        async def consume(stream: faust.StreamT) -> None:
            waiting = metrics.BATCH_STAGE_SECONDS.labels(name, "waiting_for_records")
            since = time.perf_counter()
            async for batch in stream.take_events(
                settings.batch_max_events, within=settings.batch_max_wait_s
            ):
                waiting.inc(time.perf_counter() - since)  # idle, or in faust and the broker
                records = [_record(event) for event in batch]
                with activity.batch(len(records)):
                    await until_done(handler, records, settings.write_retry_max_s)
                since = time.perf_counter()

        app.agent(topics[name], name=f"touchstream.{name}")(consume)

    @app.timer(5.0)
    async def report_consumer_lag() -> None:
        for tp in app.consumer.assignment():
            high = app.consumer.highwater(tp)
            # faust keeps the last committed offset per partition; it has no public getter
            committed = app.consumer._committed_offset.get(tp) or 0
            if high is not None:
                lag = max(0, high - committed)
                metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(lag)

    @app.timer(SLA_CHECK_INTERVAL_S)
    async def escalate_sla_breaches() -> None:
        try:
            await pipeline.escalate()
        except Exception:  # the next tick tries again
            log.exception("checking SLA breaches and incidents failed")

    if settings.value_refit_interval_s > 0:

        @app.timer(settings.value_refit_interval_s)
        async def refit_value_model() -> None:
            try:
                await pipeline.value.refit()
            except NotEnoughPurchases as exc:
                log.info("value model not refitted: %s", exc)
            except WarehouseError as exc:
                log.warning("value model not refitted, the warehouse failed: %s", exc)

    agent(settings.touchpoints_topic, pipeline.touchpoints)
    agent(settings.alerts_topic, pipeline.alerts)
    agent(settings.deadletter_topic, pipeline.dead_letters)
    return app
