"""Churn risk (客户流失风险) per customer: a score in [0, 1] explained by reason codes, and the
hysteresis, priority and suggested action that turn scores into customer alerts.

Pure and deterministic: the processors read a customer's recent timeline rows after each batch
and call `churn_alerts`; everything here depends only on those rows, the engagement given and
the `RiskModel`, so a replay or a restart computes the very same scores, episodes and alerts.

The model (every constant is a field of `RiskModel`):

- **Signals.** Each experience event adds a *hazard* h = weight · severity · 0.5^(age / half-life),
  age measured back from the score's as-of time (the newest event; events after it are not
  seen). Severity is `min_severity` at a signal's threshold and rises linearly to 1 at its worst
  value (NPS 0, CSAT 1, top of the CES scale, sentiment -1, `worst_wait_seconds`):

  | code                 | fires when                                       | weight | half-life |
  |----------------------|--------------------------------------------------|--------|-----------|
  | nps_detractor        | NPS <= 6                                         | 0.80   | 30 d      |
  | low_csat             | CSAT in the bottom quarter of its scale          | 0.40   | 30 d      |
  | high_effort          | CES in the top quarter of its scale              | 0.40   | 30 d      |
  | complaint_unresolved | complaint open for 2 days or more                | 0.30x3 | 45 d      |
  | complaint            | complaint resolved, or open for under 2 days     | 0.30   | 45 d      |
  | negative_sentiment   | text sentiment <= -0.25                          | 0.40   | 21 d      |
  | long_wait            | wait >= 10 min (worst at 60 min)                 | 0.30   | 14 d      |
  | escalation           | contact outcome "escalated"                      | 0.40   | 21 d      |
  | transfer             | contact outcome "transferred"                    | 0.15   | 14 d      |
  | service_failure      | contact outcome "unresolved"                     | 0.40   | 21 d      |
  | repeat_contact       | contact repeating one within 7 days (upstream)   | 0.30   | 14 d      |

  A complaint is resolved by a later `complaint_resolved` event, or a later contact with outcome
  "resolved", carrying its case id (a complaint without a case id cannot be, so it stays open);
  every complaint is open when it arrives, so it weighs `unresolved_complaint_factor` (3) times
  more only once it has stayed open `complaint_grace_days` (2).
  A repeated complaint (flagged `repeat_contact`, or an earlier complaint on the same case)
  weighs `repeated_complaint_factor` (1.5) times more and is not counted again as a
  repeat_contact. A recovery offer (补偿) multiplies the hazard of every signal at or before it
  by `recovery_discount` (0.5, once however many offers). Positive signals (promoters, praise)
  add nothing: they do not cancel a complaint.
- **Experience risk** E = 1 - exp(-S), S = the sum of the hazards: saturating, one fresh worst
  case signal of weight 1 alone gives 0.63.
- **Engagement risk** G = 1 - P(alive) from the BG/NBD model (`bgnbd.p_alive`), when given.
- **Risk** R = 1 - (1 - E)(1 - w·G), w = `engagement_weight` (0.5) < 1: a customer who buys
  on rhythm adds nothing, one who has surely stopped buying adds half the remaining way to 1.
  Equivalently R = 1 - exp(-H) with H = S + H_eng, H_eng = -ln(1 - w·G): the hazards add up.
- **Explanation.** Reason k's contribution is R · h_k / H (its share of the hazard), so the
  contributions add up to the score exactly; each reason names its evidence event ids, those of
  the resolutions and recovery offers that lowered it included.
- **Hysteresis.** An alert opens when R >= `raise_at` (0.6) and closes only when R falls below
  `clear_below` (0.4); while open it is revised only when R rises `update_step` (0.1) above the
  last revision's score. The episode is the event whose score opened the alert, and the alert
  id is `alert_id("customer.churn_risk", customer, episode)`. `alert_steps` scores the customer
  after every distinct event time, so the episode does not depend on how batches were cut
  (quadratic in the events: give it a bounded recent window). Time alone re-scores nobody: a
  customer who goes quiet keeps the score of their newest event until the next one.
- **Priority.** urgency = R x the value tier's weight (top 1.0, high 0.8, medium 0.6,
  low 0.45, unknown as medium); urgency >= 0.6 is P1 (first action within 4 h), >= 0.4 P2
  (24 h), >= 0.2 P3 (72 h), else P4 (168 h).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import groupby
from typing import Any, cast

import numpy as np

from touchstream.events.alerts import AlertRaised, AlertRaisedData, Priority, Reason, alert_event_id
from touchstream.events.feedback import ComplaintResolved, FeedbackGiven
from touchstream.events.loop import RecoveryOffered
from touchstream.projections.alert_ids import ALERT_SOURCE, alert_id
from touchstream.projections.customer_value import ValueTier, ValueTierThresholds, value_tier
from touchstream.projections.journeys import REPEAT_WINDOW_DAYS
from touchstream.projections.timeline import from_ch_time

ALERT_KIND = "customer.churn_risk"
ALERT_RULE = "churn-risk"

VOICE_TYPE: str = FeedbackGiven.model_fields["type"].default
COMPLAINT_RESOLVED_TYPE: str = ComplaintResolved.model_fields["type"].default
RECOVERY_OFFERED_TYPE: str = RecoveryOffered.model_fields["type"].default

_DAY = timedelta(days=1)
_HIGH_VALUE: frozenset[str] = frozenset({"top", "high"})

#: P(alive) given as a number, or as a function of the as-of time (for replay-exact walks).
Engagement = float | Callable[[datetime], float | None] | None


@dataclass(frozen=True, slots=True)
class CustomerEvent:
    """One of the customer's timeline rows, as far as churn risk reads it.

    Empty strings and None mean "not given", as in `cx.timeline`. `repeat_contact` is set
    upstream when this contact repeats one within 7 days.
    """

    event_id: str
    time: datetime
    type: str
    touchpoint: str = ""
    nps: int | None = None
    csat: int | None = None
    csat_scale: int | None = None
    ces: int | None = None
    ces_scale: int | None = None
    outcome: str = ""
    feedback_kind: str = ""
    case_id: str = ""
    sentiment: float | None = None
    wait_seconds: float | None = None
    repeat_contact: bool = False

    def __post_init__(self) -> None:
        if self.time.tzinfo is None or self.time.utcoffset() is None:
            raise ValueError(f"event {self.event_id}: time must be timezone-aware")


def customer_events(rows: Iterable[Mapping[str, Any]]) -> list[CustomerEvent]:
    """One customer's `cx.timeline` rows as churn-risk input, oldest first. A row repeats a
    contact when its `matter` came up before within `REPEAT_WINDOW_DAYS`."""
    window = timedelta(days=REPEAT_WINDOW_DAYS)
    last_seen: dict[str, datetime] = {}
    events = []
    for row in sorted(rows, key=lambda r: (r["time"], r["event_id"])):
        moment = from_ch_time(row["time"])
        matter = row.get("matter") or ""
        previous = last_seen.get(matter)
        if matter:
            last_seen[matter] = moment
        events.append(
            CustomerEvent(
                event_id=row["event_id"],
                time=moment,
                type=row["type"],
                touchpoint=row.get("touchpoint") or "",
                nps=row.get("nps"),
                csat=row.get("csat"),
                csat_scale=row.get("csat_scale"),
                ces=row.get("ces"),
                ces_scale=row.get("ces_scale"),
                outcome=row.get("outcome") or "",
                feedback_kind=row.get("feedback_kind") or "",
                case_id=row.get("case_id") or "",
                sentiment=_float(row.get("sentiment")),
                wait_seconds=_float(row.get("wait_seconds")),
                repeat_contact=previous is not None and moment - previous <= window,
            )
        )
    return events


def _float(value: float | None) -> float | None:
    """Warehouse JSON writes 1800.0 as 1800: the same number must give the same alert bytes."""
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class SignalWeight:
    """Hazard of one fresh event at its worst, and the days it takes to lose half of it."""

    weight: float
    half_life_days: float


@dataclass(frozen=True, slots=True)
class ValueWeights:
    """How much a customer's value tier counts towards alert priority."""

    top: float = 1.0
    high: float = 0.8
    medium: float = 0.6
    low: float = 0.45
    unknown: float = 0.6

    def of(self, tier: ValueTier | None) -> float:
        return self.unknown if tier is None else float(getattr(self, tier))


