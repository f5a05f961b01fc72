"""What a customer is worth: expected spend per purchase, lifetime value and value tier.

Spend per purchase is the Gamma-Gamma model of Fader, Hardie & Lee (2005), "RFM and CLV: Using
Iso-Value Curves for Customer Base Analysis", Journal of Marketing Research 42(4), 415-430
(after Colombo & Jiang 1999): a customer's purchase values are Gamma(p, ν) around their own
mean, with ν ~ Gamma(q, γ) across customers. Combined with the BG/NBD purchase forecast
(`bgnbd.py`) it gives a discounted customer lifetime value (客户生命周期价值), and the CLV
percentiles give the value tier used to prioritise the most valuable customers (DOMAIN.md,
"differentiate by customer value").

Pure numpy/scipy; formulas, thresholds and fit results: docs/customer-value.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import digamma, gammaln

from touchstream.projections.bgnbd import LOG_PARAMETER_BOUNDS, BgNbdParams, expected_purchases

FloatArray = npt.NDArray[np.float64]
ValueTier = Literal["top", "high", "medium", "low"]

# Percentiles of the CLV distribution that open the top, high and medium tiers: the top 10%,
# the next 20% and the next 30% of customers; the remaining 40% are "low".
TIER_PERCENTILES: tuple[float, float, float] = (90.0, 70.0, 40.0)


@dataclass(frozen=True, slots=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma parameters (p, q, γ — called v here, as in most software);
    `n_customers` counts the repeat customers the fit used."""

    p: float
    q: float
    v: float
    log_likelihood: float
    n_customers: int
    converged: bool


@dataclass(frozen=True, slots=True)
class ValueTierThresholds:
    """The lowest CLV of each tier; a CLV below `medium` is "low"."""

    top: float
    high: float
    medium: float


def fit_gamma_gamma(
    frequency: npt.ArrayLike, monetary_value: npt.ArrayLike, *, penalizer: float = 0.0
) -> GammaGammaParams:
    """Maximum-likelihood (p, q, γ) from repeat purchases x and their mean value z̄.

    Only customers with x > 0 carry information about spend (z̄ is the mean of the *repeat*
    purchases), so the others are left out. `penalizer` adds `penalizer · (p² + q² + γ²)` to
    the mean negative log-likelihood, as in `fit_bgnbd`.
    """
    x = np.asarray(frequency, dtype=float).ravel()
    z = np.asarray(monetary_value, dtype=float).ravel()
    if x.shape != z.shape:
        raise ValueError("frequency and monetary_value must have equal length")
    repeat = x > 0
    x, z = x[repeat], z[repeat]
    if x.size == 0:
        raise ValueError("no repeat customers: spend cannot be fitted")
    if np.any(z <= 0):
        raise ValueError("repeat customers need a positive mean purchase value")

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        params = np.exp(log_params)
        ll, grad = _spend_log_likelihood_terms(params, x, z)
        value = -ll.mean() + penalizer * np.sum(params**2)
        gradient = -grad.mean(axis=0) * params + 2.0 * penalizer * params**2
        return float(value), gradient

    # Start from a spread of 1 per purchase around the observed average value.
    start = np.log([1.0, 1.0, float(np.mean(z))])
    result = minimize(
        objective, start, jac=True, method="L-BFGS-B", bounds=[LOG_PARAMETER_BOUNDS] * len(start)
    )
    p, q, v = np.exp(result.x)
    ll, _ = _spend_log_likelihood_terms(np.array([p, q, v]), x, z)
    return GammaGammaParams(
        p=float(p),
        q=float(q),
        v=float(v),
        log_likelihood=float(ll.sum()),
        n_customers=int(x.size),
        converged=bool(result.success),
    )


