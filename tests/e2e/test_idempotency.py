"""Nothing doubled: re-sending already-processed events changes no read model."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import pytest

from tests.e2e.conftest import Runtime, eventually, metric_sum
from tests.unit.projections.conftest import PRODUCT_RISK
from touchstream.events.catalog import parse_event
from touchstream.projections.churn_risk import churn_alerts, customer_events
from touchstream.projections.timeline import RecordOrigin, ingest_row
from touchstream.services.demo_journeys import generate_journeys

pytestmark = pytest.mark.e2e

SNAPSHOT = """
SELECT
    (SELECT count() FROM cx.events WHERE customer_id IN {c:Array(String)}) AS events,
    (SELECT count() FROM cx.timeline WHERE customer_id IN {c:Array(String)}) AS timeline,
    (SELECT count() FROM cx.alert_revisions WHERE customer_id IN {c:Array(String)}
       AND kind = 'customer.churn_risk') AS alerts,
    (SELECT groupArray(tuple(customer_id, events, purchases, lifetime_spend, complaints,
                             contacts_by_channel, latest_nps))
     FROM (SELECT * FROM cx.customer_profile WHERE customer_id IN {c:Array(String)}
           ORDER BY customer_id)) AS profiles
"""


def duplicates_seen(rt: Runtime) -> float:
    """Records the processors recognised as already projected, over every type and source."""
    return metric_sum(
        rt, "touchstream_processed_events_total", outcome="duplicate", topic="cx.touchpoints.v1"
    )


def churn_alert_revisions(events: list[dict]) -> list:
    """The churn alert revisions the pure model raises on these events, customer by customer."""
    histories = defaultdict(list)
    for raw in events:
        event = parse_event(raw)
        row = ingest_row(event, RecordOrigin(), datetime.now(UTC))
        histories[row["customer_id"]].append({**row, "event_id": row["id"]})
    return [
        alert
        for customer, rows in histories.items()
        for alert in churn_alerts(customer, customer_events(rows), model=PRODUCT_RISK)
    ]


def test_resending_1000_events_changes_nothing(runtime: Runtime) -> None:
    events = generate_journeys(120, seed=2024).events[:1000]
    assert len(events) == 1000
    customers = sorted({e["data"]["customer_id"] for e in events})
    ids_literal = "[" + ",".join(f"'{c}'" for c in customers) + "]"

    for start in range(0, 1000, 250):
        status, body = runtime.client.post_events(events[start : start + 250])
        assert status == 202, body

    def snapshot() -> dict:
        return runtime.client.query(SNAPSHOT, c=ids_literal)[0]

    eventually(lambda: snapshot()["events"] == 1000, timeout=30)
    # alerts are projected from their own topic, a moment after the events
    expected_alerts = len(churn_alert_revisions(events))
    assert expected_alerts > 0
    eventually(lambda: snapshot()["alerts"] == expected_alerts, timeout=30)
    before = snapshot()
    assert before["timeline"] == 1000

    seen = duplicates_seen(runtime)
    for start in range(0, 1000, 250):
        status, _ = runtime.client.post_events(events[start : start + 250])
        assert status == 202
    eventually(lambda: duplicates_seen(runtime) >= seen + 1000, timeout=30)

    assert snapshot() == before
