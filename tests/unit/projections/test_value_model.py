"""The value model fitted from raw purchases: a customer base simulated from the BG/NBD story
with known parameters is recovered, every customer gets a finite value and a tier, and thin
histories are refused with the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from touchstream.projections.value_model import NotEnoughPurchases, fit_value_model

START = datetime(2025, 1, 6, tzinfo=UTC)
TRUE = {"r": 0.8, "alpha": 4.0, "a": 0.8, "b": 2.5}


def simulated_purchases(customers: int, weeks: float, seed: int = 3):
    """BG/NBD customers: Poisson buying at rate λ ~ Gamma(r, α) until, after any repeat
    purchase, they drop out with probability p ~ Beta(a, b); spend around their own mean."""
    rng = np.random.default_rng(seed)
    ids, times, amounts = [], [], []
    for n in range(customers):
        rate = rng.gamma(TRUE["r"], 1 / TRUE["alpha"])
        drop = rng.beta(TRUE["a"], TRUE["b"])
        mean_spend = rng.gamma(6.0, 50.0)
        t, first = rng.uniform(0, 8), True  # first purchase in the first 8 weeks
        while t < weeks:
            ids.append(f"c-{n:05d}")
            times.append(START + timedelta(weeks=float(t)))
            amounts.append(round(float(rng.gamma(6.0, mean_spend / 6.0)), 2))
            if not first and rng.random() < drop:
                break
            t, first = t + rng.exponential(1 / rate), False
    return ids, times, amounts


def test_the_simulated_parameters_are_recovered_and_every_customer_valued():
    ids, times, amounts = simulated_purchases(3000, weeks=52)
    model, values = fit_value_model(ids, times, amounts, START + timedelta(weeks=52))
    fitted = {
        "r": model.bgnbd.r,
        "alpha": model.bgnbd.alpha,
        "a": model.bgnbd.a,
        "b": model.bgnbd.b,
    }
    for name, truth in TRUE.items():
        assert fitted[name] == pytest.approx(truth, rel=0.2), name
    assert len(values) == len({*ids})
    assert all(np.isfinite(v.clv) and v.clv >= 0 and 0 <= v.p_alive <= 1 for v in values)
    tiers = [v.tier for v in values]
    shares = {t: tiers.count(t) / len(tiers) for t in ("top", "high", "medium", "low")}
    assert shares == pytest.approx({"top": 0.1, "high": 0.2, "medium": 0.3, "low": 0.4}, abs=0.01)


def test_p_alive_falls_the_longer_a_regular_buyer_stays_away():
    ids, times, amounts = simulated_purchases(3000, weeks=52)
    model, _ = fit_value_model(ids, times, amounts, START + timedelta(weeks=52))
    weekly = [START + timedelta(weeks=w) for w in range(10)]
    recent = model.p_alive(weekly, START + timedelta(weeks=10))
    lapsed = model.p_alive(weekly, START + timedelta(weeks=40))
    assert recent > 0.8 > 0.01 > lapsed
    assert model.p_alive(weekly[:1], START + timedelta(weeks=40)) == 1.0  # never repeated
    assert model.p_alive(weekly, START - timedelta(days=1)) is None  # no purchase yet


def test_a_thin_history_is_refused_with_the_reason():
    ids, times, amounts = simulated_purchases(3000, weeks=52)
    with pytest.raises(NotEnoughPurchases, match=r"spans 2\.0 weeks"):
        fit_value_model(ids, times, amounts, START + timedelta(weeks=2))
    with pytest.raises(NotEnoughPurchases, match="at least 30 and 10"):
        fit_value_model(ids[:20], times[:20], amounts[:20], START + timedelta(weeks=52))
