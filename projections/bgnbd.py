"""BG/NBD: is a customer still buying, and how many purchases will they make next?

The beta-geometric/negative-binomial model of Fader, Hardie & Lee (2005), "'Counting Your
Customers' the Easy Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2),
275-284. While alive, a customer buys at a Poisson rate λ ~ Gamma(r, α); after every purchase
they drop out with probability p ~ Beta(a, b). All it needs per customer is the purchase
summary (x, t_x, T): repeat purchases, time of the last one and age, measured from the first
purchase in one time unit (the unit of α and of every `t`).

Pure numpy/scipy over arrays, so the engagement signal of the churn score and the BG/NBD test
against the paper run without Kafka or ClickHouse. Formulas and fit results:
docs/customer-value.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

_DAY = timedelta(days=1)

# Box on the log-parameters (e^±20 ≈ 2e-9 … 5e8): far outside anything a real customer base
# fits, but it stops a degenerate sample (say, nobody ever came back) from sending a line
# search to infinity, where the likelihood turns into inf - inf.
LOG_PARAMETER_BOUNDS = (-20.0, 20.0)


@dataclass(frozen=True, slots=True)
class BgNbdParams:
    """Fitted BG/NBD parameters: purchase rate λ ~ Gamma(shape r, rate α), drop-out
    probability p ~ Beta(a, b); `log_likelihood` is the sample's, without any penalty."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int
    converged: bool


@dataclass(frozen=True, slots=True)
class PurchaseSummary:
    """Per-customer purchase summary in the model's notation, one row per customer, in the
    order of `customer_ids` (sorted).

    `frequency` is x (repeat purchase periods), `recency` is t_x (last purchase since the
    first), `age` is T (observation end since the first purchase), both in `period` units;
    `monetary_value` is z̄, the mean value of the repeat purchase periods (0 when x = 0).
    """

    customer_ids: npt.NDArray[np.object_]
    frequency: FloatArray
    recency: FloatArray
    age: FloatArray
    monetary_value: FloatArray


def summarize_transactions(
    customer_ids: ArrayLike,
    times: ArrayLike,
    amounts: ArrayLike,
    observation_end: datetime | np.datetime64,
    period: timedelta = timedelta(weeks=1),
    *,
    resolution: timedelta = _DAY,
) -> PurchaseSummary:
    """The (x, t_x, T, z̄) summary of raw purchases made up to and including `observation_end`.

    The model counts purchase *occasions*: purchases falling in the same `resolution` bucket
    (UTC calendar days by default) are one occasion, their amounts summed, as in the CDNOW
    data of the paper. The first occasion starts the clock and is not counted, so x is the
    number of distinct occasions minus one; t_x and T run from the start of the first
    occasion's bucket to the start of the last one's and to `observation_end`, in `period`
    units. Timezone-aware times are compared in UTC.
    """
    ids = np.asarray(customer_ids, dtype=object)
    stamps = _as_utc_datetime64(times)
    values = np.asarray(amounts, dtype=float)
    if not ids.shape == stamps.shape == values.shape or ids.ndim != 1:
        raise ValueError("customer_ids, times and amounts must be 1-D and of equal length")
    end = _as_utc_datetime64(np.array([observation_end]))[0]
    kept = stamps <= end
    if not kept.any():
        empty = np.zeros(0)
        return PurchaseSummary(np.zeros(0, dtype=object), empty, empty, empty, empty)

    step = np.timedelta64(resolution // timedelta(microseconds=1), "us")
    bucket = (stamps[kept] - np.datetime64(0, "us")) // step
    customers, code = np.unique(ids[kept], return_inverse=True)
    occasion_code, occasion_bucket, occasion_value = _occasions(code, bucket, values[kept])

    first = np.flatnonzero(np.r_[True, np.diff(occasion_code) != 0])
    last = np.r_[first[1:], len(occasion_code)] - 1
    frequency = (last - first).astype(float)
    repeat_total = np.add.reduceat(occasion_value, first) - occasion_value[first]

    buckets_per_period = period / resolution
    end_bucket = (end - np.datetime64(0, "us")) / step
    return PurchaseSummary(
        customer_ids=customers,
        frequency=frequency,
        recency=(occasion_bucket[last] - occasion_bucket[first]) / buckets_per_period,
        age=(end_bucket - occasion_bucket[first]) / buckets_per_period,
        monetary_value=np.divide(
            repeat_total, frequency, out=np.zeros_like(repeat_total), where=frequency > 0
        ),
    )


def _occasions(
    code: npt.NDArray[np.intp], bucket: npt.NDArray[np.int64], values: FloatArray
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], FloatArray]:
    """One row per (customer, bucket) with the bucket's total, sorted by customer then time."""
    order = np.lexsort((bucket, code))
    code, bucket, values = code[order], bucket[order], values[order]
    starts = np.flatnonzero(np.r_[True, (np.diff(code) != 0) | (np.diff(bucket) != 0)])
    return code[starts], bucket[starts], np.add.reduceat(values, starts)


