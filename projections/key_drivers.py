"""Key drivers: which touchpoints matter most for a customer's NPS, or for whether they churn?

Touchpoint ratings are correlated (a customer happy with delivery tends to be happy with
returns), so regression coefficients split the credit among them erratically and squared
correlations count it twice. Relative weights (Johnson 2000) share the model's R² out among
the drivers instead: every weight is non-negative, they add up to R², and a driver's `share`
is its part of what the model explains.

The method: standardise the drivers X (correlation matrix R) and replace them by their
closest uncorrelated counterparts Z = X R^(-1/2), with the symmetric square root. Regress the
outcome on Z (β = R^(-1/2) r_xy) and each driver on Z (Λ = R^(1/2)); driver j's weight is
ε_j = Σ_k Λ_jk² β_k², and Σ_j ε_j = Σ_k β_k² = R². For a 0/1 outcome (churn) Tonidandel &
LeBreton (2010) fit a logistic regression on Z instead and use Menard's fully standardised
coefficients, β_k = b_k · sd(Z_k) · R_O / sd(logit ŷ), where R_O is the correlation between
the observed 0/1 outcome and the predicted probability; the weights then add up to the
pseudo-R² R_O². That R_O² is the one their paper (and their RWA-Web tool) uses: it measures
the same thing as the OLS R² (explained variance of the outcome), lies in [0, 1] and is what
the weights add up to exactly, which likelihood-based measures (McFadden, Nagelkerke) are not.

Missing ratings (a customer never used a touchpoint) are replaced by the driver's mean. That
pulls the correlations of rarely rated touchpoints toward zero, so their weights are, if
anything, understated; `respondents` says how many customers actually rated each one. Rows
without an outcome, or without a single rated driver, say nothing about the drivers and are
left out. The 95% intervals are bootstrap percentile intervals over rows of the imputed data.
Relative weights describe association, not cause.

References: Johnson, J. W. (2000), "A heuristic method for estimating the relative weight of
predictor variables in multiple regression", Multivariate Behavioral Research 35(1), 1-19;
Tonidandel, S. & LeBreton, J. M. (2010), "Determining the relative importance of predictors
in logistic regression: an extension of relative weight analysis", Organizational Research
Methods 13(4), 767-781; Menard, S. (2004), "Six approaches to calculating standardized
logistic regression coefficients", The American Statistician 58(3), 218-223.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import numpy.typing as npt
from scipy.special import expit, logit

FloatArray = npt.NDArray[np.float64]

LINEAR_METHOD = "relative weights (Johnson 2000)"
LOGISTIC_METHOD = "logistic relative weights (Tonidandel & LeBreton 2010)"

# A column whose standard deviation (after standardising on the whole sample) falls below
# this inside a bootstrap resample is treated as constant there.
_CONSTANT = 1e-8
# Eigenvalues of the drivers' correlation matrix below this fraction of the largest are taken
# as exact collinearity (a driver duplicated, or a sum of others): the pseudo-inverse root then
# splits the credit among the collinear drivers instead of dividing by zero.
_COLLINEAR = 1e-10
_IRLS_ITERATIONS = 50
_IRLS_TOLERANCE = 1e-10
# A vanishing ridge on the logistic Hessian keeps Newton's step defined when a resample makes a
# driver constant or two drivers identical; far too small to move a real estimate.
_IRLS_RIDGE = 1e-10

WeightsFn = Callable[[FloatArray, FloatArray, FloatArray], FloatArray]


@dataclass(frozen=True, slots=True)
class Driver:
    """One driver's relative weight.

    `weight` is its part of the model's R² (pseudo-R² for a binary outcome), `share` that part
    as a fraction of all drivers' weights, with a bootstrap 95% percentile interval
    [`ci_low`, `ci_high`] (NaN without resamples). `respondents` counts the rows where the
    driver was rated rather than imputed; `correlation` is its plain correlation with the
    outcome on the imputed data, whose sign says which way it pulls (the weight has none).
    """

    name: str
    weight: float
    share: float
    ci_low: float
    ci_high: float
    respondents: int
    correlation: float


@dataclass(frozen=True, slots=True)
class DriverAnalysis:
    """Relative weights of the drivers of one outcome, largest first.

    `rows` is the number of rows fitted, `r_squared` the model's R² (or pseudo-R²), equal to
    the sum of the drivers' weights; `excluded` maps each driver left out to the reason why;
    `resamples` is the number of bootstrap resamples the intervals rest on.
    """

    outcome: str
    method: str
    rows: int
    r_squared: float
    drivers: tuple[Driver, ...]
    excluded: dict[str, str]
    resamples: int


def relative_weights(
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    names: Sequence[str],
    *,
    outcome: str,
    binary: bool = False,
    bootstrap: int = 200,
    min_respondents: int = 10,
    seed: int = 0,
) -> DriverAnalysis:
    """Relative weights of the drivers X (rows × drivers, NaN where not rated) for outcome y.

    y is continuous (say, an NPS score) or, with `binary`, 0/1 (say, churned), NaN where
    unknown; rows without y, or without any kept driver rated, are left out. Drivers rated by
    fewer than `min_respondents` rows, or rated the same by everyone, are left out and listed
    in `excluded`; for churn keep that minimum meaningful, as a driver rated by a handful of
    customers can separate churners perfectly and its logistic coefficient then runs off to
    infinity. `bootstrap` resamples of the rows (0 for none), drawn from `seed`, give the
    intervals of the shares. Raises ValueError when no driver is left, when fewer than
    drivers + 2 rows are, or when the outcome does not vary.
    """
    features, target, names = _validated(X, y, names, binary)
    features, target = features[~np.isnan(target)], target[~np.isnan(target)]
    respondents = np.sum(~np.isnan(features), axis=0)
    excluded = _exclusions(features, respondents, names, min_respondents)
    kept = [j for j, name in enumerate(names) if name not in excluded]
    if not kept:
        reasons = "; ".join(f"{name}: {why}" for name, why in excluded.items())
        raise ValueError(f"no driver of {outcome!r} can be analysed ({reasons})")

    features = features[:, kept]
    rated = ~np.all(np.isnan(features), axis=1)
    features, target = features[rated], target[rated]
    _check_enough_rows(outcome, len(target), len(kept))
    _check_outcome_varies(outcome, target, binary)

    drivers_std = _standardised(_mean_imputed(features))
    outcome_values = target if binary else _standardised(target[:, None])[:, 0]
    everyone = np.ones(len(target))
    weights_of: WeightsFn = _linear_weights
    if binary:
        # Every resample's fit starts from the whole sample's: two Newton steps fewer.
        start, _ = _fit_logistic(drivers_std, target, everyone)
        weights_of = partial(_logistic_weights, start=start)

    weights = weights_of(drivers_std, outcome_values, everyone)
    r_squared = float(weights.sum())
    shares = weights / r_squared if r_squared > 0 else np.zeros_like(weights)
    low, high, resamples = _bootstrap_intervals(
        weights_of, drivers_std, outcome_values, bootstrap, seed
    )
    correlations = drivers_std.T @ (outcome_values - outcome_values.mean())
    correlations /= len(target) * outcome_values.std()

    drivers = [
        Driver(
            name=names[j],
            weight=float(weights[i]),
            share=float(shares[i]),
            ci_low=float(low[i]),
            ci_high=float(high[i]),
            respondents=int(respondents[j]),
            correlation=float(correlations[i]),
        )
        for i, j in enumerate(kept)
    ]
    drivers.sort(key=lambda driver: -driver.weight)
    return DriverAnalysis(
        outcome=outcome,
        method=LOGISTIC_METHOD if binary else LINEAR_METHOD,
        rows=len(target),
        r_squared=r_squared,
        drivers=tuple(drivers),
        excluded=excluded,
        resamples=resamples,
    )


def _linear_weights(x: FloatArray, y: FloatArray, counts: FloatArray) -> FloatArray:
    """Johnson's ε for the rows of (x, y) repeated `counts` times; NaN if y is constant."""
    covariance = _covariance(np.column_stack((x, y)), counts)
    if covariance[-1, -1] <= _CONSTANT**2:
        return np.full(x.shape[1], np.nan)
    corr = _correlations(covariance)
    root, inverse_root = _symmetric_roots(corr[:-1, :-1])
    beta = inverse_root @ corr[:-1, -1]
    return (root**2) @ (beta**2)


