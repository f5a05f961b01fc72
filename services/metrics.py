"""Prometheus metrics of every Touchstream service (names and units documented in the README)."""

from __future__ import annotations

import os
import time
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

#: Label value when an event's type or source cannot be read (undecodable input).
UNKNOWN = "unknown"

INGEST_REQUESTS = Counter(
    "touchstream_ingest_requests_total", "HTTP ingest requests by response status.", ["status"]
)
ACCESS_REFUSED = Counter(
    "touchstream_access_refused_total",
    "HTTP requests refused by access control, by status (401, 403, 429).",
    ["status"],
)
INGEST_EVENTS = Counter(
    "touchstream_ingest_events_total",
    "Events received by the HTTP gateway, by result (accepted, rejected, failed), type, source.",
    ["result", "type", "source"],
)
PROCESSED_EVENTS = Counter(
    "touchstream_processed_events_total",
    "Records read by the processors, by outcome (projected, duplicate, dead_lettered), event "
    "type and source.",
    ["topic", "outcome", "type", "source"],
)
ALERTS_RAISED = Counter(
    "touchstream_alerts_raised_total",
    "Alert revisions projected from the alerts topic (each revision once), by kind and priority.",
    ["kind", "priority"],
)
ALERT_DETECTION_SECONDS = Histogram(
    "touchstream_alert_detection_seconds",
    "Detection latency: from the broker append of the newest event behind an alert revision (the "
    "customer's, or the batch's for touchpoint incidents) to the revision's publication.",
    ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
BATCH_SIZE = Histogram(
    "touchstream_batch_size_events",
    "Records per processor micro-batch.",
    ["topic"],
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000),
)
BATCH_STAGE_SECONDS = Counter(
    "touchstream_batch_stage_seconds_total",
    "Wall time the processors' micro-batches spent in each stage (decode, enrich, project, "
    "churn, ...), waits on the warehouse and the broker included: where the time goes.",
    ["topic", "stage"],
)
WAREHOUSE_WRITE_SECONDS = Histogram(
    "touchstream_warehouse_write_seconds",
    "Duration of one warehouse write: the check for stored keys, then the insert.",
    ["table"],
)
RELAY_CALLS = Counter(
    "touchstream_warehouse_relay_calls_total",
    "Warehouse calls `up` ran for attached processor processes (services/warehouse_relay.py).",
    ["op"],
)
WAREHOUSE_WRITE_FAILURES = Counter(
    "touchstream_warehouse_write_failures_total",
    "Failed warehouse writes (each is retried with back-off; offsets wait).",
    ["table"],
)
EVENT_TO_PROJECTED_SECONDS = Histogram(
    "touchstream_event_to_projected_seconds",
    "Time from broker append to the read models having the event.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
EVENT_TIME_LAG_SECONDS = Histogram(
    "touchstream_event_time_lag_seconds",
    "Time from the event's own time (when the contact happened) to the read models having it; "
    "includes the upstream channel's delay.",
    buckets=(0.1, 0.5, 1, 5, 30, 60, 300, 900, 3600, 21600, 86400),
)
CONSUMER_LAG = Gauge(
    "touchstream_consumer_lag_records",
    "Records on the broker that the processors have not committed yet, per partition.",
    ["topic", "partition"],
)
EMBEDDED_BROKER_RSS = Gauge(
    "touchstream_embedded_broker_resident_bytes",
    "Resident memory of the embedded broker (Tansu keeps its whole log in memory; a restart of "
    "`up`, which drains first, gives it back). Absent with an external broker.",
)
WEBHOOK_DELIVERIES = Counter(
    "touchstream_webhook_deliveries_total",
    "Webhook attempts by receiver host and outcome: delivered and failed (permanently) once per "
    "alert and URL, retried once per attempt that will be repeated.",
    ["target", "outcome"],
)
WEBHOOK_DELIVERY_SECONDS = Histogram(
    "touchstream_webhook_delivery_seconds",
    "Time from an alert's append on the alerts topic to a webhook receiver accepting it "
    "(retries included).",
    ["target"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900),
)


@contextmanager
def stage(topic: str, name: str) -> Iterator[None]:
    """Add the wall time of the block to `BATCH_STAGE_SECONDS`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        BATCH_STAGE_SECONDS.labels(topic, name).inc(time.perf_counter() - started)


def resident_bytes(pid: int) -> float:
    """A live process's resident memory, from /proc (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return float(int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))
    except OSError:
        return 0.0


def tally(counter: Counter, fixed: tuple[str, ...], kinds: Iterable[tuple[str, str]]) -> None:
    """Count events by (type, source) under the `fixed` leading label values."""
    for (event_type, source), n in Tally(kinds).items():
        counter.labels(*fixed, event_type, source).inc(n)
