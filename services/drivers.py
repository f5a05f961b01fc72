"""`touchstream drivers`: which touchpoints matter most for NPS and for churn, as a table.

Reads `cx.driver_inputs` (one row per customer and rated touchpoint), pivots it per customer and
runs the relative-weights analysis of projections/key_drivers.py for each outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table

from touchstream.projections.key_drivers import DriverAnalysis, driver_inputs, relative_weights

OUTCOMES = ("nps", "churn")


def analyse(
    rows: Sequence[dict[str, Any]], outcomes: Sequence[str], min_respondents: int, bootstrap: int
) -> list[DriverAnalysis | str]:
    """One analysis per outcome, or the reason it could not be run."""
    inputs = driver_inputs(rows)
    results: list[DriverAnalysis | str] = []
    for outcome in outcomes:
        target = inputs.nps if outcome == "nps" else inputs.churned
        label = "latest NPS (0-10)" if outcome == "nps" else "churned (0/1)"
        try:
            results.append(
                relative_weights(
                    inputs.ratings,
                    target,
                    inputs.touchpoints,
                    outcome=label,
                    binary=outcome == "churn",
                    bootstrap=bootstrap,
                    min_respondents=min_respondents,
                )
            )
        except ValueError as exc:
            results.append(f"{label}: not enough data for a driver analysis: {exc}")
    return results


def render(analysis: DriverAnalysis) -> Table:
    r2 = "pseudo-R²" if "logistic" in analysis.method else "R²"
    caption = (
        f"{analysis.method}; {analysis.rows:,} customers; {r2} = {analysis.r_squared:.3f}; "
        f"95% bootstrap intervals over {analysis.resamples} resamples"
    )
    left_out = [f"{name} ({why})" for name, why in sorted(analysis.excluded.items())]
    if left_out:
        caption += "; left out: " + ", ".join(left_out)
    table = Table(title=f"Key drivers of {analysis.outcome}", caption=caption)
    for column in ("rank", "touchpoint", "share", "95% interval", "weight", "rated by", "sign"):
        left = column == "touchpoint"
        table.add_column(column, justify="left" if left else "right", no_wrap=left)
    for rank, driver in enumerate(analysis.drivers, 1):
        table.add_row(
            str(rank),
            driver.name,
            f"{driver.share:.1%}",
            f"{driver.ci_low:.1%} - {driver.ci_high:.1%}",
            f"{driver.weight:.4f}",
            f"{driver.respondents:,}",
            "+" if driver.correlation >= 0 else "-",
        )
    return table


def as_json(analysis: DriverAnalysis) -> dict[str, Any]:
    return {
        "outcome": analysis.outcome,
        "method": analysis.method,
        "rows": analysis.rows,
        "r_squared": analysis.r_squared,
        "resamples": analysis.resamples,
        "drivers": [
            {
                "touchpoint": d.name,
                "weight": d.weight,
                "share": d.share,
                "ci_low": d.ci_low,
                "ci_high": d.ci_high,
                "respondents": d.respondents,
                "correlation": d.correlation,
            }
            for d in analysis.drivers
        ],
        "excluded": analysis.excluded,
    }
