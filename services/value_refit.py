"""The value model kept current: refitted from the warehouse's purchases on a schedule (and on
demand), stored in `cx.value_models` and `cx.customer_value`, and read back by churn scoring
for each customer's P(alive) and value tier (projections/value_model.py).

A fit observes purchases up to the stream time (the newest event projected), so a history
loaded in bulk is valued as of its own end, not of the wall clock. Until a fit succeeds
(`NotEnoughPurchases` says why), churn risk runs on experience signals alone and every
customer counts as of medium value.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime

from aiohttp import web
from rich.table import Table

from touchstream.projections import queries
from touchstream.projections.bgnbd import BgNbdParams
from touchstream.projections.customer_value import GammaGammaParams, ValueTierThresholds
from touchstream.projections.timeline import ch_time, from_ch_time
from touchstream.projections.value_model import NotEnoughPurchases, ValueModel, fit_value_model
from touchstream.services.projector import Projector

log = logging.getLogger(__name__)


class ValueBook:
    def __init__(self, projector: Projector) -> None:
        self.projector = projector
        self.model: ValueModel | None = None
        self._loaded = False

    async def current(self) -> ValueModel | None:
        """The latest fitted model (read from the warehouse once, then kept by `refit`)."""
        if not self._loaded:
            rows = await self.projector.query(queries.LATEST_VALUE_MODEL)
            self.model = _model(rows[0]) if rows else None
            self._loaded = True
        return self.model

    async def tiers(self, customers: Iterable[str]) -> dict[str, str]:
        if await self.current() is None:
            return {}
        rows = await self.projector.query(queries.VALUE_TIERS, {"ids": sorted(customers)})
        return {row["customer_id"]: row["tier"] for row in rows}

    async def refit(self) -> ValueModel:
        """Fit on every purchase up to the stream time and store the model and the values;
        raises `NotEnoughPurchases` (a `ValueError`) with the reason when the data is thin."""
        (stream,) = await self.projector.query(queries.STREAM_TIME)
        if not int(stream["n"]):
            raise NotEnoughPurchases("no events in the warehouse yet")
        end = from_ch_time(stream["time"])
        rows = await self.projector.query(queries.PURCHASES)
        ids = [r["customer_id"] for r in rows]
        times = [from_ch_time(r["time"]) for r in rows]
        amounts = [float(r["amount"]) for r in rows]
        model, values = await asyncio.to_thread(fit_value_model, ids, times, amounts, end)
        fitted_at, computed_at = ch_time(model.fitted_at), ch_time(datetime.now(UTC))
        value_rows = [{**asdict(v), "fitted_at": fitted_at} for v in values]
        await self.projector.call(self.projector.warehouse.insert, "cx.customer_value", value_rows)
        model_row = _model_row(model, fitted_at, computed_at, len(values))
        await self.projector.call(self.projector.warehouse.insert, "cx.value_models", [model_row])
        self.model, self._loaded = model, True
        log.info("value model refitted on %d customers as of %s", len(values), fitted_at)
        return model


def _model_row(model: ValueModel, fitted_at: str, computed_at: str, customers: int) -> dict:
    b, g, t = model.bgnbd, model.gamma_gamma, model.thresholds
    return {
        "fitted_at": fitted_at,
        "computed_at": computed_at,
        "customers": customers,
        "repeat_customers": g.n_customers,
        "bgnbd_r": b.r,
        "bgnbd_alpha": b.alpha,
        "bgnbd_a": b.a,
        "bgnbd_b": b.b,
        "bgnbd_log_likelihood": b.log_likelihood,
        "gg_p": g.p,
        "gg_q": g.q,
        "gg_v": g.v,
        "tier_top_clv": t.top,
        "tier_high_clv": t.high,
        "tier_medium_clv": t.medium,
    }


def _model(row: dict) -> ValueModel:
    customers, repeaters = int(row["customers"]), int(row["repeat_customers"])
    return ValueModel(
        fitted_at=from_ch_time(row["fitted_at"]),
        bgnbd=BgNbdParams(
            row["bgnbd_r"],
            row["bgnbd_alpha"],
            row["bgnbd_a"],
            row["bgnbd_b"],
            row["bgnbd_log_likelihood"],
            customers,
            True,
        ),
        gamma_gamma=GammaGammaParams(
            row["gg_p"], row["gg_q"], row["gg_v"], float("nan"), repeaters, True
        ),
        thresholds=ValueTierThresholds(
            row["tier_top_clv"], row["tier_high_clv"], row["tier_medium_clv"]
        ),
    )


def render_value(model: dict, tiers: list[dict]) -> Table:
    """The latest model and its tiers, for `touchstream value`."""
    table = Table(
        title=f"Value model fitted as of {model['fitted_at'][:16]} on "
        f"{int(model['customers']):,} customers ({int(model['repeat_customers']):,} repeat)",
        caption=(
            f"BG/NBD r={model['bgnbd_r']:.4g} α={model['bgnbd_alpha']:.4g} "
            f"a={model['bgnbd_a']:.4g} b={model['bgnbd_b']:.4g}; Gamma-Gamma "
            f"p={model['gg_p']:.4g} q={model['gg_q']:.4g} γ={model['gg_v']:.4g}; CLV = 12 "
            "months at 1%/month"
        ),
    )
    for column in ("tier", "customers", "from CLV", "mean CLV", "mean P(alive)"):
        table.add_column(column, justify="left" if column == "tier" else "right")
    for row in tiers:
        table.add_row(
            row["tier"],
            f"{int(row['customers']):,}",
            f"{row['min_clv']:,.2f}",
            f"{row['mean_clv']:,.2f}",
            f"{row['mean_p_alive']:.3f}",
        )
    return table


def value_routes(book: ValueBook) -> list[web.RouteDef]:
    """`POST /v1/value-model/fit`: refit now (what `touchstream value --fit` calls while `up`
    owns the warehouse); 422 with the reason when the purchases are too few to fit."""

    async def fit(request: web.Request) -> web.Response:
        try:
            model = await book.refit()
        except NotEnoughPurchases as exc:
            return web.json_response({"error": str(exc)}, status=422)
        return web.json_response(
            {
                "fitted_at": model.fitted_at.isoformat(),
                "customers": model.bgnbd.n_customers,
                "repeat_customers": model.gamma_gamma.n_customers,
            }
        )

    return [web.post("/v1/value-model/fit", fit)]
