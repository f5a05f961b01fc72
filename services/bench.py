"""`touchstream bench`: the whole embedded pipeline measured against this machine's ceilings.

One run, on a fresh embedded stack of its own (temporary data directory, free ports):

1. ceilings — raw chDB insertion of the archive rows and raw aiokafka consumption of the topic,
   for the same events;
2. ingest — direct Kafka publishing (the kafka-python publisher, acks=all) and the HTTP gateway;
3. end to end — events per second fully projected and queryable, from the first publish until
   the last event is in the archive;
4. latency — at a fixed rate (default: half the measured end-to-end maximum), event → queryable
   and event → alert, p50 / p99 / max;
5. resources — peak RSS and CPU seconds of each process (the `up` process and the broker).

`--soak SECONDS` runs a soak instead: the same mix published at a fixed rate for that long
(default: half the end-to-end maximum measured on a short burst first), sampling every 10 s the
RSS and CPU time of each process and the events published and projected. It reports each
process's RSS after the warm-up, at the end and at most, the least-squares slope in MiB per
minute after the warm-up, and whether the backlog (published but not yet projected) stayed
bounded.

Numbers only ever go to the report (a table, and JSON with --json), never into assertions.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import linear_regression
from typing import Any

import orjson
from rich.console import Console, Group
from rich.table import Table

from touchstream.events.catalog import parse_event
from touchstream.events.kafka_binding import encode_binary
from touchstream.events.publisher import Publisher
from touchstream.projections.timeline import RecordOrigin, ingest_row
from touchstream.services.broker import EmbeddedBroker, ensure_topics, free_port
from touchstream.services.client import TouchstreamClient
from touchstream.services.demo_journeys import generate_journeys, text_share, with_text_share

console = Console()
EVENTS_PER_CUSTOMER = 16.5
#: Share of the benchmark's events that carry free text (issue: about 20%, both languages).
TEXT_SHARE = 0.2
TOPIC = "cx.touchpoints.v1"
ALERTS_TOPIC = "cx.alerts.v1"
SAMPLE_EVERY_S = 10.0
#: Soak samples before this are left out of the start RSS and the slopes: caches, the chDB
#: engine and the detectors' state settle first.
WARMUP_S = 60.0
MIN_SOAK_S = WARMUP_S + 3 * SAMPLE_EVERY_S
#: Events of the burst that measures the end-to-end maximum when a soak is given no rate.
BURST_EVENTS = 10_000


@dataclass
class BenchReport:
    events: int
    text_share: float
    machine: dict[str, Any]
    processors: int = 1  # processor processes (TOUCHSTREAM_PROCESSOR_PROCESSES)
    settings: dict[str, str] = field(default_factory=lambda: tuning())
    results: dict[str, float] = field(default_factory=dict)
    processes: dict[str, dict[str, float]] = field(default_factory=dict)
    #: Where the end-to-end run's time went: seconds the processors' touchpoints batches spent
    #: per stage, and CPU seconds per process, over the run's wall time (`wall_s`).
    end_to_end_time: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


#: Settings of the pipeline's speed that the bench's stack takes from the environment (every
#: other TOUCHSTREAM_* variable is left out: the stack has its own data directory and ports).
TUNING = (
    "TOUCHSTREAM_BATCH_MAX_EVENTS",
    "TOUCHSTREAM_BATCH_MAX_WAIT_S",
    "TOUCHSTREAM_CONSUMER_FETCH_WAIT_S",
)


def tuning() -> dict[str, str]:
    """The tuning settings set in the environment, as the bench's stack runs with them."""
    return {name: os.environ[name] for name in TUNING if name in os.environ}