@dataclass(frozen=True, slots=True)
class PriorityBand:
    """Urgency (risk x value weight) from `min_urgency` up gets `priority`, acted on within
    `sla_hours`."""

    priority: Priority
    min_urgency: float
    sla_hours: int


#: The `RiskModel` fields that hold a `SignalWeight`.
_SIGNAL_CODES = (
    "nps_detractor",
    "low_csat",
    "high_effort",
    "complaint",
    "negative_sentiment",
    "long_wait",
    "escalation",
    "transfer",
    "service_failure",
    "repeat_contact",
)


@dataclass(frozen=True, slots=True)
class RiskModel:
    """Every weight, half-life and threshold of the churn risk score and its alerts."""

    nps_detractor: SignalWeight = SignalWeight(0.8, 30)
    low_csat: SignalWeight = SignalWeight(0.4, 30)
    high_effort: SignalWeight = SignalWeight(0.4, 30)
    complaint: SignalWeight = SignalWeight(0.3, 45)
    negative_sentiment: SignalWeight = SignalWeight(0.4, 21)
    long_wait: SignalWeight = SignalWeight(0.3, 14)
    escalation: SignalWeight = SignalWeight(0.4, 21)
    transfer: SignalWeight = SignalWeight(0.15, 14)
    service_failure: SignalWeight = SignalWeight(0.4, 21)
    repeat_contact: SignalWeight = SignalWeight(0.3, 14)
    unresolved_complaint_factor: float = 3.0
    complaint_grace_days: float = 2.0
    repeated_complaint_factor: float = 1.5
    recovery_discount: float = 0.5
    min_severity: float = 0.5
    detractor_nps: int = 6
    low_csat_position: float = 0.25  # of the scale from its bottom: 2 of 5, 2 of 7, 3 of 10
    high_effort_position: float = 0.75  # of the scale from its bottom: 4 of 5, 6 of 7
    negative_sentiment_at: float = -0.25
    long_wait_seconds: float = 600.0
    worst_wait_seconds: float = 3600.0
    engagement_weight: float = 0.5
    raise_at: float = 0.6
    clear_below: float = 0.4
    update_step: float = 0.1
    value_weights: ValueWeights = ValueWeights()
    priority_bands: tuple[PriorityBand, ...] = (
        PriorityBand("P1", 0.6, 4),
        PriorityBand("P2", 0.4, 24),
        PriorityBand("P3", 0.2, 72),
        PriorityBand("P4", 0.0, 168),
    )

    def __post_init__(self) -> None:
        for name in _SIGNAL_CODES:
            signal: SignalWeight = getattr(self, name)
            if signal.weight < 0 or signal.half_life_days <= 0:
                raise ValueError(f"{name}: weight must be >= 0 and half-life > 0")
        if not 0.0 <= self.clear_below < self.raise_at <= 1.0:
            raise ValueError("need 0 <= clear_below < raise_at <= 1")
        if not 0.0 <= self.engagement_weight < 1.0:
            raise ValueError("engagement_weight must be in [0, 1)")
        if not 0.0 <= self.recovery_discount <= 1.0 or not 0.0 <= self.min_severity <= 1.0:
            raise ValueError("recovery_discount and min_severity must be in [0, 1]")
        if self.worst_wait_seconds < self.long_wait_seconds:
            raise ValueError("worst_wait_seconds must be >= long_wait_seconds")
        floors = [band.min_urgency for band in self.priority_bands]
        if not floors or floors != sorted(floors, reverse=True) or floors[-1] > 0.0:
            raise ValueError("priority_bands must descend by min_urgency down to 0")


