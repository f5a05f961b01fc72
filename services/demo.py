"""`touchstream demo`: realistic journeys through the real pipeline, then what came out.

Starts `touchstream up` as a child process when nothing is running on the data directory,
publishes the synthetic journeys through the HTTP gateway (plus a few malformed records written
straight onto Kafka, to show dead-lettering), waits until the read models have them, and prints
a summary read back from ClickHouse.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from touchstream.projections import queries
from touchstream.projections.warehouse import sql_literal
from touchstream.services import instance
from touchstream.services.alert_feed import render
from touchstream.services.client import TouchstreamClient
from touchstream.services.demo_journeys import generate_journeys
from touchstream.services.settings import Settings

BATCH = 500
console = Console()

#: Records no contract accepts, written straight onto the topic as a careless producer might.
MALFORMED_RECORDS: list[tuple[bytes, list[tuple[str, bytes]]]] = [
    (b"{not json", []),
    (
        b'{"specversion":"1.0","id":"demo-bad-1","source":"/legacy","type":"cx.touchpoint.contact.v1",'
        b'"time":"2026-01-01T00:00:00Z","data":{"customer_id":"x"}}',
        [],
    ),
    (
        b'{"customer_id": "c-1"}',
        [
            ("ce_specversion", b"1.0"),
            ("ce_id", b"demo-bad-2"),
            ("ce_type", b"cx.unknown.v9"),
            ("ce_source", b"/legacy"),
            ("ce_time", b"2026-01-01T00:00:00Z"),
        ],
    ),
]


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


@contextmanager
def ensure_running(settings: Settings, keep_running: bool) -> Iterator[TouchstreamClient]:
    """The running Touchstream, or a child `touchstream up` for the length of the demo."""
    info = instance.read_runtime(settings.runtime_file)
    if info:
        console.print(f"using the running touchstream at {info['http_url']}")
        yield TouchstreamClient(info["http_url"], api_key=settings.api_key.get_secret_value())
        return
    log_path = settings.data_dir / "up.log"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        child = subprocess.Popen(
            [sys.executable, "-m", "touchstream.services.cli", "up"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=os.environ.copy(),
        )
    client = TouchstreamClient(
        f"http://{settings.http_host}:{settings.http_port}",
        api_key=settings.api_key.get_secret_value(),
    )
    try:
        with console.status("starting broker, warehouse and processors (touchstream up)…"):
            deadline = time.monotonic() + 90
            while not client.ready():
                if child.poll() is not None:
                    tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
                    raise RuntimeError("touchstream up failed: " + " | ".join(tail))
                if time.monotonic() > deadline:
                    raise TimeoutError(f"touchstream up was not ready in 90 s; see {log_path}")
                time.sleep(0.25)
        console.print(f"touchstream up is running (pid {child.pid}, log {log_path})")
        yield client
    finally:
        if keep_running and child.poll() is None:
            console.print(f"left running: pid {child.pid}; stop it with kill -INT {child.pid}")
        elif child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()


def _publish(client: TouchstreamClient, events: list[dict]) -> tuple[int, int]:
    accepted = rejected = 0
    with _progress() as progress:
        task = progress.add_task("publishing through the gateway", total=len(events))
        for start in range(0, len(events), BATCH):
            status, body = client.post_events(events[start : start + BATCH])
            if status == 503:
                raise RuntimeError(f"gateway could not reach the broker: {body.get('message')}")
            accepted += body["accepted"]
            rejected += body["rejected"]
            progress.advance(task, len(events[start : start + BATCH]))
    return accepted, rejected


def _write_malformed(settings: Settings) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    for value, headers in MALFORMED_RECORDS:
        producer.send(settings.touchpoints_topic, value=value, headers=headers)
    producer.flush(10)
    producer.close()


def _sql_list(values: list[str]) -> str:
    """A SQL string list, sent in the POST body: thousands of ids do not fit in a URL."""
    return ", ".join(sql_literal(v) for v in values)


def _wait_projected(client: TouchstreamClient, ids: list[str], dead: int, timeout: float) -> None:
    # a few thousand ids per query keeps each statement under ClickHouse's max_query_size
    chunks = [ids[i : i + 2000] for i in range(0, len(ids), 2000)]
    sqls = [f"SELECT count() AS n FROM cx.events WHERE id IN ({_sql_list(c)})" for c in chunks]
    with _progress() as progress:
        task = progress.add_task("projecting into ClickHouse", total=len(ids))
        deadline = time.monotonic() + timeout
        while True:
            done = sum(int(client.query(sql)[0]["n"]) for sql in sqls)
            letters = client.query(
                "SELECT count() AS n FROM cx.dead_letters WHERE source_topic = 'cx.touchpoints.v1'"
            )[0]["n"]
            progress.update(task, completed=done)
            if done >= len(ids) and letters >= dead:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {done} of {len(ids)} events projected in {timeout:.0f} s")
            time.sleep(0.3)


def _wait_alerts_settled(client: TouchstreamClient, timeout: float = 20.0) -> None:
    """Alerts are raised after their batch is projected and projected from their own topic:
    wait until their count stops moving, so the summary shows them all."""
    sql = "SELECT count() AS n FROM cx.alert_revisions"
    deadline, last, steady = time.monotonic() + timeout, -1, 0
    while time.monotonic() < deadline and steady < 3:
        count = int(client.query(sql)[0]["n"])
        steady, last = (steady + 1, last) if count == last else (0, count)
        time.sleep(0.5)


def _summary(client: TouchstreamClient, degrading: frozenset[str]) -> None:
    counts = client.query(queries.PIPELINE_COUNTS)[0]
    table = Table(title="Pipeline", show_header=False)
    for name, value in counts.items():
        table.add_row(name.replace("_", " "), f"{int(value):,}")
    console.print(table)

    letters = client.query(
        "SELECT source_offset, reason FROM cx.dead_letters ORDER BY dead_lettered_at DESC LIMIT 3"
    )
    for letter in letters:
        line = f"  dead letter @ offset {letter['source_offset']}: {letter['reason'][:110]}"
        console.print(line, markup=False)  # customer and producer text is not markup

    unhappy = client.query(
        "SELECT customer_id, count() AS alerts FROM cx.alerts FINAL "
        f"WHERE customer_id IN ({_sql_list(sorted(degrading))}) GROUP BY customer_id "
        "ORDER BY alerts DESC, customer_id LIMIT 1"
    )
    if unhappy:
        customer = unhappy[0]["customer_id"]
        _, profile = client.get_json(f"/v1/customers/{customer}/profile")
        _, timeline = client.get_json(f"/v1/customers/{customer}/timeline?limit=15")
        console.rule(
            escape(
                f"Timeline of an unhappy customer: {customer} "
                f"({profile.get('segment')}, spent {profile.get('lifetime_spend')} "
                f"{profile.get('spend_currency')})"
            )
        )
        for row in reversed(timeline["events"]):
            mood = (
                f"  [{row['sentiment_label']} {row['sentiment']:+.2f}]"
                if row["sentiment_label"]
                else ""
            )
            console.print(f"  {row['time'][:16]}  {row['summary']}{mood}", markup=False)

    _satisfaction(client)
    _worst_journeys(client)

    kinds = client.query(
        "SELECT kind, priority, count() AS n FROM cx.alerts FINAL GROUP BY kind, priority "
        "ORDER BY kind, priority"
    )
    _, body = client.get_json("/v1/alerts?limit=8")
    console.rule(f"Alerts raised ({counts['alerts']} in all; most recent)")
    console.print(
        "  " + ", ".join(f"{k['kind']} {k['priority']}: {k['n']}" for k in kinds), markup=False
    )
    for alert in body["alerts"]:
        console.print(render(alert))


def _satisfaction(client: TouchstreamClient) -> None:
    table = Table(title="Satisfaction by touchpoint (all surveys)")
    for column in ("touchpoint", "surveys", "NPS", "CSAT %", "CES (1-7)"):
        table.add_column(column, justify="left" if column == "touchpoint" else "right")
    for row in client.query(queries.SATISFACTION_BY_TOUCHPOINT):
        cells = [row["nps"], row["csat"], row["ces"]]
        table.add_row(
            escape(row["touchpoint"]),
            f"{int(row['surveys']):,}",
            *("-" if value is None else f"{value:g}" for value in cells),
        )
    console.print(table)


def _worst_journeys(client: TouchstreamClient) -> None:
    console.rule("Worst journeys (peak-end score, -1 to 1)")
    for row in client.query(queries.WORST_JOURNEYS, limit=5):
        path = " → ".join(stage.replace("_", "-") for stage in row["stage_path"])
        console.print(
            f"  {row['peak_end_score']:+.2f}  {row['customer_id']} ({row['segment']}), "
            f"{row['events']} events from {row['started'][:10]}: {path}",
            markup=False,
        )
        console.print(f"         peak: {row['peak']}", markup=False)
        console.print(f"         end:  {row['ending']}", markup=False)


def run_demo(settings: Settings, customers: int, seed: int, keep_running: bool) -> None:
    data = generate_journeys(customers, seed=seed)
    console.print(
        f"generated {len(data.events):,} events for {customers} customers "
        f"({len(data.degrading)} with a degrading experience)"
    )
    with ensure_running(settings, keep_running) as client:
        accepted, rejected = _publish(client, data.events)
        console.print(f"gateway: {accepted:,} accepted, {rejected} rejected")
        _write_malformed(settings)
        console.print(f"wrote {len(MALFORMED_RECORDS)} malformed records straight onto Kafka")
        _wait_projected(client, [e["id"] for e in data.events], len(MALFORMED_RECORDS), 180)
        _wait_alerts_settled(client)
        _summary(client, data.degrading)
