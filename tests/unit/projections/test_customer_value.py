"""Customer value: Gamma-Gamma reproduces Fader, Hardie & Lee (2005, JMR) on CDNOW, CLV
discounts the BG/NBD forecast sensibly, and value tiers follow CLV."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from touchstream.projections.bgnbd import (
    BgNbdParams,
    expected_purchases,
    fit_bgnbd,
    summarize_transactions,
)
from touchstream.projections.customer_value import (
    GammaGammaParams,
    customer_lifetime_value,
    expected_average_spend,
    fit_gamma_gamma,
    value_tier,
    value_tier_thresholds,
)

CDNOW = Path(__file__).parents[2] / "data" / "cdnow"
MONTH_IN_WEEKS = 52 / 12


@pytest.fixture(scope="module")
def summary() -> np.ndarray:
    """x, t_x, T (weeks) and zbar, the mean of each customer's repeat purchases in dollars."""
    return np.genfromtxt(
        CDNOW / "cdnow_customers_summary_with_transactions.csv", delimiter=",", names=True
    )


@pytest.fixture(scope="module")
def bgnbd(summary: np.ndarray) -> BgNbdParams:
    return fit_bgnbd(summary["x"], summary["t_x"], summary["T"])


@pytest.fixture(scope="module")
def spend(summary: np.ndarray) -> GammaGammaParams:
    return fit_gamma_gamma(summary["x"], summary["zbar"])


@pytest.fixture(scope="module")
def clv(summary: np.ndarray, bgnbd: BgNbdParams, spend: GammaGammaParams) -> np.ndarray:
    x, t_x, T, zbar = summary["x"], summary["t_x"], summary["T"], summary["zbar"]
    return customer_lifetime_value(bgnbd, spend, x, t_x, T, zbar, 12, 0.01, period_length=4.33)


def test_gamma_gamma_on_cdnow_repeat_customers_reproduces_the_paper(
    spend: GammaGammaParams,
) -> None:
    assert spend.converged
    assert spend.n_customers == 946  # the customers with at least one repeat purchase
    assert spend.p == pytest.approx(6.25, rel=0.01)
    assert spend.q == pytest.approx(3.74, rel=0.01)
    assert spend.v == pytest.approx(15.44, rel=0.01)


def test_the_raw_transaction_log_leads_to_the_same_fits_as_the_published_summary(
    bgnbd: BgNbdParams, spend: GammaGammaParams
) -> None:
    rows = np.loadtxt(CDNOW / "CDNOW_sample.txt", dtype=str)
    days = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in rows[:, 2]], dtype="datetime64[D]")
    built = summarize_transactions(
        rows[:, 1], days, rows[:, 4].astype(float), np.datetime64("1997-09-30"), timedelta(weeks=1)
    )
    from_raw = fit_bgnbd(built.frequency, built.recency, built.age)
    assert from_raw.r == pytest.approx(bgnbd.r, rel=1e-3)
    assert from_raw.b == pytest.approx(bgnbd.b, rel=1e-3)
    spend_from_raw = fit_gamma_gamma(built.frequency, built.monetary_value)
    assert spend_from_raw.p == pytest.approx(spend.p, rel=1e-3)
    assert spend_from_raw.v == pytest.approx(spend.v, rel=1e-3)


def test_expected_spend_shrinks_a_customers_own_average_towards_the_base(
    spend: GammaGammaParams,
) -> None:
    base = spend.p * spend.v / (spend.q - 1)
    own = np.array([5.0, 200.0])
    expected = expected_average_spend(spend, [2, 2], own)
    assert own[0] < expected[0] < base < expected[1] < own[1]
    # The more purchases behind the average, the more it is believed.
    many = expected_average_spend(spend, [2, 20, 200], 200.0)
    assert np.all(np.diff(many) > 0) and many[-1] == pytest.approx(200.0, rel=0.02)
    # A customer without repeat purchases is expected to spend the base's mean.
    assert expected_average_spend(spend, 0, 123.0) == pytest.approx(base)


