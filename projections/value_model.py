"""The value model of a customer base, fitted from the warehouse's purchases: BG/NBD for
whether each customer is still active and how often they will buy, Gamma-Gamma for how much,
a discounted lifetime value (CLV) and a value tier per customer.

Pure: `fit_value_model` takes purchases (customer, time, amount) and the observation end, and
returns the model and one `CustomerValue` per customer; the processors refit it on a schedule
and store both (`cx.value_models`, `cx.customer_value`), and churn risk reads P(alive) and the
tier from them (docs/customer-value.md). Time is in weeks, purchases on one UTC day are one
occasion, CLV is 12 monthly periods at 1% a month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import numpy as np

from touchstream.projections.bgnbd import (
    BgNbdParams,
    expected_purchases,
    fit_bgnbd,
    p_alive,
    summarize_transactions,
)
from touchstream.projections.customer_value import (
    GammaGammaParams,
    ValueTierThresholds,
    customer_lifetime_value,
    expected_average_spend,
    fit_gamma_gamma,
    value_tier,
    value_tier_thresholds,
)

PERIOD = timedelta(weeks=1)
HORIZON_MONTHS = 12
MONTHLY_DISCOUNT = 0.01
WEEKS_PER_MONTH = 52 / 12
#: Fewer customers, fewer repeat buyers or a shorter history say too little to fit the model.
MIN_CUSTOMERS = 30
MIN_REPEAT_CUSTOMERS = 10
MIN_HISTORY_WEEKS = 8.0


class NotEnoughPurchases(ValueError):
    """The purchase history is too thin to fit the value model."""


@dataclass(frozen=True, slots=True)
class ValueModel:
    fitted_at: datetime  # the observation end: purchases up to it were used
    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams
    thresholds: ValueTierThresholds  # CLV at the 90th, 70th and 40th percentiles

    def p_alive(self, purchase_times: Sequence[datetime], as_of: datetime) -> float | None:
        """P(still active) of one customer at `as_of` from their purchase times (None without a
        purchase by then; 1 with no repeat purchase, as the BG/NBD has it)."""
        # the summary of `summarize_transactions` for one customer, without its array set-up
        # (this runs once per event of every customer scored)
        days = sorted({t.astimezone(UTC).date() for t in purchase_times if t <= as_of})
        if not days:
            return None
        first, last = (datetime.combine(day, time(), UTC) for day in (days[0], days[-1]))
        x, t_x, age = len(days) - 1, (last - first) / PERIOD, (as_of - first) / PERIOD
        return float(p_alive(self.bgnbd, x, t_x, age))


@dataclass(frozen=True, slots=True)
class CustomerValue:
    customer_id: str
    repeat_purchases: int  # x: purchase occasions after the first
    recency_weeks: float  # t_x
    age_weeks: float  # T
    p_alive: float
    expected_purchases_year: float
    expected_spend: float  # per purchase
    clv: float  # discounted revenue over the next 12 months
    tier: str


def fit_value_model(
    customer_ids: Sequence[str],
    times: Sequence[datetime],
    amounts: Sequence[float],
    observation_end: datetime,
) -> tuple[ValueModel, list[CustomerValue]]:
    """Fit BG/NBD and Gamma-Gamma on the purchases up to `observation_end` and value every
    customer; `NotEnoughPurchases` says why when the history is too thin."""
    summary = summarize_transactions(customer_ids, times, amounts, observation_end, PERIOD)
    customers, repeaters = len(summary.customer_ids), int((summary.frequency > 0).sum())
    history = float(summary.age.max()) if customers else 0.0
    if customers < MIN_CUSTOMERS or repeaters < MIN_REPEAT_CUSTOMERS:
        raise NotEnoughPurchases(
            f"{customers} customers with purchases, {repeaters} of them repeat buyers: "
            f"the value model needs at least {MIN_CUSTOMERS} and {MIN_REPEAT_CUSTOMERS}"
        )
    if history < MIN_HISTORY_WEEKS:
        raise NotEnoughPurchases(
            f"the purchase history spans {history:.1f} weeks: the value model needs at least "
            f"{MIN_HISTORY_WEEKS:.0f} to tell a customer who stopped buying from a slow one"
        )
    x, t_x, T, z = summary.frequency, summary.recency, summary.age, summary.monetary_value
    bgnbd = fit_bgnbd(x, t_x, T)
    gg = fit_gamma_gamma(x, z)
    clv = customer_lifetime_value(
        bgnbd, gg, x, t_x, T, z, HORIZON_MONTHS, MONTHLY_DISCOUNT, period_length=WEEKS_PER_MONTH
    )
    alive = p_alive(bgnbd, x, t_x, T)
    year = expected_purchases(bgnbd, 52.0, x, t_x, T)
    spend = expected_average_spend(gg, x, z)
    if not all(np.isfinite(a).all() for a in (clv, alive, year, spend)):
        raise NotEnoughPurchases(f"the fit is degenerate ({bgnbd}): no value model this time")
    thresholds = value_tier_thresholds(clv)
    tiers = value_tier(clv, thresholds)
    values = [
        CustomerValue(
            customer_id=str(summary.customer_ids[i]),
            repeat_purchases=int(x[i]),
            recency_weeks=round(float(t_x[i]), 4),
            age_weeks=round(float(T[i]), 4),
            p_alive=round(float(alive[i]), 6),
            expected_purchases_year=round(float(year[i]), 4),
            expected_spend=round(float(spend[i]), 2),
            clv=round(float(clv[i]), 2),
            tier=str(tiers[i]),
        )
        for i in np.argsort(summary.customer_ids)
    ]
    return ValueModel(observation_end, bgnbd, gg, thresholds), values
