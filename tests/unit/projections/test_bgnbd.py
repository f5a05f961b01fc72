"""BG/NBD: the fit reproduces Fader, Hardie & Lee (2005) on their CDNOW sample, and the
per-customer predictions behave as the model says they must."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from touchstream.projections.bgnbd import (
    BgNbdParams,
    expected_purchases,
    fit_bgnbd,
    log_likelihood,
    p_alive,
    summarize_transactions,
)

CDNOW = Path(__file__).parents[2] / "data" / "cdnow"
# The paper's 39-week calibration period: 1997-01-01 to 1997-09-30; the holdout runs 39
# more weeks, to 1998-06-30.
CALIBRATION_END = np.datetime64("1997-09-30")
HOLDOUT_END = np.datetime64("1998-06-30")
WEEK = timedelta(weeks=1)
PAPER = BgNbdParams(
    r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=-9582.4, n_customers=2357, converged=True
)


@pytest.fixture(scope="module")
def summary() -> np.ndarray:
    return np.genfromtxt(CDNOW / "cdnow_customers_summary.csv", delimiter=",", names=True)


@pytest.fixture(scope="module")
def transactions() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CDNOW_sample.txt: master id, sample id (the summary's ID), yyyymmdd, CDs, dollars."""
    rows = np.loadtxt(CDNOW / "CDNOW_sample.txt", dtype=str)
    days = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in rows[:, 2]], dtype="datetime64[D]")
    return rows[:, 1].astype(int), days, rows[:, 4].astype(float)


@pytest.fixture(scope="module")
def fitted(summary: np.ndarray) -> BgNbdParams:
    return fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])


def test_fit_on_cdnow_reproduces_the_papers_parameters(fitted: BgNbdParams) -> None:
    assert fitted.converged
    assert fitted.n_customers == 2357
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fitted, name) == pytest.approx(getattr(PAPER, name), rel=0.01), name


def test_fit_on_cdnow_reaches_the_papers_log_likelihood(
    summary: np.ndarray, fitted: BgNbdParams
) -> None:
    assert fitted.log_likelihood == pytest.approx(-9582.4, abs=0.5)
    at_paper = log_likelihood(PAPER, summary["frequency"], summary["recency"], summary["T"])
    assert at_paper == pytest.approx(-9582.4, abs=0.5)
    assert fitted.log_likelihood >= at_paper


def test_fitting_the_cdnow_base_takes_well_under_a_second_or_two(summary: np.ndarray) -> None:
    started = time.perf_counter()
    fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
    assert time.perf_counter() - started < 2.0


def test_conditional_expectation_matches_the_papers_worked_example() -> None:
    # Fader, Hardie & Lee's worked example (CDNOW customer 1): x = 2, t_x = 30.43, T = 38.86
    # is expected to make 1.226 purchases in the next 39 weeks.
    assert expected_purchases(PAPER, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=5e-4)


def test_forecast_for_the_holdout_period_is_close_to_what_cdnow_customers_bought(
    transactions: tuple[np.ndarray, np.ndarray, np.ndarray], fitted: BgNbdParams
) -> None:
    ids, days, amounts = transactions
    calibration = summarize_transactions(ids, days, amounts, CALIBRATION_END, WEEK)
    through_holdout = summarize_transactions(ids, days, amounts, HOLDOUT_END, WEEK)
    bought = through_holdout.frequency - calibration.frequency
    forecast = expected_purchases(
        fitted, 39, calibration.frequency, calibration.recency, calibration.age
    )
    assert forecast.sum() == pytest.approx(bought.sum(), rel=0.15)
    # Customers forecast to buy more did buy more.
    top = forecast >= np.quantile(forecast, 0.9)
    assert bought[top].mean() > 5 * bought[~top].mean()


def test_p_alive_is_a_probability_and_one_without_repeat_purchases(
    summary: np.ndarray, fitted: BgNbdParams
) -> None:
    alive = p_alive(fitted, summary["frequency"], summary["recency"], summary["T"])
    assert np.all((alive >= 0) & (alive <= 1))
    # In the BG/NBD a customer can only drop out just after a purchase.
    assert np.all(alive[summary["frequency"] == 0] == 1.0)
    assert p_alive(fitted, 0, 0, 500.0) == 1.0