def expected_average_spend(
    params: GammaGammaParams, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike
) -> FloatArray:
    """E[M | x, z̄] = p(γ + x z̄) / (p x + q - 1): the customer's expected value per purchase,
    a credibility-weighted blend of the population mean pγ/(q-1) and their own z̄ (the
    population mean for a customer with no repeat purchase)."""
    if params.q <= 1.0:
        raise ValueError("the Gamma-Gamma mean spend exists only for q > 1")
    x, z = np.broadcast_arrays(
        np.asarray(frequency, dtype=float), np.asarray(monetary_value, dtype=float)
    )
    p, q, v = params.p, params.q, params.v
    # A customer without repeat purchases has no z̄; whatever was passed must not count.
    weighted = np.where(x > 0, x * z, 0.0)
    return p * (v + weighted) / (p * x + q - 1.0)


def customer_lifetime_value(
    bgnbd: BgNbdParams,
    gg: GammaGammaParams,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    monetary: npt.ArrayLike,
    horizon_periods: int,
    discount_rate_per_period: float,
    *,
    period_length: float = 1.0,
) -> FloatArray:
    """Discounted expected revenue over the next `horizon_periods` periods.

    CLV = E[M] · Σ_{k=1..H} (E[Y(k·Δ)] - E[Y((k-1)·Δ)]) / (1 + d)^k, with Δ = `period_length`
    in the BG/NBD time unit (e.g. 52/12 for monthly periods on a weekly model): the purchases
    expected in each period, valued at the expected spend per purchase and discounted as if
    they all fell at the period's end. Revenue, not margin: multiply by a margin for profit.
    """
    if horizon_periods < 0:
        raise ValueError("horizon_periods must be >= 0")
    if discount_rate_per_period <= -1.0:
        raise ValueError("discount_rate_per_period must be > -1")
    ends = np.arange(horizon_periods + 1, dtype=float) * period_length
    # Broadcast the period ends along a new leading axis, customers along the rest.
    xs, txs, Ts = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
    cumulative = expected_purchases(bgnbd, ends.reshape(-1, *([1] * xs.ndim)), xs, txs, Ts)
    per_period = np.diff(cumulative, axis=0)
    discount = (1.0 + discount_rate_per_period) ** -np.arange(1, horizon_periods + 1)
    discounted = np.tensordot(discount, per_period, axes=(0, 0))
    return discounted * expected_average_spend(gg, xs, monetary)


def value_tier_thresholds(clv_values: npt.ArrayLike) -> ValueTierThresholds:
    """The CLVs at the `TIER_PERCENTILES` of a customer base, to tier it or a newcomer."""
    clv = np.asarray(clv_values, dtype=float).ravel()
    if clv.size == 0:
        raise ValueError("no CLV values to take percentiles of")
    top, high, medium = np.percentile(clv, TIER_PERCENTILES)
    return ValueTierThresholds(top=float(top), high=float(high), medium=float(medium))


def value_tier(
    clv_values: npt.ArrayLike, thresholds: ValueTierThresholds | None = None
) -> npt.NDArray[np.str_]:
    """The tier of each CLV: "top" at or above the top threshold, then "high", "medium", and
    "low" below the medium threshold. Thresholds default to the percentiles of `clv_values`
    itself; pass the base's thresholds to tier a few customers consistently with it."""
    clv = np.asarray(clv_values, dtype=float)
    if clv.size == 0:
        return np.empty(clv.shape, dtype="<U6")
    limits = value_tier_thresholds(clv) if thresholds is None else thresholds
    return np.select(
        [clv >= limits.top, clv >= limits.high, clv >= limits.medium],
        ["top", "high", "medium"],
        default="low",
    )


def _spend_log_likelihood_terms(
    params: FloatArray, x: FloatArray, z: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log density of z̄ given x, and its gradient in (p, q, γ):

    ln f = lnΓ(px+q) - lnΓ(px) - lnΓ(q) + q ln γ + (px-1) ln z̄ + px ln x - (px+q) ln(γ + x z̄).
    """
    p, q, v = params
    px = p * x
    log_total = np.log(v + x * z)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(z)
        + px * np.log(x)
        - (px + q) * log_total
    )
    psi = digamma(px + q)
    d_p = x * (psi - digamma(px) + np.log(z) + np.log(x) - log_total)
    d_q = psi - digamma(q) + np.log(v) - log_total
    d_v = q / v - (px + q) / (v + x * z)
    return ll, np.column_stack((d_p, d_q, d_v))
