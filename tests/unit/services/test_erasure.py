"""The right to erasure through the processors' pipeline, over a real chDB warehouse: every row
naming the customer is gone from every read model, a tombstone records it, the aggregates keep
their counts, and neither later events nor replays of old ones re-identify the customer."""

from __future__ import annotations

import base64

import orjson
import pytest

from tests.unit.projections.conftest import (
    CUSTOMER,
    contact,
    erasure_requested,
    survey,
    unhappy_journey,
)
from tests.unit.services.test_pipeline import (  # noqa: F401 (harness: the fixture)
    ALERTS,
    DEADLETTER,
    TOUCHPOINTS,
    harness,
    record,
    republished,
    run,
)
from touchstream.projections.erasure import ANONYMISE, ERASED_ROWS, erase_sql, subject_hash
from touchstream.services.processor import Record

OTHER = "c-bystander"


def naming(warehouse, text: str) -> dict[str, int]:
    """Per `cx` table, how many rows mention `text` anywhere (dead letters' bytes decoded)."""
    found = {}
    tables = warehouse.query(
        "SELECT name FROM system.tables WHERE database = 'cx' AND engine NOT IN "
        "('MaterializedView', 'Null', 'View')"
    )
    for table in (t["name"] for t in tables):
        # aggregate states are binary: search the bytes, not parsed JSON
        raw = warehouse.query_raw(f"SELECT * FROM cx.{table}", "JSONEachRow")
        lines = [line for line in raw.splitlines() if line]
        if table == "dead_letters":
            lines += [base64.b64decode(orjson.loads(line)["value_base64"]) for line in lines]
        hits = sum(text.encode() in line for line in lines)
        if hits:
            found[table] = hits
    return found


def aggregates(warehouse) -> dict:
    return {
        "surveys": warehouse.query("SELECT sum(surveys) AS n FROM cx.satisfaction_hourly")[0]["n"],
        "detractors": warehouse.query("SELECT sum(detractors) AS n FROM cx.satisfaction_hourly")[0][
            "n"
        ],
        "contacts": warehouse.query("SELECT sum(contacts) AS n FROM cx.touchpoint_hourly")[0]["n"],
    }


def _dead_letter_record(h) -> Record:
    """A record of the customer refused by the processors, as read back from the dead-letter
    topic."""
    bad = Record(TOUCHPOINTS, 0, 99, CUSTOMER.encode(), b'{"data": {"nps": "eleven"}}', ())
    run(h.pipeline.touchpoints([bad]))
    (sent,) = h.to(DEADLETTER)
    return republished(sent, 0)


@pytest.fixture
def erased(harness):  # noqa: F811
    """An unhappy customer with an alert and a dead letter, and a bystander; then the erasure.
    Returns the harness, the aggregates before, and what a replay of the log would bring."""
    journey = [record(e, offset) for offset, e in enumerate(unhappy_journey())]
    bystander = record(contact("ev-bystander", 5, customer_id=OTHER), 10)
    run(harness.pipeline.touchpoints([*journey, bystander]))
    alerts = [republished(s, offset) for offset, s in enumerate(harness.to(ALERTS))]
    run(harness.pipeline.alerts(alerts))
    letter = _dead_letter_record(harness)
    run(harness.pipeline.dead_letters([letter]))
    named = set(naming(harness.warehouse, CUSTOMER))
    assert {"events", "timeline", "customer_profile_state", "alerts", "dead_letters"} <= named
    before = aggregates(harness.warehouse)
    run(harness.pipeline.touchpoints([record(erasure_requested("ev-erase", 200), 20)]))
    return harness, before, (journey, alerts, letter)


def test_erasure_leaves_no_row_naming_the_customer(erased):
    h, _, _ = erased
    assert naming(h.warehouse, CUSTOMER) == {}
    assert naming(h.warehouse, OTHER)  # the bystander is untouched
    (event,) = h.warehouse.query(
        "SELECT customer_id, data FROM cx.events WHERE id = 'ev-detractor'"
    )
    assert event == {"customer_id": "", "data": "{}"}  # anonymised in place: still there by id


def test_a_tombstone_records_the_request_without_naming_the_customer(erased):
    h, _, _ = erased
    (stone,) = h.warehouse.query("SELECT * FROM cx.erasures FINAL")
    assert stone["status"] == "done"
    assert stone["subject_sha256"] == subject_hash(CUSTOMER)
    assert (stone["erasure_id"], stone["requested_by"]) == ("ev-erase", "dpo-1")
    removed = stone["rows_removed"]
    assert removed["events"] == 4  # the journey and the request itself
    assert removed["timeline"] == 4 and removed["dead_letters"] == 1
    assert removed["alerts"] >= 1 and removed["alert_revisions"] >= 1


def test_aggregates_keep_their_counts(erased):
    h, before, _ = erased
    assert aggregates(h.warehouse) == before


def test_later_events_and_replays_re_identify_nobody(erased):
    h, before, (journey, alerts, letter) = erased
    later = record(survey("ev-later", 300, nps=9), 30)
    run(h.pipeline.touchpoints([*journey, later]))  # a replay of the log, then news
    run(h.pipeline.alerts(alerts))
    run(h.pipeline.dead_letters([letter]))
    run(h.pipeline.touchpoints([record(erasure_requested("ev-erase", 200), 20)]))
    assert naming(h.warehouse, CUSTOMER) == {}
    (row,) = h.warehouse.query(
        "SELECT customer_id, subject, data FROM cx.events WHERE id = 'ev-later'"
    )
    assert row == {"customer_id": "", "subject": "", "data": "{}"}
    (moment,) = h.warehouse.query(
        "SELECT count() AS n FROM cx.timeline WHERE event_id = 'ev-later'"
    )
    assert moment["n"] == 0  # no timeline without a customer
    after = aggregates(h.warehouse)
    # only the new survey counts (a survey is a contact at its touchpoint too); no replay
    assert after == {**before, "surveys": before["surveys"] + 1, "contacts": before["contacts"] + 1}
    assert h.warehouse.query("SELECT count() AS n FROM cx.erasures FINAL")[0]["n"] == 1
    assert h.warehouse.query("SELECT count() AS n FROM cx.dead_letters")[0]["n"] == 1


def test_no_churn_alert_is_raised_for_an_erased_customer(erased):
    h, _, _ = erased
    h.sent.clear()
    worse = [record(e, 40 + i) for i, e in enumerate(unhappy_journey())]
    run(h.pipeline.touchpoints(worse))
    assert h.to(ALERTS) == []


@pytest.mark.parametrize("table", sorted(ERASED_ROWS))
def test_on_a_cluster_the_shards_local_tables_are_erased(table):
    sql = erase_sql(table, "touchstream")
    assert f"cx.{table}_local ON CLUSTER 'touchstream'" in sql
    assert ("ALTER TABLE" in sql) == (table in ANONYMISE)
