"""The Prometheus sample names Touchstream exports, and the ones an expression uses."""

from __future__ import annotations

import re

from prometheus_client.metrics import MetricWrapperBase

from touchstream.services import metrics

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}
#: Series Prometheus itself adds to every scrape target.
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
_OUR_NAME = re.compile(r"\btouchstream_[a-z0-9_]+\b")
_RECORDED_NAME = re.compile(r"\b[a-z_]+:[a-z0-9_:]+\b")


def exported_names() -> set[str]:
    """Every sample name services/metrics.py can expose (`_total`, `_bucket`, ... included)."""
    names = set()
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
    return names


def used_names(expr: str) -> set[str]:
    """The Touchstream metric names in a PromQL expression."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return set(_OUR_NAME.findall(without_strings))


def recorded_names(expr: str) -> set[str]:
    """Recording-rule names (`level:metric:operations`) in a PromQL expression."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return set(_RECORDED_NAME.findall(without_strings))
