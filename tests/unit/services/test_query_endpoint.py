"""The read-only SQL endpoint refuses anything but one reading statement."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import make_mocked_request

from touchstream.projections.migrations import migrate
from touchstream.projections.read_only_sql import read_only_problem
from touchstream.projections.warehouse import open_warehouse
from touchstream.services.projector import Projector
from touchstream.services.query_endpoint import QueryEndpoint

READING = [
    "SELECT 1",
    "select count() from cx.events",
    "  \n\tSeLeCt 1",
    "WITH 1 AS x SELECT x",
    "with recent as (select * from cx.timeline) select count() from recent",
    "SHOW TABLES FROM cx",
    "DESCRIBE TABLE cx.events",
    "describe cx.timeline",
    "EXISTS TABLE cx.alerts",
    "SELECT 1;",
    "SELECT 1 ;  \n",
    "-- how many events?\nSELECT count() FROM cx.events",
    "/* dashboard: pipeline */ SELECT 1",
    "/* multi\nline */\n-- and another\n  select 1",
    "SELECT 'a;b' AS separator",
    "SELECT * FROM cx.timeline WHERE summary LIKE '%--%'",
]

WRITING = [
    "INSERT INTO cx.events (id) VALUES ('x')",
    "insert into cx.alerts select * from cx.alerts",
    "ALTER TABLE cx.events DELETE WHERE 1",
    "DROP TABLE cx.events",
    "drop database cx",
    "CREATE TABLE cx.x (a UInt8) ENGINE = Memory",
    "SYSTEM RELOAD DICTIONARIES",
    "TRUNCATE TABLE cx.timeline",
    "OPTIMIZE TABLE cx.events FINAL",
    "RENAME TABLE cx.events TO cx.gone",
    "KILL QUERY WHERE 1",
    "GRANT ALL ON *.* TO default",
]

SMUGGLED = [
    "SELECT 1; DROP TABLE x",
    "SELECT 1;DROP TABLE x;",
    "select 1;\n\ninsert into x values (1)",
    "/* SELECT */ DROP TABLE x",
    "-- SELECT\nDROP TABLE x",
    "SELECT '--'; DROP TABLE x",
    "SELECT '/*', 1; DROP TABLE x --*/'",
    "SELECT 1 INTO OUTFILE '/tmp/touchstream-owned.txt'",
]


@pytest.mark.parametrize("sql", READING)
def test_reading_statements_are_allowed(sql):
    assert read_only_problem(sql) is None


@pytest.mark.parametrize("sql", WRITING)
def test_writing_statements_are_refused_with_a_reason(sql):
    problem = read_only_problem(sql)
    assert problem and "read-only" in problem


@pytest.mark.parametrize("sql", SMUGGLED)
def test_writes_smuggled_behind_a_read_are_refused(sql):
    assert read_only_problem(sql) is not None


@pytest.mark.parametrize("sql", ["", "   ", "\n;\n", "-- nothing to see", "/* */ ;"])
def test_empty_input_is_refused(sql):
    assert read_only_problem(sql) == "empty query"


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[QueryEndpoint]:
    warehouse = open_warehouse(f"chdb://{tmp_path / 'warehouse'}")
    migrate(warehouse)
    projector = Projector(warehouse)
    yield QueryEndpoint(projector)
    projector.close()
    warehouse.close()


def ask(endpoint: QueryEndpoint, sql: str):
    request = make_mocked_request("GET", "/?" + urlencode({"query": sql}))
    return asyncio.run(endpoint.query(request))


def test_the_endpoint_answers_a_read(endpoint):
    response = ask(endpoint, "SELECT count() FROM cx.events")
    assert response.status == 200 and response.body == b"0\n"


def test_the_endpoint_never_drops_a_table_whatever_the_query_text(endpoint):
    response = ask(endpoint, "SELECT '--'; DROP TABLE cx.events")
    assert ask(endpoint, "EXISTS TABLE cx.events").body == b"1\n", "cx.events was dropped"
    assert response.status == 403


def test_the_endpoint_never_writes_files(endpoint, tmp_path: Path):
    target = tmp_path / "owned.txt"
    response = ask(endpoint, f"SELECT 'owned' INTO OUTFILE '{target}'")
    assert not target.exists(), f"the endpoint wrote {target}"
    assert response.status == 403
