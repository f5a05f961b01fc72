"""Key drivers: relative weights add up to the model's R², reduce to squared correlations when
the drivers are uncorrelated, and rank known drivers of NPS and churn in the right order."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from touchstream.projections.key_drivers import (
    LINEAR_METHOD,
    LOGISTIC_METHOD,
    DriverAnalysis,
    relative_weights,
)

NAMES = ("delivery", "support", "billing", "app")
TRUE_EFFECTS = np.array([0.6, 0.3, 0.1, 0.0])


def correlated_drivers(rows: int, drivers: int, rho: float, seed: int) -> np.ndarray:
    """Standard normal drivers, every pair correlated `rho` through a shared factor."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(rows, 1))
    return np.sqrt(rho) * shared + np.sqrt(1 - rho) * rng.normal(size=(rows, drivers))


def nps_outcome(X: np.ndarray, seed: int) -> np.ndarray:
    return X @ TRUE_EFFECTS + np.random.default_rng(seed).normal(size=len(X))


def churn_outcome(X: np.ndarray, seed: int) -> np.ndarray:
    chance = expit(-0.5 + X @ (2 * TRUE_EFFECTS))
    return (np.random.default_rng(seed).random(len(X)) < chance).astype(float)


def by_name(analysis: DriverAnalysis) -> dict:
    return {driver.name: driver for driver in analysis.drivers}


def test_weights_add_up_to_the_r_squared_of_least_squares() -> None:
    X = correlated_drivers(500, 4, 0.5, seed=1) * [1.0, 3.0, 0.5, 10.0] + 7.0
    y = nps_outcome(X, seed=2)
    analysis = relative_weights(X, y, NAMES, outcome="nps", bootstrap=0)

    design = np.column_stack((np.ones(len(y)), X))
    fitted = design @ np.linalg.lstsq(design, y, rcond=None)[0]
    r_squared = 1 - np.sum((y - fitted) ** 2) / np.sum((y - y.mean()) ** 2)
    assert analysis.r_squared == pytest.approx(r_squared, abs=1e-9)
    assert sum(d.weight for d in analysis.drivers) == pytest.approx(r_squared, abs=1e-9)
    assert sum(d.share for d in analysis.drivers) == pytest.approx(1.0, abs=1e-12)
    assert analysis.method == LINEAR_METHOD
    assert analysis.rows == 500


def test_uncorrelated_drivers_get_their_squared_correlation_with_the_outcome() -> None:
    rng = np.random.default_rng(3)
    raw = rng.normal(size=(300, 4))
    # Centred, then orthonormalised: exactly uncorrelated in the sample.
    X = np.linalg.qr(raw - raw.mean(axis=0))[0] * np.sqrt(300)
    y = X @ [0.5, -0.4, 0.2, 0.0] + rng.normal(size=300)
    analysis = relative_weights(X, y, NAMES, outcome="nps", bootstrap=0)

    for j, name in enumerate(NAMES):
        correlation = np.corrcoef(X[:, j], y)[0, 1]
        assert by_name(analysis)[name].weight == pytest.approx(correlation**2, abs=1e-12)
        assert by_name(analysis)[name].correlation == pytest.approx(correlation, abs=1e-12)


def test_known_drivers_of_nps_are_ranked_in_order_despite_correlated_ratings() -> None:
    X = correlated_drivers(5000, 4, 0.5, seed=4)
    y = nps_outcome(X, seed=5)
    analysis = relative_weights(X, y, NAMES, outcome="nps", bootstrap=100)

    assert [d.name for d in analysis.drivers] == list(NAMES)
    app = by_name(analysis)["app"]
    # No effect of its own: it earns only a little for standing in for the others
    # (relative weights credit a correlated bystander; ≈ 0.10 at ρ = 0.5 in the population),
    # far less than its share of the squared correlations would give it.
    correlations_sq = np.array([np.corrcoef(X[:, j], y)[0, 1] ** 2 for j in range(4)])
    assert app.share < 0.15
    assert app.share < 0.75 * correlations_sq[3] / correlations_sq.sum()
    # The strongest driver is clearly ahead: its interval clears the runner-up's.
    assert analysis.drivers[0].ci_low > analysis.drivers[1].ci_high


def test_known_drivers_of_churn_are_ranked_in_order() -> None:
    X = correlated_drivers(5000, 4, 0.5, seed=6)
    churned = churn_outcome(X, seed=7)
    analysis = relative_weights(X, churned, NAMES, outcome="churned", binary=True, bootstrap=100)

    assert analysis.method == LOGISTIC_METHOD
    assert [d.name for d in analysis.drivers] == list(NAMES)
    assert by_name(analysis)["app"].share < 0.15
    assert analysis.drivers[0].ci_low > analysis.drivers[1].ci_high


