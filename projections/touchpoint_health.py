"""Touchpoint health: find a touchpoint's problems early (及早发现问题), one incident per problem.

The processors feed a `TouchpointMonitor`, per touchpoint × channel and in event-time order,
one `WindowCounts` per fixed window (15 minutes or an hour, `HealthModel.window`) summed from
ClickHouse. Partial rows of a summing table must be summed (GROUP BY) before they get here: a
second row for a window the monitor has already seen is taken for a redelivery and ignored.
The monitor answers with `IncidentChange`s (opened, updated, resolved), and `incident_alert`
turns each into one revision of a deterministic `AlertRaised`.

Metrics, each judged against the touchpoint's own baseline (higher is worse for all of them):
complaint rate (complaints / contacts), negative-sentiment share (negative texts / texts),
NPS detractor share, low-CSAT share (bottom boxes / CSAT answers), repeat-contact rate, and
mean wait.

Method
------
*Baseline.* An EWMA, read as a one-step-ahead forecast (Hunter 1986, "The exponentially
weighted moving average", J. Quality Technology 18(4)). For a share it smooths numerator and
denominator separately, so the baseline share is volume-weighted; for mean wait it smooths
log(1 + window mean), because waits grow multiplicatively (a queue a little busier waits much
longer) and are skewed to the right, which a symmetric score on seconds would call rare too
often. Each EWMA starts as a running mean (weight max(α, 1/t)), so early windows are not
biased towards the first one. The spread is learnt the same way, as the EWMA of the squared
one-step residuals, so it holds the window-to-window variation the touchpoint really shows
plus the baseline's own estimation error; it has a longer memory (`spread_alpha`) than the
level, because how much a touchpoint varies changes more slowly than where it stands.

*Scores.* A share is tested against the binomial with the baseline share p0 (floored at
`share_floor`, so a touchpoint that never had a complaint does not turn one into an infinite
score). Real touchpoints vary more than the binomial between windows (time of day, campaigns,
staffing): with 5,000 contacts an hour the binomial calls a 4.0% → 4.9% drift a 3σ event.
Following Laney's p′ chart (Laney 2002, "Improved control charts for attributes", Quality
Engineering 14(4)), the dispersion φ = EWMA of squared Pearson residuals (never below 1) scales
the binomial: counts are deflated to the effective x/φ of n/φ. And because complaint counts
are small and skewed, where the normal approximation overstates rarity (4 of 20 against 4%
is z = 3.7 by the formula but a 1-in-135 event), the score is the exact binomial upper tail
P(X ≥ x) turned into the z with the same tail probability: it reads as a z (3 ≈ 1 in 741) and
is honest at every volume. Mean wait is scored as (log(1 + mean) − baseline) / spread, the
spread floored at what independent, exponential-like waits would give (CV 1: level / √n,
carried to the log scale).

A spread learnt from data is itself uncertain, and dividing by it gives Student's t, not z:
with a spread from 19 windows, t ≥ 5 happens once in 25,000 windows instead of once in 3.5
million. So a score over a learnt spread is turned into the z with the same tail under t with
the spread's degrees of freedom (the residuals so far during warm-up, then the EWMA's
effective (2 − λ)/λ); for a share, only the excess over the binomial is learnt, so its degrees
of freedom grow as φ nears 1 (Welch–Satterthwaite: df·(φ/(φ − 1))²).

*Minimum volume.* A metric is neither judged nor learnt in a window with fewer than its
minimum of contacts, texts, answers or waits: two complaints out of two contacts are two
unhappy customers, not a systemic problem, and a baseline should not learn from a handful.

*Incidents.* With many touchpoints × channels × metrics × windows, the false-alarm rate per
test must be tiny. An incident opens when one metric scores z ≥ `open_z_single` (5) in a
window, or z ≥ `open_z` (3) in two consecutive windows for the same metric (the two-window
rule of Western Electric-style run rules). Under the null that is ≈ 3·10⁻⁷ + 1.8·10⁻⁶ per
metric-window, about 10⁻⁵ per touchpoint-window for six metrics, while a large problem still
opens in its first window. On simulated touchpoints whose rates drift lognormally from hour
to hour (as the tests draw them) there is one false incident in 23,000 touchpoint-windows at
300 contacts an hour and 10% drift, one in 7,000 at 5,000 contacts and 15% drift. At 300
contacts an hour, a complaint rate going from 4% to 18% for four hours is caught in its first
hour; from 4% to 12%, 98% of the time (half of them in the first hour); a doubling to 8%
only 29% of the time: small shifts are for trend reports. The incident dates from its first
anomalous window, whose start keys its alert id, so a replay raises the very same alert.
While it is open:

- every window where an affected metric is still at z ≥ `open_z`, or another metric meets
  the opening rule, updates it (new revision, new evidence, the worst z so far, metrics
  affected so far). A window that opens or updates the incident brings every metric at
  z ≥ `open_z` into it: complaints and negative sentiment tend to move together, but a lone
  metric at 3σ (1 in 741 by chance) does not keep an otherwise calm incident alive;
- nothing is learnt, so the incident never becomes the new normal;
- it resolves after `clear_windows` (3) judged windows in a row where every affected metric
  scores below `clear_z` (1.5). A window too small to judge neither counts towards recovery
  nor resets it: silence at night is no evidence that the touchpoint is well again.

Outside incidents, a metric's baseline learns from a window only when its score is below
`open_z`: a suspicious window is not taught to the baseline before it is known to be noise.

Not done, on purpose: no CUSUM (at a run length long enough for a fleet of touchpoints, its
edge on small sustained shifts mostly vanishes, and those belong in trend reports, not incident
alerts); no daily or weekly seasonality (the EWMA's memory of ≈ (2 − α)/α windows follows slow
drift; where the daily cycle is strong, a seasonal baseline by hour of week is the next step).
A problem that turns out to be the new normal stays open until its metrics come back: that is
for operations to close, not for the baseline to forget.

The monitor's state is plain data: `TouchpointMonitor.to_dict` / `from_dict` checkpoint and
restore it, and `replay` rebuilds it from history, giving the same changes as observing
window by window.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any, Literal

from pydantic import TypeAdapter
from scipy.special import betainc, ndtri, stdtr

from touchstream.events.alerts import (
    AlertRaised,
    AlertRaisedData,
    Priority,
    Reason,
    alert_event_id,
)
from touchstream.events.vocabulary import Channel, Touchpoint
from touchstream.projections.alert_ids import ALERT_SOURCE, alert_id

INCIDENT_KIND = "touchpoint.incident"
RULE = "touchpoint-health"
STATE_VERSION = 1

# Scores beyond ±this are all "certain" (tails underflow near 38), and stay finite for JSON.
_Z_CAP = 40.0

ChangeKind = Literal["opened", "updated", "resolved"]
_TOUCHPOINT: TypeAdapter[str] = TypeAdapter(Touchpoint)


UNKNOWN_CHANNEL = "unknown"
#: Hours to first action: an incident hurts every customer passing the touchpoint meanwhile.
INCIDENT_SLA_HOURS = {"P1": 1, "P2": 4, "P3": 24, "P4": 72}


@dataclass(frozen=True, slots=True)
class HealthModel:
    """Every constant of touchpoint health, with the reason for its default."""

    #: Size of the fixed windows the monitor is fed; an alert is raised at its window's end.
    window: timedelta = timedelta(hours=1)
    #: EWMA weight of the baseline level: half-life ≈ 6.6 windows, memory ≈ 19 (a day of
    #: hourly windows), so it follows slow drift.
    alpha: float = 0.1
    #: EWMA weight of the spread (dispersion, variance): memory ≈ 99 windows. How much a
    #: touchpoint varies changes more slowly than its level, and a spread learnt from 19
    #: windows would turn 1-in-25,000 windows into z ≥ 5 (Student's t with 19 df).
    spread_alpha: float = 0.02
    #: Windows learnt before a metric is judged: about the EWMA's memory, so the baseline and
    #: its spread rest on as many windows as the EWMA would weigh.
    warmup_windows: int = 20
    #: z at which a window is anomalous: two in a row for a metric open an incident (1 in 550,000
    #: by chance), and an affected metric at this level keeps its incident open and updated.
    open_z: float = 3.0
    #: z at which a single window opens an incident at once (≈ 1 in 3.5 million by chance).
    open_z_single: float = 5.0
    #: An affected metric below this z is back to normal...
    clear_z: float = 1.5
    #: ...for this many judged windows in a row before the incident resolves (so that one
    #: lucky window does not close an incident that then reopens as a new one).
    clear_windows: int = 3
    #: Least baseline share a score is computed against (and most: 1 − floor).
    share_floor: float = 0.01
    #: Least volume for a metric to be judged or learnt in a window.
    min_contacts: int = 20
    min_texts: int = 10
    min_answers: int = 10
    min_waits: int = 20
    #: Least spread of a window's mean wait: the coefficient of variation of one wait
    #: (exponential waits: 1) over √n, and an absolute floor in seconds.
    wait_cv_floor: float = 1.0
    wait_floor_seconds: float = 1.0
    #: Priority P1 (else P2) from this worst z, or this many metrics affected at once.
    p1_z: float = 8.0
    p1_metrics: int = 3
    #: Most evidence event ids on an alert: half from the onset, half the latest.
    max_evidence: int = 20

    def __post_init__(self) -> None:
        if self.window <= timedelta(0):
            raise ValueError("window must be positive")
        if not (0 < self.alpha <= 1 and 0 < self.spread_alpha <= 1):
            raise ValueError("alpha and spread_alpha must be in (0, 1]")
        if not 0 < self.clear_z < self.open_z <= self.open_z_single:
            raise ValueError("need 0 < clear_z < open_z <= open_z_single")
        if not 0 < self.share_floor < 0.5:
            raise ValueError("share_floor must be in (0, 0.5)")
        minimums = (self.min_contacts, self.min_texts, self.min_answers, self.min_waits)
        if min(self.warmup_windows, self.clear_windows, self.max_evidence, *minimums) < 1:
            raise ValueError("window counts, minimum volumes and max_evidence must be >= 1")


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """What happened at one touchpoint × channel in one window, summed.

    `contacts` counts every customer contact in the window, complaints and repeat contacts
    included, so each bad count is part of its volume. `sample_event_ids` are a few event ids
    of the window (complaints and negative texts first, ideally): the evidence an alert shows.
    """

    touchpoint: str
    channel: str
    window_start: datetime
    contacts: int = 0
    complaints: int = 0
    texts: int = 0
    negative_texts: int = 0
    nps_responses: int = 0
    detractors: int = 0
    csat_responses: int = 0
    csat_low: int = 0
    wait_count: int = 0
    wait_sum_seconds: float = 0.0
    repeat_contacts: int = 0
    sample_event_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _TOUCHPOINT.validate_python(self.touchpoint)  # as the contract spells touchpoints
        if self.channel != UNKNOWN_CHANNEL:  # the read models' name for "not given"
            Channel(self.channel)  # one of the contract's channels
        if self.window_start.tzinfo is None:
            raise ValueError("window_start must carry a timezone")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{f.name} must be a finite count >= 0, got {value!r}")
        for metric in METRICS:
            if metric.is_share and metric.bad_of(self) > metric.volume_of(self):
                raise ValueError(f"{metric.bad} ({metric.bad_of(self)}) exceeds {metric.volume}")


@dataclass(frozen=True, slots=True)
class Metric:
    """One health metric: which counts it divides, and what to do when it goes wrong."""

    name: str
    label: str
    bad: str  # WindowCounts field: bad events, or the summed seconds of a mean
    volume: str  # WindowCounts field: what the share or mean is over
    minimum: str  # HealthModel field: least volume to judge or learn
    noun: str
    action: str
    is_share: bool = True

    def bad_of(self, window: WindowCounts) -> float:
        return float(getattr(window, self.bad))

    def volume_of(self, window: WindowCounts) -> int:
        return int(getattr(window, self.volume))

    def minimum_of(self, model: HealthModel) -> int:
        return int(getattr(model, self.minimum))

    def value(self, window: WindowCounts) -> float:
        return self.bad_of(window) / self.volume_of(window)

    def format(self, reading: MetricReading) -> tuple[str, str]:
        """Observed and baseline as people read them; waits both in seconds or both in minutes."""
        observed, baseline = reading.observed, reading.baseline
        if self.is_share:
            return _percent(observed), _percent(baseline)
        if max(observed, baseline) >= 120:
            return f"{observed / 60:.1f} min", f"{baseline / 60:.1f} min"
        return f"{observed:.0f} s", f"{baseline:.0f} s"


def _percent(share: float) -> str:
    return f"{100 * share:.0f}%" if share >= 0.1 else f"{100 * share:.1f}%"


METRICS: tuple[Metric, ...] = (
    Metric(
        "complaint_rate", "Complaint rate", "complaints", "contacts", "min_contacts", "contacts",
        "Read the latest complaints at {where} for a common cause (release, stock, partner, "
        "policy) and fix or escalate it; brief front-line staff meanwhile",
    ),
    Metric(
        "negative_share", "Negative-sentiment share", "negative_texts", "texts", "min_texts",
        "texts",
        "Read the negative texts in the evidence for a shared topic and hand it to the owner "
        "of {where}",
    ),
    Metric(
        "detractor_share", "NPS detractor share", "detractors", "nps_responses", "min_answers",
        "NPS answers",
        "Call back the detractors in the evidence and find what changed at {where}",
    ),
    Metric(
        "low_csat_share", "Low-CSAT share", "csat_low", "csat_responses", "min_answers",
        "CSAT answers",
        "Call back the unhappy customers in the evidence and find what changed at {where}",
    ),
    Metric(
        "mean_wait", "Mean wait", "wait_sum_seconds", "wait_count", "min_waits", "waits",
        "Add staff or open overflow at {where}, and tell waiting customers how long it takes",
        is_share=False,
    ),
    Metric(
        "repeat_contact_rate", "Repeat-contact rate", "repeat_contacts", "contacts",
        "min_contacts", "contacts",
        "First-contact resolution is failing at {where}: check scripts, knowledge base and "
        "open cases",
    ),
)  # fmt: skip
METRIC_BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}


@dataclass(frozen=True, slots=True)
class MetricReading:
    """One metric in one window: observed against baseline, its z and the z it was judged by."""

    metric: str
    observed: float
    baseline: float
    z: float
    threshold: float
    volume: int


@dataclass(frozen=True, slots=True)
class IncidentChange:
    """One step in the life of an incident, as it will be published (one alert revision)."""

    kind: ChangeKind
    alert_id: str
    revision: int
    touchpoint: str
    channel: str
    opened_at: datetime  # start of the incident's first anomalous window
    window_start: datetime  # the window that caused this change
    raised_at: datetime  # that window's end
    metrics: tuple[MetricReading, ...]  # anomalous now, or (resolved) back to normal
    affected: tuple[str, ...]  # every metric anomalous during the incident so far
    worst_z: float
    evidence: tuple[str, ...]
    priority: Priority
    title: str
    suggested_action: str


# ---------------------------------------------------------------------------------- state


@dataclass(frozen=True, slots=True)
class ShareBaseline:
    """EWMAs of a share's numerator and denominator, and of its squared Pearson residuals."""

    windows: int = 0
    bad: float = 0.0
    total: float = 0.0
    dispersion: float = 1.0

    @property
    def share(self) -> float:
        return self.bad / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class MeanBaseline:
    """EWMAs of log(1 + window mean) and of its squared one-step residuals."""

    windows: int = 0
    log_mean: float = 0.0
    variance: float = 0.0

    @property
    def level(self) -> float:
        return math.expm1(self.log_mean)


