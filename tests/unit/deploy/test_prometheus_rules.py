"""The Prometheus alert rules watch what operations care about, with metrics that exist, and each
one points at the runbook section that says what to do."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.unit.deploy.metric_names import (
    PROMETHEUS_SERIES,
    exported_names,
    recorded_names,
    used_names,
)
from tests.unit.deploy.yaml_subset import parse_yaml_subset

ROOT = Path(__file__).resolve().parents[3]
RULES = parse_yaml_subset((ROOT / "deploy/prometheus/rules.yml").read_text())
ALL = [rule for group in RULES["groups"] for rule in group["rules"]]
ALERTS = {rule["alert"]: rule for rule in ALL if "alert" in rule}
RECORDED = {rule["record"] for rule in ALL if "record" in rule}


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    out = set()
    for heading in re.findall(r"^#+\s+(.+)$", markdown, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


def test_the_situations_operations_must_hear_about_have_a_rule() -> None:
    assert {
        "TouchstreamLagGrowing",
        "TouchstreamDeadLetterRate",
        "TouchstreamStalledProcessor",
        "TouchstreamIngestErrors",
        "TouchstreamWarehouseWriteFailures",
        "TouchstreamDown",
    } <= set(ALERTS)


def test_every_metric_a_rule_uses_is_exported_or_recorded_here() -> None:
    exported = exported_names()
    for rule in ALL:
        expr = rule["expr"]
        name = rule.get("alert") or rule["record"]
        assert used_names(expr) <= exported, f"{name}: {used_names(expr) - exported}"
        assert recorded_names(expr) <= RECORDED, f"{name}: {recorded_names(expr) - RECORDED}"
        assert (
            used_names(expr)
            or recorded_names(expr)
            or set(re.findall(r"\w+", expr)) & (PROMETHEUS_SERIES)
        ), name


def test_expressions_are_balanced() -> None:
    for rule in ALL:
        expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', rule["expr"])
        for left, right in ("()", "[]", "{}"):
            assert expr.count(left) == expr.count(right), (rule, left)


def test_every_alert_has_a_severity_a_summary_and_a_runbook_section() -> None:
    runbook = anchors((ROOT / "docs/runbook.md").read_text())
    for name, rule in ALERTS.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        annotations: dict[str, Any] = rule["annotations"]
        assert annotations["summary"] and annotations["description"], name
        path, _, anchor = annotations["runbook"].partition("#")
        assert path == "docs/runbook.md" and anchor in runbook, f"{name}: no section #{anchor}"
        duration = rule.get("for", "0m")
        assert re.fullmatch(r"\d+[smh]", duration), name


def test_recording_rules_follow_the_naming_convention() -> None:
    for name in RECORDED:
        level, metric, *operations = name.split(":")
        assert level == "touchstream" and metric and operations, name