DEFAULT_MODEL = RiskModel()


@dataclass(frozen=True, slots=True)
class RiskReason:
    """One reason code of a score: its share of the score, what was observed against which
    threshold, and the events that show it (by contribution, then the resolutions and recovery
    offers that lowered it). `touchpoint` is where its strongest evidence happened."""

    code: str
    text: str
    contribution: float
    observed: int | float | str | None
    threshold: int | float | str | None
    evidence: tuple[str, ...]
    touchpoint: str | None = None


@dataclass(frozen=True, slots=True)
class RiskScore:
    """A customer's churn risk as of the newest event it saw (`latest_event_id`).

    `experience` is E and `engagement` is G = 1 - P(alive) (None when not given); the reasons,
    by contribution, add up to `score`.
    """

    customer_id: str
    score: float
    as_of: datetime
    reasons: tuple[RiskReason, ...]
    experience: float
    engagement: float | None
    latest_event_id: str


@dataclass(frozen=True, slots=True)
class _Hit:
    """One event's signal for one reason code. `factor` multiplies the signal's weight: the
    severity of a graded signal, the unresolved and repeated factors of a complaint."""

    code: str
    event: CustomerEvent
    signal: SignalWeight
    factor: float
    observed: int | float | str | None = None
    threshold: int | float | str | None = None
    resolved_by: tuple[str, ...] = ()
    repeated: bool = False
    offset_by: tuple[str, ...] = ()  # recovery offers at or after the event
    hazard: float = 0.0


