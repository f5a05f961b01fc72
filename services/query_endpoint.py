"""A read-only subset of the ClickHouse HTTP interface over the embedded warehouse.

In the embedded mode one process owns the chDB data directory, so `touchstream sql`, the
clickhouse-connect Python client and BI tools speaking ClickHouse HTTP read through the running
process. What is understood, as ClickHouse's HTTP interface does it:

- `GET /ping` and `GET /` without a query answer `Ok.`;
- `GET`/`POST /` with the query in `query` (URL or form field), in the body, or both (joined by
  a newline); `multipart/form-data` bodies with `query` and `param_<name>` fields (what
  clickhouse-connect sends when parameters are long);
- the output format: the statement's own `FORMAT` clause, else `default_format` (or the
  `X-ClickHouse-Format` header), else TabSeparated; chDB writes every ClickHouse format;
- `param_<name>` values for `{name:Type}` placeholders;
- `database`: only `default` (or none). Statements switch nothing on the shared connection, so
  qualify names (`cx.timeline`); any other database is refused with that explanation;
- `query_id` is echoed in `X-ClickHouse-Query-Id`; `enable_http_compression=1` compresses the
  answer with gzip or deflate when the client accepts it;
- the settings in `read_only_sql.CLIENT_SETTINGS` (result shape and limits) are applied;
  everything else clients send (`session_id`, `wait_end_of_query`, `client_protocol_version`,
  `send_progress_in_http_headers`, `date_time_input_format`, ...) is ignored, never applied.
  `compress`/`decompress` (ClickHouse's own block compression) are refused.

Read-only means read-only: see `touchstream.projections.read_only_sql`. Queries run on the
warehouse thread the processors also write through, so each is capped at
`MAX_EXECUTION_S` seconds to keep a heavy dashboard from stalling the pipeline for long. There
is no authentication: the endpoint listens where `TOUCHSTREAM_HTTP_HOST` says (127.0.0.1 in the
embedded default).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

from aiohttp import web

from touchstream.projections.read_only_sql import (
    CLIENT_SETTINGS,
    QueryRefused,
    explicit_format,
    read_only_statement,
)
from touchstream.projections.warehouse import ParamText, WarehouseError
from touchstream.services.projector import Projector

MAX_EXECUTION_S = 30
DEFAULT_FORMAT = "TabSeparated"
_DATABASES = ("", "default")
_FORMAT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
# chDB's Python-level result types, not ClickHouse formats
_NOT_FORMATS = {"dataframe", "datastore", "arrowtable", "debug"}
_ERROR_CODE = re.compile(r"\bCode:\s*(\d+)")
_STATUS_BY_CODE = {60: 404, 81: 404, 164: 403, 497: 403}

_CONTENT_TYPES = (
    ("tabseparated", "text/tab-separated-values; charset=UTF-8"),
    ("tsv", "text/tab-separated-values; charset=UTF-8"),
    ("csv", "text/csv; charset=UTF-8"),
    ("json", "application/json; charset=UTF-8"),
    ("pretty", "text/plain; charset=UTF-8"),
    ("vertical", "text/plain; charset=UTF-8"),
    ("markdown", "text/markdown; charset=UTF-8"),
    ("xml", "application/xml; charset=UTF-8"),
)


class _Refused(Exception):
    """A request the endpoint answers with a ClickHouse-style error."""

    def __init__(self, status: int, code: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.name = status, code, name


def _content_type(fmt: str) -> str:
    lowered = fmt.lower()
    if lowered.startswith("json") and "eachrow" in lowered:
        return "application/x-ndjson; charset=UTF-8"
    for prefix, value in _CONTENT_TYPES:
        if lowered.startswith(prefix):
            return value
    return "application/octet-stream"


def _error_response(status: int, code: int | None, text: str) -> web.Response:
    headers = {"X-ClickHouse-Exception-Code": str(code)} if code is not None else {}
    return web.Response(status=status, text=text.rstrip() + "\n", headers=headers)


def _refused(exc: _Refused) -> web.Response:
    return _error_response(
        exc.status, exc.code, f"Code: {exc.code}. DB::Exception: {exc}. ({exc.name})"
    )


def _settings(values: Mapping[str, str]) -> dict[str, str]:
    """The client settings to apply, with the execution time capped."""
    settings = {name: value for name, value in values.items() if name in CLIENT_SETTINGS}
    try:
        asked = float(settings.get("max_execution_time", "0"))
    except ValueError:
        asked = 0
    limit = asked if 0 < asked <= MAX_EXECUTION_S else MAX_EXECUTION_S
    settings["max_execution_time"] = f"{limit:g}"
    return settings


def _output_format(sql: str, values: Mapping[str, str], request: web.Request) -> str:
    fmt = (
        explicit_format(sql)
        or values.get("default_format")
        or request.headers.get("X-ClickHouse-Format")
        or DEFAULT_FORMAT
    )
    if not _FORMAT_NAME.fullmatch(fmt) or fmt.lower() in _NOT_FORMATS:
        raise _Refused(400, 73, "UNKNOWN_FORMAT", f"Unknown output format {fmt!r}")
    return fmt


def _check_transport(values: Mapping[str, str], request: web.Request) -> None:
    database = values.get("database", request.headers.get("X-ClickHouse-Database", ""))
    if database not in _DATABASES:
        raise _Refused(
            400,
            48,
            "NOT_IMPLEMENTED",
            f"the embedded endpoint reads with the `default` database only, not {database!r}: "
            "leave `database` unset and qualify names, e.g. cx.timeline",
        )
    for name in ("compress", "decompress"):
        if values.get(name, "0") not in ("0", "false", ""):
            raise _Refused(
                400,
                48,
                "NOT_IMPLEMENTED",
                f"`{name}` (ClickHouse block compression) is not supported by the embedded "
                "endpoint; use HTTP compression (enable_http_compression=1)",
            )


async def _request_values(request: web.Request) -> tuple[str, dict[str, str]]:
    """The SQL text and the parameters of a request (URL parameters, then form fields)."""
    values = dict(request.query)
    parts = [values.pop("query", "")]
    if request.method == "POST":
        if request.content_type == "multipart/form-data":
            try:
                form = await request.post()
            except ValueError as exc:
                raise _Refused(400, 27, "CANNOT_PARSE_INPUT", f"bad form body: {exc}") from None
            for name, value in form.items():
                if not isinstance(value, str):
                    raise _Refused(
                        400, 48, "NOT_IMPLEMENTED", "external data (file fields) is not supported"
                    )
                if name == "query":
                    parts.append(value)
                else:
                    values[name] = value
        else:
            raw = await request.read()
            try:
                parts.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise _Refused(
                    403,
                    164,
                    "READONLY",
                    "read-only endpoint: the body must be the query as UTF-8 text; "
                    "data bodies (inserts) are refused",
                ) from None
    return "\n".join(part.strip() for part in parts if part.strip()), values


class QueryEndpoint:
    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    async def ping(self, request: web.Request) -> web.Response:
        return web.Response(text="Ok.\n")

    async def query(self, request: web.Request) -> web.Response:
        try:
            sql, values = await _request_values(request)
            if not sql and request.method == "GET":
                return await self.ping(request)
            _check_transport(values, request)
            fmt = _output_format(sql, values, request)
            statement = read_only_statement(sql, _settings(values))
        except _Refused as exc:
            return _refused(exc)
        except QueryRefused as exc:
            return _refused(_Refused(403, 164, "READONLY", str(exc)))
        # ClickHouse HTTP sends parameter values already in their escaped text form
        params = {k[6:]: ParamText(v) for k, v in values.items() if k.startswith("param_")}
        try:
            data = await self.projector.call(
                self.projector.warehouse.query_raw, statement, fmt, params
            )
        except WarehouseError as exc:
            match = _ERROR_CODE.search(str(exc))
            code = int(match[1]) if match else None
            return _error_response(_STATUS_BY_CODE.get(code or 0, 400), code, str(exc))
        response = web.Response(
            body=data,
            headers={
                "Content-Type": _content_type(fmt),
                "X-ClickHouse-Format": fmt,
                "X-ClickHouse-Query-Id": values.get("query_id") or str(uuid.uuid4()),
            },
        )
        if values.get("enable_http_compression") in ("1", "true"):
            response.enable_compression()
        return response

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/ping", self.ping),
            web.get("/", self.query),
            web.post("/", self.query),
        ]
