"""/metrics on the embedded runtime: the documented names are there, and they move."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Runtime, eventually
from tests.e2e.test_pipeline import unhappy_journey

pytestmark = pytest.mark.e2e
README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
SOURCE = "/tests/metrics"


def scrape(rt: Runtime) -> dict[tuple[str, frozenset], float]:
    status, body = rt.client._request("GET", "/metrics")
    assert status == 200
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, lbls), v in samples.items() if n == name and wanted <= lbls)


def test_every_documented_metric_is_exposed(runtime: Runtime) -> None:
    documented = set(re.findall(r"`(touchstream_[a-z_]+)", README))
    assert len(documented) >= 10
    status, body = runtime.client._request("GET", "/metrics")
    assert status == 200
    # every metric has its TYPE line, even a labelled one before its first sample
    families = set(re.findall(r"^# TYPE (\S+) ", body.decode(), flags=re.MULTILINE))
    missing = sorted(documented - families)
    assert not missing, f"documented in the README but not on /metrics: {missing}"


def test_metrics_move_with_traffic(runtime: Runtime) -> None:
    before = scrape(runtime)
    customer = f"c-{uuid.uuid4().hex[:8]}"
    good = {
        "specversion": "1.0",
        "id": f"m-{uuid.uuid4().hex}",
        "source": SOURCE,
        "type": "cx.feedback.survey.v1",
        "time": "2026-03-01T10:00:00Z",
        "data": {"customer_id": customer, "survey_id": "s", "touchpoint": "billing", "nps": 2},
    }
    bad = dict(good, id=f"m-{uuid.uuid4().hex}", data={"customer_id": customer})
    assert runtime.client.post_events([good, bad])[0] == 207
    assert runtime.client.post_events(unhappy_journey(f"c-{uuid.uuid4().hex[:8]}"))[0] == 202
    producer = KafkaProducer(bootstrap_servers=runtime.bootstrap, acks="all")
    producer.send("cx.touchpoints.v1", value=b"\xff not json", headers=[("ce_source", b"/x")])
    producer.flush(10)
    producer.close()

    kind = {"type": "cx.feedback.survey.v1", "source": SOURCE}

    def moved() -> dict | None:
        after = scrape(runtime)
        checks = {
            "accepted": value(after, "touchstream_ingest_events_total", result="accepted", **kind)
            - value(before, "touchstream_ingest_events_total", result="accepted", **kind),
            "rejected": value(after, "touchstream_ingest_events_total", result="rejected")
            - value(before, "touchstream_ingest_events_total", result="rejected"),
            "projected": value(
                after,
                "touchstream_processed_events_total",
                outcome="projected",
                topic="cx.touchpoints.v1",
                **kind,
            )
            - value(
                before,
                "touchstream_processed_events_total",
                outcome="projected",
                topic="cx.touchpoints.v1",
                **kind,
            ),
            "dead_lettered": value(
                after,
                "touchstream_processed_events_total",
                outcome="dead_lettered",
                topic="cx.touchpoints.v1",
            )
            - value(
                before,
                "touchstream_processed_events_total",
                outcome="dead_lettered",
                topic="cx.touchpoints.v1",
            ),
            "alerts": value(after, "touchstream_alerts_raised_total", kind="customer.churn_risk")
            - value(before, "touchstream_alerts_raised_total", kind="customer.churn_risk"),
            "detection": value(
                after, "touchstream_alert_detection_seconds_count", kind="customer.churn_risk"
            )
            - value(
                before, "touchstream_alert_detection_seconds_count", kind="customer.churn_risk"
            ),
            "writes": value(after, "touchstream_warehouse_write_seconds_count")
            - value(before, "touchstream_warehouse_write_seconds_count"),
            "batches": value(after, "touchstream_batch_size_events_count")
            - value(before, "touchstream_batch_size_events_count"),
            "event_lag": value(after, "touchstream_event_time_lag_seconds_count")
            - value(before, "touchstream_event_time_lag_seconds_count"),
        }
        return checks if all(v >= 1 for v in checks.values()) else None

    checks = eventually(moved, timeout=20, interval=0.5)
    assert checks["accepted"] == 1 and checks["rejected"] == 1

    def lag() -> list:
        return [k for k in scrape(runtime) if k[0] == "touchstream_consumer_lag_records"]

    assert eventually(lag, timeout=15, interval=0.5), "consumer lag is reported per partition"


def test_the_embedded_broker_memory_is_exposed(runtime: Runtime) -> None:
    """Tansu keeps its log in memory: operators watch this to know when to restart `up`."""
    resident = value(scrape(runtime), "touchstream_embedded_broker_resident_bytes")
    assert 1024 * 1024 < resident < 64 * 1024**3