def churn_risk(
    customer_id: str,
    events: Iterable[CustomerEvent],
    *,
    now: datetime | None = None,
    p_alive: Engagement = None,
    model: RiskModel = DEFAULT_MODEL,
) -> RiskScore:
    """The customer's churn risk as of `now` (default: the newest event) from their events.

    Events after `now` are ignored. `p_alive` is the BG/NBD probability that the customer is
    still active, or a function giving it as of a time; None leaves engagement out.
    """
    seen = sorted(events, key=_order)
    if now is not None:
        seen = [event for event in seen if event.time <= now]
    if not seen:
        raise ValueError("churn risk needs at least one event at or before the as-of time")
    as_of = now if now is not None else seen[-1].time
    alive = p_alive(as_of) if callable(p_alive) else p_alive

    by_code: dict[str, list[_Hit]] = defaultdict(list)
    for hit in _hits(seen, as_of, model):
        if hit.hazard > 0.0:
            by_code[hit.code].append(hit)
    experience_hazard = sum(hit.hazard for hits in by_code.values() for hit in hits)

    engagement = None
    engagement_hazard = 0.0
    if alive is not None:
        if not 0.0 <= alive <= 1.0:
            raise ValueError(f"p_alive must be in [0, 1], got {alive}")
        engagement = 1.0 - alive
        engagement_hazard = -math.log1p(-model.engagement_weight * engagement)

    total = experience_hazard + engagement_hazard
    score = -math.expm1(-total)
    share = score / total if total > 0.0 else 0.0
    reasons = [_reason(code, hits, share, model) for code, hits in by_code.items()]
    if alive is not None and engagement_hazard > 0.0:
        reasons.append(_engagement_reason(alive, share * engagement_hazard))
    reasons.sort(key=lambda reason: (-reason.contribution, reason.code))
    return RiskScore(
        customer_id=customer_id,
        score=score,
        as_of=as_of,
        reasons=tuple(reasons),
        experience=-math.expm1(-experience_hazard),
        engagement=engagement,
        latest_event_id=seen[-1].event_id,
    )


def risk_history(
    customer_id: str,
    events: Iterable[CustomerEvent],
    *,
    p_alive: Engagement = None,
    model: RiskModel = DEFAULT_MODEL,
) -> list[RiskScore]:
    """The score after each distinct event time, oldest first: what a processor would have
    computed had every event arrived in a batch of its own, however the batches were cut."""
    ordered = sorted(events, key=_order)
    return list(_scores_after(customer_id, ordered, None, p_alive, model))


def _scores_after(
    customer_id: str,
    ordered: Sequence[CustomerEvent],
    after: datetime | None,
    p_alive: Engagement,
    model: RiskModel,
) -> Iterator[RiskScore]:
    """The score after each distinct event time later than `after`, oldest first."""
    end = 0
    for moment, group in groupby(ordered, key=lambda event: event.time):
        end += sum(1 for _ in group)
        if after is None or moment > after:
            yield churn_risk(customer_id, ordered[:end], p_alive=p_alive, model=model)


def _order(event: CustomerEvent) -> tuple[datetime, str]:
    return event.time, event.event_id


def _hits(events: Sequence[CustomerEvent], as_of: datetime, model: RiskModel) -> Iterator[_Hit]:
    """Every signal in the events (oldest first), decayed to `as_of` and discounted by
    recovery offers made at or after it."""
    resolutions: dict[str, list[CustomerEvent]] = defaultdict(list)
    for event in events:
        if event.case_id and (event.type == COMPLAINT_RESOLVED_TYPE or event.outcome == "resolved"):
            resolutions[event.case_id].append(event)
    recoveries = [event for event in events if event.type == RECOVERY_OFFERED_TYPE]
    complained: set[str] = set()

    for event in events:
        offset_by = tuple(r.event_id for r in recoveries if r.time >= event.time)
        discount = model.recovery_discount if offset_by else 1.0
        for hit in _signals(event, as_of, resolutions, complained, model):
            decay = 0.5 ** ((as_of - event.time) / _DAY / hit.signal.half_life_days)
            hazard = hit.signal.weight * hit.factor * decay * discount
            yield replace(hit, offset_by=offset_by, hazard=hazard)
        if _is_complaint(event) and event.case_id:
            complained.add(event.case_id)


