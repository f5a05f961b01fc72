"""Fault injection on the embedded stack: processors SIGKILLed mid-stream, warehouse writes
failing, the broker gone.

Whatever happens, every valid event ends up in the read models exactly once, every invalid
record in the dead letters exactly once, the aggregates equal a recomputation from the archive,
no alert revision is doubled, and nothing is acknowledged that was not stored.

The broker here is a Tansu started by the test, not by `touchstream up`
(TOUCHSTREAM_EMBEDDED_BROKER=false): Tansu keeps its log in memory only, so it must outlive the
`up` processes the tests kill. The kill moments come from a seeded generator; a failure names
the seed, and CHAOS_SEED=<seed> replays the same schedule.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from tests.e2e.conftest import Runtime, eventually, metric_sum, runtime_env, spawn_up, wait_ready
from touchstream.events.catalog import parse_event
from touchstream.events.envelope import CloudEvent
from touchstream.events.kafka_binding import encode_structured
from touchstream.events.publisher import Publisher
from touchstream.projections.timeline import CONTACT_TYPES
from touchstream.projections.warehouse import FAIL_WRITES_SWITCH
from touchstream.services.broker import EmbeddedBroker, ensure_topics
from touchstream.services.demo_journeys import generate_journeys, with_text_share
from touchstream.services.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

TOUCHPOINTS, ALERTS, DEAD_LETTERS = "cx.touchpoints.v1", "cx.alerts.v1", "cx.deadletter.v1"
GROUP = Settings().consumer_group


# ---- the stack: a broker of the test's own, and `touchstream up` processes to kill ----------


class Stack:
    """A Tansu broker owned by the test and the `touchstream up` processes that use it."""

    def __init__(self, root: Path) -> None:
        self.data_dir = root / "data"
        self.env = runtime_env(self.data_dir)
        self.switch = root / "fail-writes"  # the warehouse fault switch (off: absent)
        self.env.update(
            TOUCHSTREAM_EMBEDDED_BROKER="false",
            TOUCHSTREAM_BATCH_MAX_WAIT_S="0.2",
            **{FAIL_WRITES_SWITCH: str(self.switch)},
        )
        self.bootstrap = self.env["TOUCHSTREAM_KAFKA_BOOTSTRAP"]
        self.broker = EmbeddedBroker(self.bootstrap, root / "tansu.log")
        self.process: subprocess.Popen[bytes] | None = None
        self.runtime: Runtime | None = None
        self.starts = 0
        self.start_seconds: list[float] = []  # spawn → ready, for the report
        self._spawned = 0.0

    def __enter__(self) -> Stack:
        self.broker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        self.broker.stop()

    def spawn(self) -> None:
        assert self.process is None or self.process.poll() is not None
        self.process, self.runtime = spawn_up(self.env, self.data_dir), None
        self.starts += 1
        self._spawned = time.monotonic()

    def start(self) -> Runtime:
        if self.process is None or self.process.poll() is not None:
            self.spawn()
        assert self.process is not None
        self.runtime = wait_ready(self.process, self.env, self.data_dir, timeout=120)
        self.start_seconds.append(round(time.monotonic() - self._spawned, 1))
        return self.runtime

    def kill(self) -> None:
        """SIGKILL `up`: processors, HTTP server and the chDB owner die mid-whatever."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.runtime = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def query(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        assert self.runtime is not None, "no runtime is up"
        return self.runtime.client.query(sql, **params)

    def scalar(self, sql: str, **params: Any) -> int:
        return int(self.query(sql, **params)[0]["n"])