def machine() -> dict[str, Any]:
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _proc_stats(pid: int) -> dict[str, float]:
    """Current and peak RSS (MiB) and CPU seconds of a live process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    kib = {
        name: int(value.split()[0])
        for name, value in (line.split(":", 1) for line in status)
        if name in ("VmRSS", "VmHWM")
    }
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    return {
        "rss_mib": round(kib["VmRSS"] / 1024, 1),
        "peak_rss_mib": round(kib["VmHWM"] / 1024, 1),
        "cpu_seconds": round(cpu, 1),
    }


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        kids.extend(int(k) for k in text)
    return kids


def _events(count: int, seed: int) -> list[dict[str, Any]]:
    """The demo's journeys, with survey comments added so that TEXT_SHARE carry free text."""
    data = generate_journeys(max(1, round(count / EVENTS_PER_CUSTOMER)), seed=seed)
    events = data.events[:count]
    while len(events) < count:  # top up with more customers under another seed
        seed += 1
        events += generate_journeys(200, seed=seed).events[: count - len(events)]
    return with_text_share(events, TEXT_SHARE, seed)


def ceiling_chdb(events: list[dict[str, Any]], workdir: Path) -> float:
    """Rows/s of raw chDB inserts of the archive rows, in batches of 10,000, in a child process
    (one process owns one chDB directory)."""
    rows_file = workdir / "rows.ndjson"
    now = datetime.now(UTC)
    with rows_file.open("wb") as out:
        for event in events:
            row = ingest_row(parse_event(event), RecordOrigin(TOPIC, 0, 0), now)
            archive = {k: row[k] for k in _ARCHIVE_COLUMNS}
            out.write(orjson.dumps(archive) + b"\n")
    script = _CHDB_CEILING.format(path=str(workdir / "ceiling-warehouse"), rows=str(rows_file))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True)
    return float(result.stdout.decode().strip())


_ARCHIVE_COLUMNS = (
    "id",
    "type",
    "source",
    "subject",
    "time",
    "specversion",
    "datacontenttype",
    "extensions",
    "data",
    "customer_id",
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "received_at",
)
_CHDB_CEILING = """
import time, chdb
from pathlib import Path
from touchstream.projections.migrations import migrate
from touchstream.projections.warehouse import open_warehouse
w = open_warehouse("chdb://{path}")
migrate(w)
lines = Path("{rows}").read_bytes().splitlines()
start = time.perf_counter()
for i in range(0, len(lines), 10000):
    block = b"\\n".join(lines[i : i + 10000]).decode()
    w.command("INSERT INTO cx.events FORMAT JSONEachRow\\n" + block)
print(len(lines) / (time.perf_counter() - start))
"""


async def _consume_all(bootstrap: str, count: int) -> float:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
        max_partition_fetch_bytes=8 << 20,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(TOPIC, p) for p in consumer.partitions_for_topic(TOPIC)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen, start = 0, time.perf_counter()
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10000)
            seen += sum(len(records) for records in batches.values())
        return seen / (time.perf_counter() - start)
    finally:
        await consumer.stop()


def ceiling_kafka(bootstrap: str, count: int) -> float:
    """Records/s of raw aiokafka consumption of the topic the pipeline reads."""
    return asyncio.run(_consume_all(bootstrap, count))