def _is_complaint(event: CustomerEvent) -> bool:
    return event.type == VOICE_TYPE and event.feedback_kind == "complaint"


def _severity(model: RiskModel, excess: float, span: float) -> float:
    """`min_severity` at the threshold, rising linearly to 1 at `span` beyond it."""
    share = min(1.0, max(0.0, excess / span)) if span > 0 else 1.0
    return model.min_severity + (1.0 - model.min_severity) * share


def _scale_position(value: int, scale: int) -> float:
    """0 at the bottom of a 1..scale answer scale, 1 at its top."""
    return (value - 1) / (scale - 1)


def _signals(
    event: CustomerEvent,
    as_of: datetime,
    resolutions: dict[str, list[CustomerEvent]],
    complained: set[str],
    model: RiskModel,
) -> Iterator[_Hit]:
    """The signals in one event, before decay; `complained` holds the cases complained about
    in earlier events."""
    if event.nps is not None and event.nps <= model.detractor_nps:
        severity = _severity(model, model.detractor_nps - event.nps, model.detractor_nps)
        yield _Hit(
            "nps_detractor", event, model.nps_detractor, severity, event.nps, model.detractor_nps
        )

    if event.csat is not None:
        scale = event.csat_scale or 5
        highest_low = math.floor(1 + model.low_csat_position * (scale - 1) + 1e-9)
        if event.csat <= highest_low:
            excess = model.low_csat_position - _scale_position(event.csat, scale)
            severity = _severity(model, excess, model.low_csat_position)
            observed, limit = f"{event.csat}/{scale}", f"{highest_low}/{scale}"
            yield _Hit("low_csat", event, model.low_csat, severity, observed, limit)

    if event.ces is not None:
        scale = event.ces_scale or 7
        lowest_high = math.ceil(1 + model.high_effort_position * (scale - 1) - 1e-9)
        if event.ces >= lowest_high:
            excess = _scale_position(event.ces, scale) - model.high_effort_position
            severity = _severity(model, excess, 1.0 - model.high_effort_position)
            observed, limit = f"{event.ces}/{scale}", f"{lowest_high}/{scale}"
            yield _Hit("high_effort", event, model.high_effort, severity, observed, limit)

    if _is_complaint(event):
        resolved_by = tuple(
            r.event_id
            for r in resolutions.get(event.case_id, ())
            if r.time >= event.time and r.event_id != event.event_id
        )
        repeated = event.repeat_contact or event.case_id in complained
        factor = model.repeated_complaint_factor if repeated else 1.0
        unresolved = not resolved_by and as_of - event.time >= model.complaint_grace_days * _DAY
        if unresolved:
            factor *= model.unresolved_complaint_factor
        code = "complaint_unresolved" if unresolved else "complaint"
        yield _Hit(code, event, model.complaint, factor, resolved_by=resolved_by, repeated=repeated)
    elif event.repeat_contact:
        yield _Hit("repeat_contact", event, model.repeat_contact, 1.0)

    if event.sentiment is not None and event.sentiment <= model.negative_sentiment_at:
        excess = model.negative_sentiment_at - event.sentiment
        severity = _severity(model, excess, 1.0 + model.negative_sentiment_at)
        yield _Hit(
            "negative_sentiment",
            event,
            model.negative_sentiment,
            severity,
            event.sentiment,
            model.negative_sentiment_at,
        )

    if event.wait_seconds is not None and event.wait_seconds >= model.long_wait_seconds:
        excess = event.wait_seconds - model.long_wait_seconds
        severity = _severity(model, excess, model.worst_wait_seconds - model.long_wait_seconds)
        yield _Hit(
            "long_wait",
            event,
            model.long_wait,
            severity,
            event.wait_seconds,
            model.long_wait_seconds,
        )

    if event.outcome == "escalated":
        yield _Hit("escalation", event, model.escalation, 1.0)
    elif event.outcome == "transferred":
        yield _Hit("transfer", event, model.transfer, 1.0)
    elif event.outcome == "unresolved":
        yield _Hit("service_failure", event, model.service_failure, 1.0)