@dataclass(frozen=True, slots=True)
class Suspicion:
    """Anomalous metrics of the last window that did not count yet: if the next window finds
    any of them anomalous again, they open (or join) an incident."""

    window_start: datetime
    readings: tuple[MetricReading, ...]
    evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Incident:
    """The open incident of a touchpoint × channel, as its latest alert revision shows it."""

    alert_id: str
    opened_at: datetime
    revision: int
    affected: tuple[str, ...]
    worst_z: float
    evidence: tuple[str, ...]
    calm_windows: int = 0


@dataclass(frozen=True, slots=True)
class KeyState:
    """Everything the monitor knows about one touchpoint × channel."""

    touchpoint: str
    channel: str
    last_window: datetime | None = None
    shares: dict[str, ShareBaseline] = field(default_factory=dict)
    means: dict[str, MeanBaseline] = field(default_factory=dict)
    suspicion: Suspicion | None = None
    incident: Incident | None = None


@dataclass(frozen=True, slots=True)
class _Snapshot:
    version: int
    keys: tuple[KeyState, ...]


_SNAPSHOT = TypeAdapter(_Snapshot)


# ------------------------------------------------------------------------------ the monitor


class TouchpointMonitor:
    """Baselines and open incidents per touchpoint × channel; feed it windows in order."""

    def __init__(self, model: HealthModel | None = None) -> None:
        self.model = model or HealthModel()
        self._states: dict[tuple[str, str], KeyState] = {}

    def observe(self, window: WindowCounts) -> list[IncidentChange]:
        """Judge one window and learn from it. A window at or before the last one seen for its
        touchpoint × channel is a redelivery: it changes nothing and returns no change."""
        key = (window.touchpoint, window.channel)
        state = self._states.get(key) or KeyState(*key)
        self._states[key], changes = step(self.model, state, window)
        return changes

    def baseline(self, touchpoint: str, channel: str) -> dict[str, float]:
        """The normal level of every metric learnt so far (share, or mean wait in seconds)."""
        state = self._states.get((touchpoint, channel)) or KeyState(touchpoint, channel)
        levels = {name: b.share for name, b in state.shares.items()}
        levels.update({name: b.level for name, b in state.means.items()})
        return {m.name: levels[m.name] for m in METRICS if m.name in levels}

    def open_incident(self, touchpoint: str, channel: str) -> Incident | None:
        state = self._states.get((touchpoint, channel))
        return state.incident if state else None

    def copy(self) -> TouchpointMonitor:
        """An independent copy (the per-key states are immutable, so sharing them is safe)."""
        twin = TouchpointMonitor(self.model)
        twin._states = dict(self._states)
        return twin

    def to_dict(self) -> dict[str, Any]:
        """The whole state as JSON-ready plain data (for a checkpoint)."""
        keys = tuple(self._states[k] for k in sorted(self._states))
        dumped: dict[str, Any] = _SNAPSHOT.dump_python(_Snapshot(STATE_VERSION, keys), mode="json")
        return dumped

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], model: HealthModel | None = None
    ) -> TouchpointMonitor:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unknown touchpoint health state version {data.get('version')!r}")
        monitor = cls(model)
        for state in _SNAPSHOT.validate_python(data).keys:
            monitor._states[(state.touchpoint, state.channel)] = state
        return monitor