def test_p_alive_falls_the_longer_ago_the_last_purchase(fitted: BgNbdParams) -> None:
    last_purchase = np.linspace(38.86, 1.0, 40)  # ever longer before the end of observation
    for x in (1, 3, 10):
        alive = p_alive(fitted, x, last_purchase, 38.86)
        assert np.all(np.diff(alive) < 0), x
    older = p_alive(fitted, 3, 20.0, np.linspace(20.0, 100.0, 40))
    assert np.all(np.diff(older) < 0)


def test_recent_frequent_buyers_are_expected_to_buy_more(fitted: BgNbdParams) -> None:
    frequency = np.arange(0, 30)
    recency = np.where(frequency > 0, 38.0, 0.0)
    expected = expected_purchases(fitted, 39, frequency, recency, 38.86)
    assert np.all(np.diff(expected) > 0)


def test_expected_purchases_grow_with_the_horizon_from_zero(fitted: BgNbdParams) -> None:
    horizon = np.linspace(0.0, 200.0, 50)
    expected = expected_purchases(fitted, horizon, 4, 30.0, 38.86)
    assert expected[0] == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.diff(expected) > 0)
    # Broadcasting: one horizon per row, one customer per column.
    grid = expected_purchases(fitted, horizon[:, None], [0, 4], [0.0, 30.0], 38.86)
    assert grid.shape == (50, 2)
    np.testing.assert_allclose(grid[:, 1], expected)


def test_heavy_buyers_get_finite_forecasts(fitted: BgNbdParams) -> None:
    expected = expected_purchases(fitted, 39, [200, 1000], [38.8, 38.8], 38.86)
    alive = p_alive(fitted, [200, 1000], [1.0, 1.0], 38.86)
    assert np.all(np.isfinite(expected)) and np.all(expected > 0)
    assert np.all(np.isfinite(alive)) and np.all(alive < 1e-6)


def test_fit_recovers_the_parameters_of_a_simulated_customer_base() -> None:
    truth = BgNbdParams(
        r=0.5, alpha=6.0, a=0.8, b=2.5, log_likelihood=0.0, n_customers=0, converged=True
    )
    x, t_x, T = _simulate(np.random.default_rng(0), truth, 20_000)
    fitted = fit_bgnbd(x, t_x, T)
    assert fitted.converged
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fitted, name) == pytest.approx(getattr(truth, name), rel=0.15), name


def test_duplicated_customers_fit_the_same_parameters(summary: np.ndarray) -> None:
    x, t_x, T = summary["frequency"], summary["recency"], summary["T"]
    once = fit_bgnbd(x, t_x, T)
    twice = fit_bgnbd(np.tile(x, 2), np.tile(t_x, 2), np.tile(T, 2))
    assert twice.r == pytest.approx(once.r, rel=1e-4)
    assert twice.b == pytest.approx(once.b, rel=1e-4)
    assert twice.log_likelihood == pytest.approx(2 * once.log_likelihood, rel=1e-6)


def test_penalizer_shrinks_the_parameters(summary: np.ndarray, fitted: BgNbdParams) -> None:
    shrunk = fit_bgnbd(summary["frequency"], summary["recency"], summary["T"], penalizer=0.1)

    def size(p: BgNbdParams) -> float:
        return p.r**2 + p.alpha**2 + p.a**2 + p.b**2

    assert size(shrunk) < size(fitted)
    assert shrunk.log_likelihood < fitted.log_likelihood


def test_a_base_where_nobody_came_back_still_fits_to_finite_parameters() -> None:
    fitted = fit_bgnbd([0, 0, 0, 1], [0.0, 0.0, 0.0, 3.0], [10.0] * 4, penalizer=0.01)
    values = [fitted.r, fitted.alpha, fitted.a, fitted.b, fitted.log_likelihood]
    assert np.all(np.isfinite(values))