def _logistic_weights(
    x: FloatArray, y: FloatArray, counts: FloatArray, start: FloatArray | None = None
) -> FloatArray:
    """Tonidandel & LeBreton's ε for the rows of (x, 0/1 y) repeated `counts` times; NaN if y
    is constant.

    The logistic fit on Z = x R^(-1/2) has the same predictions as the fit on x itself, with
    slopes b = R^(1/2) β for the slopes β on the standardised drivers, so the fit runs on x
    and is carried over. With Z uncorrelated and of unit variance, sd(logit ŷ) = |b|.
    """
    mean_y = counts @ y / counts.sum()
    if not 0 < mean_y < 1:
        return np.full(x.shape[1], np.nan)
    covariance = _covariance(x, counts)
    coefficients, predicted = _fit_logistic(x, y, counts, start)
    # Slopes per standard deviation of each driver within these rows.
    slopes_std = coefficients[1:] * _standard_deviations(covariance)
    root, _ = _symmetric_roots(_correlations(covariance))
    slopes = root @ slopes_std
    spread = slopes @ slopes
    if spread == 0:
        return np.zeros(x.shape[1])
    r_observed_sq = _weighted_correlation(y, predicted, counts) ** 2
    return (root**2) @ (slopes**2) * (r_observed_sq / spread)


