"""Read endpoints over the read models: a customer's timeline and profile, recent alerts."""

from __future__ import annotations

import orjson
from aiohttp import web

from touchstream.projections import queries
from touchstream.services.projector import Projector

MAX_LIMIT = 1000


def _limit(request: web.Request, default: int) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise web.HTTPBadRequest(
            text=orjson.dumps(
                {"error": f"limit must be an integer from 1 to {MAX_LIMIT}"}
            ).decode(),
            content_type="application/json",
        )
    return int(raw)


class ReadApi:
    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    async def timeline(self, request: web.Request) -> web.Response:
        customer_id = request.match_info["customer_id"]
        rows = await self.projector.query(
            queries.CUSTOMER_TIMELINE, {"customer_id": customer_id, "limit": _limit(request, 100)}
        )
        return web.json_response({"customer_id": customer_id, "events": rows})

    async def profile(self, request: web.Request) -> web.Response:
        customer_id = request.match_info["customer_id"]
        rows = await self.projector.query(queries.CUSTOMER_PROFILE, {"customer_id": customer_id})
        if not rows:
            return web.json_response(
                {"error": f"no events for customer {customer_id!r}"}, status=404
            )
        return web.json_response(rows[0])

    async def alerts(self, request: web.Request) -> web.Response:
        params = {
            "customer_id": request.query.get("customer_id", ""),
            "priority": request.query.get("priority", ""),
            "limit": _limit(request, 50),
        }
        rows = await self.projector.query(queries.RECENT_ALERTS, params)
        for row in rows:
            row["reasons"] = orjson.loads(row["reasons"])
        return web.json_response({"alerts": rows})

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v1/customers/{customer_id}/timeline", self.timeline),
            web.get("/v1/customers/{customer_id}/profile", self.profile),
            web.get("/v1/alerts", self.alerts),
        ]
