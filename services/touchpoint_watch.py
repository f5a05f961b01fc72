"""Touchpoint incidents from the stream: each hour of event time, once complete, is judged per
touchpoint × channel against that touchpoint's own baseline (projections/touchpoint_health.py)
and the incident alert revisions it raises are published to `cx.alerts.v1`.

An hour is complete when the newest event time seen (the watermark) is `lateness` past its
end; its counts are read from the hourly summing tables, so they hold every event of the hour
whichever batch or partition brought it. An event later than that still reaches the read
models but not the judgement of its hour.

The monitor's state is rebuilt from those tables when the processor starts: its first call
judges every complete hour from the first one in the warehouse, so a restart or a replay gives
the same baselines, incidents and alert ids. Revisions of hours before the first batch's
events were published by the process that judged them, so only later ones are sent again
(plus a margin of `lateness`; the alerts projection keeps a repeated revision once).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from touchstream.events.alerts import AlertRaised
from touchstream.events.envelope import CloudEvent
from touchstream.projections import queries
from touchstream.projections.timeline import ch_time
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


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class TouchpointWatch:
    def __init__(
        self,
        projector: Projector,
        model: HealthModel | None = None,
        lateness: timedelta = timedelta(minutes=5),
    ) -> None:
        self.projector = projector
        self.model = model or HealthModel()
        self.lateness = lateness
        self.monitor = TouchpointMonitor(self.model)
        self.watermark: datetime | None = None
        self.next_hour: datetime | None = None  # the first hour not judged yet
        self.publish_from: datetime | None = None
        self._saved: tuple | None = None

    def commit(self) -> None:
        self._saved = None

    def _snapshot(self) -> tuple:
        return (self.monitor.copy(), self.watermark, self.next_hour, self.publish_from)

    def _restore(self, saved: tuple) -> None:
        self.monitor, self.watermark, self.next_hour, self.publish_from = saved

    async def alerts(self, events: Sequence[CloudEvent]) -> list[AlertRaised]:
        """The incident revisions of the hours this batch completes; `commit` once they are
        published (a batch run again after a failure judges its hours again)."""
        if self._saved is not None:  # the last batch's alerts were not published
            self._restore(self._saved)
        self._saved = self._snapshot()
        if not events:
            return []
        newest = max(event.time for event in events)
        if self.watermark is None or newest > self.watermark:
            self.watermark = newest
        if self.publish_from is None:  # the first batch since start
            earliest = min(event.time for event in events)
            self.publish_from = _hour(earliest - self.lateness)
        until = _hour(self.watermark - self.lateness)  # hours before it are complete
        if self.next_hour is None:
            (first,) = await self.projector.query(queries.FIRST_ACTIVITY_HOUR)
            if not int(first["n"]):
                return []
            self.next_hour = _utc(first["hour"])
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
                    window_start=_utc(row["hour"]),
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