def _fit_logistic(
    x: FloatArray, y: FloatArray, counts: FloatArray, start: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """Maximum-likelihood logistic regression with intercept by Newton's method (IRLS), each
    row counted `counts` times, from `start` or else the intercept-only fit; returns
    (intercept, slopes...) and the fitted probabilities."""
    design_t = np.vstack((np.ones(len(y)), x.T))  # terms × rows: the faster products
    if start is None:
        coefficients = np.zeros(len(design_t))
        coefficients[0] = logit(counts @ y / counts.sum())
    else:
        coefficients = start.copy()
    ridge = _IRLS_RIDGE * counts.sum() * np.eye(len(design_t))
    for _ in range(_IRLS_ITERATIONS):
        predicted = expit(coefficients @ design_t)
        hessian = (design_t * (counts * predicted * (1.0 - predicted))) @ design_t.T + ridge
        step = np.linalg.solve(hessian, design_t @ (counts * (y - predicted)))
        coefficients += step
        if np.max(np.abs(step)) < _IRLS_TOLERANCE:
            break
    return coefficients, expit(coefficients @ design_t)


def _covariance(data: FloatArray, counts: FloatArray) -> FloatArray:
    """Covariance matrix of the columns of `data`, row i counted `counts[i]` times.

    From raw moments, without a centred copy of the data: accurate here because every column
    is standardised on the whole sample, so the means of a resample are close to 0.
    """
    total = counts.sum()
    mean = counts @ data / total
    return (data.T * counts) @ data / total - np.outer(mean, mean)


def _correlations(covariance: FloatArray) -> FloatArray:
    """The correlation matrix of a covariance matrix.

    A column constant in the rows at hand (possible in a bootstrap resample) gets correlation
    0 with the others, so it earns no weight.
    """
    sd = _standard_deviations(covariance)
    varies = sd > _CONSTANT
    safe_sd = np.where(varies, sd, 1.0)
    corr = covariance / np.outer(safe_sd, safe_sd)
    corr[~varies, :] = 0.0
    corr[:, ~varies] = 0.0
    corr[np.diag_indices_from(corr)] = 1.0
    return corr


def _standard_deviations(covariance: FloatArray) -> FloatArray:
    # From raw moments, a constant column's variance can come out a hair below zero.
    return np.sqrt(np.clip(np.diag(covariance), 0.0, None))


def _symmetric_roots(corr: FloatArray) -> tuple[FloatArray, FloatArray]:
    """R^(1/2) and the (pseudo-)inverse R^(-1/2) of a correlation matrix, both symmetric."""
    eigenvalues, eigenvectors = np.linalg.eigh(corr)
    kept = eigenvalues > _COLLINEAR * eigenvalues.max()
    root_values = np.sqrt(np.where(kept, eigenvalues, 0.0))
    inverse_values = np.divide(1.0, root_values, out=np.zeros_like(root_values), where=kept)
    root = (eigenvectors * root_values) @ eigenvectors.T
    inverse_root = (eigenvectors * inverse_values) @ eigenvectors.T
    return root, inverse_root


def _weighted_correlation(a: FloatArray, b: FloatArray, counts: FloatArray) -> float:
    total = counts.sum()
    da = a - counts @ a / total
    db = b - counts @ b / total
    denominator = np.sqrt((counts @ da**2) * (counts @ db**2))
    return float(counts @ (da * db) / denominator) if denominator > 0 else 0.0


def _bootstrap_intervals(
    weights_of: WeightsFn, x: FloatArray, y: FloatArray, resamples: int, seed: int
) -> tuple[FloatArray, FloatArray, int]:
    """2.5% and 97.5% percentiles of the shares over `resamples` row resamples, and how many
    resamples counted (one whose outcome happens to be constant has no shares)."""
    drivers = x.shape[1]
    if resamples <= 0:
        return np.full(drivers, np.nan), np.full(drivers, np.nan), 0
    rng = np.random.default_rng(seed)
    rows = len(y)
    shares = np.full((resamples, drivers), np.nan)
    for b in range(resamples):
        # Row multiplicities instead of copied rows: the same fit, without the copy.
        counts = np.bincount(rng.integers(0, rows, rows), minlength=rows).astype(float)
        weights = weights_of(x, y, counts)
        total = weights.sum()
        if np.isfinite(total) and total > 0:
            shares[b] = weights / total
    counted = int(np.sum(~np.isnan(shares[:, 0])))
    if counted == 0:
        return np.full(drivers, np.nan), np.full(drivers, np.nan), 0
    low, high = np.nanpercentile(shares, [2.5, 97.5], axis=0)
    return low, high, counted


def _validated(
    X: npt.ArrayLike, y: npt.ArrayLike, names: Sequence[str], binary: bool
) -> tuple[FloatArray, FloatArray, list[str]]:
    features = np.asarray(X, dtype=float)
    target = np.asarray(y, dtype=float)
    if features.ndim != 2:
        raise ValueError(f"X must be rows × drivers (2-D), got {features.ndim}-D")
    if target.ndim != 1 or len(target) != len(features):
        raise ValueError(f"y must be 1-D with one value per row of X ({len(features)} rows)")
    if len(names) != features.shape[1]:
        raise ValueError(f"{len(names)} names for {features.shape[1]} driver columns")
    if len(set(names)) != len(names):
        raise ValueError("driver names must be unique")
    if np.isinf(features).any() or np.isinf(target).any():
        raise ValueError("X and y must be finite (NaN marks a missing value)")
    if binary and not np.isin(target[~np.isnan(target)], (0.0, 1.0)).all():
        raise ValueError("a binary outcome must be 0 or 1 (or NaN when unknown)")
    return features, target, [str(name) for name in names]


def _exclusions(
    features: FloatArray, respondents: npt.NDArray[np.int_], names: Sequence[str], minimum: int
) -> dict[str, str]:
    excluded: dict[str, str] = {}
    for j, name in enumerate(names):
        observed = features[~np.isnan(features[:, j]), j]
        if respondents[j] < minimum:
            excluded[name] = f"{respondents[j]} respondents, fewer than the {minimum} required"
        elif np.ptp(observed) == 0:
            excluded[name] = f"no variance: all {respondents[j]} respondents gave {observed[0]:g}"
    return excluded


def _check_enough_rows(outcome: str, rows: int, drivers: int) -> None:
    if rows < drivers + 2:
        raise ValueError(
            f"too few rows for the drivers of {outcome!r}: {rows} rows with an outcome and at"
            f" least one rated driver, need at least {drivers + 2} for {drivers} drivers"
        )


def _check_outcome_varies(outcome: str, target: FloatArray, binary: bool) -> None:
    if np.ptp(target) == 0:
        kind = "only one class" if binary else "no variance"
        raise ValueError(
            f"outcome {outcome!r} has {kind}: all {len(target)} rows are {target[0]:g},"
            " so nothing can drive it"
        )


def _mean_imputed(features: FloatArray) -> FloatArray:
    means = np.nanmean(features, axis=0)
    return np.where(np.isnan(features), means, features)


def _standardised(values: FloatArray) -> FloatArray:
    return (values - values.mean(axis=0)) / values.std(axis=0)


@dataclass(frozen=True, slots=True)
class DriverInputs:
    """Per-customer driver ratings pivoted from `cx.driver_inputs`: one row per customer, one
    column per touchpoint (NaN where the customer never rated it), and both outcomes."""

    touchpoints: tuple[str, ...]
    customers: tuple[str, ...]
    ratings: FloatArray
    nps: FloatArray  # latest NPS, NaN when the customer never answered one
    churned: FloatArray  # 1.0 when a churn was observed, else 0.0


def driver_inputs(rows: Sequence[dict]) -> DriverInputs:
    """Pivot rows of (customer_id, touchpoint, touchpoint_score, latest_nps, churned)."""
    touchpoints = tuple(sorted({row["touchpoint"] for row in rows}))
    customers = tuple(sorted({row["customer_id"] for row in rows}))
    column = {name: j for j, name in enumerate(touchpoints)}
    line = {name: i for i, name in enumerate(customers)}
    ratings = np.full((len(customers), len(touchpoints)), np.nan)
    nps = np.full(len(customers), np.nan)
    churned = np.zeros(len(customers))
    for row in rows:
        i = line[row["customer_id"]]
        ratings[i, column[row["touchpoint"]]] = float(row["touchpoint_score"])
        if row["latest_nps"] is not None:
            nps[i] = float(row["latest_nps"])
        churned[i] = float(row["churned"])
    return DriverInputs(touchpoints, customers, ratings, nps, churned)
