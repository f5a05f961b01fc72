"""Touchpoint incidents from the stream: each hour of event time, once complete, is judged per
touchpoint × channel against that touchpoint's own baseline (projections/touchpoint_health.py)
and the incident alert revisions it raises are published to `cx.alerts.v1`.

Touchpoint events reach every partition (the key is the customer), so with several processor
replicas no one replica sees a touchpoint's hour; the hour's counts are read from the hourly
summing tables, which hold every event whichever replica projected it. One replica judges: the
one that reads partition 0 (`Pipeline.is_judge`), on each of its batches and on the processors'
timer. Every replica writes, after each batch it projects, how far each of its partitions has
got (`record`, into `cx.stream_progress`); the judge's watermark is the newest event time that
every partition of the topic has reached (one running ahead must not close an hour another has
not delivered yet), where a partition silent for `idle_s` seconds no longer holds it back. An
hour is complete when the watermark is `lateness` past its end; an event later than that still
reaches the read models but not the judgement of its hour.

The monitor's state is rebuilt from those tables whenever a process becomes the judge: its
first judgement replays every complete hour from the first one in the warehouse, so a restart,
a rebalance or a replay gives the same baselines, incidents and alert ids. Only hours after the
one the last judge recorded as published (`commit`) are published again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from touchstream.events.alerts import AlertRaised
from touchstream.projections import queries
from touchstream.projections.timeline import ch_time, from_ch_time
from touchstream.projections.touchpoint_health import (
    HealthModel,
    TouchpointMonitor,
    WindowCounts,
    incident_alert,
)
from touchstream.services.projector import Projector

HOUR = timedelta(hours=1)
#: The `cx.stream_progress` stream that records the hour judged and published so far.
JUDGED = "touchpoint_health"


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class TouchpointWatch:
    def __init__(
        self,
        projector: Projector,
        topic: str,
        model: HealthModel | None = None,
        lateness: timedelta = timedelta(minutes=5),
        partitions: Callable[[], Iterable[int]] | None = None,
        idle_s: float = 30.0,
    ) -> None:
        self.projector = projector
        self.topic = topic
        self.model = model or HealthModel()
        self.lateness = lateness
        self.partitions = partitions  # every partition of the topic (default: those recorded)
        self.idle_s = idle_s
        self.monitor = TouchpointMonitor(self.model)
        self.watermark: datetime | None = None
        self.next_hour: datetime | None = None  # the first hour not judged yet
        self.publish_from: datetime | None = None  # the first hour not published by a judge
        self._started = time.time()
        self._saved: tuple | None = None

    async def record(self, moments: Sequence[tuple[int, datetime]]) -> None:
        """Record how far a projected batch took its partitions, given its events' (partition,
        event time)."""
        newest: dict[int, datetime] = {}
        for partition, moment in moments:
            if partition not in newest or moment > newest[partition]:
                newest[partition] = moment
        if newest:
            await self._write(self.topic, newest)

    async def _write(self, stream: str, positions: dict[int, datetime]) -> None:
        now = ch_time(datetime.now(UTC))
        rows = [
            {"stream": stream, "partition": p, "position": ch_time(at), "updated_at": now}
            for p, at in positions.items()
        ]
        await self.projector.call(self.projector.warehouse.insert, "cx.stream_progress", rows)

    async def commit(self) -> None:
        """The revisions of the last `alerts` are published: record the hours judged."""
        self._saved = None
        if self.next_hour is not None and self.next_hour != self.publish_from:
            await self._write(JUDGED, {0: self.next_hour})
            self.publish_from = self.next_hour

    def resign(self) -> None:
        """Another replica judges now: forget the state, rebuilt should this one judge again."""
        self.monitor = TouchpointMonitor(self.model)
        self.watermark = self.next_hour = self.publish_from = None
        self._saved = None

    def _snapshot(self) -> tuple:
        return (self.monitor.copy(), self.watermark, self.next_hour, self.publish_from)

    def _restore(self, saved: tuple) -> None:
        self.monitor, self.watermark, self.next_hour, self.publish_from = saved

    async def _advance(self) -> None:
        """Move the watermark: the newest event time that every partition has reached (a
        partition silent for `idle_s` seconds no longer holds it back), never backwards."""
        progress = await self.projector.query(queries.STREAM_PROGRESS, {"stream": self.topic})
        now = time.time()
        recorded = {int(row["partition"]): row for row in progress}
        if not recorded:
            return
        holding = []
        for partition in set(self.partitions() if self.partitions else ()) | set(recorded):
            row = recorded.get(partition)
            if row is None:  # nothing delivered yet: may bring earlier events
                if now - self._started <= self.idle_s:
                    return
            elif now - from_ch_time(row["updated_at"]).timestamp() <= self.idle_s:
                holding.append(from_ch_time(row["position"]))
        newest = max(from_ch_time(row["position"]) for row in recorded.values())
        reached = min(holding) if holding else newest
        if self.watermark is None or reached > self.watermark:
            self.watermark = reached

    async def alerts(self) -> list[AlertRaised]:
        """The incident revisions of the hours completed since the last call; `commit` once
        they are published (if they are not, the next call judges those hours again)."""
        if self._saved is not None:  # the last revisions were not published
            self._restore(self._saved)
        self._saved = self._snapshot()
        await self._advance()
        if self.watermark is None:
            return []
        until = _hour(self.watermark - self.lateness)  # hours before it are complete
        if self.next_hour is None:
            (first,) = await self.projector.query(queries.FIRST_ACTIVITY_HOUR)
            if not int(first["n"]):
                return []
            self.next_hour = from_ch_time(first["hour"])
            judged = await self.projector.query(queries.STREAM_PROGRESS, {"stream": JUDGED})
            self.publish_from = from_ch_time(judged[0]["position"]) if judged else None
        if until <= self.next_hour:
            return []
        windows = await self._windows(self.next_hour, until)
        self.next_hour = until
        raised = []
        for window in windows:
            for change in self.monitor.observe(window):
                if self.publish_from is None or change.window_start >= self.publish_from:
                    raised.append(incident_alert(change))
        return raised

    async def _windows(self, start: datetime, end: datetime) -> list[WindowCounts]:
        params = {"from": ch_time(start)[:19], "to": ch_time(end)[:19]}
        counts = await self.projector.query(queries.TOUCHPOINT_WINDOWS, params)
        details = {
            (d["hour"], d["touchpoint"], d["channel"]): d
            for d in await self.projector.query(queries.TOUCHPOINT_WINDOW_DETAILS, params)
        }
        windows = []
        for row in counts:
            extra = details.get((row["hour"], row["touchpoint"], row["channel"]), {})
            windows.append(
                WindowCounts(
                    touchpoint=row["touchpoint"],
                    channel=row["channel"],
                    window_start=from_ch_time(row["hour"]),
                    contacts=int(row["contacts"]),
                    complaints=int(row["complaints"]),
                    texts=int(row["texts"]),
                    negative_texts=int(row["negative"]),
                    nps_responses=int(row["nps_responses"]),
                    detractors=int(row["detractors"]),
                    csat_responses=int(row["csat_responses"]),
                    csat_low=int(row["csat_low"]),
                    wait_count=int(row["waits"]),
                    wait_sum_seconds=float(row["wait_seconds_sum"]),
                    repeat_contacts=min(int(extra.get("repeat_contacts", 0)), int(row["contacts"])),
                    sample_event_ids=tuple(extra.get("samples", ())),
                )
            )
        return windows