def test_expected_spend_needs_a_finite_mean() -> None:
    heavy_tailed = GammaGammaParams(
        p=2.0, q=0.9, v=10.0, log_likelihood=0.0, n_customers=1, converged=True
    )
    with pytest.raises(ValueError, match="q > 1"):
        expected_average_spend(heavy_tailed, 3, 20.0)


def test_gamma_gamma_needs_repeat_customers_with_positive_spend() -> None:
    with pytest.raises(ValueError, match="no repeat customers"):
        fit_gamma_gamma([0, 0], [0.0, 0.0])
    with pytest.raises(ValueError, match="positive"):
        fit_gamma_gamma([1, 2], [10.0, 0.0])


def test_undiscounted_clv_is_expected_purchases_times_expected_spend(
    bgnbd: BgNbdParams, spend: GammaGammaParams
) -> None:
    value = customer_lifetime_value(
        bgnbd, spend, 2, 30.43, 38.86, 22.35, 12, 0.0, period_length=MONTH_IN_WEEKS
    )
    purchases = expected_purchases(bgnbd, 52, 2, 30.43, 38.86)
    assert value == pytest.approx(purchases * expected_average_spend(spend, 2, 22.35))


def test_discounting_lowers_clv_and_a_longer_horizon_raises_it(
    summary: np.ndarray, bgnbd: BgNbdParams, spend: GammaGammaParams
) -> None:
    x, t_x, T, zbar = summary["x"], summary["t_x"], summary["T"], summary["zbar"]
    values = {
        (horizon, rate): customer_lifetime_value(bgnbd, spend, x, t_x, T, zbar, horizon, rate)
        for horizon in (0, 26, 52)
        for rate in (0.0, 0.01)
    }
    assert np.all(values[(0, 0.0)] == 0.0)
    assert np.all(values[(52, 0.01)] < values[(52, 0.0)])
    assert np.all(values[(26, 0.01)] < values[(52, 0.01)])


def test_clv_rewards_recent_frequent_big_spenders(
    bgnbd: BgNbdParams, spend: GammaGammaParams
) -> None:
    def value(x: float, t_x: float, zbar: float) -> float:
        clv = customer_lifetime_value(
            bgnbd, spend, x, t_x, 38.86, zbar, 12, 0.01, period_length=MONTH_IN_WEEKS
        )
        return float(clv)

    assert value(5, 38.0, 30.0) > value(5, 10.0, 30.0)  # recent beats lapsed
    assert value(5, 38.0, 30.0) > value(1, 38.0, 30.0)  # frequent beats occasional
    assert value(5, 38.0, 60.0) > value(5, 38.0, 30.0)  # big spender beats small


def test_value_tiers_follow_clv(clv: np.ndarray) -> None:
    tiers = value_tier(clv)
    rank = {"low": 0, "medium": 1, "high": 2, "top": 3}
    ranks = np.array([rank[t] for t in tiers[np.argsort(clv)]])
    assert np.all(np.diff(ranks) >= 0)
    # Ties (e.g. one-time buyers of one age) share a tier, so shares are approximate.
    share = {tier: float(np.mean(tiers == tier)) for tier in rank}
    assert share["top"] == pytest.approx(0.10, abs=0.01)
    assert share["high"] + share["top"] == pytest.approx(0.30, abs=0.02)
    assert share["low"] == pytest.approx(0.40, abs=0.02)


def test_distinct_values_split_ten_twenty_thirty_forty() -> None:
    tiers = value_tier(np.arange(1000.0))
    counts = {tier: int(np.sum(tiers == tier)) for tier in ("top", "high", "medium", "low")}
    assert counts == {"top": 100, "high": 200, "medium": 300, "low": 400}


def test_a_newcomer_is_tiered_against_the_base(clv: np.ndarray) -> None:
    limits = value_tier_thresholds(clv)
    assert limits.top > limits.high > limits.medium
    newcomers = value_tier([limits.top, limits.high, limits.medium, limits.medium - 0.01], limits)
    assert list(newcomers) == ["top", "high", "medium", "low"]
    assert value_tier([]).shape == (0,)
