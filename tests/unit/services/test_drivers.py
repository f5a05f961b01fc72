"""Key-driver analysis from events to ranking: synthetic surveys whose true drivers are known go
through the read models (`cx.driver_inputs`) and the analysis must rank them in the right order."""

from __future__ import annotations

import math
import random

import pytest

from tests.unit.projections.conftest import churned, open_migrated, survey
from tests.unit.projections.test_experience_analytics import project
from touchstream.projections import queries
from touchstream.services.drivers import analyse, as_json, render

#: How much each touchpoint's experience moves overall NPS (and churn): the truth to recover.
CUSTOMERS = 1200
TRUE_EFFECT = {"delivery": 0.6, "billing": 0.35, "checkout": 0.15, "website": 0.0}


def synthetic_customers(
    count: int, seed: int, prefix: str = "c", touchpoint_prefix: str = ""
) -> list:
    """Customers whose touchpoint ratings drive their NPS and churn by `TRUE_EFFECT`."""
    rng = random.Random(seed)
    events = []
    for n in range(count):
        customer = f"{prefix}-{n:04d}"
        general = rng.gauss(0, 1)  # a customer happy at one touchpoint tends to be at others
        experience = {tp: 0.5 * general + rng.gauss(0, 1) for tp in TRUE_EFFECT}
        for minute, (touchpoint, value) in enumerate(experience.items()):
            csat = min(5, max(1, round(3 + 1.2 * value)))
            events.append(
                survey(
                    f"{customer}-{touchpoint}",
                    minute,
                    customer_id=customer,
                    nps=None,
                    touchpoint=touchpoint_prefix + touchpoint,
                    csat=csat,
                )
            )
        drive = sum(TRUE_EFFECT[tp] * value for tp, value in experience.items())
        nps = min(10, max(0, round(6 + 2.5 * drive + rng.gauss(0, 1))))
        events.append(
            survey(f"{customer}-overall", 10, customer_id=customer, nps=nps, touchpoint="overall")
        )
        if rng.random() < 1 / (1 + math.exp(1.5 + 2.5 * drive)):
            events.append(churned(f"{customer}-churned", 20, customer_id=customer))
    return events


@pytest.fixture(scope="module")
def driver_rows(tmp_path_factory):
    warehouse = open_migrated(tmp_path_factory.mktemp("drivers") / "warehouse")
    try:
        project(warehouse, synthetic_customers(CUSTOMERS, seed=7))
        return warehouse.query(queries.DRIVER_INPUTS)
    finally:
        warehouse.close()


def test_the_true_drivers_of_nps_and_churn_are_recovered_in_order(driver_rows):
    nps, churn = analyse(driver_rows, ["nps", "churn"], min_respondents=30, bootstrap=100)
    expected = ["delivery", "billing", "checkout", "website"]
    assert [d.name for d in nps.drivers] == expected
    assert [d.name for d in churn.drivers] == expected
    assert nps.rows == CUSTOMERS
    assert all(d.respondents == CUSTOMERS for d in nps.drivers)
    assert nps.drivers[0].share > 0.5
    assert nps.drivers[0].ci_low > nps.drivers[1].ci_high  # delivery clearly first
    assert all(d.correlation > 0 for d in nps.drivers[:3])  # better experience, higher NPS
    assert all(d.correlation < 0 for d in churn.drivers[:3])  # ... and less churn


def test_a_touchpoint_rated_by_too_few_customers_is_left_out_with_the_reason(driver_rows):
    rare = [dict(row, touchpoint="store") for row in driver_rows[:40:4]]  # 10 customers
    (nps,) = analyse(driver_rows + rare, ["nps"], min_respondents=30, bootstrap=0)
    assert "store" not in [d.name for d in nps.drivers]
    assert "10 respondents" in nps.excluded["store"]


def test_too_little_data_is_explained_not_raised(driver_rows):
    (result,) = analyse(driver_rows[:3], ["nps"], min_respondents=1, bootstrap=0)
    assert isinstance(result, str)
    assert "not enough data" in result


def test_the_report_shows_method_sample_size_and_intervals(driver_rows):
    (nps,) = analyse(driver_rows, ["nps"], min_respondents=30, bootstrap=50)
    report = as_json(nps)
    assert report["method"] == "relative weights (Johnson 2000)"
    assert report["rows"] == CUSTOMERS
    assert report["drivers"][0]["touchpoint"] == "delivery"
    table = render(nps)
    assert f"{CUSTOMERS:,} customers" in str(table.caption)
    assert table.row_count == 4
