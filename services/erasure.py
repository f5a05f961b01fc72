"""Erasure requests carried out by the processors (what is removed, kept and recorded:
projections/erasure.py).

A request is executed once its event is projected: the rows naming the customer are counted and
the tombstone written as `erasing` (so the counts survive a retry, and the customer's events
arriving meanwhile are already anonymised), then the rows are anonymised or deleted and the
tombstone rewritten as `done`. A batch run again re-runs those statements (idempotent: they
select the rows still naming the customer) with the counts first recorded. Before projecting a
batch the processors ask which of its customers are erased (or being erased), by the SHA-256 of
their ids, and project those customers' events anonymised.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime

from touchstream.events.privacy import ErasureRequested
from touchstream.projections.erasure import (
    ERASED_ROWS,
    LETTER_ERASED,
    count_sql,
    erase_sql,
    subject_hash,
    tombstone,
)
from touchstream.services.projector import Projector

log = logging.getLogger(__name__)

_ERASED_AMONG = (
    "SELECT DISTINCT subject_sha256 FROM cx.erasures WHERE subject_sha256 IN {hashes:Array(String)}"
)
_TOMBSTONE = "SELECT rows_removed FROM cx.erasures FINAL WHERE erasure_id = {id:String}"
_ARCHIVE_ENGINE = (
    "SELECT engine, engine_full FROM system.tables WHERE database = 'cx' AND name = 'events'"
)


class ErasureBook:
    def __init__(self, projector: Projector) -> None:
        self.projector = projector
        self._cluster: str | None = None
        self._cluster_known = False

    async def erased(self, customer_ids: Iterable[str]) -> set[str]:
        """Which of these customers have been erased."""
        by_hash = {subject_hash(c): c for c in set(customer_ids) if c}
        if not by_hash:
            return set()
        rows = await self.projector.query(_ERASED_AMONG, {"hashes": sorted(by_hash)})
        return {by_hash[row["subject_sha256"]] for row in rows}

    async def _cluster_name(self) -> str | None:
        """The cluster of a Distributed archive (deletes go to the shards' tables), else None."""
        if not self._cluster_known:
            rows = await self.projector.query(_ARCHIVE_ENGINE)
            if rows and rows[0]["engine"] == "Distributed":
                match = re.match(r"Distributed\('([^']+)'", rows[0]["engine_full"])
                self._cluster = match.group(1) if match else None
            self._cluster_known = True
        return self._cluster

    async def execute(self, request: ErasureRequested) -> dict[str, int]:
        """Erase the request's customer from every read model; the rows affected per table."""
        customer = request.data.customer_id
        params = {"customer_id": customer}
        recorded = await self.projector.query(_TOMBSTONE, {"id": request.id})
        if recorded:  # a retry: the counts were taken before the first attempt erased anything
            removed = {k: int(v) for k, v in recorded[0]["rows_removed"].items()}
        else:
            removed = {}
            for table in ERASED_ROWS:
                (row,) = await self.projector.query(count_sql(table), params)
                removed[table] = int(row["n"])
            await self._record(request, removed, "erasing")
        cluster = await self._cluster_name()
        for table, count in removed.items():
            if count:
                sql = erase_sql(table, cluster)
                bound = {**params, "erased_note": LETTER_ERASED}
                await self.projector.call(self.projector.warehouse.command, sql, bound)
        await self._record(request, removed, "done")
        log.info("erasure %s executed: %s", request.id, removed)
        return removed

    async def _record(
        self, request: ErasureRequested, removed: dict[str, int], status: str
    ) -> None:
        stone = tombstone(request, removed, datetime.now(UTC), status)
        await self.projector.call(self.projector.warehouse.insert, "cx.erasures", [stone])