class Offsets:
    """The processors' consumer group as Kafka sees it: committed offsets and log ends."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        self.metadata = KafkaConsumer(bootstrap_servers=bootstrap)

    def partitions(self, topic: str) -> list[TopicPartition]:
        return [TopicPartition(topic, p) for p in sorted(self.metadata.partitions_for_topic(topic))]

    def committed(self, topic: str) -> dict[int, int]:
        partitions = self.partitions(topic)
        offsets = self.admin.list_group_offsets({GROUP: partitions})[GROUP]
        return {
            tp.partition: max(0, offsets[tp].offset) if tp in offsets else 0 for tp in partitions
        }

    def ends(self, topic: str) -> dict[int, int]:
        """Log end offsets, from the high watermark a fetch reports. (Not ListOffsets: Tansu
        answers it with the base offset of the last record batch + 1, short of the log end.)"""
        partitions = self.partitions(topic)
        reader = KafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, fetch_max_wait_ms=50
        )
        try:
            reader.assign(partitions)
            for tp, offset in self.committed(topic).items():
                reader.seek(TopicPartition(topic, tp), offset)
            deadline = time.monotonic() + 30
            while any(reader.highwater(tp) is None for tp in partitions):
                assert time.monotonic() < deadline, f"no fetch answered on {topic}"
                reader.poll(timeout_ms=100)
            return {tp.partition: reader.highwater(tp) for tp in partitions}
        finally:
            reader.close()

    def values(self, topic: str, start: dict[int, int], end: dict[int, int]) -> list[bytes]:
        """The values of the records from offset `start` up to `end` of each partition."""
        reader = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None)
        try:
            wanted = {p: TopicPartition(topic, p) for p in end if end[p] > start[p]}
            reader.assign(list(wanted.values()))
            for p, tp in wanted.items():
                reader.seek(tp, start[p])
            values: list[bytes] = []
            deadline = time.monotonic() + 30
            while any(reader.position(tp) < end[p] for p, tp in wanted.items()):
                assert time.monotonic() < deadline, f"could not read {topic} up to {end}"
                for tp, records in reader.poll(timeout_ms=200).items():
                    values += [r.value for r in records if r.offset < end[tp.partition]]
            return values
        finally:
            reader.close()

    def lag(self, *topics: str) -> int:
        """Records on `topics` that the group has not committed yet."""
        total = 0
        for topic in topics:
            committed, ends = self.committed(topic), self.ends(topic)
            total += sum(end - committed[p] for p, end in ends.items())
        return total

    def close(self) -> None:
        self.admin.close()
        self.metadata.close()


def settled_commits(kafka: Offsets, topic: str, quiet_s: float = 3.0) -> dict[int, int]:
    """The group's committed offsets once they have not moved for `quiet_s` (faust commits
    every second, and the last offsets of a finished batch may land after the lag reads 0:
    Tansu's high watermark can stop at the last record batch's base offset + 1)."""
    last, since = kafka.committed(topic), time.monotonic()
    deadline = since + 60
    while time.monotonic() - since < quiet_s:
        assert time.monotonic() < deadline, "the committed offsets never settled"
        time.sleep(0.5)
        now = kafka.committed(topic)
        if now != last:
            last, since = now, time.monotonic()
    return last


@contextlib.contextmanager
def offsets(bootstrap: str) -> Iterator[Offsets]:
    watcher = Offsets(bootstrap)
    try:
        yield watcher
    finally:
        watcher.close()


# ---- the workload: journeys, upstream re-sends and records no contract accepts ---------------


@dataclass
class Workload:
    valid: list[CloudEvent]  # each once; some are also re-sent, as an upstream retry would
    resent: list[CloudEvent]
    structured: list[CloudEvent]  # sent in structured mode by a plain Kafka producer
    invalid: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]  # key, value, headers

    @property
    def valid_ids(self) -> set[str]:
        return {e.id for e in self.valid}

    @property
    def invalid_digests(self) -> set[str]:
        return {hashlib.sha256(value).hexdigest() for _, value, _ in self.invalid}


def invalid_record(n: int, customer: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Record `n` of a careless producer: six ways to break the contract, each one unique."""
    key = customer.encode()
    base: dict[str, Any] = {
        "specversion": "1.0",
        "id": f"bad-{n}",
        "source": "/legacy/export",
        "type": "cx.feedback.survey.v1",
        "time": "2025-03-10T10:00:00Z",
        "data": {"customer_id": customer, "survey_id": "s", "touchpoint": "app", "nps": 4},
    }
    match n % 6:
        case 0:  # not JSON at all
            return key, f"{{not json #{n}".encode(), []
        case 1:  # out of range
            return key, orjson.dumps(base | {"data": base["data"] | {"nps": 11}}), []
        case 2:  # a time without its zone
            return key, orjson.dumps(base | {"time": "2025-03-10T10:00:00"}), []
        case 3:  # an outbound type on the inbound topic
            return key, orjson.dumps(base | {"type": "cx.alert.raised.v1"}), []
        case 4:  # binary mode, unknown type
            headers = [
                ("ce_specversion", b"1.0"),
                ("ce_id", f"bad-{n}".encode()),
                ("ce_type", b"cx.unknown.v9"),
                ("ce_source", b"/legacy"),
                ("ce_time", b"2025-03-10T10:00:00Z"),
            ]
            return key, orjson.dumps({"customer_id": customer, "n": n}), headers
        case _:  # a required field missing
            data = {k: v for k, v in base["data"].items() if k != "touchpoint"}
            return key, orjson.dumps(base | {"data": data}), []


