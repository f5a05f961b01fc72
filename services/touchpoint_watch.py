"""Touchpoint incidents from the stream: each hour of event time, once complete, is judged per
touchpoint × channel against that touchpoint's own baseline (projections/touchpoint_health.py)
and the incident alert revisions it raises are published to `cx.alerts.v1`.

An hour is complete when the watermark is `lateness` past its end. The watermark is the newest
event time that every partition this processor reads has reached (partitions are consumed at
their own pace, so one running ahead must not close an hour another has not delivered yet); a
partition silent for `idle_s` seconds no longer holds it back. The hour's counts are read from
the hourly summing tables, so they hold every event of the hour whichever batch or partition
brought it. An event later than that still reaches the read models but not the judgement of
its hour.

The monitor's state is rebuilt from those tables when the processor starts: its first call
judges every complete hour from the first one in the warehouse, so a restart or a replay gives
the same baselines, incidents and alert ids. Revisions of hours before the first batch's
events were published by the process that judged them, so only later ones are sent again
(plus a margin of `lateness`; the alerts projection keeps a repeated revision once).
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


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class TouchpointWatch:
    def __init__(
        self,
        projector: Projector,
        model: HealthModel | None = None,
        lateness: timedelta = timedelta(minutes=5),
        assigned: Callable[[], Iterable[int]] | None = None,
        idle_s: float = 30.0,
    ) -> None:
        self.projector = projector
        self.model = model or HealthModel()
        self.lateness = lateness
        self.assigned = assigned  # the partitions this process reads (default: those seen)
        self.idle_s = idle_s
        self.monitor = TouchpointMonitor(self.model)
        self.watermark: datetime | None = None
        self.next_hour: datetime | None = None  # the first hour not judged yet
        self.publish_from: datetime | None = None
        self._newest: dict[int, datetime] = {}  # per partition, the newest event time read
        self._active: dict[int, float] = {}  # per partition, when it last brought a record
        self._started = time.monotonic()
        self._saved: tuple | None = None

    def commit(self) -> None:
        self._saved = None

    def _snapshot(self) -> tuple:
        return (
            self.monitor.copy(),
            self.watermark,
            self.next_hour,
            self.publish_from,
            dict(self._newest),
            dict(self._active),
        )

    def _restore(self, saved: tuple) -> None:
        newest, active = saved[4], saved[5]
        self.monitor, self.watermark, self.next_hour, self.publish_from = saved[:4]
        self._newest, self._active = dict(newest), dict(active)

    def _advance(self, moments: Sequence[tuple[int, datetime]]) -> None:
        """Move the watermark: the newest event time that every partition read has reached (a
        partition silent for `idle_s` seconds no longer holds it back), never backwards."""
        now = time.monotonic()
        for partition, moment in moments:
            if partition not in self._newest or moment > self._newest[partition]:
                self._newest[partition] = moment
            self._active[partition] = now
        holding = []
        for partition in set(self.assigned() if self.assigned else ()) or set(self._newest):
            if partition not in self._newest:  # not read yet: may bring earlier events
                if now - self._started <= self.idle_s:
                    return
            elif now - self._active[partition] <= self.idle_s:
                holding.append(self._newest[partition])
        reached = min(holding) if holding else max(self._newest.values())
        if self.watermark is None or reached > self.watermark:
            self.watermark = reached

    async def alerts(self, moments: Sequence[tuple[int, datetime]]) -> list[AlertRaised]:
        """The incident revisions of the hours a batch completes, given its events' (partition,
        event time); `commit` once they are published (a batch run again after a failure judges
        its hours again)."""
        if self._saved is not None:  # the last batch's alerts were not published
            self._restore(self._saved)
        self._saved = self._snapshot()
        if not moments:
            return []
        self._advance(moments)
        if self.publish_from is None:  # the first batch since start
            earliest = min(moment for _, moment in moments)
            self.publish_from = _hour(earliest - self.lateness)
        if self.watermark is None:
            return []
        until = _hour(self.watermark - self.lateness)  # hours before it are complete
        if self.next_hour is None:
            (first,) = await self.projector.query(queries.FIRST_ACTIVITY_HOUR)
            if not int(first["n"]):
                return []
            self.next_hour = from_ch_time(first["hour"])
        if until <= self.next_hour:
            return []
        windows = await self._windows(self.next_hour, until)
        self.next_hour = until
        raised = []
        for window in windows:
            for change in self.monitor.observe(window):
                if change.window_start >= self.publish_from:
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
