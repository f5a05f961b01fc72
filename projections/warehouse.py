"""One warehouse interface, two backends chosen by URL.

- `chdb:///abs/path` — ClickHouse in-process through chDB (the embedded default). One process
  owns a data directory, so every call goes through a lock and the owning process serves reads.
- `http(s)://host:8123[/database]` — a ClickHouse server through clickhouse-connect.

Both take the same SQL text with ClickHouse query parameters (`{name:Type}`), and inserts are
JSONEachRow so the row format is identical too. (A third, `RelayWarehouse` in
services/warehouse_relay.py, lets a processor process attached to `up` use `up`'s chDB.)

For the fault-injection tests only, `TOUCHSTREAM_TEST_FAIL_WRITES_WHILE_EXISTS` makes inserts
fail on demand (see `FailingWrites`).
"""

from __future__ import annotations

import os
import threading
import time
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

    def insert_new(
        self, table: str, rows: Mapping[str, Mapping[str, Any]], stored_sql: str
    ) -> list[str]:
        """Insert the rows (by key) whose key `stored_sql` does not find stored; return the
        keys inserted. See `insert_unstored`."""
        ...

    def close(self) -> None: ...


def insert_unstored(
    warehouse: Warehouse, table: str, rows: Mapping[str, Mapping[str, Any]], stored_sql: str
) -> list[str]:
    """Insert the rows whose key is not stored yet, and return their keys. `stored_sql` selects
    the stored keys among `{ids:Array(String)}` (one column), so a record read again after a
    crash or a rebalance is recognised and skipped rather than stored twice. The caller makes
    the check and the insert one step (the processors' one warehouse thread; the chDB lock)."""
    stored = {next(iter(row.values())) for row in warehouse.query(stored_sql, {"ids": list(rows)})}
    fresh = [key for key in rows if key not in stored]
    if fresh:
        warehouse.insert(table, [rows[key] for key in fresh])
    return fresh


def _ndjson(rows: Iterable[Mapping[str, Any]]) -> bytes:
    return b"\n".join(orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS) for row in rows)


def parse_rows(raw: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in raw.splitlines() if line]


class ParamText(str):
    """A query-parameter value already in ClickHouse's escaped text form (as the ClickHouse HTTP
    interface receives `param_<name>`), passed on verbatim."""


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n"})


