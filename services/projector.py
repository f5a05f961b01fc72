"""The warehouse side of the processors: idempotent inserts that retry until they succeed.

Every call runs on one worker thread (chDB runs one statement at a time, and the event loop
must stay free for the HTTP surfaces). A failed write is retried with capped exponential
back-off and never raised to the stream: the micro-batch is acknowledged, and its offsets
committed, only after its rows are in the warehouse.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from touchstream.projections.warehouse import Warehouse, WarehouseError
from touchstream.services import metrics

log = logging.getLogger(__name__)
T = TypeVar("T")


class Projector:
    def __init__(self, warehouse: Warehouse, retry_max_s: float = 30.0) -> None:
        self.warehouse = warehouse
        self.retry_max_s = retry_max_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse")

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking warehouse call off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return await self.call(self.warehouse.query, sql, params)

    async def insert_new(
        self,
        table: str,
        rows: Sequence[dict[str, Any]],
        key: Callable[[dict[str, Any]], str],
        existing_sql: str,
    ) -> list[dict[str, Any]]:
        """Insert the rows whose key is not yet stored; return the rows inserted.

        `existing_sql` selects the already-stored keys among `{ids:Array(String)}`, so a
        replayed record is recognised and skipped rather than counted twice.
        """
        unique: dict[str, dict[str, Any]] = {}
        for row in rows:
            unique.setdefault(key(row), row)
        delay = 0.25
        while True:
            try:
                return await self.call(self._insert_new_now, table, unique, existing_sql)
            except WarehouseError as exc:
                metrics.WAREHOUSE_WRITE_FAILURES.labels(table).inc()
                log.warning("write to %s failed, retrying in %.1fs: %s", table, delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)

    def _insert_new_now(
        self, table: str, unique: dict[str, dict[str, Any]], existing_sql: str
    ) -> list[dict[str, Any]]:
        started = time.perf_counter()
        fresh = self.warehouse.insert_new(table, unique, existing_sql)
        if fresh:
            metrics.WAREHOUSE_WRITE_SECONDS.labels(table).observe(time.perf_counter() - started)
        return [unique[key] for key in fresh]

    def close(self) -> None:
        self._executor.shutdown(wait=True)