class Stack:
    """A private embedded stack for the benchmark: Tansu started here (so that events can wait
    on it before any processor runs) and `touchstream up` as a child, its processors in `up`
    itself or in processes of their own (`TOUCHSTREAM_PROCESSOR_PROCESSES`)."""

    def __init__(self, workdir: Path, partitions: int, processors: int = 1) -> None:
        self.data_dir = workdir / "data"
        self.http_port, kafka_port = free_port(), free_port()
        self.bootstrap = f"127.0.0.1:{kafka_port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHSTREAM_")}
        self.env.update(tuning())
        self.env.update(
            TOUCHSTREAM_DATA_DIR=str(self.data_dir),
            TOUCHSTREAM_KAFKA_BOOTSTRAP=self.bootstrap,
            TOUCHSTREAM_HTTP_PORT=str(self.http_port),
            TOUCHSTREAM_TOPIC_PARTITIONS=str(partitions),
            TOUCHSTREAM_PROCESSOR_PROCESSES=str(processors),
            TOUCHSTREAM_EMBEDDED_BROKER="false",  # the bench runs it
        )
        self.partitions = partitions
        self.broker = EmbeddedBroker(self.bootstrap, self.data_dir / "broker.log")
        self.client = TouchstreamClient(f"http://127.0.0.1:{self.http_port}", timeout=120)
        self.process: subprocess.Popen[bytes] | None = None
        self.processors = processors
        #: where the processors' metrics are: `up`, or its processor processes
        self.processor_clients = [self.client]

    def start_broker(self) -> None:
        """Tansu and the topics, with nothing reading them yet."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.broker.start()
        names = (TOPIC, ALERTS_TOPIC, "cx.deadletter.v1")
        ensure_topics(self.bootstrap, dict.fromkeys(names, self.partitions))

    def start(self) -> None:
        """`up` (and the broker, if not started yet)."""
        if self.broker.pid is None:
            self.start_broker()
        log = (self.data_dir / "up.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "touchstream.services.cli", "up"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while not self.client.ready():  # every processor process owns partitions
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"bench stack did not start; see {self.data_dir / 'up.log'}")
            time.sleep(0.2)
        if self.processors > 1:
            runtime = json.loads((self.data_dir / "runtime.json").read_text())
            self.processor_clients = [
                TouchstreamClient(url, timeout=120) for url in runtime["processor_urls"]
            ]

    def archived(self) -> int:
        return int(self.client.query("SELECT count() AS n FROM cx.events")[0]["n"])

    def wait_archived(self, count: int, timeout: float = 1800) -> float:
        deadline = time.monotonic() + timeout
        while (done := self.archived()) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {done} of {count} events projected in {timeout:.0f} s")
            time.sleep(0.1)
        return time.perf_counter()

    def stage_seconds(self) -> dict[str, float]:
        """Seconds the processors' touchpoints batches have spent per stage so far (summed
        over the processor processes)."""
        spent: dict[str, float] = {}
        for client in self.processor_clients:
            for labels, value in client.metric_samples("touchstream_batch_stage_seconds_total"):
                if labels.get("topic") == TOPIC:
                    spent[labels["stage"]] = spent.get(labels["stage"], 0.0) + value
        return spent

    def cpu_seconds(self) -> dict[str, float]:
        return {name: stats["cpu_seconds"] for name, stats in self.process_stats().items()}

    def process_stats(self) -> dict[str, dict[str, float]]:
        assert self.process is not None
        role = "processors" if self.processors == 1 else "gateway"
        stats = {f"up ({role}, HTTP, chDB)": _proc_stats(self.process.pid)}
        for index, child in enumerate(_children(self.process.pid), 1):
            stats[f"processors {index}"] = _proc_stats(child)
        if self.broker.pid is not None:
            stats["broker (Tansu)"] = _proc_stats(self.broker.pid)
        return stats

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.broker.stop()


PUBLISH_CHUNK = 50_000  # events in flight at most: each must be acknowledged within 60 s


def _publish(bootstrap: str, events: list[dict[str, Any]]) -> float:
    """Events/s published straight to Kafka with the project's publisher (acks=all)."""
    typed = [parse_event(e) for e in events]
    failed = 0
    with Publisher(bootstrap, TOPIC, delivery_timeout_s=60) as publisher:
        start = time.perf_counter()
        for first in range(0, len(typed), PUBLISH_CHUNK):
            futures = [publisher.submit(e) for e in typed[first : first + PUBLISH_CHUNK]]
            publisher.flush(120)
            failed += sum(1 for f in futures if not f.result().accepted)
        elapsed = time.perf_counter() - start
    if failed:
        raise RuntimeError(f"{failed} events were not acknowledged by the broker")
    return len(typed) / elapsed