def fit_bgnbd(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    *,
    penalizer: float = 0.0,
) -> BgNbdParams:
    """Maximum-likelihood (r, α, a, b) for the customers' summaries (x, t_x, T).

    Optimised over log-parameters, so every estimate stays positive, with the analytic
    gradient. `penalizer` adds `penalizer · (r² + α² + a² + b²)` to the mean negative
    log-likelihood, a ridge that keeps small or degenerate samples from running a parameter
    off to infinity; 0 gives the plain MLE the paper reports.
    """
    xs, txs, Ts = _validated_summary(x, t_x, T)
    # Customers with identical summaries contribute identical terms: fit on the distinct
    # rows with counts, which shrinks a large base (many one-time buyers of the same age).
    rows, counts = np.unique(np.column_stack((xs, txs, Ts)), axis=0, return_counts=True)
    weights = counts / counts.sum()
    ux, utx, uT = rows.T

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        params = np.exp(log_params)
        ll, grad = _log_likelihood_terms(params, ux, utx, uT)
        value = -(weights @ ll) + penalizer * np.sum(params**2)
        # Chain rule to log space: d/d(log θ) = θ · d/dθ.
        gradient = -(weights @ grad) * params + 2.0 * penalizer * params**2
        return float(value), gradient

    start = np.log([1.0, max(float(np.mean(Ts)), 1e-3), 1.0, 1.0])
    result = minimize(
        objective, start, jac=True, method="L-BFGS-B", bounds=[LOG_PARAMETER_BOUNDS] * len(start)
    )
    r, alpha, a, b = np.exp(result.x)
    ll, _ = _log_likelihood_terms(np.array([r, alpha, a, b]), ux, utx, uT)
    return BgNbdParams(
        r=float(r),
        alpha=float(alpha),
        a=float(a),
        b=float(b),
        log_likelihood=float(counts @ ll),
        n_customers=int(counts.sum()),
        converged=bool(result.success),
    )


def log_likelihood(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> float:
    """The sample log-likelihood of the summaries under `params` (the paper's LL)."""
    xs, txs, Ts = _validated_summary(x, t_x, T)
    theta = np.array([params.r, params.alpha, params.a, params.b])
    ll, _ = _log_likelihood_terms(theta, xs, txs, Ts)
    return float(ll.sum())


def p_alive(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(still alive | x, t_x, T) (Fader, Hardie & Lee, "Computing P(alive) Using the BG/NBD
    Model", 2008).

    1 for a customer with no repeat purchase (in the BG/NBD a customer can only drop out
    right after a purchase); otherwise falling with the time since the last purchase.
    """
    xs, txs, Ts = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
    return expit(-_log_death_odds(params, xs, txs, Ts))


def expected_purchases(
    params: BgNbdParams, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next `t` time units, the paper's
    conditional expectation. Broadcasts over all four arrays."""
    ts, xs, txs, Ts = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, x, t_x, T)))
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = ts / (alpha + Ts + ts)
    # (α+T)/(α+T+t) = 1 - z; the paper's hypergeometric term, after Euler's
    # transformation 2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A,C-B;C;z), keeps its first two
    # arguments independent of x, which is what stays accurate for heavy buyers.
    c = a + b + xs - 1.0
    tail = np.power(1.0 - z, a - 1.0) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
    numerator = c / (a - 1.0) * (1.0 - tail)
    return numerator * expit(-_log_death_odds(params, xs, txs, Ts))


