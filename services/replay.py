"""`touchstream replay`: rebuild the read models from the event archive and switch them in
(what is rebuilt and how: projections/replay.py).

The archive is read in log order (received, then Kafka position), each event is validated and
projected again by the current code (summaries, sentiment, segments, valences...) into fresh
copies of the read models, and the copies are exchanged with the live tables in one statement.
Inside a running `up` the rebuild holds the warehouse's one worker thread, so the processors
pause (their lag grows, nothing is lost) and resume on the rebuilt tables; their in-memory state
(segments, churn walks, the touchpoint monitor) is dropped and rebuilt from the new tables.

Events of erased customers are anonymised in the archive (projections/erasure.py) and cannot be
projected again: they are skipped and counted, so a rebuild after erasures forgets their share of
the aggregates too.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field

import orjson
from aiohttp import web

from touchstream.events.catalog import EventInvalid, parse_event
from touchstream.projections.erasure import ERASED_MARK, subject_hash
from touchstream.projections.replay import (
    ARCHIVE_PAGE,
    LEFTOVERS,
    START,
    SUFFIX,
    VIEWS,
    rebuild_plan,
)
from touchstream.projections.timeline import RecordOrigin, from_ch_time, ingest_row
from touchstream.projections.warehouse import Warehouse
from touchstream.services.projector import Projector
from touchstream.services.segments import carry_segments

log = logging.getLogger(__name__)

PAGE = 5000
_ERASED = "SELECT subject_sha256 FROM cx.erasures"


@dataclass
class ReplayReport:
    events: int = 0  # archived events read
    projected: int = 0  # projected again into the rebuilt tables
    erased: int = 0  # anonymised by an erasure: not projectable
    invalid: int = 0  # refused by today's validation (see the log)
    tables: dict[str, dict[str, int]] = field(default_factory=dict)  # rows before / after
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def _event_object(row: dict) -> dict:
    """The structured-mode CloudEvent of an archive row."""
    obj = {
        "specversion": row["specversion"],
        "id": row["id"],
        "source": row["source"],
        "type": row["type"],
        "time": from_ch_time(row["event_time"]).isoformat(),
        "datacontenttype": row["datacontenttype"],
        "data": orjson.loads(row["data"]),
        **row["extensions"],
    }
    if row["subject"]:
        obj["subject"] = row["subject"]
    return obj


def rebuild(
    warehouse: Warehouse, progress: Callable[[ReplayReport], None] | None = None
) -> ReplayReport:
    """Rebuild every archive-fed read model and switch it in; blocking."""
    started = time.perf_counter()
    report = ReplayReport()
    for leftover in warehouse.query(LEFTOVERS):  # an interrupted rebuild
        kind = "VIEW" if leftover["engine"] == "MaterializedView" else "TABLE"
        warehouse.command(f"DROP {kind} IF EXISTS cx.{leftover['name']}")
    plan = rebuild_plan(warehouse.query(VIEWS))
    for statement in plan.create:
        warehouse.command(statement)
    erased = {row["subject_sha256"] for row in warehouse.query(_ERASED)}
    segments: dict[str, str] = {}
    after = dict(START)
    while page := warehouse.query(ARCHIVE_PAGE, {**after, "limit": PAGE}):
        rows = []
        for archived in page:
            report.events += 1
            customer = archived["customer_id"]
            if ERASED_MARK in archived["extensions"] or subject_hash(customer) in erased:
                report.erased += 1
                continue
            try:
                event = parse_event(_event_object(archived))
            except EventInvalid as exc:
                report.invalid += 1
                log.warning("archived event %s no longer valid: %s", archived["id"], exc)
                continue
            origin = RecordOrigin(
                archived["kafka_topic"], archived["kafka_partition"], archived["kafka_offset"]
            )
            rows.append(ingest_row(event, origin, from_ch_time(archived["received"])))
        carry_segments(rows, segments)
        if rows:
            warehouse.insert(f"cx.ingest{SUFFIX}", rows)
        report.projected += len(rows)
        last = page[-1]
        after = {
            "received_at": last["received"],
            "topic": last["kafka_topic"],
            "partition": last["kafka_partition"],
            "offset": last["kafka_offset"],
            "id": last["id"],
        }
        if progress:
            progress(report)
    for statement in plan.drop_feed:
        warehouse.command(statement)
    count = "SELECT count() AS n FROM cx.{}"
    for table in plan.tables:
        report.tables[table] = {"before": warehouse.query(count.format(table))[0]["n"]}
    warehouse.command(plan.switch)
    for table in plan.tables:
        report.tables[table]["after"] = warehouse.query(count.format(table))[0]["n"]
    for statement in plan.drop_old:
        warehouse.command(statement)
    report.seconds = round(time.perf_counter() - started, 3)
    log.info("replay done: %s", report.to_dict())
    return report


class ReplayRefused(RuntimeError):
    """A rebuild that cannot run now."""


class Replayer:
    """Runs a rebuild on the processors' warehouse thread, then tells the processors.

    `attached` lists the processor processes attached to this `up` (services/warehouse_relay.py):
    their in-memory state would outlive the switch, so a rebuild refuses to run while they do;
    `gate` is held during the rebuild, so that one attaching meanwhile waits for its end."""

    def __init__(
        self,
        projector: Projector,
        attached: Callable[[], list[int]] = lambda: [],
        gate: AbstractContextManager[object] | None = None,
    ) -> None:
        self.projector = projector
        self.attached = attached
        self.gate = gate or contextlib.nullcontext()
        self.after_switch: list[Callable[[], None]] = []

    async def run(self) -> ReplayReport:
        if pids := self.attached():
            raise ReplayRefused(
                f"processor processes {', '.join(map(str, pids))} are attached to this "
                "touchstream up and would keep state from before the rebuild: stop them first"
            )

        def logged(report: ReplayReport) -> None:
            log.info(
                "replay: %d archived events read, %d projected", report.events, report.projected
            )

        def rebuild_alone() -> ReplayReport:
            with self.gate:
                return rebuild(self.projector.warehouse, logged)

        report = await self.projector.call(rebuild_alone)
        for forget in self.after_switch:
            forget()
        return report


def replay_routes(replayer: Replayer) -> list[web.RouteDef]:
    """`POST /v1/admin/replay`: rebuild now (what `touchstream replay` calls while `up` runs)."""

    async def replay(request: web.Request) -> web.Response:
        try:
            return web.json_response((await replayer.run()).to_dict())
        except ReplayRefused as exc:
            return web.json_response({"error": str(exc)}, status=409)

    return [web.post("/v1/admin/replay", replay)]