def replay(
    windows: Iterable[WindowCounts], model: HealthModel | None = None
) -> tuple[TouchpointMonitor, list[IncidentChange]]:
    """Rebuild a monitor from history: the windows in event-time order (a stable sort, so rows
    of different touchpoints may come in any order), with every change on the way."""
    monitor = TouchpointMonitor(model)
    ordered = sorted(windows, key=attrgetter("window_start"))
    return monitor, [change for window in ordered for change in monitor.observe(window)]


def step(
    model: HealthModel, state: KeyState, window: WindowCounts
) -> tuple[KeyState, list[IncidentChange]]:
    """The pure core: one window's effect on one touchpoint × channel."""
    if state.last_window is not None and window.window_start <= state.last_window:
        return state, []
    readings = _readings(model, state, window)
    anomalous = tuple(r for r in readings.values() if r.z >= model.open_z)
    onset = state.suspicion
    if onset is not None and window.window_start - onset.window_start > model.window:
        onset = None  # not the window right before this one
    suspected = {r.metric: r.z for r in onset.readings} if onset else {}
    affected = state.incident.affected if state.incident else ()
    # A window opens an incident, or updates the open one, when one of its anomalous metrics
    # is very strong, anomalous for a second window in a row, or already in the incident; it
    # then brings all its anomalous metrics along. Otherwise they wait for the next window.
    counts = any(
        r.metric in affected or r.metric in suspected or r.z >= model.open_z_single
        for r in anomalous
    )
    suspicion = None
    if anomalous and not counts:
        suspicion = Suspicion(window.window_start, anomalous, window.sample_event_ids)
    state = replace(state, last_window=window.window_start, suspicion=suspicion)
    if counts:
        confirmed = any(r.metric in suspected and r.metric not in affected for r in anomalous)
        incident = _worsened(model, state.incident, window, anomalous, onset if confirmed else None)
        kind: ChangeKind = "updated" if state.incident else "opened"
        state = replace(state, incident=incident)
        return state, [_change(model, kind, state, incident, window, anomalous)]
    if state.incident is None:
        return _learn(model, state, window, skip={r.metric for r in anomalous}), []
    return _calmer(model, state, state.incident, window, readings)