def param_text(value: Any) -> str:
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
    """chDB, in this process. Thread-safe by serialising calls (chDB runs one query at a time).

    Unlike a server, chDB does not remove the parts a merge replaced on its own: they stay on disk
    and in memory (thousands an hour at the processors' insert rate, the process growing by
    megabytes a minute). `SYSTEM START CLEANUP` wakes the removal, which then runs in chDB's
    background pool; inserts ask for it at most every `CLEANUP_EVERY_S`.
    """

    CLEANUP_EVERY_S = 5.0

    def __init__(self, path: str) -> None:
        import chdb

        self.url = f"chdb://{path}"
        self._lock = threading.RLock()  # held across the two steps of `insert_new`
        self._cleanup_due = 0.0
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
                text_params = {k: param_text(v) for k, v in (params or {}).items()}
                result = self._conn.query(sql, fmt, params=text_params)
            except Exception as exc:
                raise WarehouseError(str(exc).strip()) from None
        return result.bytes()

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._run(sql, "JSONEachRow", params)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return parse_rows(self._run(sql, "JSONEachRow", params))

    def query_raw(self, sql: str, fmt: str, params: Mapping[str, Any] | None = None) -> bytes:
        return self._run(sql, fmt, params)

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            payload = _ndjson(rows).decode()
            self._run(f"INSERT INTO {table} FORMAT JSONEachRow\n{payload}", "JSONEachRow", None)
            if time.monotonic() >= self._cleanup_due:
                self._run("SYSTEM START CLEANUP", "JSONEachRow", None)
                self._cleanup_due = time.monotonic() + self.CLEANUP_EVERY_S

    def insert_new(
        self, table: str, rows: Mapping[str, Mapping[str, Any]], stored_sql: str
    ) -> list[str]:
        with self._lock:
            return insert_unstored(self, table, rows, stored_sql)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class ClickHouseServerWarehouse:
    """A ClickHouse server over HTTP(S) through clickhouse-connect.

    Inserts are one JSONEachRow INSERT per batch (the same row format as chDB) carrying an
    `insert_deduplication_token` derived from the exact rows sent, so a retried insert of the
    same rows, whether retried here or by the projector, is dropped by the server instead of
    stored twice: on Replicated*MergeTree tables (the cluster schema) and MergeTree tables with
    a `non_replicated_deduplication_window`, including the tables the materialized views feed
    (`deduplicate_blocks_in_dependent_materialized_views`). Into a Distributed table the insert
    is forwarded before it is acknowledged (`distributed_foreground_insert`), so success means
    the shards have the rows and a failure can be retried.

    Transient failures (connection errors, timeouts, HTTP 429/502/503/504, overloaded or
    Keeper-less servers) are retried with exponential back-off, `attempts` times in all; any
    other error (syntax, types, permissions) raises `WarehouseError` at once. Every statement
    Touchstream sends is safe to repeat (`IF NOT EXISTS` DDL, reads, deduplicated inserts).
    """

    #: ClickHouse error codes worth another attempt.
    TRANSIENT_CODES = frozenset(
        {
            3,  # UNEXPECTED_END_OF_FILE
            159,  # TIMEOUT_EXCEEDED
            202,  # TOO_MANY_SIMULTANEOUS_QUERIES
            209,  # SOCKET_TIMEOUT
            210,  # NETWORK_ERROR
            225,  # NO_ZOOKEEPER
            241,  # MEMORY_LIMIT_EXCEEDED
            242,  # TABLE_IS_READ_ONLY (a replica lost its Keeper session)
            252,  # TOO_MANY_PARTS
            279,  # ALL_CONNECTION_TRIES_FAILED
            285,  # TOO_FEW_LIVE_REPLICAS
            319,  # UNKNOWN_STATUS_OF_INSERT
            425,  # SYSTEM_ERROR
            439,  # CANNOT_SCHEDULE_TASK
            999,  # KEEPER_EXCEPTION
        }
    )
    TRANSIENT_HTTP_STATUSES = (429, 502, 503, 504)
    INSERT_SETTINGS = (
        ("deduplicate_blocks_in_dependent_materialized_views", 1),
        ("distributed_foreground_insert", 1),
    )

    def __init__(
        self,
        url: str,
        user: str = "default",
        password: str = "",
        *,
        client: Any = None,
        attempts: int = 4,
        backoff_s: float = 0.2,
        backoff_max_s: float = 5.0,
        sleep: Any = None,
    ) -> None:
        self.url = url
        self.attempts = max(1, attempts)
        self.backoff_s, self.backoff_max_s = backoff_s, backoff_max_s
        self._sleep = sleep or time.sleep
        self._client = client if client is not None else self._connect(url, user, password)

    @staticmethod
    def _connect(url: str, user: str, password: str) -> Any:
        import clickhouse_connect

        parsed = urlparse(url)
        database = parsed.path.strip("/") or "default"
        try:
            return clickhouse_connect.get_client(
                host=parsed.hostname or "localhost",
                port=parsed.port or (8443 if parsed.scheme == "https" else 8123),
                username=parsed.username or user,
                password=parsed.password or password,
                database=database,
                secure=parsed.scheme == "https",
            )
        except Exception as exc:
            raise WarehouseError(f"cannot reach ClickHouse at {url}: {exc}") from None

    @staticmethod
    def deduplication_token(table: str, payload: bytes) -> str:
        """The insert's deduplication token: the table and a digest of the exact rows (ids and
        content). The same rows give the same token however often they are sent; a different
        row, such as a new revision of an alert under the same id, gives another token."""
        import hashlib

        return f"touchstream:{table}:{hashlib.sha256(payload).hexdigest()}"

    @classmethod
    def is_transient(cls, exc: BaseException) -> bool:
        """Whether another attempt may succeed."""
        from clickhouse_connect.driver.exceptions import OperationalError

        if isinstance(exc, ConnectionError | TimeoutError):
            return True
        code = getattr(exc, "code", None)
        if code in cls.TRANSIENT_CODES:
            return True
        message = str(exc)
        if any(f"HTTP status {status}" in message for status in cls.TRANSIENT_HTTP_STATUSES):
            return True
        # clickhouse-connect's transport failures (refused, reset, timed out) carry no code
        return isinstance(exc, OperationalError) and code is None

    def backoff_delays(self) -> list[float]:
        """The waits between attempts: exponential, capped."""
        return [
            min(self.backoff_s * 2**attempt, self.backoff_max_s)
            for attempt in range(self.attempts - 1)
        ]

    def _call(self, fn: Any) -> Any:
        delays = self.backoff_delays()
        for attempt in range(self.attempts):
            try:
                return fn()
            except Exception as exc:
                if attempt == self.attempts - 1 or not self.is_transient(exc):
                    raise WarehouseError(str(exc).strip()) from None
                self._sleep(delays[attempt])
        raise AssertionError("unreachable")  # pragma: no cover

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._call(lambda: self._client.command(sql, parameters=dict(params or {})))

    def query_raw(self, sql: str, fmt: str, params: Mapping[str, Any] | None = None) -> bytes:
        return self._call(
            lambda: self._client.raw_query(sql, parameters=dict(params or {}), fmt=fmt)
        )

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return parse_rows(self.query_raw(sql, "JSONEachRow", params))

    def insert_settings(self, table: str, payload: bytes) -> dict[str, Any]:
        """The settings of one insert: its token, and the insert settings this server knows."""
        known = getattr(self._client, "server_settings", None) or {}
        settings = {k: v for k, v in self.INSERT_SETTINGS if not known or k in known}
        settings["insert_deduplication_token"] = self.deduplication_token(table, payload)
        return settings

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        columns = list(rows[0].keys())
        payload = _ndjson(rows)  # built once: every attempt sends the same bytes and token
        settings = self.insert_settings(table, payload)
        self._call(
            lambda: self._client.raw_insert(
                table, columns, payload, settings=settings, fmt="JSONEachRow"
            )
        )

    def insert_new(
        self, table: str, rows: Mapping[str, Mapping[str, Any]], stored_sql: str
    ) -> list[str]:
        return insert_unstored(self, table, rows, stored_sql)

    def close(self) -> None:
        self._client.close()


