"""The cluster schema is the single-node schema, translated: every migration statement has a
cluster form, engines become Replicated*MergeTree with Distributed tables in front, and the
result really runs on ClickHouse (chDB with a one-shard cluster, macros and an in-memory Keeper)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from touchstream.projections.cluster_schema import (
    CLUSTER_SQL,
    ClusterSchemaError,
    cluster_ddl,
    cluster_statements,
    main,
    sharded_tables,
)
from touchstream.projections.migrations import Migration, available

STATEMENTS = cluster_statements()
CREATES = ("local", "distributed", "materialized_view", "view")
BY_NAME = {s.name: s for s in STATEMENTS if s.kind in CREATES}  # the latest definition wins
SHARDED = {f"{t.database}.{t.table}": t for t in sharded_tables()}
ON_CLUSTER = re.compile(r"\s+ON CLUSTER '[^']*'")
REGENERATE = "regenerate with `python -m touchstream.projections.cluster_schema --write`"

# A one-shard, one-replica cluster on this process: `is_local`, so Distributed tables read and
# write the local tables without a network hop; testkeeper is ClickHouse's in-memory Keeper.
CHDB_CONFIG = """\
<clickhouse>
  <tcp_port>9000</tcp_port>
  <macros><cluster>touchstream</cluster><shard>01</shard><replica>r1</replica></macros>
  <zookeeper><implementation>testkeeper</implementation></zookeeper>
  <remote_servers>
    <touchstream>
      <shard><replica><host>localhost</host><port>9000</port></replica></shard>
    </touchstream>
  </remote_servers>
