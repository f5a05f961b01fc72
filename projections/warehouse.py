"""One warehouse interface, two backends chosen by URL.

- `chdb:///abs/path` — ClickHouse in-process through chDB (the embedded default). One process
  owns a data directory, so every call goes through a lock and the owning process serves reads.
- `http(s)://host:8123[/database]` — a ClickHouse server through clickhouse-connect.

Both take the same SQL text with ClickHouse query parameters (`{name:Type}`), and inserts are
JSONEachRow so the row format is identical too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlparse

import orjson


class WarehouseError(RuntimeError):
    """A query or insert failed in the warehouse."""


class Warehouse(Protocol):
    url: str

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def query_raw(self, sql: str, fmt: str, params: Mapping[str, Any] | None = None) -> bytes: ...

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None: ...

    def close(self) -> None: ...


def _ndjson(rows: Iterable[Mapping[str, Any]]) -> bytes:
    return b"\n".join(orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS) for row in rows)


def _parse_rows(raw: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in raw.splitlines() if line]


class ParamText(str):
    """A query-parameter value already in ClickHouse's escaped text form (as the ClickHouse HTTP
    interface receives `param_<name>`), passed on verbatim."""


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n"})


def _param_text(value: Any) -> str:
    """A query-parameter value in ClickHouse's escaped text form (chDB takes parameters as
    text, and reads backslash sequences in it)."""
    if isinstance(value, ParamText):
        return value
    if isinstance(value, list | tuple):
        return "[" + ",".join(sql_literal(v) for v in value) + "]"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    return str(value)


def sql_literal(value: Any) -> str:
    """A value as a ClickHouse literal: strings quoted with backslash escapes."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(value)


class ChdbWarehouse:
    """chDB, in this process. Thread-safe by serialising calls (chDB runs one query at a time)."""

    def __init__(self, path: str) -> None:
        import chdb

        self.url = f"chdb://{path}"
        self._lock = threading.Lock()
        try:
            self._conn = chdb.connect(path)
        except Exception as exc:
            raise WarehouseError(
                f"cannot open the chDB warehouse at {path}: {exc} "
                "(is another touchstream process using this data directory?)"
            ) from None

    def _run(self, sql: str, fmt: str, params: Mapping[str, Any] | None) -> bytes:
        with self._lock:
            try:
                text_params = {k: _param_text(v) for k, v in (params or {}).items()}
                result = self._conn.query(sql, fmt, params=text_params)
            except Exception as exc:
                raise WarehouseError(str(exc).strip()) from None
        return result.bytes()

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._run(sql, "JSONEachRow", params)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return _parse_rows(self._run(sql, "JSONEachRow", params))

    def query_raw(self, sql: str, fmt: str, params: Mapping[str, Any] | None = None) -> bytes:
        return self._run(sql, fmt, params)

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            payload = _ndjson(rows).decode()
            self._run(f"INSERT INTO {table} FORMAT JSONEachRow\n{payload}", "JSONEachRow", None)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class ClickHouseServerWarehouse:
    """A ClickHouse server over HTTP(S) through clickhouse-connect."""

    def __init__(self, url: str, user: str = "default", password: str = "") -> None:
        import clickhouse_connect

        parsed = urlparse(url)
        self.url = url
        database = parsed.path.strip("/") or "default"
        try:
            self._client = clickhouse_connect.get_client(
                host=parsed.hostname or "localhost",
                port=parsed.port or (8443 if parsed.scheme == "https" else 8123),
                username=parsed.username or user,
                password=parsed.password or password,
                database=database,
                secure=parsed.scheme == "https",
            )
        except Exception as exc:
            raise WarehouseError(f"cannot reach ClickHouse at {url}: {exc}") from None

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        try:
            self._client.command(sql, parameters=dict(params or {}))
        except Exception as exc:
            raise WarehouseError(str(exc).strip()) from None

    def query_raw(self, sql: str, fmt: str, params: Mapping[str, Any] | None = None) -> bytes:
        try:
            return self._client.raw_query(sql, parameters=dict(params or {}), fmt=fmt)
        except Exception as exc:
            raise WarehouseError(str(exc).strip()) from None

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return _parse_rows(self.query_raw(sql, "JSONEachRow", params))

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        columns = list(rows[0].keys())
        try:
            self._client.raw_insert(table, columns, _ndjson(rows), fmt="JSONEachRow")
        except Exception as exc:
            raise WarehouseError(str(exc).strip()) from None

    def close(self) -> None:
        self._client.close()


def open_warehouse(url: str, user: str = "default", password: str = "") -> Warehouse:
    """Open the warehouse named by `url` (see the module docstring for the schemes)."""
    parsed = urlparse(url)
    if parsed.scheme == "chdb":
        path = (parsed.netloc + parsed.path) or ":memory:"
        return ChdbWarehouse(path)
    if parsed.scheme in ("http", "https"):
        return ClickHouseServerWarehouse(url, user, password)
    raise WarehouseError(
        f"unsupported warehouse URL {url!r}: use chdb:///path or http(s)://host:8123"
    )