def _reason(code: str, hits: list[_Hit], share: float, model: RiskModel) -> RiskReason:
    """One reason from all the hits of its code. Counted codes (no threshold) observe how many
    events showed them; graded ones their worst value, against its threshold."""
    hits = sorted(hits, key=lambda hit: (-hit.hazard, hit.event.event_id))
    worst = max(hits, key=lambda hit: (hit.factor, hit.event.time))
    related = [i for hit in hits for i in (*hit.resolved_by, *hit.offset_by)]
    text = _reason_text(code, len(hits), worst.observed, worst.threshold, model)
    repeated = sum(hit.repeated for hit in hits)
    if repeated:
        text += f", {repeated} of them repeated"
    if any(hit.offset_by for hit in hits):
        text += ", partly offset by a recovery offer"
    return RiskReason(
        code=code,
        text=text,
        contribution=share * sum(hit.hazard for hit in hits),
        observed=len(hits) if worst.threshold is None else worst.observed,
        threshold=worst.threshold,
        evidence=tuple(dict.fromkeys([hit.event.event_id for hit in hits] + related)),
        touchpoint=hits[0].event.touchpoint or None,
    )


def _reason_text(code: str, n: int, worst: object, limit: object, model: RiskModel) -> str:
    def count(word: str) -> str:
        return f"{n} {word}" if n == 1 else f"{n} {word}s"

    grace = f"{model.complaint_grace_days:g} days"
    match code:
        case "nps_detractor":
            return f"Detractor: {count('NPS answer')} at or below {limit}, lowest {worst}"
        case "low_csat":
            return f"Low satisfaction: {count('CSAT answer')} at or below {limit}, lowest {worst}"
        case "high_effort":
            return f"High effort: {count('CES answer')} at or above {limit}, highest {worst}"
        case "complaint_unresolved":
            return f"{count('complaint')} open for {grace} or more"
        case "complaint":
            return f"{count('complaint')}, resolved or open for under {grace}"
        case "negative_sentiment":
            return (
                f"Negative words: {count('text')} at or below sentiment {limit}, "
                f"most negative {_number(worst):+.2f}"
            )
        case "long_wait":
            return (
                f"Long waits: {count('contact')} waited {_minutes(limit)} or more, "
                f"longest {_minutes(worst)}"
            )
        case "escalation":
            return f"{count('contact')} escalated"
        case "transfer":
            return f"{count('contact')} transferred"
        case "service_failure":
            return f"{count('contact')} left unresolved"
        case "repeat_contact":
            return f"{count('repeat contact')} within 7 days of the one before"
    raise ValueError(f"unknown reason code {code!r}")


def _number(value: object) -> float:
    if not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _minutes(seconds: object) -> str:
    return f"{_number(seconds) / 60:.0f} min"


def _engagement_reason(alive: float, contribution: float) -> RiskReason:
    return RiskReason(
        code="engagement_dropping",
        text=f"Buying less: BG/NBD probability {alive:.2f} that the customer is still active",
        contribution=contribution,
        observed=alive,
        threshold=None,
        evidence=(),
    )


# --- Alerts: hysteresis, priority, suggested action -------------------------------------------


class Transition(StrEnum):
    NONE = "none"
    OPENED = "opened"
    UPDATED = "updated"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class AlertState:
    """Where a customer's churn alert stands: `episode` is the id of the event whose score
    opened the current alert (None while closed), `reported` the score of its latest revision."""

    episode: str | None = None
    score: float = 0.0
    reported: float = 0.0
    revision: int = 0
    closed_episode: str | None = None  # the episode just closed, for its resolving revision


@dataclass(frozen=True, slots=True)
class AlertStep:
    """One score through the hysteresis: the transition, the state after it, and the score
    before (the previous score when opening or closing, the last revision's when updating)."""

    transition: Transition
    state: AlertState
    before: float
    score: RiskScore


