"""The chDB warehouse backend: query parameters survive any text, and every failure is a
`WarehouseError` with ClickHouse's own explanation."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from touchstream.projections.warehouse import (
    ChdbWarehouse,
    Warehouse,
    WarehouseError,
    open_warehouse,
)

AWKWARD = [
    "plain",
    "O'Brien",
    "it''s",
    "back\\slash",
    "C:\\new\\table",
    "trailing\\",
    "\\'",
    "tab\there",
    "new\nline",
    "客户-42",
    "a,b",
    "]",
    "",
]


@pytest.fixture
def memory() -> Iterator[Warehouse]:
    warehouse = open_warehouse("chdb://:memory:")
    yield warehouse
    warehouse.close()


def test_array_of_strings_parameter_round_trips_quotes_and_backslashes(memory):
    (row,) = memory.query("SELECT {ids:Array(String)} AS ids", {"ids": AWKWARD})
    assert row["ids"] == AWKWARD


def test_array_parameter_finds_exactly_the_stored_ids(memory):
    """The projector's idempotency check: ids with quotes or backslashes must still match."""
    memory.command("CREATE DATABASE IF NOT EXISTS t")
    memory.command("CREATE TABLE t.ids (id String) ENGINE = Memory")
    memory.insert("t.ids", [{"id": value} for value in AWKWARD[:8]])
    asked = [*AWKWARD[4:], "never-stored"]
    rows = memory.query("SELECT id FROM t.ids WHERE id IN {ids:Array(String)}", {"ids": asked})
    assert sorted(r["id"] for r in rows) == sorted(AWKWARD[4:8])


def test_empty_array_parameter_matches_nothing(memory):
    rows = memory.query("SELECT 1 AS x WHERE 'a' IN {ids:Array(String)}", {"ids": []})
    assert rows == []


@pytest.mark.parametrize("value", ["O'Brien", "a\\tb", "ends\\", "c\\n1"])
def test_string_parameter_round_trips_quotes_and_backslashes(memory, value):
    """Customer ids may hold backslashes; the read API looks them up with `{customer_id:String}`."""
    (row,) = memory.query("SELECT {s:String} AS s", {"s": value})
    assert row["s"] == value


def test_unknown_scheme_is_refused_naming_the_url_and_the_supported_schemes():
    with pytest.raises(WarehouseError) as caught:
        open_warehouse("postgres://db:5432/cx")
    message = str(caught.value)
    assert "postgres://db:5432/cx" in message
    assert "chdb://" in message and "http" in message


def test_a_bad_query_raises_warehouse_error_with_the_reason(memory):
    with pytest.raises(WarehouseError, match="UNKNOWN_TABLE"):
        memory.query("SELECT * FROM system.no_such_table")
    with pytest.raises(WarehouseError, match="SYNTAX_ERROR"):
        memory.command("SELEKT 1")


def test_a_bad_insert_raises_warehouse_error(memory):
    with pytest.raises(WarehouseError):
        memory.insert("nowhere.rows", [{"x": 1}])
    memory.insert("nowhere.rows", [])  # nothing to write: no round trip, no error


def test_parts_replaced_by_merges_are_removed_not_kept_for_ever(tmp_path, monkeypatch):
    """chDB leaves merged-away parts on disk and in memory unless woken; the backend wakes it,
    so a long run's part count stays bounded instead of growing with every insert."""
    monkeypatch.setattr(ChdbWarehouse, "CLEANUP_EVERY_S", 0.0)
    warehouse = open_warehouse(f"chdb://{tmp_path / 'w'}")
    warehouse.command("CREATE DATABASE t")
    warehouse.command("CREATE TABLE t.x (id String) ENGINE = ReplacingMergeTree ORDER BY id")
    outdated = "SELECT count() AS n FROM system.parts WHERE database = 't' AND NOT active"
    try:
        for batch in range(150):
            warehouse.insert("t.x", [{"id": f"{batch}-{i}"} for i in range(10)])
        deadline = time.monotonic() + 20
        while (left := warehouse.query(outdated)[0]["n"]) > 20 and time.monotonic() < deadline:
            warehouse.insert("t.x", [{"id": "again"}])  # each insert asks for the removal
            time.sleep(0.2)
        assert left <= 20, f"{left} outdated parts of 150 inserts still kept"
        assert warehouse.query("SELECT count() AS n FROM t.x FINAL")[0]["n"] == 1501
    finally:
        warehouse.close()
