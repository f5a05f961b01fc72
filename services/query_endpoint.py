"""A read-only subset of the ClickHouse HTTP interface over the embedded warehouse.

In the embedded mode one process owns the chDB data directory, so `touchstream sql` (and BI
tools speaking ClickHouse HTTP) read through the running process: `GET /ping`, and `GET`/`POST /`
with `query` (URL or body), `default_format`, and `param_<name>` query parameters. Only reading
statements are allowed.
"""

from __future__ import annotations

import re

from aiohttp import web

from touchstream.projections.warehouse import WarehouseError
from touchstream.services.projector import Projector

_READING = re.compile(r"^\s*(SELECT|SHOW|DESCRIBE|DESC|EXISTS|WITH|EXPLAIN)\b", re.IGNORECASE)
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


def read_only_problem(sql: str) -> str | None:
    """Why `sql` is refused, or None when it is a single reading statement."""
    text = _COMMENTS.sub(" ", sql).strip().rstrip(";").strip()
    if not text:
        return "empty query"
    if ";" in text:
        return "one statement per request"
    if not _READING.match(text):
        return "read-only endpoint: only SELECT, SHOW, DESCRIBE, EXISTS and WITH are allowed"
    return None


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
        refused = read_only_problem(sql)
        if refused:
            return web.Response(
                status=403, text=f"Code: 164. DB::Exception: {refused}. (READONLY)\n"
            )
        fmt = request.query.get("default_format", "TabSeparated")
        params = {k[6:]: v for k, v in request.query.items() if k.startswith("param_")}
        try:
            data = await self.projector.call(self.projector.warehouse.query_raw, sql, fmt, params)
        except WarehouseError as exc:
            return web.Response(status=400, text=f"{exc}\n")
        return web.Response(body=data, headers={"X-ClickHouse-Format": fmt})

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/ping", self.ping),
            web.get("/", self.query),
            web.post("/", self.query),
        ]