def next_alert_state(
    state: AlertState, score: RiskScore, model: RiskModel = DEFAULT_MODEL
) -> AlertStep:
    """Open at `raise_at`, revise on a rise of `update_step`, close below `clear_below`."""
    risk = score.score
    if state.episode is None:
        if risk >= model.raise_at:
            opened = AlertState(score.latest_event_id, risk, risk, 1)
            return AlertStep(Transition.OPENED, opened, state.score, score)
        return AlertStep(Transition.NONE, replace(state, score=risk), state.score, score)
    if risk < model.clear_below:
        closed = AlertState(score=risk, revision=state.revision + 1, closed_episode=state.episode)
        return AlertStep(Transition.CLOSED, closed, state.score, score)
    if risk >= state.reported + model.update_step:
        revised = replace(state, score=risk, reported=risk, revision=state.revision + 1)
        return AlertStep(Transition.UPDATED, revised, state.reported, score)
    return AlertStep(Transition.NONE, replace(state, score=risk), state.score, score)


def alert_steps(
    customer_id: str,
    events: Iterable[CustomerEvent],
    *,
    p_alive: Engagement = None,
    model: RiskModel = DEFAULT_MODEL,
) -> list[AlertStep]:
    """The hysteresis walked over `risk_history`, from a closed alert: one step per score."""
    state = AlertState()
    steps = []
    for score in risk_history(customer_id, events, p_alive=p_alive, model=model):
        step = next_alert_state(state, score, model)
        steps.append(step)
        state = step.state
    return steps


@dataclass(frozen=True, slots=True)
class AlertPriority:
    priority: Priority
    sla_hours: int
    urgency: float


def alert_priority(
    risk: float, tier: ValueTier | None, model: RiskModel = DEFAULT_MODEL
) -> AlertPriority:
    """Priority and SLA from urgency = risk x the value tier's weight (`priority_bands`)."""
    urgency = risk * model.value_weights.of(tier)
    band = next(b for b in model.priority_bands if urgency >= b.min_urgency)
    return AlertPriority(band.priority, band.sla_hours, urgency)


def tier_for_clv(clv: float, thresholds: ValueTierThresholds) -> ValueTier:
    """The value tier of one customer's CLV against the customer base's tier thresholds."""
    return cast(ValueTier, str(value_tier(np.array([clv]), thresholds)[0]))


_ACTIONS = {
    "complaint_unresolved": "Resolve the open complaint and call the customer with the outcome",
    "complaint": "Make sure the complaint is resolved and the customer told so",
    "nps_detractor": "Call the customer back to hear what went wrong, and apologise",
    "low_csat": "Call the customer back to hear what went wrong, and apologise",
    "high_effort": "Call the customer and take over the steps that cost them effort",
    "negative_sentiment": "Read the customer's own words and answer them personally",
    "long_wait": "Route the customer's next contact to the priority queue",
    "escalation": "Give the customer one case owner who follows up until it is resolved",
    "transfer": "Give the customer one case owner who follows up until it is resolved",
    "service_failure": "Give the customer one case owner who follows up until it is resolved",
    "repeat_contact": "Give the customer one case owner who follows up until it is resolved",
    "engagement_dropping": "Send the customer a personal win-back offer",
}
_RECOVERY_ACTION = (
    "Call the customer back and make a recovery offer (apology plus voucher or refund)"
)
_UNHAPPY = frozenset({"nps_detractor", "low_csat", "complaint_unresolved"})


def suggested_action(score: RiskScore, tier: ValueTier | None, sla_hours: int) -> str:
    """What to do first: a recovery offer for an unhappy high-value customer, otherwise the
    remedy of the top reason; with the SLA."""
    codes = {reason.code for reason in score.reasons}
    if tier in _HIGH_VALUE and codes & _UNHAPPY:
        action = _RECOVERY_ACTION
    elif score.reasons:
        action = _ACTIONS[score.reasons[0].code]
    else:
        action = "Review the customer's recent contacts"
    return f"{action}; first action within {sla_hours} h"