def _publish_at_rate(
    bootstrap: str,
    events: list[dict[str, Any]],
    rate: float,
    on_ack: Callable[[Any], object] | None = None,
) -> None:
    """Publish with each event's time set to its send time, paced at `rate` events/s; `on_ack`
    is called as the broker acknowledges each one, from this thread or the producer's."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    start = time.perf_counter()
    for index, raw in enumerate(events):
        due = start + index / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        stamped = dict(raw, time=datetime.now(UTC).isoformat(timespec="milliseconds"))
        record = encode_binary(parse_event(stamped))
        sent = producer.send(TOPIC, key=record.key, value=record.value, headers=record.headers)
        if on_ack:
            sent.add_callback(on_ack)
    producer.flush(60)
    producer.close()


# `received_at` is stamped when the processors build the event's row, before the batch's insert:
# the time to queryable is somewhat longer (up to the rest of that batch's processing, which
# the time to the alert's publication includes).
_LATENCY_SQL = """
SELECT quantiles(0.5, 0.99)(ms) AS q, max(ms) AS worst, count() AS n FROM (
  SELECT dateDiff('millisecond', time, received_at) AS ms FROM cx.events
  WHERE source = 'bench-latency' AND kafka_offset >= 0)
"""
_ALERT_LATENCY_SQL = """
SELECT quantiles(0.5, 0.99)(ms) AS q, max(ms) AS worst, count() AS n FROM (
  SELECT dateDiff('millisecond', raised_at, projected_at) AS ms FROM cx.alerts FINAL
  WHERE raised_at >= {since:DateTime64(3)})
"""


def _published_alert_ms(bootstrap: str, since: datetime) -> list[float]:
    """For each alert revision raised at or after `since`: milliseconds from its raising event
    (`raised_at`, the event's time) to its record on the alerts topic (the record's timestamp,
    its publication): when the live feed and the webhooks have it."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        ALERTS_TOPIC,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,  # the topic is read to its end once nothing comes for 3 s
    )
    delays = []
    try:
        for record in consumer:
            raised = datetime.fromisoformat(orjson.loads(record.value)["raised_at"])
            if raised >= since:
                delays.append(record.timestamp - raised.timestamp() * 1000)
    finally:
        consumer.close()
    return delays


def _latency(
    stack: Stack, events: list[dict[str, Any]], rate: float, archived_after: int
) -> dict[str, float]:
    marked = [dict(e, id=f"lat-{e['id']}", source="bench-latency") for e in events]
    started = datetime.now(UTC)
    since = started.strftime("%Y-%m-%d %H:%M:%S.000")
    _publish_at_rate(stack.bootstrap, marked, rate)
    stack.wait_archived(archived_after)
    time.sleep(1.0)  # the last alerts are projected from their own topic
    event_q = stack.client.query(_LATENCY_SQL)[0]
    alert_q = stack.client.query(_ALERT_LATENCY_SQL, since=since)[0]
    published = sorted(_published_alert_ms(stack.bootstrap, started.replace(microsecond=0)))
    return {
        "latency_rate_eps": rate,
        "event_to_queryable_p50_ms": event_q["q"][0],
        "event_to_queryable_p99_ms": event_q["q"][1],
        "event_to_queryable_max_ms": event_q["worst"],
        "event_to_alert_p50_ms": alert_q["q"][0] if alert_q["n"] else float("nan"),
        "event_to_alert_p99_ms": alert_q["q"][1] if alert_q["n"] else float("nan"),
        "event_to_alert_max_ms": alert_q["worst"] if alert_q["n"] else float("nan"),
        "alerts_measured": alert_q["n"],
        "event_to_alert_published_p50_ms": _quantile(published, 0.5),
        "event_to_alert_published_p99_ms": _quantile(published, 0.99),
        "event_to_alert_published_max_ms": published[-1] if published else float("nan"),
    }