def _worsened(
    model: HealthModel,
    incident: Incident | None,
    window: WindowCounts,
    anomalous: tuple[MetricReading, ...],
    onset: Suspicion | None,
) -> Incident:
    """The incident opened, or grown, by this window's anomalous metrics; `onset` is the
    window before, when it is what confirmed them."""
    names = tuple(r.metric for r in anomalous)
    zs = [r.z for r in anomalous]
    earlier: tuple[str, ...] = ()
    if onset is not None:
        zs += [r.z for r in onset.readings if r.metric in names]
        earlier = onset.evidence
    if incident is None:
        opened_at = onset.window_start if onset else window.window_start
        return Incident(
            alert_id=incident_alert_id(window.touchpoint, window.channel, opened_at),
            opened_at=opened_at,
            revision=1,
            affected=names,
            worst_z=max(zs),
            evidence=_evidence(model, earlier, window.sample_event_ids),
        )
    return replace(
        incident,
        revision=incident.revision + 1,
        affected=tuple(dict.fromkeys((*incident.affected, *names))),
        worst_z=max(incident.worst_z, *zs),
        evidence=_evidence(model, (*incident.evidence, *earlier), window.sample_event_ids),
        calm_windows=0,
    )


def _calmer(
    model: HealthModel,
    state: KeyState,
    incident: Incident,
    window: WindowCounts,
    readings: dict[str, MetricReading],
) -> tuple[KeyState, list[IncidentChange]]:
    """A window without new anomalies during an incident: one calm window closer to the end,
    or, if an affected metric is still raised, back to none."""
    judged = tuple(readings[name] for name in incident.affected if name in readings)
    if not judged:  # too little volume to tell either way
        return state, []
    if any(r.z >= model.clear_z for r in judged):
        return replace(state, incident=replace(incident, calm_windows=0)), []
    incident = replace(incident, calm_windows=incident.calm_windows + 1)
    if incident.calm_windows < model.clear_windows:
        return replace(state, incident=incident), []
    incident = replace(incident, revision=incident.revision + 1)
    normal = tuple(replace(r, threshold=model.clear_z) for r in judged)
    change = _change(model, "resolved", state, incident, window, normal)
    return replace(state, incident=None), [change]