def workload(target: int, invalid: int, seed: int) -> Workload:
    journeys = generate_journeys(max(1, round(target / 16)), seed=seed).events
    events = [parse_event(e) for e in with_text_share(journeys, 0.2, seed)]
    rng = random.Random(seed)
    structured = rng.sample(events, len(events) // 20)
    chosen = {e.id for e in structured}
    customers = sorted({e.data.customer_id for e in events})
    return Workload(
        valid=events,
        resent=rng.sample(events, len(events) // 100),
        structured=[e for e in events if e.id in chosen],
        invalid=[invalid_record(n, rng.choice(customers)) for n in range(invalid)],
    )


def publish(bootstrap: str, work: Workload, chunk: int = 500) -> int:
    """Publish the workload interleaved: the project's publisher (binary mode, acks=all) for
    most valid events, a plain producer for structured-mode events and the invalid records.
    Returns the records the broker acknowledged; every one must be."""
    structured = {e.id for e in work.structured}
    # in time order, as channels send them; the re-sends (upstream retries) come last
    binary = [e for e in work.valid if e.id not in structured] + work.resent
    raw: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = [
        (r.key, r.value, r.headers) for r in map(encode_structured, work.structured)
    ] + list(work.invalid)
    random.Random(len(raw)).shuffle(raw)
    per_chunk = math.ceil(len(raw) / math.ceil(len(binary) / chunk))
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    acknowledged = 0
    try:
        with Publisher(bootstrap, TOUCHPOINTS, delivery_timeout_s=60) as publisher:
            for i, start in enumerate(range(0, len(binary), chunk)):
                futures = [publisher.submit(e) for e in binary[start : start + chunk]]
                sent = [
                    producer.send(TOUCHPOINTS, key=k, value=v, headers=h)
                    for k, v, h in raw[i * per_chunk : (i + 1) * per_chunk]
                ]
                deliveries = [f.result(60) for f in futures]
                assert all(d.accepted for d in deliveries), [d for d in deliveries if d.error][:3]
                acknowledged += len(deliveries) + len([s.get(60) for s in sent])
    finally:
        producer.close(10)
    return acknowledged


# ---- what must hold afterwards ---------------------------------------------------------------


def assert_exactly_once(stack: Stack, work: Workload) -> dict[str, int]:
    """Every valid event once in the archive, the timeline and the profile; every invalid
    record once in the dead letters, with a reason. Returns the figures."""
    valid = len(work.valid)
    stored = stack.query(
        "SELECT (SELECT count() FROM cx.events) AS events, "
        "(SELECT uniqExact(id) FROM cx.events) AS event_ids, "
        "(SELECT count() FROM cx.timeline) AS timeline, "
        "(SELECT uniqExact(event_id) FROM cx.timeline) AS timeline_ids, "
        "(SELECT sum(events) FROM cx.customer_profile_state) AS profile_events"
    )[0]
    stored = {k: int(v) for k, v in stored.items()}
    ids = {r["id"] for r in stack.query("SELECT id FROM cx.events")}
    assert not work.valid_ids - ids, f"lost: {sorted(work.valid_ids - ids)[:5]}"
    assert not ids - work.valid_ids, f"never sent: {sorted(ids - work.valid_ids)[:5]}"
    assert stored == dict.fromkeys(stored, valid), f"expected {valid} of each: {stored}"

    letters = stack.query(
        "SELECT value_sha256, count() AS n, min(reason) AS reason FROM cx.dead_letters "
        "WHERE source_topic = {topic:String} GROUP BY value_sha256",
        topic=TOUCHPOINTS,
    )
    digests = {r["value_sha256"] for r in letters}
    assert digests == work.invalid_digests, (
        f"dead letters: {len(work.invalid_digests - digests)} missing, "
        f"{len(digests - work.invalid_digests)} unexpected"
    )
    assert all(int(r["n"]) == 1 for r in letters), [r for r in letters if int(r["n"]) > 1][:3]
    assert all(r["reason"] for r in letters)
    return {"valid": valid, "dead_letters": len(letters)}


def _table(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[tuple, dict[str, Any]]:
    return {tuple(str(r[k]) for k in keys): {k: r[k] for k in r if k not in keys} for r in rows}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-3)
    return a == b


def assert_same_table(name: str, stored: dict, recomputed: dict) -> None:
    assert stored.keys() == recomputed.keys(), (
        f"{name}: groups only stored {sorted(stored.keys() - recomputed.keys())[:3]}, "
        f"only recomputed {sorted(recomputed.keys() - stored.keys())[:3]}"
    )
    wrong = [
        (key, stored[key], recomputed[key])
        for key in stored
        if not all(_same(stored[key][c], recomputed[key][c]) for c in recomputed[key])
    ]
    assert not wrong, f"{name}: {len(wrong)} groups differ, e.g. {wrong[:2]}"


#: (table, group key, what the materialized views stored, the same from scratch). The stored
#: side sums the raw rows (never FINAL), so a doubled insert shows whatever the merge state.
AGGREGATES: list[tuple[str, tuple[str, ...], str, str]] = [
    (
        "cx.satisfaction_hourly",
        ("hour", "touchpoint", "channel", "stage", "segment"),
        """SELECT hour, touchpoint, channel, stage, segment, sum(surveys) AS surveys,
                  sum(nps_responses) AS nps_responses, sum(promoters) AS promoters,
                  sum(passives) AS passives, sum(detractors) AS detractors,
                  sum(csat_responses) AS csat_responses, sum(csat_top2) AS csat_top2,
                  sum(ces_responses) AS ces_responses, sum(ces_sum) AS ces_sum
           FROM cx.satisfaction_hourly GROUP BY ALL""",
        """SELECT toStartOfHour(time) AS hour, touchpoint,
                  if(channel = '', 'unknown', channel) AS channel,
                  if(stage = '', 'unknown', stage) AS stage,
                  if(segment = '', 'unknown', segment) AS segment,
                  count() AS surveys, countIf(nps IS NOT NULL) AS nps_responses,
                  countIf(nps >= 9) AS promoters, countIf(nps BETWEEN 7 AND 8) AS passives,
                  countIf(nps <= 6) AS detractors,
                  countIf(csat IS NOT NULL) AS csat_responses,
                  countIf(1 + (csat - 1) * 4 / (csat_scale - 1) >= 4) AS csat_top2,
                  countIf(ces IS NOT NULL) AS ces_responses,
                  sum(ifNull(1 + (ces - 1) * 6 / (ces_scale - 1), 0)) AS ces_sum
           FROM cx.timeline WHERE type = 'cx.feedback.survey.v1' GROUP BY ALL""",
    ),
    (
        "cx.touchpoint_hourly",
        ("hour", "touchpoint", "channel"),
        """SELECT hour, touchpoint, channel, sum(contacts) AS contacts,
                  sum(complaints) AS complaints, sum(waits) AS waits,
                  sum(wait_seconds_sum) AS wait_seconds_sum, sum(resolved) AS resolved,
                  sum(unresolved) AS unresolved, sum(escalated) AS escalated,
                  sum(transferred) AS transferred
           FROM cx.touchpoint_hourly GROUP BY ALL""",
        """SELECT toStartOfHour(time) AS hour, touchpoint,
                  if(channel = '', 'unknown', channel) AS channel, count() AS contacts,
                  countIf(feedback_kind = 'complaint') AS complaints,
                  countIf(wait_seconds IS NOT NULL) AS waits,
                  sum(ifNull(wait_seconds, 0)) AS wait_seconds_sum,
                  countIf(outcome = 'resolved') AS resolved,
                  countIf(outcome = 'unresolved') AS unresolved,
                  countIf(outcome = 'escalated') AS escalated,
                  countIf(outcome = 'transferred') AS transferred
           FROM cx.timeline WHERE touchpoint != '' AND type IN {contact_types:Array(String)}
           GROUP BY ALL""",
    ),
    (
        "cx.voice_hourly",
        ("hour", "touchpoint", "channel", "kind", "language", "segment"),
        """SELECT hour, touchpoint, channel, kind, language, segment, sum(texts) AS texts,
                  sum(positive) AS positive, sum(neutral) AS neutral, sum(negative) AS negative,
                  sum(sentiment_sum) AS sentiment_sum
           FROM cx.voice_hourly GROUP BY ALL""",
        """SELECT toStartOfHour(time) AS hour, touchpoint,
                  if(channel = '', 'unknown', channel) AS channel,
                  if(feedback_kind = '', 'survey_comment', feedback_kind) AS kind, language,
                  if(segment = '', 'unknown', segment) AS segment, count() AS texts,
                  countIf(sentiment_label = 'positive') AS positive,
                  countIf(sentiment_label = 'neutral') AS neutral,
                  countIf(sentiment_label = 'negative') AS negative,
                  sum(ifNull(sentiment, 0)) AS sentiment_sum
           FROM cx.timeline WHERE sentiment IS NOT NULL GROUP BY ALL""",
    ),
    (
        "cx.complaint_topics_daily",
        ("day", "touchpoint", "language", "topic"),
        """SELECT day, touchpoint, language, topic, sum(mentions) AS mentions,
                  sum(complaints) AS complaints, sum(negative) AS negative
           FROM cx.complaint_topics_daily GROUP BY ALL""",
        """SELECT toDate(time) AS day, touchpoint, language, topic, count() AS mentions,
                  countIf(feedback_kind = 'complaint') AS complaints,
                  countIf(sentiment_label = 'negative') AS negative
           FROM cx.timeline ARRAY JOIN topics AS topic GROUP BY ALL""",
    ),
    (
        "cx.servqual_daily",
        ("day", "touchpoint", "segment", "dimension"),
        """SELECT day, touchpoint, segment, dimension, sum(responses) AS responses,
                  sum(expectation_sum) AS expectation_sum, sum(perception_sum) AS perception_sum
           FROM cx.servqual_daily GROUP BY ALL""",
        # from the archive's own payloads; the segment stamped at projection from the timeline
        """SELECT toDate(e.time) AS day, t.touchpoint AS touchpoint,
                  if(t.segment = '', 'unknown', t.segment) AS segment,
                  JSONExtractString(item, 'dimension') AS dimension, count() AS responses,
                  sum(JSONExtractFloat(item, 'expectation')) AS expectation_sum,
                  sum(JSONExtractFloat(item, 'perception')) AS perception_sum
           FROM (SELECT id, time, item FROM cx.events
                 ARRAY JOIN JSONExtractArrayRaw(data, 'servqual') AS item) AS e
           INNER JOIN cx.timeline AS t ON t.event_id = e.id
           GROUP BY ALL""",
    ),
    (
        "cx.customer_profile",
        ("customer_id",),
        """SELECT customer_id, segment, first_seen, last_seen, first_contact, last_contact,
                  contacts_by_channel, events, latest_nps, latest_csat, latest_ces, purchases,
                  lifetime_spend, complaints
           FROM cx.customer_profile""",
        """SELECT customer_id, argMaxIf(toString(segment), time, segment != '') AS segment,
                  min(time) AS first_seen, max(time) AS last_seen,
                  minIf(time, type IN {contact_types:Array(String)}) AS first_contact,
                  maxIf(time, type IN {contact_types:Array(String)}) AS last_contact,
                  sumMap(if(type IN {contact_types:Array(String)} AND channel != '',
                            map(toString(channel), toUInt64(1)), map())) AS contacts_by_channel,
                  count() AS events, argMaxIf(nps, time, nps IS NOT NULL) AS latest_nps,
                  argMaxIf(csat, time, csat IS NOT NULL) AS latest_csat,
                  argMaxIf(ces, time, ces IS NOT NULL) AS latest_ces,
                  countIf(type = 'cx.commerce.purchase.v1') AS purchases,
                  toDecimal128(sumIf(ifNull(amount, 0), type = 'cx.commerce.purchase.v1'), 4)
                      AS lifetime_spend,
                  countIf(feedback_kind = 'complaint') AS complaints
           FROM cx.timeline GROUP BY customer_id""",
    ),
]


def assert_aggregates_recompute(stack: Stack) -> list[str]:
    """Every table the materialized views fill equals a plain GROUP BY over the archive."""
    contact_types = "[" + ",".join(f"'{t}'" for t in sorted(CONTACT_TYPES)) + "]"
    checked = []
    for name, keys, stored_sql, recompute_sql in AGGREGATES:
        stored = _table(stack.query(stored_sql), keys)
        recomputed = _table(stack.query(recompute_sql, contact_types=contact_types), keys)
        assert recomputed, f"{name}: nothing to compare"
        assert_same_table(name, stored, recomputed)
        checked.append(f"{name} ({len(stored)} groups)")
    return checked


def assert_no_alert_doubled(stack: Stack) -> dict[str, int]:
    alerts = stack.query(
        "SELECT count() AS revisions, uniqExact(event_id) AS ids, "
        "uniqExact(alert_id, revision) AS alert_revisions, uniqExact(alert_id) AS alerts "
        "FROM cx.alert_revisions"
    )[0]
    latest = stack.query("SELECT count() AS n, uniqExact(event_id) AS ids FROM cx.alerts")[0]
    alerts = {k: int(v) for k, v in alerts.items()}
    assert alerts["alerts"] > 0, "no alert raised: the check would prove nothing"
    assert alerts["revisions"] == alerts["ids"] == alerts["alert_revisions"], alerts
    # cx.alerts keeps the latest revision of each alert once merged; before, one row each
    assert int(latest["n"]) == int(latest["ids"]), latest
    return alerts


# ---- 1. processors killed mid-stream --------------------------------------------------------


@dataclass
class Kill:
    at_s: float
    phase: str  # "processing": after the runtime was ready; "starting": before
    archived: int | None  # events in the archive just before the kill, when it could answer


@dataclass
class Chaos:
    seed: int
    kills: list[Kill] = field(default_factory=list)


def chaos_seed() -> int:
    return int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(2**32))


def test_processors_sigkilled_mid_stream_lose_and_double_nothing(tmp_path: Path) -> None:
    started = time.monotonic()
    chaos = Chaos(chaos_seed())
    rng = random.Random(chaos.seed)
    work = workload(target=20_000, invalid=300, seed=chaos.seed % 1000)
    valid = len(work.valid)
    print(f"\nchaos seed {chaos.seed} (CHAOS_SEED={chaos.seed} replays the schedule)")

    with Stack(tmp_path) as stack, offsets(stack.bootstrap) as kafka:
        stack.start()
        published: dict[str, Any] = {}

        def publish_all() -> None:
            try:
                published["acknowledged"] = publish(stack.bootstrap, work)
            except BaseException as exc:  # reported by the main thread
                published["error"] = exc

        publisher = threading.Thread(target=publish_all, daemon=True)
        publisher.start()

        def archived() -> int:
            return stack.scalar("SELECT count() AS n FROM cx.events")

        def kill(phase: str) -> None:
            before = archived() if stack.runtime is not None else None
            stack.kill()
            chaos.kills.append(Kill(round(time.monotonic() - started, 1), phase, before))
            print(f"SIGKILL {len(chaos.kills)}: {chaos.kills[-1]}", flush=True)

        # Three kills at random points of the stream, and one more while a restart is starting
        # (importing, opening chDB, migrating, joining the group): four kills, four restarts.
        thresholds = sorted(rng.uniform(0.05, 0.85) * valid for _ in range(3))
        starting_kill_after = rng.randrange(3)
        for i, threshold in enumerate(thresholds):
            eventually(lambda t=threshold: archived() >= t, timeout=180, interval=0.25)
            time.sleep(rng.uniform(0, 0.6))  # anywhere in the batch being processed
            kill("processing")
            if i == starting_kill_after:
                stack.spawn()
                time.sleep(rng.uniform(0.5, 5.0))
                kill("starting")
            stack.start()

        publisher.join(120)
        assert "error" not in published, published.get("error")
        expected_records = valid + len(work.resent) + len(work.invalid)
        assert published["acknowledged"] == expected_records

        # Done once the group has committed everything on the three topics: the events, the
        # dead letters and the alerts they raised (alerts are published before the commit).
        eventually(lambda: kafka.lag(TOUCHPOINTS, DEAD_LETTERS, ALERTS) == 0, timeout=300)
        converged = round(time.monotonic() - started, 1)

        figures = assert_exactly_once(stack, work)
        checked = assert_aggregates_recompute(stack)
        alerts = assert_no_alert_doubled(stack)

    print(
        f"chaos: published {expected_records} records ({valid} valid events, "
        f"{len(work.resent)} re-sent, {len(work.structured)} in structured mode, "
        f"{len(work.invalid)} invalid); {len(chaos.kills)} SIGKILLs {chaos.kills}; "
        f"{stack.starts} starts (spawn to ready: {stack.start_seconds} s); all committed at "
        f"{converged} s; {figures}; lost 0, doubled 0; {alerts}; "
        f"checked {checked}; wall {time.monotonic() - started:.0f} s"
    )
    assert len(chaos.kills) == 4


# ---- 2. warehouse writes failing -------------------------------------------------------------


def write_failures(runtime: Runtime, table: str) -> float:
    """touchstream_warehouse_write_failures_total{table} from the runtime's /metrics."""
    return metric_sum(runtime, "touchstream_warehouse_write_failures_total", table=table)


def retry_delays(log: Path, table: str) -> list[float]:
    """The back-off the projector announced for `table`, in order ("retrying in 0.5s")."""
    marker = f"write to {table} failed, retrying in "
    return [
        float(line.split(marker, 1)[1].split("s", 1)[0])
        for line in log.read_text(errors="replace").splitlines()
        if marker in line
    ]


def test_failing_warehouse_writes_pause_processing_commit_nothing_and_lose_nothing(
    tmp_path: Path,
) -> None:
    work = workload(target=2_000, invalid=30, seed=5)
    half = len(work.valid) // 2
    before = Workload(work.valid[:half], [], [], work.invalid[:15])
    during = Workload(work.valid[half:], work.resent, [], work.invalid[15:])

    with Stack(tmp_path) as stack, offsets(stack.bootstrap) as kafka:
        runtime = stack.start()
        publish(stack.bootstrap, before)
        eventually(lambda: kafka.lag(TOUCHPOINTS, DEAD_LETTERS) == 0, timeout=120, interval=0.5)
        assert stack.scalar("SELECT count() AS n FROM cx.events") == half
        committed = settled_commits(kafka, TOUCHPOINTS)
        failures = write_failures(runtime, "cx.ingest")

        stack.switch.touch()  # every insert now raises WarehouseError
        publish(stack.bootstrap, during)
        # The projector retries with back-off and the batch waits: no valid event is committed
        # (faust commits every second; four failures are 0.25 + 0.5 + 1 + 2 s of back-off).
        # A batch of invalid records only needs no insert: it is dead-lettered and committed.
        eventually(lambda: write_failures(runtime, "cx.ingest") >= failures + 4, timeout=60)
        passed = kafka.values(TOUCHPOINTS, committed, kafka.committed(TOUCHPOINTS))
        assert {hashlib.sha256(v).hexdigest() for v in passed} <= during.invalid_digests, (
            "only records that need no insert may be committed while writes fail"
        )
        assert stack.scalar("SELECT count() AS n FROM cx.events") == half
        delays = retry_delays(stack.data_dir / "test-up.log", "cx.ingest")
        assert len(delays) >= 4 and delays == sorted(delays) and delays[-1] > delays[0], delays

        held = write_failures(runtime, "cx.ingest") - failures
        stack.switch.unlink()  # healed: the next retry goes through
        eventually(lambda: kafka.lag(TOUCHPOINTS, DEAD_LETTERS) == 0, timeout=120, interval=0.5)
        assert all(kafka.committed(TOUCHPOINTS)[p] > committed[p] for p in committed), (
            "the batches retried were committed once written"
        )
        figures = assert_exactly_once(stack, work)
    print(
        f"\nwrites failing: {len(before.valid)} events before, {len(during.valid)} + "
        f"{len(during.resent)} re-sent + 15 invalid while failing; {held:.0f} failed writes to "
        f"cx.ingest, back-off {delays} s, {len(passed)} invalid records committed meanwhile and "
        f"no valid event; {figures}"
    )


# ---- 3. the broker gone ------------------------------------------------------------------------


def publish_command(env: dict[str, str], lines: bytes, path: Path) -> subprocess.Popen[bytes]:
    """`touchstream publish FILE` of `lines`, in the background."""
    path.write_bytes(lines)
    return subprocess.Popen(
        [sys.executable, "-m", "touchstream.services.cli", "publish", str(path)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def outcome(process: subprocess.Popen[bytes], timeout: float) -> tuple[str, str]:
    """The command's stdout and stderr; it must have ended within `timeout` seconds."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError(f"`touchstream publish` still waiting after {timeout:.0f} s") from None
    return out.decode(), err.decode()


def journey_lines(target: int) -> tuple[list[str], bytes]:
    events = [e.to_json_dict() for e in workload(target=target, invalid=0, seed=9).valid]
    return [e["id"] for e in events], b"".join(orjson.dumps(e) + b"\n" for e in events)


def test_publish_command_without_a_broker_fails_and_claims_nothing(tmp_path: Path) -> None:
    ids, lines = journey_lines(500)
    env = runtime_env(tmp_path)  # a free port: nothing listens there
    command = publish_command(env, lines, tmp_path / "events.jsonl")
    out, err = outcome(command, timeout=60)
    assert command.returncode == 1, out
    assert "published" not in out or "published 0," in out, out
    assert "no Kafka broker reachable" in err or err.count(": not stored: ") == len(ids), err


def test_publish_command_names_every_event_a_dying_broker_did_not_acknowledge(
    tmp_path: Path,
) -> None:
    ids, lines = journey_lines(8_000)
    with Stack(tmp_path) as stack:
        ensure_topics(stack.bootstrap, {TOUCHPOINTS: 4})
        command = publish_command(stack.env, lines, tmp_path / "events.jsonl")
        with offsets(stack.bootstrap) as kafka:
            eventually(lambda: sum(kafka.ends(TOUCHPOINTS).values()) >= 500, timeout=60)
        os.kill(stack.broker.pid, signal.SIGKILL)  # a crash, mid-publish
        out, err = outcome(command, timeout=60)

    assert command.returncode == 1, out
    counts = re.findall(r"published (\d+), refused 0, failed (\d+)", out)
    assert counts, out
    published, failed = (int(n) for n in counts[0])
    assert published + failed == len(ids) and failed > 0, out
    not_stored = re.findall(r"event (\S+): not stored: ", err)
    assert len(not_stored) == failed and set(not_stored) <= set(ids)
