"""Prometheus metrics of every Touchstream service (names and units documented in the README)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

INGEST_REQUESTS = Counter(
    "touchstream_ingest_requests_total", "HTTP ingest requests by response status.", ["status"]
)
INGEST_EVENTS = Counter(
    "touchstream_ingest_events_total",
    "Events received by the HTTP gateway, by result (accepted, rejected, failed).",
    ["result"],
)
PROCESSED_EVENTS = Counter(
    "touchstream_processed_events_total",
    "Records read by the processors, by outcome (projected, duplicate, dead_lettered).",
    ["topic", "outcome"],
)
ALERTS_RAISED = Counter(
    "touchstream_alerts_raised_total", "Alerts published on the alerts topic.", ["kind", "priority"]
)
BATCH_SIZE = Histogram(
    "touchstream_batch_size_events",
    "Records per processor micro-batch.",
    ["topic"],
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000),
)
WAREHOUSE_WRITE_SECONDS = Histogram(
    "touchstream_warehouse_write_seconds", "Duration of one warehouse insert.", ["table"]
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