def incident_alert_id(touchpoint: str, channel: str, opened_at: datetime) -> str:
    """The alert id of the incident that began in the window starting at `opened_at`."""
    return alert_id(INCIDENT_KIND, touchpoint, channel, opened_at.astimezone(UTC).isoformat())


# -------------------------------------------------------------------------- scores, learning


def _readings(
    model: HealthModel, state: KeyState, window: WindowCounts
) -> dict[str, MetricReading]:
    """Every metric with enough volume and a warmed-up baseline, scored."""
    readings: dict[str, MetricReading] = {}
    for metric in METRICS:
        volume = metric.volume_of(window)
        if volume < metric.minimum_of(model):
            continue
        observed = metric.value(window)
        if metric.is_share:
            share = state.shares.get(metric.name)
            if share is None or share.windows < model.warmup_windows:
                continue
            z = _share_z(model, share, metric.bad_of(window), volume)
            baseline = share.share
        else:
            mean = state.means.get(metric.name)
            if mean is None or mean.windows < model.warmup_windows:
                continue
            z = _mean_z(model, mean, observed, volume)
            baseline = mean.level
        readings[metric.name] = MetricReading(
            metric.name, observed, baseline, z, model.open_z, volume
        )
    return readings


def _floored(model: HealthModel, share: float) -> float:
    return min(max(share, model.share_floor), 1 - model.share_floor)