def _quantile(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted values (nearest rank), NaN for none."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def run_bench(
    events: int,
    rate: float | None,
    partitions: int,
    gateway_events: int,
    seed: int = 11,
    processors: int = 1,
) -> BenchReport:
    workdir = Path(tempfile.mkdtemp(prefix="touchstream-bench-"))
    stack = Stack(workdir, partitions, processors)
    with console.status(f"generating {events:,} events…"):
        payload = _events(events, seed)
    report = BenchReport(
        events=events,
        text_share=round(text_share(payload), 3),
        machine=machine(),
        processors=processors,
    )
    try:
        with console.status("ceiling: raw chDB inserts of the archive rows…"):
            report.results["ceiling_chdb_rows_per_s"] = ceiling_chdb(payload, workdir)
        with console.status("starting the broker…"):
            stack.start_broker()
        with console.status(f"publishing {events:,} events straight to Kafka (acks=all)…"):
            report.results["publish_kafka_eps"] = _publish(stack.bootstrap, payload)
        # End to end from a full backlog: every event waits on the broker, then `up` starts and
        # projects them all. Timed from the first event queryable (the processors' start-up
        # left out) to the last, the publisher not competing for the cores.
        with console.status("starting the embedded stack…"):
            stack.start()
        with console.status("end to end: waiting until every event is queryable…"):
            first = stack.wait_archived(1)
            projected, stages, cpu = stack.archived(), stack.stage_seconds(), stack.cpu_seconds()
            t_done = stack.wait_archived(events)
        report.results["end_to_end_eps"] = (events - projected) / (t_done - first)
        report.end_to_end_time = {
            "wall_s": {"run": round(t_done - first, 2)},
            "stage_s": _deltas(stages, stack.stage_seconds()),
            "cpu_s": _deltas(cpu, stack.cpu_seconds()),
        }
        with console.status("ceiling: raw aiokafka consumption of the same topic…"):
            report.results["ceiling_kafka_consume_rps"] = ceiling_kafka(stack.bootstrap, events)
        gateway_batch = [dict(e, id=f"gw-{e['id']}") for e in payload[:gateway_events]]
        with console.status(f"ingest through the HTTP gateway ({gateway_events:,} events)…"):
            start = time.perf_counter()
            for i in range(0, len(gateway_batch), 1000):
                status, body = stack.client.post_events(gateway_batch[i : i + 1000])
                if status != 202:
                    raise RuntimeError(f"gateway answered {status}: {body.get('message')}")
            report.results["ingest_gateway_eps"] = len(gateway_batch) / (
                time.perf_counter() - start
            )
        total = events + len(gateway_batch)
        stack.wait_archived(total)
        fixed_rate = rate or max(100.0, report.results["end_to_end_eps"] / 2)
        latency_events = payload[: min(len(payload), int(fixed_rate * 20))]
        with console.status(f"latency at {fixed_rate:,.0f} events/s…"):
            report.results.update(
                _latency(stack, latency_events, fixed_rate, total + len(latency_events))
            )
        report.processes = stack.process_stats()
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    r = report.results
    r["end_to_end_vs_chdb_ceiling"] = r["end_to_end_eps"] / r["ceiling_chdb_rows_per_s"]
    r["end_to_end_vs_kafka_ceiling"] = r["end_to_end_eps"] / r["ceiling_kafka_consume_rps"]
    return report


def _deltas(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(value - before.get(name, 0.0), 2) for name, value in after.items()}


@dataclass
class SoakSample:
    t_s: float  # seconds since publishing started
    published: int  # acknowledged by the broker
    projected: int  # in the archive
    rss_mib: dict[str, float]
    cpu_seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class SoakReport:
    rate_eps: float
    seconds: float
    warmup_s: float
    text_share: float
    machine: dict[str, Any]
    results: dict[str, Any] = field(default_factory=dict)
    processes: dict[str, dict[str, float]] = field(default_factory=dict)
    samples: list[SoakSample] = field(default_factory=list)
    processors: int = 1


