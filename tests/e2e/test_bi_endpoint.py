"""BI access to the embedded mode: clickhouse-connect, unmodified, reads the running `touchstream
up` through its ClickHouse-HTTP subset, and nothing it sends can change the warehouse."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from tests.e2e.conftest import Runtime, eventually
from touchstream.projections.read_only_sql import LOCAL_TABLE_FUNCTIONS, OUTSIDE_FUNCTIONS

pytestmark = pytest.mark.e2e


def _address(runtime: Runtime) -> tuple[str, int]:
    parsed = urllib.parse.urlparse(runtime.client.base_url)
    return parsed.hostname or "127.0.0.1", parsed.port or 8088


@pytest.fixture(scope="module")
def client(runtime: Runtime) -> Iterator[Client]:
    host, port = _address(runtime)
    ch = clickhouse_connect.get_client(host=host, port=port)
    yield ch
    ch.close()


@pytest.fixture(scope="module")
def customer(runtime: Runtime) -> str:
    """A customer with two survey answers, projected before the tests read them."""
    customer_id = f"c-bi-{uuid.uuid4().hex[:8]}"
    events = [
        {
            "specversion": "1.0",
            "id": f"bi-{customer_id}-{n}",
            "source": "/tests/bi",
            "type": "cx.feedback.survey.v1",
            "time": f"2026-03-0{n}T10:00:00Z",
            "data": {
                "customer_id": customer_id,
                "survey_id": "post-delivery",
                "touchpoint": "delivery",
                "nps": nps,
            },
        }
        for n, nps in ((1, 3), (2, 9))
    ]
    status, body = runtime.client.post_events(events)
    assert status == 202, body
    sql = "SELECT count() AS n FROM cx.timeline WHERE customer_id = {c:String}"
    eventually(lambda: runtime.client.query(sql, c=customer_id)[0]["n"] == 2, timeout=15)
    return customer_id


def http(runtime: Runtime, **params: str) -> tuple[int, dict[str, str], bytes]:
    url = runtime.client.base_url + "/?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def refused(client: Client, sql: str, **kwargs: Any) -> DatabaseError:
    with pytest.raises(DatabaseError) as caught:
        client.command(sql, **kwargs)
    return caught.value


# --- clickhouse-connect's query path ------------------------------------------------------------


def test_clickhouse_connect_connects_and_pings(client: Client) -> None:
    assert client.server_version
    assert client.ping() is True
    assert client.command("SELECT 1") == 1


def test_query_returns_typed_rows(client: Client, customer: str) -> None:
    result = client.query(
        "SELECT event_id, touchpoint, nps, time FROM cx.timeline "
        "WHERE customer_id = {customer:String} ORDER BY time",
        parameters={"customer": customer},
    )
    assert result.column_names == ("event_id", "touchpoint", "nps", "time")
    assert result.result_rows == [
        (f"bi-{customer}-1", "delivery", 3, datetime(2026, 3, 1, 10, 0)),
        (f"bi-{customer}-2", "delivery", 9, datetime(2026, 3, 2, 10, 0)),
    ]


def test_parameters_of_every_shape_round_trip(client: Client) -> None:
    awkward = "O'Brien \\ tab\there 客户"
    row = client.query(
        "SELECT {s:String} AS s, {n:UInt32} AS n, {a:Array(String)} AS a",
        parameters={"s": awkward, "n": 42, "a": ["x", "y'z"]},
    ).first_row
    assert row == (awkward, 42, ["x", "y'z"])
    # long parameters make clickhouse-connect send a multipart form instead of URL parameters
    many = list(range(5000))
    (count,) = client.query(
        "SELECT count() FROM numbers(10000) WHERE number IN {ids:Array(UInt64)}",
        parameters={"ids": many},
    ).first_row
    assert count == 5000


def test_format_clause_and_default_format(client: Client, runtime: Runtime) -> None:
    assert client.raw_query("SELECT 1 AS x FORMAT JSONEachRow") == b'{"x":1}\n'
    assert client.raw_query("SELECT 1 AS x", fmt="CSVWithNames") == b'"x"\n1\n'
    status, headers, body = http(runtime, query="SELECT 2 AS y", default_format="JSONCompact")
    assert status == 200 and headers["X-ClickHouse-Format"] == "JSONCompact"
    assert b'"data":' in body and b"[2]" in body
    status, headers, body = http(runtime, query="SELECT 3 FORMAT TSVWithNames")
    assert (status, headers["X-ClickHouse-Format"], body) == (200, "TSVWithNames", b"3\n3\n")


def test_plain_http_get_and_ping(runtime: Runtime) -> None:
    assert http(runtime)[2] == b"Ok.\n"
    with urllib.request.urlopen(runtime.client.base_url + "/ping", timeout=10) as response:
        assert response.read() == b"Ok.\n"
    status, headers, body = http(runtime, query="SELECT {n:UInt8} + 1", param_n="41")
    assert (status, body) == (200, b"42\n")
    assert headers["X-ClickHouse-Query-Id"]


def test_database_default_is_accepted_and_others_explained(runtime: Runtime) -> None:
    assert http(runtime, query="SELECT 1", database="default")[2] == b"1\n"
    status, headers, body = http(runtime, query="SELECT 1", database="cx")
    assert status == 400 and headers["X-ClickHouse-Exception-Code"] == "48"
    assert b"qualify names, e.g. cx.timeline" in body
    host, port = _address(runtime)
    with pytest.raises(DatabaseError, match="qualify names"):
        clickhouse_connect.get_client(host=host, port=port, database="cx")


def test_allowed_settings_apply_and_the_rest_are_ignored(client: Client, runtime: Runtime) -> None:
    error = refused(client, "SELECT sleep(1)", settings={"max_execution_time": 0.3})
    assert error.code == 159  # TIMEOUT_EXCEEDED: the client's limit was applied
    # anything else a client sends (session_id, wait_end_of_query, readonly, ...) is not applied
    ignored = {
        "readonly": "0",
        "session_id": "s-1",
        "wait_end_of_query": "1",
        "max_block_size": "7",
    }
    status, _, body = http(
        runtime, query="SELECT getSetting('readonly'), getSetting('max_block_size') != 7", **ignored
    )
    assert (status, body) == (200, b"2\t1\n")


# --- read-only means read-only ------------------------------------------------------------------


WRITES = [
    "DROP TABLE cx.events",
    "INSERT INTO cx.alerts (alert_id) VALUES ('bi-endpoint-insert')",
    "SELECT 1; DROP TABLE cx.events",
    "TRUNCATE TABLE cx.timeline",
    "ALTER TABLE cx.events DELETE WHERE 1",
    "CREATE TABLE cx.bi_owned (a UInt8) ENGINE = Memory",
]


@pytest.mark.parametrize("sql", WRITES)
def test_writes_fail_with_readonly(client: Client, sql: str) -> None:
    assert refused(client, sql).code == 164


def test_writes_change_nothing(client: Client, customer: str) -> None:
    before = client.command(
        "SELECT count() FROM cx.timeline WHERE customer_id = {c:String}", parameters={"c": customer}
    )
    for sql in WRITES:
        refused(client, sql)
    with pytest.raises(DatabaseError):
        client.insert("cx.alerts", [["bi-endpoint-insert"]], column_names=["alert_id"])
    assert client.command("EXISTS TABLE cx.events") == 1
    assert client.command("EXISTS TABLE cx.bi_owned") == 0
    assert (
        client.command("SELECT count() FROM cx.alerts WHERE alert_id = 'bi-endpoint-insert'") == 0
    )
    after = client.command(
        "SELECT count() FROM cx.timeline WHERE customer_id = {c:String}", parameters={"c": customer}
    )
    assert before == after == 2


OUTSIDE = [
    "SELECT file('/etc/hostname')",
    "SELECT * FROM file('/etc/hostname', 'LineAsString')",
    "DESCRIBE file('/etc/hostname', 'LineAsString')",
    "SELECT `file`('/etc/hostname')",
    "SELECT \"file\"('/etc/hostname')",
    "SELECT `\\x66ile`('/etc/hostname')",
    "SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')",
    "SELECT * FROM remote('127.0.0.1:9', system.one)",
    "SELECT * FROM filesystem('/')",
    "SELECT * FROM Python(x)",
    "SELECT count() FROM cx.events WHERE id IN (SELECT * FROM s3('http://x/y', 'LineAsString'))",
]


@pytest.mark.parametrize("sql", OUTSIDE)
def test_nothing_outside_the_warehouse_is_read(client: Client, sql: str) -> None:
    error = refused(client, sql)
    assert error.code == 164 and "outside the warehouse" in str(error)


def test_local_table_functions_still_work(client: Client) -> None:
    assert client.command("SELECT count() FROM numbers(10)") == 10
    assert client.command("SELECT sum(x) FROM values('x UInt8', 1, 2, 3)") == 6


def test_every_table_function_of_the_engine_is_classified(client: Client) -> None:
    names = {
        row[0].lower()
        for row in client.query("SELECT name FROM system.table_functions").result_rows
    }
    unclassified = names - LOCAL_TABLE_FUNCTIONS - OUTSIDE_FUNCTIONS
    assert not unclassified, f"classify in projections/read_only_sql.py: {sorted(unclassified)}"