def _share_z(model: HealthModel, baseline: ShareBaseline, bad: float, total: int) -> float:
    """z of the exact binomial upper tail of `bad` of `total` against the baseline share, on
    counts deflated by the learnt dispersion (Laney's p′)."""
    p = _floored(model, baseline.share)
    phi = max(1.0, baseline.dispersion)
    x, n = bad / phi, total / phi
    if x <= n * p:  # at or below the baseline: the (negative) Pearson z says how far
        return (x - n * p) / math.sqrt(n * p * (1 - p))
    tail = float(betainc(x, n - x + 1, p))  # P(X >= x) for X ~ Binomial(n, p), x real
    z = -float(ndtri(tail))
    if phi > 1:  # only the excess over the binomial is estimated (Welch–Satterthwaite df)
        z = _t_as_z(z, _spread_df(model, baseline.windows) * (phi / (phi - 1)) ** 2)
    return _capped(z)


def _mean_z(model: HealthModel, baseline: MeanBaseline, mean: float, count: int) -> float:
    """z of a window's mean on the log scale, over the learnt spread or, if larger, the spread
    independent exponential-like waits would give (delta method: sd / (1 + level))."""
    level = baseline.level
    independent = max(model.wait_cv_floor * level / math.sqrt(count), model.wait_floor_seconds)
    spread = max(math.sqrt(baseline.variance), independent / (1 + level))
    t = (math.log1p(mean) - baseline.log_mean) / spread
    return _capped(_t_as_z(t, _spread_df(model, baseline.windows)))


