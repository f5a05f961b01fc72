"""The benchmark's account of where the end-to-end run's time went."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import orjson
from kafka import KafkaProducer
from rich.console import Console

from touchstream.services.bench import (
    ALERTS_TOPIC,
    BenchReport,
    Stack,
    _deltas,
    _published_alert_ms,
    _quantile,
    render,
)
from touchstream.services.broker import ensure_topics


def test_deltas_are_what_accrued_during_the_run_including_stages_first_seen_in_it() -> None:
    before = {"decode": 1.0, "project": 4.0}
    after = {"decode": 3.5, "project": 10.0, "churn_risk": 2.0}
    assert _deltas(before, after) == {"decode": 2.5, "project": 6.0, "churn_risk": 2.0}


def test_stages_are_shown_largest_first_as_shares_of_the_run_and_cpu_as_cores() -> None:
    report = BenchReport(events=1000, text_share=0.2, machine={})
    report.end_to_end_time = {
        "wall_s": {"run": 10.0},
        "stage_s": {"decode": 1.0, "project": 6.0, "churn_risk": 2.5},
        "cpu_s": {"up": 15.0},
    }
    console = Console(width=120, record=True)
    console.print(render(report))
    text = console.export_text()
    lines = [
        line for line in text.splitlines() if any(s in line for s in ("project", "churn", "decode"))
    ]
    assert [line.split()[1] for line in lines] == ["project", "churn", "decode"]
    assert "60%" in lines[0] and "25%" in lines[1] and "10%" in lines[2]
    assert "1.50 cores" in text


def test_a_report_without_a_timed_run_renders_without_shares() -> None:
    console = Console(width=120, record=True)
    console.print(render(BenchReport(events=0, text_share=0.0, machine={})))
    assert "share" in console.export_text()


def test_the_report_says_how_many_processor_processes_ran() -> None:
    console = Console(width=120, record=True)
    console.print(render(BenchReport(events=0, text_share=0.0, machine={}, processors=2)))
    assert "2 (beside up)" in console.export_text()


def test_the_tuning_settings_in_the_environment_reach_the_stack_and_the_report(
    monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("TOUCHSTREAM_BATCH_MAX_WAIT_S", "0.05")
    monkeypatch.setenv("TOUCHSTREAM_DATA_DIR", "/somewhere/else")  # not for the bench's stack
    stack = Stack(tmp_path, partitions=4)
    assert stack.env["TOUCHSTREAM_BATCH_MAX_WAIT_S"] == "0.05"
    assert stack.env["TOUCHSTREAM_DATA_DIR"] == str(tmp_path / "data")
    report = BenchReport(events=0, text_share=0.0, machine={})
    assert report.settings == {"TOUCHSTREAM_BATCH_MAX_WAIT_S": "0.05"}
    console = Console(width=120, record=True)
    console.print(render(report))
    assert "TOUCHSTREAM_BATCH_MAX_WAIT_S" in console.export_text()


def test_quantiles_are_nearest_rank_and_nan_without_values() -> None:
    values = [float(v) for v in range(1, 101)]
    assert _quantile(values, 0.5) == 50 and _quantile(values, 0.99) == 99
    assert _quantile([7.0], 0.99) == 7.0
    assert math.isnan(_quantile([], 0.5))


def test_alert_publication_is_timed_from_the_raising_event_to_the_record(broker_bootstrap) -> None:
    """What the live feed and webhooks see: the alerts topic, read to its end."""
    since = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    ensure_topics(broker_bootstrap, {ALERTS_TOPIC: 1})
    producer = KafkaProducer(bootstrap_servers=broker_bootstrap, acks="all")
    for raised, delay_ms in ((since - timedelta(seconds=5), 10), (since, 250), (since, 40)):
        value = orjson.dumps({"raised_at": raised.isoformat()})
        stamp = int(raised.timestamp() * 1000) + delay_ms
        producer.send(ALERTS_TOPIC, value=value, timestamp_ms=stamp)
    producer.flush(30)
    producer.close()
    assert sorted(_published_alert_ms(broker_bootstrap, since)) == [40, 250]  # not the earlier
