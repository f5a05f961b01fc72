"""The Grafana dashboards show real data: every panel uses a provisioned datasource, every
Prometheus query names metrics Touchstream exports, and every ClickHouse query runs against the
schema the migrations create (on chDB, with Grafana's macros expanded)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.deploy.metric_names import PROMETHEUS_SERIES, exported_names, used_names
from tests.unit.deploy.yaml_subset import parse_yaml_subset
from touchstream.projections.migrations import migrate
from touchstream.projections.read_only_sql import read_only_problem
from touchstream.projections.warehouse import Warehouse, open_warehouse

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD_DIR = ROOT / "deploy/grafana/dashboards"
DATASOURCES = {
    d["uid"]: d["type"]
    for d in parse_yaml_subset(
        (ROOT / "deploy/grafana/provisioning/datasources/touchstream.yml").read_text()
    )["datasources"]
}
DASHBOARDS = {
    path.name: json.loads(path.read_text()) for path in sorted(DASHBOARD_DIR.glob("*.json"))
}

# What the ClickHouse plugin makes of its macros, near enough to run the query.
MACROS = [
    (
        re.compile(r"\$__timeFilter(?:_ms)?\((\w+)\)"),
        r"\1 >= now() - INTERVAL 1 DAY AND \1 <= now()",
    ),
    (
        re.compile(r"\$__timeInterval(?:_ms)?\((\w+)\)"),
        r"toStartOfInterval(\1, INTERVAL 60 SECOND)",
    ),
    (re.compile(r"\$__fromTime\b"), "(now() - INTERVAL 1 DAY)"),
    (re.compile(r"\$__toTime\b"), "now()"),
]


def panels() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, dashboard in DASHBOARDS.items():
        for panel in dashboard["panels"]:
            yield f"{name}: {panel['title']}", panel


def targets(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (label, target)
        for label, panel in panels()
        for target in panel["targets"]
        if DATASOURCES.get(target["datasource"]["uid"]) == kind
    ]


def expand_macros(sql: str) -> str:
    for pattern, replacement in MACROS:
        sql = pattern.sub(replacement, sql)
    assert "$" not in sql, f"unknown Grafana macro or variable in {sql}"
    return sql


def test_the_four_dashboards_exist_with_unique_uids() -> None:
    assert set(DASHBOARDS) == {
        "pipeline-health.json",
        "alerts.json",
        "satisfaction.json",
        "touchpoint-health.json",
    }
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert len(set(uids)) == len(uids)
    assert all(d["title"] and d["panels"] for d in DASHBOARDS.values())


def test_panels_have_unique_ids_and_fit_the_grid() -> None:
    for name, dashboard in DASHBOARDS.items():
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(set(ids)) == len(ids), name
        for panel in dashboard["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, (name, panel["title"])
            assert panel["targets"], (name, panel["title"])


def test_every_datasource_uid_is_provisioned_with_its_type() -> None:
    for label, panel in panels():
        for ref in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
            assert ref["uid"] in DATASOURCES, f"{label}: unknown datasource {ref['uid']}"
            assert DATASOURCES[ref["uid"]] == ref["type"], label


def test_every_prometheus_metric_in_a_panel_is_exported() -> None:
    exported = exported_names()
    prometheus = targets("prometheus")
    assert prometheus
    for label, target in prometheus:
        names = used_names(target["expr"])
        assert names or set(re.findall(r"\w+", target["expr"])) & PROMETHEUS_SERIES, label
        assert names <= exported, f"{label}: {sorted(names - exported)} not in services/metrics.py"


@pytest.fixture(scope="module")
def warehouse() -> Iterator[Warehouse]:
    wh = open_warehouse("chdb://:memory:")
    migrate(wh)
    yield wh
    wh.close()


def test_every_clickhouse_query_runs_on_the_schema(warehouse: Warehouse) -> None:
    clickhouse = targets("grafana-clickhouse-datasource")
    assert clickhouse
    for label, target in clickhouse:
        sql = expand_macros(target["rawSql"])
        try:
            warehouse.query(sql)
        except Exception as exc:
            pytest.fail(f"{label}: {exc}")


def test_every_clickhouse_query_also_reads_through_the_embedded_endpoint() -> None:
    for label, target in targets("grafana-clickhouse-datasource"):
        assert read_only_problem(expand_macros(target["rawSql"])) is None, label