def summarise_soak(
    samples: list[SoakSample], warmup_s: float
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """The pipeline's and each process's figures from the samples; start values and slopes from
    the samples after the warm-up only."""
    settled = [s for s in samples if s.t_s >= warmup_s]
    if len(settled) < 2:
        raise ValueError("a soak needs at least two samples after the warm-up")
    first, last = settled[0], settled[-1]
    minutes = [s.t_s / 60 for s in settled]
    processes = {
        name: {
            "start_rss_mib": first.rss_mib[name],
            "end_rss_mib": last.rss_mib[name],
            "max_rss_mib": max(s.rss_mib[name] for s in samples),
            "slope_mib_per_min": linear_regression(
                minutes, [s.rss_mib[name] for s in settled]
            ).slope,
        }
        for name in last.rss_mib
    }
    backlog = [s.published - s.projected for s in settled]
    backlog_slope = linear_regression(minutes, backlog).slope
    published_eps = (last.published - first.published) / (last.t_s - first.t_s)
    results = {
        "events_published": last.published,
        "events_projected": last.projected,
        "published_eps": last.published / last.t_s,
        "projected_eps_after_warmup": (last.projected - first.projected) / (last.t_s - first.t_s),
        "backlog_end": backlog[-1],
        "backlog_max_after_warmup": max(backlog),
        "backlog_slope_per_min": backlog_slope,
        # Kept up: over the settled window the backlog grew by less than one sampling
        # interval's worth of publishing (micro-batches make it saw-toothed, not flat).
        "backlog_bounded": backlog_slope * (minutes[-1] - minutes[0])
        < published_eps * SAMPLE_EVERY_S,
    }
    return results, processes


class _Acks:
    """Counts the records the broker acknowledged. Not the topic's end offsets: Tansu's
    ListOffsets answers fewer than the records it holds."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, _metadata: object) -> None:
        # from the producer's I/O thread, or the sending one if the ack came first
        with self._lock:
            self.count += 1


def _max_end_to_end(stack: Stack, events: list[dict[str, Any]]) -> float:
    """Events/s from the first publish of a burst until its last event is queryable."""
    before = stack.archived()
    start = time.perf_counter()
    _publish(stack.bootstrap, events)
    return len(events) / (stack.wait_archived(before + len(events)) - start)


def _soak(
    stack: Stack, events: list[dict[str, Any]], rate: float
) -> tuple[list[SoakSample], float]:
    """Publish `events` at `rate` in a thread while sampling every SAMPLE_EVERY_S; then the
    samples and the seconds the pipeline took to drain the backlog after the last publish."""
    acks = _Acks()
    base = stack.archived()  # what a burst left, all of it projected

    def sample() -> SoakSample:
        stats = stack.process_stats()
        return SoakSample(
            t_s=round(time.perf_counter() - start, 1),
            published=acks.count,
            projected=stack.archived() - base,
            rss_mib={name: s["rss_mib"] for name, s in stats.items()},
            cpu_seconds={name: s["cpu_seconds"] for name, s in stats.items()},
        )

    publishing: Future[None] = Future()

    def publish() -> None:
        try:
            publishing.set_result(_publish_at_rate(stack.bootstrap, events, rate, acks))
        except Exception as exc:
            publishing.set_exception(exc)

    samples: list[SoakSample] = []
    start = time.perf_counter()
    # A daemon thread, so that Ctrl-C ends the run instead of waiting for the publishing.
    threading.Thread(target=publish, daemon=True).start()
    while True:
        samples.append(sample())
        if publishing.done():
            break
        next_at = start + len(samples) * SAMPLE_EVERY_S
        wait([publishing], timeout=max(0.0, next_at - time.perf_counter()))
    publishing.result()
    ended = time.perf_counter()
    try:
        drain_s = stack.wait_archived(base + samples[-1].published, timeout=600) - ended
    except TimeoutError:
        drain_s = float("nan")
    return samples, drain_s


def run_soak(
    seconds: float, rate: float | None, partitions: int, seed: int = 11, processors: int = 1
) -> SoakReport:
    workdir = Path(tempfile.mkdtemp(prefix="touchstream-soak-"))
    stack = Stack(workdir, partitions, processors)
    try:
        with console.status("starting the embedded stack…"):
            stack.start()
        if rate is None:
            with console.status(f"measuring the end-to-end maximum on {BURST_EVENTS:,} events…"):
                burst = _events(BURST_EVENTS, seed + 1000)  # another seed: other event ids
                rate = max(100.0, _max_end_to_end(stack, burst) / 2)
        count = round(rate * seconds)
        with console.status(f"generating {count:,} events…"):
            payload = _events(count, seed)
        report = SoakReport(
            rate_eps=rate,
            seconds=seconds,
            warmup_s=WARMUP_S,
            text_share=round(text_share(payload), 3),
            machine=machine(),
            processors=processors,
        )
        with console.status(f"soak: {rate:,.0f} events/s for {seconds:,.0f} s…"):
            report.samples, drain_s = _soak(stack, payload, rate)
        report.results, report.processes = summarise_soak(report.samples, WARMUP_S)
        report.results["drain_s_after_last_publish"] = drain_s
        for name, stats in stack.process_stats().items():
            report.processes[name].update(
                peak_rss_mib=stats["peak_rss_mib"], cpu_seconds=stats["cpu_seconds"]
            )
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def render_soak(report: SoakReport) -> Group:
    r = report.results
    pipeline = Table(
        title=f"touchstream soak — {report.rate_eps:,.0f} events/s for {report.seconds:,.0f} s "
        f"({report.text_share:.0%} with free text; warm-up {report.warmup_s:.0f} s)"
    )
    pipeline.add_column("measure")
    pipeline.add_column("value", justify="right")
    pipeline.add_row("processor processes", _processes(report.processors))
    for name, value in r.items():
        shown = ("yes" if value else "NO") if isinstance(value, bool) else f"{value:,.0f}"
        pipeline.add_row(name.replace("_", " "), shown)
    memory = Table(title="RSS MiB per process (start = end of warm-up; slope after warm-up)")
    memory.add_column("process")
    for heading in ("start", "end", "max", "slope MiB/min", "peak (VmHWM)", "CPU s"):
        memory.add_column(heading, justify="right")
    for process, s in report.processes.items():
        memory.add_row(
            process,
            *(f"{s[k]:,.0f}" for k in ("start_rss_mib", "end_rss_mib", "max_rss_mib")),
            f"{s['slope_mib_per_min']:+.2f}",
            f"{s['peak_rss_mib']:,.0f}",
            f"{s['cpu_seconds']:,.1f}",
        )
    return Group(pipeline, memory)


def render(report: BenchReport) -> Group:
    table = Table(
        title=f"touchstream bench — {report.events:,} events "
        f"({report.text_share:.0%} with free text)"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("processor processes", _processes(report.processors))
    for name, value in report.settings.items():
        table.add_row(name, value)
    for name, value in report.results.items():
        shown = f"{value:.2f}" if "vs" in name else f"{value:,.0f}"
        table.add_row(name.replace("_", " "), shown)
    for process, stats in report.processes.items():
        table.add_row(f"{process}: peak RSS MiB", f"{stats['peak_rss_mib']:,.0f}")
        table.add_row(f"{process}: CPU s", f"{stats['cpu_seconds']:,.1f}")
    return Group(table, _render_time(report.end_to_end_time))


def _processes(processors: int) -> str:
    return "1 (in up)" if processors == 1 else f"{processors} (beside up)"


def _render_time(spent: dict[str, dict[str, float]]) -> Table:
    """Where the end-to-end run's wall time went: per processor stage (share of the run) and
    per process (cores busy on average)."""
    wall = spent.get("wall_s", {}).get("run", 0.0)
    table = Table(title=f"where the end-to-end run's {wall:,.1f} s went")
    table.add_column("processors' touchpoints batches: stage (summed over the processes)")
    table.add_column("s", justify="right")
    table.add_column("share of the run", justify="right")
    if wall <= 0:
        return table
    for stage, seconds in sorted(spent.get("stage_s", {}).items(), key=lambda kv: -kv[1]):
        table.add_row(stage.replace("_", " "), f"{seconds:,.1f}", f"{seconds / wall:.0%}")
    for process, seconds in spent.get("cpu_s", {}).items():
        table.add_row(f"CPU of {process}", f"{seconds:,.1f}", f"{seconds / wall:.2f} cores")
    return table


def save(report: BenchReport | SoakReport, path: Path) -> None:
    path.write_text(json.dumps(asdict(report), indent=2, default=str) + "\n")