def _log_death_odds(
    params: BgNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    """log of δ(x>0) · a/(b+x-1) · ((α+T)/(α+t_x))^(r+x); -inf when x = 0."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    safe_x = np.where(repeat, x, 1.0)
    odds = (
        np.log(a)
        - np.log(b + safe_x - 1.0)
        + (r + safe_x) * (np.log(alpha + T) - np.log(alpha + t_x))
    )
    return np.where(repeat, odds, -np.inf)


def _log_likelihood_terms(
    params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood (the paper's likelihood) and its gradient in (r, α, a, b).

    ln L = lnΓ(r+x) - lnΓ(r) + r ln α - ln B(a,b) + ln(e^A1 + δ(x>0) e^A2) with
    A1 = ln B(a, b+x) - (r+x) ln(α+T) and A2 = ln B(a+1, b+x-1) - (r+x) ln(α+t_x),
    the last term by log-sum-exp: both parts underflow for heavy buyers, their ratio does not.
    """
    r, alpha, a, b = params
    repeat = x > 0
    # b+x-1 only matters where x > 0; keep it finite elsewhere so no NaN leaks through.
    b_prev = np.where(repeat, b + x - 1.0, b)
    log_alive = betaln(a, b + x) - (r + x) * np.log(alpha + T)
    log_dead = np.where(repeat, betaln(a + 1.0, b_prev) - (r + x) * np.log(alpha + t_x), -np.inf)
    log_mix = np.logaddexp(log_alive, log_dead)
    ll = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b) + log_mix

    w_alive = np.exp(log_alive - log_mix)
    w_dead = np.exp(log_dead - log_mix)
    d_r = (
        digamma(r + x)
        - digamma(r)
        + np.log(alpha)
        - w_alive * np.log(alpha + T)
        - w_dead * np.log(alpha + t_x)
    )
    d_alpha = r / alpha - (r + x) * (w_alive / (alpha + T) + w_dead / (alpha + t_x))
    psi_abx = digamma(a + b + x)
    d_a = (
        -(digamma(a) - digamma(a + b))
        + w_alive * (digamma(a) - psi_abx)
        + w_dead * (digamma(a + 1.0) - psi_abx)
    )
    d_b = (
        -(digamma(b) - digamma(a + b))
        + w_alive * (digamma(b + x) - psi_abx)
        + w_dead * (digamma(b_prev) - psi_abx)
    )
    return ll, np.column_stack((d_r, d_alpha, d_a, d_b))


def _validated_summary(
    x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    xs, txs, Ts = np.broadcast_arrays(*(np.asarray(v, dtype=float).ravel() for v in (x, t_x, T)))
    if xs.size == 0:
        raise ValueError("no customers to fit")
    if np.any(xs < 0) or np.any(xs != np.round(xs)):
        raise ValueError("x must be non-negative whole numbers of repeat purchases")
    if np.any(txs < 0) or np.any(txs > Ts):
        raise ValueError("need 0 <= t_x <= T for every customer")
    return xs, txs, Ts


def _as_utc_datetime64(times: ArrayLike) -> npt.NDArray[np.datetime64]:
    """Microsecond datetime64 in UTC: numpy datetimes pass as they are (naive means UTC),
    aware Python datetimes are converted."""
    array = np.asarray(times)
    if np.issubdtype(array.dtype, np.datetime64):
        return array.astype("datetime64[us]")
    naive = [
        t.astimezone(UTC).replace(tzinfo=None) if getattr(t, "tzinfo", None) else t
        for t in array.ravel()
    ]
    return np.array(naive, dtype="datetime64[us]").reshape(array.shape)