class FailingWrites:
    """TEST-ONLY FAULT SWITCH: a warehouse whose inserts raise `WarehouseError` while a file
    exists; queries and commands pass through.

    `open_warehouse` returns one only when the environment variable named by
    `FAIL_WRITES_SWITCH` holds a file path (the chaos tests, tests/e2e/test_chaos.py, set it for
    the `touchstream up` they start, then create and delete the file to fail and heal the
    warehouse). It is not a setting and nothing else reads it; when the variable is unset,
    `open_warehouse` returns the backend itself, so the switch costs nothing.
    """

    def __init__(self, warehouse: Warehouse, switch: str) -> None:
        self._warehouse = warehouse
        self.switch = switch
        self.url = warehouse.url

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if os.path.exists(self.switch):
            raise WarehouseError(f"injected write failure ({self.switch} exists)")
        self._warehouse.insert(table, rows)

    def insert_new(
        self, table: str, rows: Mapping[str, Mapping[str, Any]], stored_sql: str
    ) -> list[str]:
        return insert_unstored(self, table, rows, stored_sql)

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._warehouse.command(sql, params)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return self._warehouse.query(sql, params)

    def query_raw(self, sql: str, fmt: str, params: Mapping[str, Any] | None = None) -> bytes:
        return self._warehouse.query_raw(sql, fmt, params)

    def close(self) -> None:
        self._warehouse.close()


#: Names the environment variable of the test-only fault switch (`FailingWrites`).
FAIL_WRITES_SWITCH = "TOUCHSTREAM_TEST_FAIL_WRITES_WHILE_EXISTS"


def open_warehouse(url: str, user: str = "default", password: str = "") -> Warehouse:
    """Open the warehouse named by `url` (see the module docstring for the schemes)."""
    warehouse = _open_backend(url, user, password)
    switch = os.environ.get(FAIL_WRITES_SWITCH)
    return FailingWrites(warehouse, switch) if switch else warehouse


def _open_backend(url: str, user: str, password: str) -> Warehouse:
    parsed = urlparse(url)
    if parsed.scheme == "chdb":
        path = (parsed.netloc + parsed.path) or ":memory:"
        return ChdbWarehouse(path)
    if parsed.scheme in ("http", "https"):
        return ClickHouseServerWarehouse(url, user, password)
    raise WarehouseError(
        f"unsupported warehouse URL {url!r}: use chdb:///path or http(s)://host:8123"
    )