</clickhouse>
"""

# Runs in a child process: chDB hosts one engine per process and takes its config at start.
CHDB_RUNNER = textwrap.dedent(
    """
    import json, os, sys, chdb
    job = json.load(sys.stdin)
    conn = chdb.connect(":memory:?config-file=" + job["config"])
    out = []
    for sql in job["statements"]:
        try:
            out.append({"ok": True, "result": conn.query(sql, "JSONEachRow").bytes().decode()})
        except Exception as exc:
            out.append({"ok": False, "result": str(exc)})
    print(json.dumps(out), flush=True)
    # skip the engine's shutdown: replicas that never activated (no server threads) hang it
    os._exit(0)
    """
)


def run_on_chdb(tmp_path: Path, statements: list[str]) -> list[dict[str, Any]]:
    config = tmp_path / "cluster.xml"
    config.write_text(CHDB_CONFIG)
    done = subprocess.run(
        [sys.executable, "-c", CHDB_RUNNER],
        input=json.dumps({"config": str(config), "statements": statements}),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def failures(statements: list[str], results: list[dict[str, Any]]) -> list[str]:
    return [
        f"{sql.splitlines()[0]} -> {r['result'][:300]}"
        for sql, r in zip(statements, results, strict=True)
        if not r["ok"]
    ]


def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    assert result["ok"], result["result"]
    return [json.loads(line) for line in result["result"].splitlines() if line]


def without_on_cluster(sql: str) -> str:
    """What each server executes (ON CLUSTER needs the distributed DDL queue of a server)."""
    return ON_CLUSTER.sub("", sql, count=1)


def unreplicated(sql: str) -> str:
    """A single-replica variant, for the write path: chDB never activates replicas (they stay
    read-only without a server's background threads), so this drops only the replication."""
    return re.sub(r"Replicated(\w*MergeTree)\('[^']*', '[^']*'(?:, )?", r"\1(", sql)


# --- the translation ----------------------------------------------------------------------------


def test_every_migration_statement_has_a_cluster_form_and_a_ledger_row() -> None:
    for migration in available():
        label = f"{migration.version:04d}_{migration.name}"
        translated = [s for s in STATEMENTS if s.migration == label]
        assert {s.source for s in translated if s.source} == set(migration.statements()), label
        assert translated[-1].sql == (
            f"INSERT INTO cx.schema_migrations (version, name) "
            f"VALUES ({migration.version}, '{migration.name}')"
        )


def test_every_statement_runs_on_the_cluster_and_is_rerunnable() -> None:
    for statement in STATEMENTS:
        first_line = statement.sql.split("\n")[0]
        if statement.sql.startswith("INSERT"):
            continue  # ledger rows: replicated by the ledger table itself
        assert " ON CLUSTER '{cluster}'" in first_line, statement.sql
        if statement.sql.startswith("CREATE"):
            assert "IF NOT EXISTS" in first_line, statement.name
        if statement.sql.startswith("DROP"):
            assert "IF EXISTS" in first_line or "IF EXISTS" not in statement.source


def test_the_ledger_is_the_migrations_ledger_replicated_to_every_node() -> None:
    database, ledger = STATEMENTS[:2]
    assert database.sql == "CREATE DATABASE IF NOT EXISTS cx ON CLUSTER '{cluster}'"
    assert ledger.sql.startswith("CREATE TABLE IF NOT EXISTS cx.schema_migrations ON CLUSTER")
    assert "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))" in (
        ledger.sql
    )
    assert (
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', "
        "'{shard}-{replica}')\nORDER BY version"
    ) in ledger.sql
    assert "cx.schema_migrations" not in SHARDED


def test_column_changes_reach_local_and_distributed_tables() -> None:
    migration = Migration(
        9999,
        "alter",
        "CREATE TABLE cx.t (id String) ENGINE = MergeTree ORDER BY id;\n"
        "ALTER TABLE cx.t ADD COLUMN IF NOT EXISTS x UInt8, DROP COLUMN IF EXISTS y;\n"
        "ALTER TABLE cx.t MODIFY TTL toDate('2030-01-01');\n"
        "ALTER TABLE cx.t ADD COLUMN z UInt8, MODIFY TTL toDate('2030-01-01');\n",
    )
    with pytest.raises(ClusterSchemaError, match="split it"):
        cluster_statements(migrations=[migration])
    migration = Migration(9999, "alter", migration.sql.rsplit("ALTER", 1)[0])
    alters = [s for s in cluster_statements(migrations=[migration]) if s.kind == "alter"]
    assert [(s.name, s.sql.split("\n")[0]) for s in alters] == [
        ("cx.t_local", "ALTER TABLE cx.t_local ON CLUSTER '{cluster}'"),
        ("cx.t", "ALTER TABLE cx.t ON CLUSTER '{cluster}'"),
        ("cx.t_local", "ALTER TABLE cx.t_local ON CLUSTER '{cluster}'"),  # TTL: local only
    ]


def test_dropping_a_sharded_table_drops_both_tables() -> None:
    migration = Migration(
        9999,
        "drop",
        "CREATE TABLE cx.t (id String) ENGINE = MergeTree ORDER BY id;\n"
        "DROP TABLE IF EXISTS cx.t SYNC",
    )
    drops = [s.sql for s in cluster_statements(migrations=[migration]) if s.kind == "drop"]
    assert drops == [
        "DROP TABLE IF EXISTS cx.t ON CLUSTER '{cluster}' SYNC",
        "DROP TABLE IF EXISTS cx.t_local ON CLUSTER '{cluster}' SYNC",
    ]


def test_since_leaves_out_the_migrations_a_cluster_has() -> None:
    newest = available()[-1]
    later = cluster_statements(since=newest.version - 1)
    assert {s.migration for s in later} == {"ledger", f"{newest.version:04d}_{newest.name}"}
    assert cluster_ddl(since=newest.version).count("INSERT INTO") == 0


def test_merge_tree_tables_become_replicated_with_their_arguments() -> None:
    for name, table in SHARDED.items():
        local = BY_NAME[f"{name}_local"].sql
        if table.engine == "Null":
            assert "ENGINE = Null" in local
            continue
        assert (
            f"ENGINE = Replicated{table.engine}("
            "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"
        ) in local, name
    alerts = BY_NAME["cx.alerts_local"].sql
    assert "'{replica}', revision)" in alerts  # the version column of ReplacingMergeTree(revision)
    assert "ORDER BY alert_id" in alerts


def test_every_fact_table_gets_a_distributed_table_under_its_own_name() -> None:
    expected = {
        "cx.ingest": "cityHash64(if(customer_id != '', customer_id, id))",
        "cx.events": "cityHash64(if(customer_id != '', customer_id, id))",
        "cx.timeline": "cityHash64(customer_id)",
        "cx.customer_profile_state": "cityHash64(customer_id)",
        "cx.alerts": "cityHash64(if(customer_id != '', customer_id, alert_id))",
        "cx.dead_letters": (
            "cityHash64(source_topic, source_partition, source_offset, value_sha256)"
        ),
    }
    assert set(expected) <= set(SHARDED)
    for name, key in expected.items():
        database, table = name.split(".")
        assert SHARDED[name].sharding_key == key, name
        assert BY_NAME[name].kind == "distributed"
        assert BY_NAME[name].sql.endswith(
            f"AS {name}_local\nENGINE = Distributed("
            f"'{{cluster}}', {database}, {table}_local, {key})"
        )


def test_materialized_views_read_and_write_local_tables_only() -> None:
    views = [s for s in STATEMENTS if s.kind == "materialized_view"]
    assert {v.name for v in views} >= {"cx.events_mv", "cx.timeline_mv", "cx.customer_profile_mv"}
    for view in views:
        code = re.sub(r"'(?:[^'\\]|\\.)*'", "''", view.sql.split("\n", 1)[1])
        referenced = set(re.findall(r"\b(cx\.\w+)", code))
        assert referenced, view.name
        assert all(name.endswith("_local") for name in referenced), (view.name, referenced)


def test_plain_views_read_the_distributed_tables() -> None:
    profile = BY_NAME["cx.customer_profile"]
    assert profile.kind == "view"
    assert "FROM cx.customer_profile_state\n" in profile.sql


def test_string_literals_are_not_renamed() -> None:
    migration = Migration(
        9999,
        "literal",
        "CREATE TABLE cx.t (id String, customer_id String) ENGINE = MergeTree ORDER BY id;\n"
        "CREATE TABLE cx.u (id String) ENGINE = MergeTree ORDER BY id;\n"
        "CREATE MATERIALIZED VIEW cx.u_mv TO cx.u AS SELECT id FROM cx.t WHERE id != 'cx.t'",
    )
    (*_, view, _ledger_row) = cluster_statements(migrations=[migration])
    assert "FROM cx.t_local WHERE id != 'cx.t'" in view.sql


def test_a_custom_cluster_name_is_used_everywhere() -> None:
    ddl = "\n".join(s.sql for s in cluster_statements("prod"))
    assert "ON CLUSTER 'prod'" in ddl and "Distributed('prod', cx," in ddl
    assert "{cluster}" not in ddl
    with pytest.raises(ClusterSchemaError):
        cluster_statements("prod'; DROP TABLE x")


@pytest.mark.parametrize(
    "sql",
    [
        "OPTIMIZE TABLE cx.events FINAL",
        "CREATE TABLE cx.m (a UInt8) ENGINE = Memory",
        "CREATE MATERIALIZED VIEW cx.v ENGINE = MergeTree ORDER BY a AS SELECT 1 AS a",
    ],
)
def test_statements_without_a_translation_fail_loudly(sql: str) -> None:
    with pytest.raises(ClusterSchemaError, match="cluster"):
        cluster_statements(migrations=[Migration(9999, "new", sql)])


# --- deploy/clickhouse/cluster.sql --------------------------------------------------------------


def test_checked_in_cluster_sql_is_current() -> None:
    assert CLUSTER_SQL.exists(), REGENERATE
    assert CLUSTER_SQL.read_text(encoding="utf-8") == cluster_ddl(), f"stale; {REGENERATE}"
    assert main(["--check"]) == 0


def test_check_mode_reports_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    stale = tmp_path / "cluster.sql"
    stale.write_text("-- old\n")
    assert main(["--check", "--output", str(stale)]) == 1
    assert "stale" in capsys.readouterr().err
    assert main(["--write", "--output", str(stale)]) == 0
    assert main(["--check", "--output", str(stale)]) == 0


# --- executed on ClickHouse (chDB) --------------------------------------------------------------


def test_cluster_ddl_parses_and_its_replicated_tables_execute_on_clickhouse(
    tmp_path: Path,
) -> None:
    explain = [f"EXPLAIN AST {s.sql}" for s in STATEMENTS]
    # Replicated tables and the Distributed tables in front of them, as a server creates them.
    # chDB never activates a replica (no server threads), so what writes to one (ALTER, INSERT)
    # is exercised by the next test, on the same DDL without the replication.
    created = [
        without_on_cluster(s.sql)
        for s in STATEMENTS
        if s.kind in ("database", "local", "distributed") or s.sql.startswith("CREATE TABLE")
    ]
    reads = [f"SELECT count() AS n FROM {s.name}" for s in STATEMENTS if s.kind == "distributed"]
    replicas = ["SELECT table, zookeeper_path, replica_name FROM system.replicas"]
    jobs = explain + created + reads + replicas
    results = run_on_chdb(tmp_path, jobs)
    problems = failures(jobs[:-1], results[:-1])
    assert not problems, "\n".join(problems)
    found = {r["table"]: r for r in rows(results[-1])}
    for table in (t for t in SHARDED.values() if t.engine != "Null"):
        assert (found[table.local]["zookeeper_path"], found[table.local]["replica_name"]) == (
            f"/clickhouse/tables/01/cx/{table.local}",
            "r1",
        )
    ledger = found["schema_migrations"]
    assert (ledger["zookeeper_path"], ledger["replica_name"]) == (
        "/clickhouse/tables/all/cx/schema_migrations",
        "01-r1",
    )


def test_writes_through_the_distributed_tables_reach_every_read_model(tmp_path: Path) -> None:
    ingest = [
        {
            "id": "e1",
            "customer_id": "c1",
            "type": "cx.feedback.survey.v1",
            "time": "2026-03-01 10:00:00",
            "nps": 3,
        },
        {
            "id": "e2",
            "customer_id": "c1",
            "type": "cx.touchpoint.contact.v1",
            "time": "2026-03-01 11:00:00",
            "is_contact": 1,
            "channel": "phone",
        },
        {
            "id": "e3",
            "customer_id": "",
            "type": "cx.campaign.sent.v1",
            "time": "2026-03-01 12:00:00",
        },
    ]
    alert = {"alert_id": "a1", "revision": 1, "customer_id": "c1", "kind": "customer.detractor"}
    setup = [unreplicated(without_on_cluster(s.sql)) for s in STATEMENTS]
    writes = [
        "INSERT INTO cx.ingest SETTINGS distributed_foreground_insert=1 FORMAT JSONEachRow\n"
        + "\n".join(json.dumps(row) for row in ingest),
        "INSERT INTO cx.alerts SETTINGS distributed_foreground_insert=1 FORMAT JSONEachRow\n"
        + json.dumps(alert),
    ]
    reads = [
        "SELECT version FROM cx.schema_migrations FINAL ORDER BY version",
        "SELECT id FROM cx.events ORDER BY id",
        "SELECT event_id FROM cx.timeline WHERE customer_id = 'c1' ORDER BY time",
        "SELECT customer_id, latest_nps, contacts_by_channel FROM cx.customer_profile",
        "SELECT alert_id FROM cx.alerts FINAL",
        "SELECT count() AS n FROM cx.ingest",
    ]
    results = run_on_chdb(tmp_path, setup + writes + reads)
    jobs = setup + writes
    assert not failures(jobs, results[: len(jobs)]), failures(jobs, results[: len(jobs)])
    ledger, events, timeline, profile, alerts, ingested = (rows(r) for r in results[len(jobs) :])
    # `touchstream up` reads this ledger and finds every migration applied
    assert [r["version"] for r in ledger] == [m.version for m in available()]
    assert [r["id"] for r in events] == ["e1", "e2", "e3"]
    assert [r["event_id"] for r in timeline] == ["e1", "e2"]
    assert profile == [{"customer_id": "c1", "latest_nps": 3, "contacts_by_channel": {"phone": 1}}]
    assert alerts == [{"alert_id": "a1"}]
    assert ingested == [{"n": 0}]  # the Null ingest table keeps nothing