def test_churn_weights_add_up_to_the_squared_correlation_of_outcome_and_prediction() -> None:
    X = correlated_drivers(2000, 4, 0.3, seed=8) * [2.0, 1.0, 5.0, 0.2] - 3.0
    churned = churn_outcome(X, seed=9)
    analysis = relative_weights(X, churned, NAMES, outcome="churned", binary=True, bootstrap=0)

    # An independent maximum-likelihood fit on the raw drivers.
    design = np.column_stack((np.ones(len(X)), X))

    def negative_log_likelihood(beta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = design @ beta
        value = np.sum(np.logaddexp(0.0, eta) - churned * eta)
        return float(value), design.T @ (expit(eta) - churned)

    fit = minimize(negative_log_likelihood, np.zeros(5), jac=True, method="BFGS", tol=1e-12)
    r_observed_sq = np.corrcoef(churned, expit(design @ fit.x))[0, 1] ** 2
    assert analysis.r_squared == pytest.approx(r_observed_sq, abs=1e-7)
    assert sum(d.weight for d in analysis.drivers) == pytest.approx(analysis.r_squared, abs=1e-12)


def test_a_duplicated_driver_splits_its_credit_with_its_copy() -> None:
    X = correlated_drivers(400, 3, 0.4, seed=10)
    y = X @ [0.5, 0.3, 0.1] + np.random.default_rng(11).normal(size=400)
    single = relative_weights(X, y, NAMES[:3], outcome="nps", bootstrap=0)
    doubled = relative_weights(
        np.column_stack((X, X[:, 0])), y, [*NAMES[:3], "delivery again"], outcome="nps", bootstrap=0
    )

    assert doubled.r_squared == pytest.approx(single.r_squared, abs=1e-9)
    halves = by_name(doubled)
    assert halves["delivery"].weight == pytest.approx(halves["delivery again"].weight, abs=1e-9)


def test_unrated_touchpoints_are_imputed_counted_and_excluded_when_too_rare() -> None:
    rng = np.random.default_rng(12)
    X = np.column_stack((correlated_drivers(3000, 4, 0.5, seed=13), np.full(3000, 8.0)))
    y = nps_outcome(X[:, :4], seed=14)
    ratings = X[:, :3]  # a view: blanks written here land in X
    ratings[rng.random((3000, 3)) < [0.1, 0.3, 0.5]] = np.nan
    X[:-5, 3] = np.nan  # the app was rated by five customers only
    y[:100] = np.nan  # no NPS answer: the row tells nothing
    names = [*NAMES, "store"]
    analysis = relative_weights(X, y, names, outcome="nps", min_respondents=10)

    assert analysis.excluded == {
        "app": "5 respondents, fewer than the 10 required",
        "store": "no variance: all 2900 respondents gave 8",
    }
    # Answered the NPS question and rated at least one of the drivers kept.
    assert analysis.rows == np.sum(~np.all(np.isnan(X[100:, :3]), axis=1))
    assert [d.name for d in analysis.drivers] == ["delivery", "support", "billing"]
    for j, name in enumerate(NAMES[:3]):
        driver = by_name(analysis)[name]
        assert driver.respondents == np.sum(~np.isnan(X[100:, j]))
        assert driver.ci_low <= driver.share <= driver.ci_high
    assert analysis.resamples == 200


def test_rows_without_a_single_rated_driver_are_left_out() -> None:
    X = correlated_drivers(200, 2, 0.2, seed=15)
    y = X @ [0.5, 0.2] + np.random.default_rng(16).normal(size=200)
    X[:30] = np.nan
    analysis = relative_weights(X, y, NAMES[:2], outcome="nps", bootstrap=0)
    assert analysis.rows == 170


def test_the_same_seed_gives_the_same_intervals() -> None:
    X = correlated_drivers(300, 4, 0.5, seed=17)
    y = nps_outcome(X, seed=18)
    first = relative_weights(X, y, NAMES, outcome="nps", bootstrap=50, seed=1)
    assert relative_weights(X, y, NAMES, outcome="nps", bootstrap=50, seed=1) == first
    other = relative_weights(X, y, NAMES, outcome="nps", bootstrap=50, seed=2)
    assert [d.ci_low for d in other.drivers] != [d.ci_low for d in first.drivers]
    assert [d.share for d in other.drivers] == [d.share for d in first.drivers]


def test_without_resamples_there_are_no_intervals() -> None:
    X = correlated_drivers(100, 2, 0.2, seed=19)
    analysis = relative_weights(X, X[:, 0] + X[:, 1], NAMES[:2], outcome="nps", bootstrap=0)
    assert analysis.resamples == 0
    assert all(np.isnan(d.ci_low) and np.isnan(d.ci_high) for d in analysis.drivers)


def test_too_few_rows_is_an_error() -> None:
    X = correlated_drivers(40, 4, 0.2, seed=20)
    y = nps_outcome(X, seed=21)
    y[5:] = np.nan
    with pytest.raises(ValueError, match=r"too few rows .*'nps': 5 rows .* at least 6 for 4"):
        relative_weights(X, y, NAMES, outcome="nps", min_respondents=1)


def test_an_outcome_that_does_not_vary_is_an_error() -> None:
    X = correlated_drivers(50, 4, 0.2, seed=22)
    with pytest.raises(ValueError, match=r"outcome 'nps' has no variance: all 50 rows are 9"):
        relative_weights(X, np.full(50, 9.0), NAMES, outcome="nps")
    with pytest.raises(ValueError, match=r"outcome 'churned' has only one class"):
        relative_weights(X, np.zeros(50), NAMES, outcome="churned", binary=True)


def test_malformed_input_is_an_error() -> None:
    X = correlated_drivers(50, 4, 0.2, seed=23)
    with pytest.raises(ValueError, match="binary outcome must be 0 or 1"):
        relative_weights(X, np.arange(50.0), NAMES, outcome="churned", binary=True)
    with pytest.raises(ValueError, match="3 names for 4 driver columns"):
        relative_weights(X, np.arange(50.0), NAMES[:3], outcome="nps")
    with pytest.raises(ValueError, match=r"no driver of 'nps' can be analysed \(delivery: 50"):
        relative_weights(X, np.arange(50.0), NAMES, outcome="nps", min_respondents=100)
