"""The ClickHouse-server backend: an insert retried after a transient failure sends the same rows
with the same deduplication token, so the server stores them once; other failures surface at
once. The server is replaced by a fake clickhouse-connect client (no server runs here); what the
token buys is checked on ClickHouse itself (chDB)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError, ProgrammingError

from touchstream.projections.warehouse import (
    ClickHouseServerWarehouse,
    Warehouse,
    WarehouseError,
    open_warehouse,
)

ROWS = [
    {"id": "e1", "customer_id": "c1", "nps": 3},
    {"id": "e2", "customer_id": "c2", "nps": 9},
]


class FakeClient:
    """Records what the warehouse sends; fails the first calls with the given errors."""

    def __init__(self, *failures: Exception, server_settings: dict | None = None) -> None:
        self.failures = list(failures)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.server_settings = server_settings or {}

    def _call(self, method: str, **kwargs: Any) -> Any:
        self.calls.append((method, kwargs))
        if self.failures:
            raise self.failures.pop(0)
        return b'{"x":1}\n' if method == "raw_query" else None

    def raw_insert(self, table: str, columns: list[str], payload: bytes, **kwargs: Any) -> None:
        self._call("raw_insert", table=table, columns=columns, payload=payload, **kwargs)

    def raw_query(self, sql: str, **kwargs: Any) -> bytes:
        return self._call("raw_query", sql=sql, **kwargs)

    def command(self, sql: str, **kwargs: Any) -> None:
        self._call("command", sql=sql, **kwargs)

    def close(self) -> None: ...


def warehouse(client: FakeClient, **kwargs: Any) -> tuple[ClickHouseServerWarehouse, list[float]]:
    slept: list[float] = []
    wh = ClickHouseServerWarehouse(
        "http://clickhouse:8123", client=client, sleep=slept.append, **kwargs
    )
    return wh, slept


def token(table: str, rows: list[dict[str, Any]]) -> str:
    payload = b"\n".join(orjson.dumps(row) for row in rows)
    return ClickHouseServerWarehouse.deduplication_token(table, payload)


# --- the deduplication token --------------------------------------------------------------------


def test_the_same_rows_always_give_the_same_token() -> None:
    assert token("cx.ingest", ROWS) == token("cx.ingest", [dict(r) for r in ROWS])
    assert token("cx.ingest", ROWS).startswith("touchstream:cx.ingest:")


def test_different_rows_or_tables_give_different_tokens() -> None:
    assert token("cx.ingest", ROWS) != token("cx.ingest", ROWS[:1])
    assert token("cx.ingest", ROWS) != token("cx.alerts", ROWS)
    # a new revision of an alert keeps its id but is a new fact: it must not be dropped
    alert = {"alert_id": "a1", "revision": 1}
    assert token("cx.alerts", [alert]) != token("cx.alerts", [alert | {"revision": 2}])


def test_an_insert_carries_its_token_and_the_deduplication_settings() -> None:
    client = FakeClient()
    wh, _ = warehouse(client)
    wh.insert("cx.ingest", ROWS)
    ((method, call),) = client.calls
    assert method == "raw_insert" and call["fmt"] == "JSONEachRow"
    assert call["columns"] == ["id", "customer_id", "nps"]
    assert call["settings"] == {
        "insert_deduplication_token": token("cx.ingest", ROWS),
        "deduplicate_blocks_in_dependent_materialized_views": 1,
        "distributed_foreground_insert": 1,
    }


def test_settings_the_server_does_not_know_are_not_sent() -> None:
    client = FakeClient(server_settings={"deduplicate_blocks_in_dependent_materialized_views": {}})
    wh, _ = warehouse(client)
    wh.insert("cx.ingest", ROWS)
    assert "distributed_foreground_insert" not in client.calls[0][1]["settings"]


def test_nothing_is_sent_for_no_rows() -> None:
    client = FakeClient()
    warehouse(client)[0].insert("cx.ingest", [])
    assert client.calls == []


# --- retries ------------------------------------------------------------------------------------


def test_a_transient_failure_is_retried_with_the_same_rows_and_token() -> None:
    client = FakeClient(
        OperationalError("Error executing HTTP request"),
        DatabaseError("HTTP driver received HTTP status 503"),
    )
    wh, slept = warehouse(client)
    wh.insert("cx.ingest", ROWS)
    assert len(client.calls) == 3
    payloads = {call["payload"] for _, call in client.calls}
    tokens = {call["settings"]["insert_deduplication_token"] for _, call in client.calls}
    assert len(payloads) == 1 and tokens == {token("cx.ingest", ROWS)}
    assert slept == [0.2, 0.4]


def test_back_off_is_exponential_and_capped() -> None:
    wh, _ = warehouse(FakeClient(), attempts=7, backoff_s=0.5, backoff_max_s=4.0)
    assert wh.backoff_delays() == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_permanent_failure_is_raised_at_once() -> None:
    client = FakeClient(DatabaseError("Code: 62. Syntax error", code=62))
    wh, slept = warehouse(client)
    with pytest.raises(WarehouseError, match="Syntax error"):
        wh.insert("cx.ingest", ROWS)
    assert len(client.calls) == 1 and slept == []


def test_after_the_last_attempt_the_error_is_raised() -> None:
    client = FakeClient(*[DatabaseError("Code: 252. Too many parts", code=252)] * 4)
    wh, slept = warehouse(client, attempts=4)
    with pytest.raises(WarehouseError, match="Too many parts"):
        wh.insert("cx.ingest", ROWS)
    assert len(client.calls) == 4 and slept == [0.2, 0.4, 0.8]


def test_queries_and_commands_are_retried_too() -> None:
    client = FakeClient(TimeoutError("read timed out"), ConnectionResetError("reset"))
    wh, slept = warehouse(client)
    assert wh.query("SELECT 1 AS x") == [{"x": 1}]
    wh.command("CREATE DATABASE IF NOT EXISTS cx")
    assert [method for method, _ in client.calls] == [
        "raw_query",
        "raw_query",
        "raw_query",
        "command",
    ]
    assert slept == [0.2, 0.4]


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (OperationalError("Error executing HTTP request"), True),
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (DatabaseError("HTTP driver received HTTP status 503"), True),
        (DatabaseError("HTTP driver received HTTP status 429"), True),
        (DatabaseError("Code: 159. Timeout exceeded", code=159), True),
        (DatabaseError("Code: 242. Table is in readonly mode", code=242), True),
        (DatabaseError("Code: 319. Unknown status of insert", code=319), True),
        (DatabaseError("Code: 62. Syntax error", code=62), False),
        (DatabaseError("Code: 60. Unknown table", code=60), False),
        (OperationalError("Code: 60. Unknown table", code=60), False),
        (ProgrammingError("Setting readonly is readonly"), False),
        (ValueError("bad row"), False),
    ],
)
def test_which_failures_are_transient(error: Exception, transient: bool) -> None:
    assert ClickHouseServerWarehouse.is_transient(error) is transient


# --- what the token buys, on ClickHouse -------------------------------------------------------


@pytest.fixture
def chdb() -> Iterator[Warehouse]:
    wh = open_warehouse("chdb://:memory:")
    yield wh
    wh.close()


def test_a_repeated_insert_with_the_token_is_stored_once_in_every_view(chdb: Warehouse) -> None:
    # the shape of cx.ingest: a Null table feeding views. Replicated tables deduplicate by
    # default; a plain MergeTree needs a deduplication window, as here.
    window = "SETTINGS non_replicated_deduplication_window = 100"
    chdb.command("CREATE TABLE ingest (id String, nps UInt8) ENGINE = Null")
    chdb.command(f"CREATE TABLE events (id String) ENGINE = MergeTree ORDER BY id {window}")
    chdb.command(
        "CREATE TABLE counts (k UInt8, n SimpleAggregateFunction(sum, UInt64)) "
        f"ENGINE = AggregatingMergeTree ORDER BY k {window}"
    )
    chdb.command("CREATE MATERIALIZED VIEW events_mv TO events AS SELECT id FROM ingest")
    chdb.command(
        "CREATE MATERIALIZED VIEW counts_mv TO counts AS "
        "SELECT toUInt8(1) AS k, toUInt64(count()) AS n FROM ingest"
    )
    rows = [{"id": "e1", "nps": 3}, {"id": "e2", "nps": 9}]
    payload = b"\n".join(orjson.dumps(row) for row in rows)
    client = FakeClient()
    settings = warehouse(client)[0].insert_settings("ingest", payload)
    settings.pop("distributed_foreground_insert")  # for Distributed tables; chDB has none here
    clause = ", ".join(
        f"{k} = '{v}'" if isinstance(v, str) else f"{k} = {v}" for k, v in settings.items()
    )
    for _ in range(3):  # the first attempt and two retries of the same rows
        chdb.command(f"INSERT INTO ingest SETTINGS {clause} FORMAT JSONEachRow\n{payload.decode()}")
    assert chdb.query("SELECT count() AS n FROM events") == [{"n": 2}]
    assert chdb.query("SELECT sum(n) AS n FROM counts") == [{"n": 2}]
    # the server goes by the token, not the rows: other rows under a used token are dropped,
    # which is why the token is derived from the rows' whole content, not only their ids
    other = orjson.dumps({"id": "e3", "nps": 1}).decode()
    chdb.command(f"INSERT INTO ingest SETTINGS {clause} FORMAT JSONEachRow\n{other}")
    assert chdb.query("SELECT count() AS n FROM events") == [{"n": 2}]
