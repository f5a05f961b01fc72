"""The value model end to end: purchases posted to the gateway are fitted (`touchstream value
--fit` through the running `up`), every buyer gets a value and a tier, and a lapsed customer's
churn alert carries the engagement signal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tests.e2e.conftest import Runtime, eventually
from tests.e2e.test_pipeline import event, unhappy_journey
from tests.unit.projections.test_value_model import simulated_purchases

pytestmark = pytest.mark.e2e

#: Later than every other test's events: the fit observes up to the stream time.
START = datetime(2035, 1, 1, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_purchases_are_valued_and_a_lapsed_buyer_is_flagged_by_engagement(runtime: Runtime):
    tag = uuid.uuid4().hex[:6]
    ids, times, amounts = simulated_purchases(400, weeks=52, seed=5)
    shift = START - min(times)
    purchases = [
        event(
            "cx.commerce.purchase.v1",
            {
                "customer_id": f"v{tag}-{customer}",
                "order_id": f"o-{n}",
                "amount": str(amount),
                "currency": "CNY",
                "channel": "web",
            },
            time=iso(moment + shift),
        )
        for n, (customer, moment, amount) in enumerate(zip(ids, times, amounts, strict=True))
    ]
    # a regular buyer who stopped ten months ago, then is let down
    lapsed = f"v{tag}-lapsed"
    for week in range(10):
        data = {
            "customer_id": lapsed,
            "order_id": f"lapsed-{week}",
            "amount": "300",
            "currency": "CNY",
            "channel": "app",
        }
        purchases.append(
            event("cx.commerce.purchase.v1", data, time=iso(START + timedelta(weeks=week)))
        )
    let_down = START + timedelta(weeks=52)
    journey = [
        e | {"time": iso(let_down + timedelta(hours=n))}
        for n, e in enumerate(unhappy_journey(lapsed))
    ]
    for start in range(0, len(purchases), 500):
        assert runtime.client.post_events(purchases[start : start + 500])[0] == 202
    sql = "SELECT count() AS n FROM cx.events WHERE customer_id LIKE {p:String}"
    eventually(
        lambda: int(runtime.client.query(sql, p=f"v{tag}-%")[0]["n"]) == len(purchases),
        timeout=60,
    )

    result = runtime.cli("value", "--fit")
    assert result.returncode == 0, result.stderr
    assert "Value model fitted" in result.stdout.decode()
    valued = runtime.client.query(
        "SELECT customer_id, tier, p_alive, clv FROM cx.customer_value FINAL"
        " WHERE customer_id LIKE {p:String}",
        p=f"v{tag}-%",
    )
    assert len(valued) == len({*ids}) + 1
    assert {row["tier"] for row in valued} == {"top", "high", "medium", "low"}
    (mine,) = [row for row in valued if row["customer_id"] == lapsed]
    assert mine["p_alive"] < 0.05  # ten weekly purchases, then ten months of silence

    assert runtime.client.post_events(journey)[0] == 202
    alerts = "SELECT reasons FROM cx.alerts FINAL WHERE customer_id = {c:String}"
    (alert,) = eventually(lambda: runtime.client.query(alerts, c=lapsed), timeout=20)
    codes = [reason["code"] for reason in orjson.loads(alert["reasons"])]
    assert "engagement_dropping" in codes
