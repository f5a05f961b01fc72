"""The ClickHouse schema against the row builders, in a real (in-process) chDB warehouse:
migrations apply once, and one insert into `cx.ingest` gives the archive, the timeline and the
customer profile a user reads through the named queries."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from tests.unit.projections.conftest import (
    CUSTOMER,
    churn_alerts_of,
    contact,
    identified,
    open_migrated,
    purchase,
    survey,
    unhappy_journey,
    voice,
)
from touchstream.events.dead_letter import DeadLetter
from touchstream.projections import queries
from touchstream.projections.alerts import alert_row
from touchstream.projections.dead_letters import dead_letter_row
from touchstream.projections.migrations import available, migrate
from touchstream.projections.timeline import RecordOrigin, ingest_row, summarize
from touchstream.projections.warehouse import open_warehouse

RECEIVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TABLES = {
    "ingest",
    "events",
    "timeline",
    "customer_profile_state",
    "customer_profile",
    "alerts",
    "dead_letters",
    "schema_migrations",
}


def insert(warehouse, events) -> None:
    rows = [
        ingest_row(event, RecordOrigin("cx.touchpoints.v1", 0, offset), RECEIVED)
        for offset, event in enumerate(events)
    ]
    warehouse.insert("cx.ingest", rows)


def tables(warehouse) -> set[str]:
    return {
        r["name"] for r in warehouse.query("SELECT name FROM system.tables WHERE database='cx'")
    }


# ---- migrations -------------------------------------------------------------------------------


def test_a_fresh_warehouse_gets_every_migration_once(tmp_path: Path):
    warehouse = open_warehouse(f"chdb://{tmp_path / 'warehouse'}")
    try:
        first = migrate(warehouse)
        versions = [m.version for m in available()]
        assert [m.version for m in first] == versions == list(range(1, len(versions) + 1))
        assert tables(warehouse) >= TABLES
        assert migrate(warehouse) == []
        ledger = warehouse.query("SELECT version FROM cx.schema_migrations ORDER BY version")
        assert [r["version"] for r in ledger] == versions
    finally:
        warehouse.close()


def test_restarting_on_an_existing_warehouse_changes_nothing(tmp_path: Path):
    path = tmp_path / "warehouse"
    warehouse = open_migrated(path)
    insert(warehouse, [contact()])
    warehouse.close()

    warehouse = open_warehouse(f"chdb://{path}")
    try:
        assert migrate(warehouse) == []
        assert warehouse.query("SELECT id FROM cx.events") == [{"id": "ev-contact"}]
    finally:
        warehouse.close()


# ---- one customer's journey -------------------------------------------------------------------

JOURNEY = [
    identified(minute=0),
    contact("ev-phone", 10, channel="phone"),
    contact("ev-chat", 20, channel="chat", touchpoint="app", wait_seconds=None),
    purchase("ev-order-1", 30, order_id="o-1", amount="1299.10"),
    voice("ev-complaint", 45),
    purchase("ev-order-2", 40, order_id="o-2", amount="0.20"),
    survey("ev-survey-early", 50, nps=9, csat=5),
    survey("ev-survey-late", 60, nps=2, csat=1),
]
OTHER_CUSTOMER = purchase("ev-other", 5, customer_id="c-2002", amount="99999.99")


@pytest.fixture
def journey(warehouse):
    """The journey inserted the way a replayed, re-partitioned stream may deliver it: the latest
    survey first, in its own block, the rest afterwards in reverse order."""
    latest, rest = JOURNEY[-1], JOURNEY[:-1]
    insert(warehouse, [latest])
    insert(warehouse, [*reversed(rest), OTHER_CUSTOMER])
    return warehouse


def profile(warehouse, customer_id=CUSTOMER) -> dict:
    (row,) = warehouse.query(queries.CUSTOMER_PROFILE, {"customer_id": customer_id})
    return row


def test_profile_identity_and_activity_span(journey):
    p = profile(journey)
    assert (p["segment"], p["locale"]) == ("vip", "zh-CN")
    assert p["first_seen"] == "2026-03-01 09:00:00.000"
    assert p["last_seen"] == "2026-03-01 10:00:00.000"
    assert p["events"] == len(JOURNEY)


def test_profile_contacts_ignore_the_identification_and_count_by_channel(journey):
    p = profile(journey)
    assert p["first_contact"] == "2026-03-01 09:10:00.000"
    assert p["last_contact"] == "2026-03-01 10:00:00.000"
    assert p["contacts_by_channel"] == {"phone": 1, "chat": 1, "web": 2, "app": 1}


def test_profile_latest_scores_follow_event_time_not_arrival_order(journey):
    p = profile(journey)
    assert (p["latest_nps"], p["latest_csat"], p["latest_csat_scale"]) == (2, 1, 5)


def test_profile_is_the_same_before_and_after_background_merges(journey):
    before = profile(journey)
    journey.command("OPTIMIZE TABLE cx.customer_profile_state FINAL")
    assert profile(journey) == before


def test_profile_spend_is_an_exact_decimal_sum(journey):
    p = profile(journey)
    assert p["purchases"] == 2
    assert Decimal(p["lifetime_spend"]) == Decimal("1299.30")
    assert p["spend_currency"] == "CNY"
    assert p["complaints"] == 1


def test_profiles_do_not_mix_customers(journey):
    other = profile(journey, "c-2002")
    assert other["purchases"] == 1 and Decimal(other["lifetime_spend"]) == Decimal("99999.99")
    assert other["segment"] == "" and other["latest_nps"] is None


def test_timeline_lists_the_customers_events_newest_first_with_their_summaries(journey):
    rows = journey.query(queries.CUSTOMER_TIMELINE, {"customer_id": CUSTOMER, "limit": 100})
    newest_first = sorted(JOURNEY, key=lambda e: e.time, reverse=True)
    assert [r["event_id"] for r in rows] == [e.id for e in newest_first]
    assert [r["summary"] for r in rows] == [summarize(e) for e in newest_first]
    assert rows[0]["time"] == "2026-03-01 10:00:00.000"


def test_archive_holds_every_event_once_with_its_payload(journey):
    (count,) = journey.query("SELECT count() AS n, uniqExact(id) AS ids FROM cx.events")
    assert count == {"n": len(JOURNEY) + 1, "ids": len(JOURNEY) + 1}
    (order,) = journey.query(
        "SELECT data, toString(time) AS time FROM cx.events WHERE id = {id:String}",
        {"id": "ev-order-1"},
    )
    assert orjson.loads(order["data"])["amount"] == "1299.10"
    assert order["time"] == "2026-03-01 09:30:00.000"


# ---- the other row builders match their tables ------------------------------------------------


def test_alert_rows_insert_and_read_back(warehouse):
    (alert,) = churn_alerts_of(unhappy_journey())
    warehouse.insert("cx.alerts", [alert_row(alert, RECEIVED)])
    (row,) = warehouse.query(
        "SELECT alert_id, event_id, revision, priority, customer_id, reason_codes, evidence, "
        "toString(raised_at) AS raised_at, reasons, status, score, previous_score, sla_hours "
        "FROM cx.alerts FINAL"
    )
    assert row["alert_id"] == alert.data.alert_id and row["event_id"] == alert.id
    assert row["revision"] == 1 and row["status"] == "open"
    assert row["priority"] == alert.data.priority and row["customer_id"] == CUSTOMER
    assert row["reason_codes"][:2] == ["churn_risk", "nps_detractor"]
    assert set(row["evidence"]) == {"ev-escalated", "ev-complaint", "ev-detractor"}
    assert row["raised_at"] == "2026-03-01 11:00:00.000"
    assert row["score"] == pytest.approx(alert.data.score)
    assert row["previous_score"] == pytest.approx(alert.data.previous_score)
    assert row["sla_hours"] == alert.data.sla_hours
    reasons = orjson.loads(row["reasons"])
    assert reasons[0]["observed"] == pytest.approx(alert.data.score)


def test_dead_letter_rows_insert_and_keep_the_exact_bytes(warehouse):
    value = b'{"id": "ev-x", "type": "cx.nope"}\xff\xfe'
    letter = DeadLetter(
        key=b"c-1\xc3",
        value=value,
        headers=(("trace", b"abc"), ("bin", b"\x80")),
        reason="data: record value is not valid UTF-8 (byte 35)",
        source_topic="cx.touchpoints.v1",
        source_partition=2,
        source_offset=41,
        failed_at="2026-03-01T09:00:00.123Z",
    )
    warehouse.insert("cx.dead_letters", [dead_letter_row(letter)])
    (row,) = warehouse.query(
        "SELECT source_topic, source_partition, source_offset, reason, headers, value_base64, "
        "toString(dead_lettered_at) AS at FROM cx.dead_letters"
    )
    assert (row["source_topic"], row["source_partition"], row["source_offset"]) == (
        "cx.touchpoints.v1",
        2,
        41,
    )
    assert row["reason"] == letter.reason
    assert base64.b64decode(row["value_base64"]) == value
    assert row["headers"]["trace"] == "abc"
    assert row["at"] == "2026-03-01 09:00:00.123"


def test_a_customer_whose_id_holds_a_backslash_has_a_profile_and_timeline(warehouse):
    """Customer ids may contain any non-blank character, backslashes included."""
    customer_id = "acme\\new-7"
    insert(warehouse, [contact(customer_id=customer_id)])
    assert profile(warehouse, customer_id)["events"] == 1
    rows = warehouse.query(queries.CUSTOMER_TIMELINE, {"customer_id": customer_id, "limit": 10})
    assert [r["event_id"] for r in rows] == ["ev-contact"]
