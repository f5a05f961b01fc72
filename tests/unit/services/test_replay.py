"""`touchstream replay` over a real chDB warehouse: the read models rebuilt from the archive
equal the live ones, table for table; the rebuild switches them in whole, survives an
interrupted earlier rebuild, and leaves erased customers anonymous."""

from __future__ import annotations

import orjson
import pytest

from tests.unit.projections.conftest import CUSTOMER, alert_acknowledged, erasure_requested
from tests.unit.services.test_pipeline import (  # noqa: F401 (harness: the fixture)
    harness,
    record,
    run,
)
from touchstream.events.catalog import parse_event
from touchstream.projections.replay import SUFFIX, VIEWS, rebuild_plan
from touchstream.services.demo_journeys import generate_journeys
from touchstream.services.replay import rebuild

#: Aggregate states are not comparable byte for byte: these are compared through their views.
THROUGH_VIEW = {
    "customer_profile_state": "customer_profile",
    "campaign_response_state": "campaign_response",
}


def contents(warehouse, tables) -> dict[str, list[str]]:
    """Every row of every table (merged: FINAL), as sorted JSON lines."""
    found = {}
    for table in tables:
        name = THROUGH_VIEW.get(table, table)
        final = "" if name != table else " FINAL"
        raw = warehouse.query_raw(f"SELECT * FROM cx.{name}{final}", "JSONEachRow")
        found[name] = sorted(line.decode() for line in raw.splitlines() if line)
    return found


@pytest.fixture
def live(harness):  # noqa: F811
    """A month of demo journeys (60 customers) projected by the pipeline, in batches."""
    data = generate_journeys(60, seed=11)
    events = [parse_event(e) for e in data.events]
    customer = events[0].data.customer_id
    events.append(alert_acknowledged("ack-1", 10**4, customer_id=customer, alert_id="alrt-1"))
    records = [record(e, n) for n, e in enumerate(events)]
    for start in range(0, len(records), 500):
        run(harness.pipeline.touchpoints(records[start : start + 500]))
    plan = rebuild_plan(harness.warehouse.query(VIEWS))
    return harness, plan, len(events)


def test_the_plan_rebuilds_every_read_model_fed_by_the_ingest_table(live):
    _, plan, _ = live
    assert set(plan.tables) == {
        "timeline",
        "customer_profile_state",
        "satisfaction_hourly",
        "voice_hourly",
        "complaint_topics_daily",
        "touchpoint_hourly",
        "campaign_response_state",
        "servqual_daily",
        "alert_actions",
    }


def test_rebuilt_read_models_equal_the_live_ones(live):
    h, plan, events = live
    before = contents(h.warehouse, plan.tables)
    assert all(before.values())  # the demo reaches every read model
    for table in plan.tables:  # whatever the read models hold now is not what is rebuilt
        h.warehouse.command(f"TRUNCATE TABLE cx.{table}")
    report = rebuild(h.warehouse)
    assert (report.events, report.projected, report.erased, report.invalid) == (
        events,
        events,
        0,
        0,
    )
    assert contents(h.warehouse, plan.tables) == before
    leftovers = h.warehouse.query(
        f"SELECT name FROM system.tables WHERE endsWith(name, '{SUFFIX}')"
    )
    assert leftovers == []
    # the live views feed the switched-in tables: projection goes on
    timeline = "SELECT count() AS n FROM cx.timeline"
    n = h.warehouse.query(timeline)[0]["n"]
    run(h.pipeline.touchpoints([record(parse_event(_later(before)), 10**6)]))
    assert h.warehouse.query(timeline)[0]["n"] == n + 1


def _later(before) -> dict:
    """A new survey for one of the demo's customers."""
    customer = orjson.loads(before["timeline"][0])["customer_id"]
    return {
        "specversion": "1.0",
        "id": "after-replay",
        "source": "/tests",
        "type": "cx.feedback.survey.v1",
        "time": "2026-06-01T10:00:00Z",
        "data": {"customer_id": customer, "survey_id": "s", "touchpoint": "app", "nps": 8},
    }


def test_an_interrupted_rebuild_is_cleared_and_done_again(live):
    h, plan, _ = live
    before = contents(h.warehouse, plan.tables)
    for statement in plan.create[:4]:  # as if the last rebuild died while building
        h.warehouse.command(statement)
    rebuild(h.warehouse)
    assert contents(h.warehouse, plan.tables) == before


def test_a_rebuild_after_an_erasure_re_identifies_nobody(live):
    h, plan, _ = live
    (row,) = h.warehouse.query("SELECT customer_id FROM cx.timeline LIMIT 1")
    customer = row["customer_id"]
    erase = erasure_requested("erase-1", 10**5, customer_id=customer)
    run(h.pipeline.touchpoints([record(erase, 10**6)]))
    erased = h.warehouse.query("SELECT rows_removed['events'] AS n FROM cx.erasures")[0]["n"]
    report = rebuild(h.warehouse)
    assert report.erased == erased and report.invalid == 0
    for name, lines in contents(h.warehouse, plan.tables).items():
        assert not [line for line in lines if customer in line], name
    assert customer != CUSTOMER  # (the demo's ids are its own)