def churn_alert(
    step: AlertStep, *, tier: ValueTier | None = None, model: RiskModel = DEFAULT_MODEL
) -> AlertRaised:
    """The `AlertRaised` revision of an opened, updated or closed (status "resolved") alert.

    The alert id depends on the customer and the episode only; the event id adds the revision,
    so the same step always gives the same event. The score before and after are carried by
    `previous_score` and `score`, the headline reason and the title.
    """
    score, state = step.score, step.state
    closing = step.transition is Transition.CLOSED
    episode = state.closed_episode if closing else state.episode
    if step.transition is Transition.NONE or episode is None:
        raise ValueError(f"a {step.transition} step raises no alert")
    ident = alert_id(ALERT_KIND, score.customer_id, episode)
    priority = alert_priority(score.score, tier, model)
    before, after = step.before, score.score
    headline = Reason(
        code="churn_risk",
        text=(
            f"Churn risk {after:.2f}, was {before:.2f}: alerts at {model.raise_at:.2f}, "
            f"clears below {model.clear_below:.2f}"
        ),
        observed=round(after, 4),
        threshold=model.clear_below if closing else model.raise_at,
    )
    reasons = [
        Reason(
            code=r.code,
            text=f"{r.text} (+{r.contribution:.2f})",
            observed=r.observed,
            threshold=r.threshold,
        )
        for r in score.reasons
    ]
    evidence = list(dict.fromkeys(i for r in score.reasons for i in r.evidence))
    top = score.reasons[0].code.replace("_", " ") if score.reasons else "no single reason"
    if closing:
        title = (
            f"Churn risk back to {after:.2f} for customer {score.customer_id} (was {before:.2f})"
        )
        action = "None needed: the risk fell below the clearing threshold"
    else:
        title = (
            f"Churn risk {before:.2f} → {after:.2f} for customer {score.customer_id}, "
            f"top reason: {top}"
        )
        action = suggested_action(score, tier, priority.sla_hours)
    return AlertRaised(
        id=alert_event_id(ident, state.revision),
        source=ALERT_SOURCE,
        time=score.as_of,
        subject=score.customer_id,
        data=AlertRaisedData(
            alert_id=ident,
            kind=ALERT_KIND,
            rule=ALERT_RULE,
            priority=priority.priority,
            title=title,
            customer_id=score.customer_id,
            touchpoint=next((r.touchpoint for r in score.reasons if r.touchpoint), None),
            reasons=[headline, *reasons],
            evidence=evidence or [score.latest_event_id],
            suggested_action=action,
            raised_at=score.as_of,
            revision=state.revision,
            status="resolved" if closing else "open",
            score=round(after, 4),
            previous_score=round(before, 4),
            sla_hours=priority.sla_hours,
        ),
    )


@dataclass(frozen=True, slots=True)
class Walk:
    """How far a customer's walk through the hysteresis has gone: the newest event time scored,
    how many events were at or before it, and the alert state after it. Resuming from it gives
    exactly what walking from the start would, as long as no event has arrived since at or
    before `scored_until` (`resume` checks the count and starts over if one has)."""

    scored_until: datetime | None = None
    events_scored: int = 0
    alert: AlertState = AlertState()


def churn_alerts(
    customer_id: str,
    events: Iterable[CustomerEvent],
    *,
    p_alive: Engagement = None,
    tier: ValueTier | None = None,
    model: RiskModel = DEFAULT_MODEL,
) -> list[AlertRaised]:
    """Every alert revision the customer's events raise, oldest first, the resolving revision
    of a closed alert included: what a processor publishes after a batch (the projection keeps
    each revision once, however often sent)."""
    alerts, _ = resume(customer_id, events, Walk(), p_alive=p_alive, tier=tier, model=model)
    return alerts


def resume(
    customer_id: str,
    events: Iterable[CustomerEvent],
    walk: Walk,
    *,
    p_alive: Engagement = None,
    tier: ValueTier | None = None,
    model: RiskModel = DEFAULT_MODEL,
) -> tuple[list[AlertRaised], Walk]:
    """The alert revisions raised after `walk.scored_until`, and the walk after the newest
    event: the incremental form of `churn_alerts` (each score reads the whole history, but
    only new event times are scored)."""
    ordered = sorted(events, key=_order)
    if walk.scored_until is not None:
        seen = sum(1 for event in ordered if event.time <= walk.scored_until)
        if seen != walk.events_scored:  # an event arrived out of order: walk from the start
            walk = Walk()
    state, alerts = walk.alert, []
    for score in _scores_after(customer_id, ordered, walk.scored_until, p_alive, model):
        step = next_alert_state(state, score, model)
        if step.transition is not Transition.NONE:
            alerts.append(churn_alert(step, tier=tier, model=model))
        state = step.state
    if not ordered:
        return alerts, walk
    return alerts, Walk(ordered[-1].time, len(ordered), state)
