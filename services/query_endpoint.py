"""A read-only subset of the ClickHouse HTTP interface over the embedded warehouse.

In the embedded mode one process owns the chDB data directory, so `touchstream sql` (and BI
tools speaking ClickHouse HTTP) read through the running process: `GET /ping`, and `GET`/`POST /`
with `query` (URL or body), `default_format`, and `param_<name>` query parameters.
Read-only means read-only: see `touchstream.projections.read_only_sql`.
"""

from __future__ import annotations

from aiohttp import web

from touchstream.projections.read_only_sql import QueryRefused, read_only_statement
from touchstream.projections.warehouse import ParamText, WarehouseError
from touchstream.services.projector import Projector


class QueryEndpoint:
    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    async def ping(self, request: web.Request) -> web.Response:
        return web.Response(text="Ok.\n")

    async def query(self, request: web.Request) -> web.Response:
        sql = request.query.get("query", "")
        if request.method == "POST":
            body = (await request.text()).strip()
            sql = f"{sql}\n{body}" if sql else body
        try:
            statement = read_only_statement(sql)
        except QueryRefused as exc:
            return web.Response(status=403, text=f"Code: 164. DB::Exception: {exc}. (READONLY)\n")
        fmt = request.query.get("default_format", "TabSeparated")
        # ClickHouse HTTP sends parameter values already in their escaped text form
        params = {k[6:]: ParamText(v) for k, v in request.query.items() if k.startswith("param_")}
        try:
            data = await self.projector.call(
                self.projector.warehouse.query_raw, statement, fmt, params
            )
        except WarehouseError as exc:
            return web.Response(status=400, text=f"{exc}\n")
        return web.Response(body=data, headers={"X-ClickHouse-Format": fmt})

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/ping", self.ping),
            web.get("/", self.query),
            web.post("/", self.query),
        ]