def _capped(z: float) -> float:
    return min(max(z, -_Z_CAP), _Z_CAP)


def _spread_df(model: HealthModel, windows: int) -> float:
    """Degrees of freedom of a spread learnt from `windows` windows: their residuals while it
    is a running mean, then the EWMA's effective number, (2 − λ) / λ."""
    return max(1, min(windows - 1, (2 - model.spread_alpha) / model.spread_alpha))


def _t_as_z(t: float, df: float) -> float:
    """The z with the same upper tail as `t` under Student's t with `df` degrees of freedom:
    a score over an estimated spread is only as rare as the estimate is good."""
    if df > 1e6:
        return t
    return -float(ndtri(stdtr(df, -t)))


def _weight(alpha: float, n: int) -> float:
    """EWMA weight of the n-th observation: a running mean until 1/n falls below alpha."""
    return max(alpha, 1 / n)


def _learn(model: HealthModel, state: KeyState, window: WindowCounts, skip: set[str]) -> KeyState:
    shares, means = dict(state.shares), dict(state.means)
    for metric in METRICS:
        volume = metric.volume_of(window)
        if metric.name in skip or volume < metric.minimum_of(model):
            continue
        if metric.is_share:
            old = shares.get(metric.name, ShareBaseline())
            shares[metric.name] = _learnt_share(model, old, metric.bad_of(window), volume)
        else:
            mean = means.get(metric.name, MeanBaseline())
            means[metric.name] = _learnt_mean(model, mean, metric.value(window))
    return replace(state, shares=shares, means=means)


def _learnt_share(model: HealthModel, old: ShareBaseline, bad: float, total: int) -> ShareBaseline:
    w = _weight(model.alpha, old.windows + 1)
    dispersion = old.dispersion
    # Residuals against the baseline itself, not the floored share: a touchpoint whose rate is
    # below the floor is not overdispersed. A share never seen (0) or always seen (1) has no
    # binomial variance to compare with, and leaves the dispersion at its last value.
    p = old.share
    if 0 < p < 1:
        residual2 = (bad - total * p) ** 2 / (total * p * (1 - p))
        dispersion += _weight(model.spread_alpha, old.windows) * (residual2 - dispersion)
    return ShareBaseline(
        windows=old.windows + 1,
        bad=old.bad + w * (bad - old.bad),
        total=old.total + w * (total - old.total),
        dispersion=dispersion,
    )


def _learnt_mean(model: HealthModel, old: MeanBaseline, value: float) -> MeanBaseline:
    if old.windows == 0:
        return MeanBaseline(windows=1, log_mean=math.log1p(value))
    residual = math.log1p(value) - old.log_mean
    return MeanBaseline(
        windows=old.windows + 1,
        log_mean=old.log_mean + _weight(model.alpha, old.windows + 1) * residual,
        variance=old.variance
        + _weight(model.spread_alpha, old.windows) * (residual**2 - old.variance),
    )


def _evidence(model: HealthModel, old: Iterable[str], new: Iterable[str]) -> tuple[str, ...]:
    """Event ids without repeats; past the cap, the onset's and the latest."""
    merged = tuple(dict.fromkeys((*old, *new)))
    if len(merged) <= model.max_evidence:
        return merged
    head = model.max_evidence // 2
    return merged[:head] + merged[len(merged) - (model.max_evidence - head) :]


# ------------------------------------------------------------------------------ explanation


