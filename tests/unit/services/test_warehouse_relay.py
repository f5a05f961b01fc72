"""The warehouse relay: a processor process attached to `up` reads and writes `up`'s chDB over
its HTTP, as if the warehouse were its own; nobody else can."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from touchstream.projections.warehouse import ChdbWarehouse, Warehouse, WarehouseError
from touchstream.services.processor import Activity
from touchstream.services.projector import Projector
from touchstream.services.replay import Replayer, ReplayRefused
from touchstream.services.warehouse_relay import Relay, RelayWarehouse, owner_alive

TABLE = (
    "CREATE TABLE t (id String, text String, at DateTime64(3, 'UTC'), n UInt32) "
    "ENGINE = MergeTree ORDER BY id"
)
STORED = "SELECT id FROM t WHERE id IN {ids:Array(String)}"


class SlowChecks(ChdbWarehouse):
    """chDB whose reads take 50 ms longer: two callers checking the same ids would both find
    them missing, unless the check and the insert are one step."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        rows = super().query(sql, params)
        time.sleep(0.05)
        return rows


class Owner:
    """`up`'s side: a chDB warehouse served by the relay."""

    def __init__(self, root: Path, backend: type[ChdbWarehouse] = ChdbWarehouse) -> None:
        self.warehouse = backend(str(root / "warehouse"))
        self.warehouse.command(TABLE)
        self.projector = Projector(self.warehouse)
        self.activity = Activity()
        self.relay = Relay(self.warehouse, self.activity)

    def client(self, token: str | None = None) -> RelayWarehouse:
        return RelayWarehouse(self.relay.url, token or self.relay.token)

    def close(self) -> None:
        self.relay.close()
        self.projector.close()
        self.warehouse.close()


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[Owner]:
    serving = Owner(tmp_path)
    serving.relay.serve()
    yield serving
    serving.close()


def rows(*ids: str) -> dict[str, dict]:
    at = datetime(2026, 11, 24, 8, 30, 1, 250000, tzinfo=UTC)
    return {i: {"id": i, "text": f"{i}\t'引号'\\\n", "at": at, "n": len(i)} for i in ids}


def test_an_attached_process_reads_and_writes_as_the_owner_would(owner: Owner) -> None:
    relay = owner.client()
    relay.insert("t", list(rows("a", "bb").values()))
    assert relay.insert_new("t", rows("bb", "ccc"), STORED) == ["ccc"]

    # what the owner reads itself, the attached process reads alike, parameters included
    sql = (
        "SELECT id, text, at, n FROM t WHERE id IN {ids:Array(String)} AND text != {no:String} "
        "ORDER BY id"
    )
    params = {"ids": ["a", "ccc", "it's"], "no": "tab\there"}
    assert relay.query(sql, params) == owner.warehouse.query(sql, params)
    assert [r["text"] for r in relay.query(sql, params)] == ["a\t'引号'\\\n", "ccc\t'引号'\\\n"]
    raw = relay.query_raw("SELECT count() FROM t", "TabSeparated")
    assert raw == owner.warehouse.query_raw("SELECT count() FROM t", "TabSeparated") == b"3\n"
    relay.command("ALTER TABLE t DELETE WHERE id = {id:String}", {"id": "a"})
    assert owner.warehouse.query("SELECT id FROM t ORDER BY id") == [{"id": "bb"}, {"id": "ccc"}]

    # each call counts as processing (the owner's drain waits for it) and names its process
    assert owner.activity.quiet_for() < 5 and owner.activity.records == 0
    assert owner.relay.attached() == [os.getpid()]
    relay.close()


def test_two_processes_inserting_the_same_records_store_them_once(tmp_path: Path) -> None:
    """Around a rebalance the owner and an attached process may project the same records at
    once: the check for stored keys and the insert are one step in the owner."""
    owner = Owner(tmp_path, SlowChecks)
    owner.relay.serve()
    batch = rows(*(f"e{i}" for i in range(300)))
    # attached processes through the relay, and the owner's own processors directly
    clients: list[Warehouse] = [owner.client(), owner.client(), owner.warehouse, owner.warehouse]
    start = threading.Barrier(len(clients))

    def insert(client: Warehouse) -> list[str]:
        start.wait()
        return client.insert_new("t", batch, STORED)

    with ThreadPoolExecutor(len(clients)) as pool:
        inserted = list(pool.map(insert, clients))
    assert sorted(key for keys in inserted for key in keys) == sorted(batch)
    assert owner.warehouse.query("SELECT count() AS n, uniqExact(id) AS u FROM t") == [
        {"n": 300, "u": 300}
    ]
    owner.close()


def test_the_relay_listens_on_loopback_and_answers_its_token_only(owner: Owner) -> None:
    assert owner.relay.url.startswith("http://127.0.0.1:")
    with pytest.raises(WarehouseError, match=r"attached processors only.*403"):
        owner.client("a-guess").query("SELECT 1")
    assert owner.relay.attached() == []  # refused callers are not counted as attached


def test_warehouse_errors_travel_back_and_an_absent_owner_says_so(owner: Owner) -> None:
    with pytest.raises(WarehouseError, match=r"UNKNOWN_TABLE|does not exist"):
        owner.client().query("SELECT * FROM nowhere")
    gone = RelayWarehouse(f"http://127.0.0.1:{free_port()}", owner.relay.token)
    with pytest.raises(WarehouseError, match="cannot reach the warehouse's owner"):
        gone.insert_new("t", rows("x"), STORED)


def test_a_rebuild_refuses_while_processors_are_attached_and_holds_the_relay(
    owner: Owner,
) -> None:
    replayer = Replayer(owner.projector, owner.relay.attached, owner.relay.gate)
    owner.client().query("SELECT 1")
    with pytest.raises(ReplayRefused, match=f"processor processes {os.getpid()} are attached"):
        asyncio.run(replayer.run())

    # a process attaching during a rebuild waits for its end
    replayer.attached = lambda: []
    with owner.relay.gate:
        late = ThreadPoolExecutor(1).submit(owner.client().query, "SELECT 1 AS one")
        time.sleep(0.3)
        assert not late.done()
    assert late.result(10) == [{"one": 1}]


def test_an_attached_process_knows_when_its_owner_has_gone(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime.json"
    assert not owner_alive(os.getpid(), runtime)  # no runtime file: no owner
    runtime.write_text(json.dumps({"pid": os.getpid()}))
    assert owner_alive(os.getpid(), runtime)
    assert not owner_alive(os.getpid() + 10_000_000, runtime)  # another up took the directory