@pytest.mark.parametrize(
    ("x", "t_x", "T"),
    [([-1], [0.0], [5.0]), ([1.5], [1.0], [5.0]), ([2], [6.0], [5.0]), ([], [], [])],
)
def test_fit_rejects_impossible_summaries(x: list, t_x: list, T: list) -> None:
    with pytest.raises(ValueError):
        fit_bgnbd(x, t_x, T)


def test_summaries_of_the_raw_cdnow_log_match_the_published_summary(
    transactions: tuple[np.ndarray, np.ndarray, np.ndarray], summary: np.ndarray
) -> None:
    ids, days, amounts = transactions
    built = summarize_transactions(ids, days, amounts, CALIBRATION_END, WEEK)
    assert list(built.customer_ids) == list(summary["ID"].astype(int))
    np.testing.assert_array_equal(built.frequency, summary["frequency"])
    np.testing.assert_allclose(built.recency, summary["recency"], atol=0.005)
    np.testing.assert_allclose(built.age, summary["T"], atol=0.005)

    with_spend = np.genfromtxt(
        CDNOW / "cdnow_customers_summary_with_transactions.csv", delimiter=",", names=True
    )
    np.testing.assert_allclose(built.monetary_value, with_spend["zbar"], atol=0.005 + 1e-9)


def test_purchases_on_one_day_are_one_occasion_with_their_amounts_added() -> None:
    day = datetime(2026, 3, 1, tzinfo=UTC)
    built = summarize_transactions(
        ["c-1", "c-1", "c-1", "c-1", "c-2"],
        [day, day + timedelta(hours=5), day + timedelta(days=7), day + timedelta(days=7), day],
        [10.0, 5.0, 20.0, 4.0, 99.0],
        day + timedelta(days=14),
    )
    assert list(built.customer_ids) == ["c-1", "c-2"]
    np.testing.assert_array_equal(built.frequency, [1.0, 0.0])
    np.testing.assert_allclose(built.recency, [1.0, 0.0])
    np.testing.assert_allclose(built.age, [2.0, 2.0])
    # Only repeat occasions count for spend; a one-time buyer has none.
    np.testing.assert_allclose(built.monetary_value, [24.0, 0.0])


def test_purchases_after_the_observation_end_are_left_out_and_times_compare_in_utc() -> None:
    shanghai = timezone(timedelta(hours=8))
    built = summarize_transactions(
        ["c-1", "c-1", "c-1"],
        [
            datetime(2026, 3, 1, 7, 0, tzinfo=shanghai),  # 2026-02-28 23:00 UTC
            datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
            datetime(2026, 3, 20, tzinfo=UTC),
        ],
        [1.0, 2.0, 3.0],
        datetime(2026, 3, 14, tzinfo=UTC),
        period=timedelta(days=1),
    )
    np.testing.assert_array_equal(built.frequency, [1.0])
    np.testing.assert_allclose(built.recency, [1.0])
    np.testing.assert_allclose(built.age, [14.0])
    np.testing.assert_allclose(built.monetary_value, [2.0])


def test_a_log_with_nothing_before_the_observation_end_summarises_to_no_customers() -> None:
    built = summarize_transactions(
        ["c-1"], [datetime(2026, 3, 20, tzinfo=UTC)], [5.0], datetime(2026, 3, 14, tzinfo=UTC)
    )
    assert built.customer_ids.size == built.frequency.size == built.monetary_value.size == 0


def _simulate(
    rng: np.random.Generator, params: BgNbdParams, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customers drawn from the BG/NBD story itself: Poisson purchases at a Gamma rate, and
    after each purchase a Beta-distributed chance of never coming back."""
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    drop = rng.beta(params.a, params.b, n)
    age = rng.uniform(20.0, 60.0, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):
        t = rng.exponential(1.0 / rate[i])
        while t <= age[i]:
            x[i] += 1
            t_x[i] = t
            if rng.random() < drop[i]:
                break
            t += rng.exponential(1.0 / rate[i])
    return x, t_x, age