def _change(
    model: HealthModel,
    kind: ChangeKind,
    state: KeyState,
    incident: Incident,
    window: WindowCounts,
    metrics: tuple[MetricReading, ...],
) -> IncidentChange:
    where = f"{state.touchpoint}/{state.channel}"
    if kind == "resolved":
        headline = metrics[0]  # the first metric the incident was about that could be judged
        title = f"Resolved: {_describe(headline, where, 'is back to')}"
        action = (
            f"Check that the fix at {where} holds, then record the cause and close the follow-up"
        )
    else:
        headline = max(metrics, key=attrgetter("z"))
        title = _describe(headline, where, "is")
        title = title[0].upper() + title[1:] if kind == "opened" else f"Ongoing: {title}"
        others = [
            _in_sentence(METRIC_BY_NAME[r.metric].label) for r in metrics if r is not headline
        ]
        if others:
            title += f"; also {', '.join(others)}"
        action = METRIC_BY_NAME[headline.metric].action.format(where=where)
    severe = incident.worst_z >= model.p1_z or len(incident.affected) >= model.p1_metrics
    return IncidentChange(
        kind=kind,
        alert_id=incident.alert_id,
        revision=incident.revision,
        touchpoint=state.touchpoint,
        channel=state.channel,
        opened_at=incident.opened_at,
        window_start=window.window_start,
        raised_at=window.window_start + model.window,
        metrics=metrics,
        affected=incident.affected,
        worst_z=incident.worst_z,
        evidence=incident.evidence,
        priority="P1" if severe else "P2",
        title=title,
        suggested_action=action,
    )


def _describe(reading: MetricReading, where: str, verb: str) -> str:
    metric = METRIC_BY_NAME[reading.metric]
    observed, baseline = metric.format(reading)
    return (
        f"{_in_sentence(metric.label)} at {where} {verb} {observed} vs {baseline} baseline "
        f"(z={reading.z:.1f})"
    )


def _in_sentence(label: str) -> str:
    """ "Complaint rate" → "complaint rate", but "NPS detractor share" stays as it is."""
    return label if label[1:2].isupper() else label[0].lower() + label[1:]


def _reading_text(reading: MetricReading) -> str:
    metric = METRIC_BY_NAME[reading.metric]
    if metric.is_share:
        count = round(reading.observed * reading.volume)
        over = f"({count} of {reading.volume} {metric.noun})"
    else:
        over = f"over {reading.volume} {metric.noun}"
    observed, baseline = metric.format(reading)
    against = "≥" if reading.z >= reading.threshold else "<"
    return (
        f"{metric.label} {observed} {over} vs {baseline} baseline: z={reading.z:.1f} "
        f"{against} {reading.threshold:g}"
    )


def _status_text(change: IncidentChange) -> str:
    since = change.opened_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    affected = ", ".join(_in_sentence(METRIC_BY_NAME[m].label) for m in change.affected)
    if change.kind == "opened":
        return f"Incident opened, anomalous since the window of {since}: {affected}"
    if change.kind == "updated":
        return (
            f"Incident ongoing since {since}, revision {change.revision}: worst z "
            f"{change.worst_z:.1f} over {affected}"
        )
    return (
        f"Incident resolved: {affected} back to normal; it began in the window of {since} "
        f"(worst z {change.worst_z:.1f})"
    )


def incident_alert(change: IncidentChange) -> AlertRaised:
    """One revision of the incident's alert: status open until the resolving revision. The
    first reason (`incident_status`, observed = opened, updated or resolved) and the title say
    what this revision changed; the channel is also in the title and the subject."""
    status = Reason(code="incident_status", text=_status_text(change), observed=change.kind)
    reasons = [
        Reason(
            code=r.metric,
            text=_reading_text(r),
            observed=round(r.z, 2),
            threshold=r.threshold,
        )
        for r in change.metrics
    ]
    start = change.window_start.astimezone(UTC).isoformat()
    window = f"window:{change.touchpoint}/{change.channel}/{start}"  # when no sample ids came
    return AlertRaised(
        id=alert_event_id(change.alert_id, change.revision),
        source=ALERT_SOURCE,
        time=change.raised_at,
        subject=f"{change.touchpoint}/{change.channel}",
        data=AlertRaisedData(
            alert_id=change.alert_id,
            kind=INCIDENT_KIND,
            rule=RULE,
            priority=change.priority,
            title=change.title,
            touchpoint=change.touchpoint,
            reasons=[status, *reasons],
            evidence=list(change.evidence) or [window],
            suggested_action=change.suggested_action,
            raised_at=change.raised_at,
            revision=change.revision,
            status="resolved" if change.kind == "resolved" else "open",
            sla_hours=INCIDENT_SLA_HOURS[change.priority],
            channel=None if change.channel == UNKNOWN_CHANNEL else Channel(change.channel),
        ),
    )
