"""Processors in processes of their own on the embedded stack (`TOUCHSTREAM_PROCESSOR_PROCESSES`):
`up` keeps the gateway, the broker and chDB; its processor processes split the partitions,
project into `up`'s chDB through the warehouse relay, raise their customers' alerts, are
started again if they die, and stop with `up` after its drain."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    Runtime,
    eventually,
    metric_sum,
    runtime_env,
    start_runtime,
    stop_runtime,
)
from tests.e2e.test_pipeline import unhappy_journey
from touchstream.services.bench import _events
from touchstream.services.client import TouchstreamClient

pytestmark = pytest.mark.e2e

TOUCHPOINTS = "cx.touchpoints.v1"


def projected(client: TouchstreamClient) -> float:
    return sum(
        value
        for labels, value in client.metric_samples("touchstream_processed_events_total")
        if labels.get("topic") == TOUCHPOINTS and labels.get("outcome") == "projected"
    )


def processor_pids(rt: Runtime) -> list[int]:
    """`up`'s child processes that run touchstream (the other one is the broker)."""
    tasks = Path(f"/proc/{rt.process.pid}/task")
    pids = [int(pid) for task in tasks.iterdir() for pid in (task / "children").read_text().split()]
    return [pid for pid in pids if b"touchstream" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def test_two_processor_processes_share_the_stream_and_store_each_event_once(tmp_path) -> None:
    env = runtime_env(tmp_path) | {"TOUCHSTREAM_PROCESSOR_PROCESSES": "2"}
    owner = start_runtime(env, tmp_path)  # ready once both processor processes own partitions
    try:
        urls = json.loads((tmp_path / "runtime.json").read_text())["processor_urls"]
        processors = [TouchstreamClient(url) for url in urls]
        assert len(processors) == 2 and all(p.ready() for p in processors)

        journeys = [e for c in range(24) for e in unhappy_journey(f"c-spread-{c}")]
        mix = _events(4_000, seed=7)
        for start in range(0, len(mix), 1_000):
            assert owner.client.post_events(mix[start : start + 1_000])[0] == 202
        assert owner.client.post_events(journeys)[0] == 202
        total = len(mix) + len(journeys)

        count = "SELECT count() AS n, uniqExact(id) AS ids FROM cx.events"
        eventually(lambda: owner.client.query(count)[0]["n"] >= total, timeout=120)
        assert owner.client.query(count) == [{"n": total, "ids": total}]
        timeline = owner.client.query("SELECT count() AS n FROM cx.timeline")[0]["n"]
        assert timeline == total

        # each process projected a share (counted once its batch is done), through the relay
        def shares() -> list[float] | None:
            counted = [projected(p) for p in processors]
            return counted if sum(counted) == total else None

        assert min(eventually(shares)) > 0, shares()
        assert projected(owner.client) == 0  # `up` itself processes nothing
        assert metric_sum(owner, "touchstream_warehouse_relay_calls_total", op="insert_new") > 0

        # every unhappy customer's churn alert, whichever process read the customer, once
        alerts = """SELECT count() AS n, uniqExact(customer_id) AS customers FROM cx.alerts FINAL
                    WHERE kind = 'customer.churn_risk' AND customer_id LIKE 'c-spread-%'"""
        eventually(lambda: owner.client.query(alerts)[0]["customers"] == 24, timeout=60)
        assert owner.client.query(alerts) == [{"n": 24, "customers": 24}]

        # a processor process that dies is started again, and the stream goes on
        pids = processor_pids(owner)
        os.kill(pids[0], signal.SIGKILL)
        eventually(lambda: len(set(processor_pids(owner)) - set(pids)) == 1, timeout=30)
        eventually(owner.client.ready, timeout=60)
        more = _events(500, seed=8)
        assert owner.client.post_events(more)[0] == 202
        eventually(lambda: owner.client.query(count)[0]["n"] >= total + 500, timeout=120)
        assert owner.client.query(count) == [{"n": total + 500, "ids": total + 500}]
        survivors = processor_pids(owner)
    finally:
        assert stop_runtime(owner) == 0
    # they stopped with `up`, after its drain
    time.sleep(1)
    assert not [p for p in survivors if os.path.exists(f"/proc/{p}")], survivors
    log = (tmp_path / "test-up.log").read_text(errors="replace")
    assert "exited with -9: starting it again" in log
    assert "stopping: drained" in log
