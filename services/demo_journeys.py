"""Synthetic customer journeys for `touchstream demo`.

The demo needs a believable month of touchpoint traffic without any upstream system: a few
hundred customers in segments, writing in Chinese or English, moving from pre-purchase through
purchase to after-sales, answering surveys, complaining, and now and then responding to a
campaign. About one customer in eight has an experience that slowly goes wrong — longer waits,
contacts left unresolved or bounced around, repeated complaints, detractor scores, sometimes
churn — so the live views and alerts have something real to find, including valuable (vip)
customers at risk.

Everything here is pure and deterministic: no Kafka, no clock, no I/O. The same seed gives the
same events, ids included, so a demo run can be repeated and explained; the caller decides where
the events go.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from touchstream.events.vocabulary import Channel, JourneyStage
from touchstream.projections.satisfaction import nps_band

#: A fixed start, so the default output never depends on when the demo runs.
DEFAULT_START = datetime(2025, 3, 3, tzinfo=UTC)

#: Share of customers whose experience degrades, in each segment (so some vips are among them).
DEGRADING_SHARE = 0.12
#: Share of degrading customers who end up leaving.
CHURN_SHARE = 0.3

_SEGMENTS = {"vip": 0.1, "regular": 0.55, "new": 0.35}
_LOCALES = {"zh-CN": 0.6, "en-GB": 0.4}
_CITIES = {
    "zh-CN": ("shanghai", "beijing", "shenzhen", "guangzhou", "hangzhou", "chengdu", "wuhan"),
    "en-GB": ("london", "manchester", "birmingham", "edinburgh", "bristol", "leeds", "glasgow"),
}
#: Typical order value in CNY by segment; vips spend several times more.
_MEDIAN_SPEND = {"vip": 2800.0, "regular": 650.0, "new": 320.0}

_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://touchstream.dev/demo")
# Whole-minute-or-more gaps keep each customer's times strictly increasing once truncated to
# seconds, so sorting by time never reorders a customer's own story.
_MIN_GAP = timedelta(minutes=1)

_IDENTIFIED = "cx.customer.identified.v1"
_CHURNED = "cx.customer.churned.v1"
_CONTACT = "cx.touchpoint.contact.v1"
_PURCHASE = "cx.commerce.purchase.v1"
_SURVEY = "cx.feedback.survey.v1"
_VOICE = "cx.feedback.voice.v1"
_RESOLVED = "cx.feedback.complaint_resolved.v1"
_CAMPAIGN_SENT = "cx.campaign.sent.v1"
_CAMPAIGN_RESPONDED = "cx.campaign.responded.v1"

_CHANNEL_SOURCES = {
    Channel.PHONE: "/channels/call-center",
    Channel.STORE: "/channels/store",
    Channel.APP: "/channels/app",
    Channel.WEB: "/channels/web",
    Channel.EMAIL: "/channels/email",
    Channel.CHAT: "/channels/chat",
    Channel.SOCIAL: "/channels/social",
}
_CRM_SOURCE = "/crm/customers"
_CASES_SOURCE = "/crm/cases"
_SURVEY_SOURCE = "/surveys/qualtrics"
_MARKETING_SOURCE = "/marketing/campaigns"

#: Channels where a person serves the customer, so there is a queue, an agent and an outcome.
_ASSISTED = frozenset({Channel.PHONE, Channel.STORE, Channel.CHAT, Channel.EMAIL, Channel.SOCIAL})

_PRE = JourneyStage.PRE_PURCHASE
_BUY = JourneyStage.PURCHASE
_POST = JourneyStage.POST_PURCHASE


@dataclass(frozen=True)
class DemoData:
    """Synthetic touchpoint events, sorted by time, and what a demo summary needs about them."""

    events: list[dict[str, Any]]
    degrading: frozenset[str]
    churned: frozenset[str]
    segments: Mapping[str, str]
    start: datetime
    end: datetime

    @property
    def customers(self) -> int:
        return len(self.segments)

    @property
    def counts_by_type(self) -> dict[str, int]:
        return dict(Counter(event["type"] for event in self.events).most_common())

    @property
    def vips_at_risk(self) -> frozenset[str]:
        """Degrading customers in the vip segment: the ones the demo should flag first."""
        return frozenset(c for c in self.degrading if self.segments[c] == "vip")


def generate_journeys(
    customers: int = 400, *, seed: int = 7, start: datetime | None = None, days: int = 30
) -> DemoData:
    """Journeys of `customers` customers over `days` days from `start`, as CloudEvents JSON."""
    if customers < 1 or days < 1:
        raise ValueError("customers and days must be at least 1")
    start = DEFAULT_START if start is None else start
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    start = start.astimezone(UTC).replace(microsecond=0)
    horizon = timedelta(days=days)

    cast = _cast(customers, seed)
    written = [row for customer in cast for row in _tell(customer, seed, start, horizon)]
    written.sort(key=lambda row: row[:3])
    return DemoData(
        events=[row[3] for row in written],
        degrading=frozenset(c.customer_id for c in cast if c.degrading),
        churned=frozenset(c.customer_id for c in cast if c.churns),
        segments={c.customer_id: c.segment for c in cast},
        start=start,
        end=start + horizon,
    )


# --- Who the customers are ---------------------------------------------------------------


@dataclass(frozen=True)
class _Customer:
    index: int
    customer_id: str
    segment: str
    locale: str
    marketing_consent: bool
    degrading: bool = False
    churns: bool = False

    @property
    def language(self) -> str:
        return self.locale[:2]


def _cast(count: int, seed: int) -> list[_Customer]:
    """The customers, with degradation drawn within each segment so every segment is affected."""
    rng = random.Random(f"touchstream-demo/{seed}/cast")
    people = [_person(index, rng) for index in range(count)]
    degrading: set[int] = set()
    for segment in _SEGMENTS:
        members = [p.index for p in people if p.segment == segment]
        if members:
            degrading.update(rng.sample(members, max(1, round(len(members) * DEGRADING_SHARE))))
    ordered = sorted(degrading)
    churning = set(rng.sample(ordered, max(1, round(len(ordered) * CHURN_SHARE))))
    return [replace(p, degrading=p.index in degrading, churns=p.index in churning) for p in people]


def _person(index: int, rng: random.Random) -> _Customer:
    segment = _weighted(rng, _SEGMENTS)
    return _Customer(
        index=index,
        customer_id=f"cust-{index + 1:05d}",
        segment=segment,
        locale=_weighted(rng, _LOCALES),
        # Loyal customers opt in to marketing more often than first-time buyers.
        marketing_consent=rng.random() < {"vip": 0.8, "regular": 0.6, "new": 0.45}[segment],
    )


def _member_since(segment: str, this_year: int, rng: random.Random) -> int:
    if segment == "new":
        return this_year
    # Vips are mostly long-standing members; that is how they became vips.
    return this_year - (rng.randint(3, 12) if segment == "vip" else rng.randint(1, 6))


def _weighted(rng: random.Random, weights: Mapping[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


# --- Touchpoints --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Touchpoint:
    channels: tuple[Channel, ...]
    team: str | None
    wait: float  # typical seconds in the queue of an assisted channel
    handle: float  # typical seconds the contact itself takes
    reasons: tuple[str, ...]
    topics: tuple[str, ...]  # what complaints about this touchpoint are about

    @property
    def assisted_channels(self) -> tuple[Channel, ...]:
        return tuple(c for c in self.channels if c in _ASSISTED)


_TOUCHPOINTS = {
    "website": _Touchpoint(
        channels=(Channel.WEB,),
        team=None,
        wait=0,
        handle=420,
        reasons=("browse_products", "compare_models", "check_promotion"),
        topics=("app_bugs",),
    ),
    "app": _Touchpoint(
        channels=(Channel.APP,),
        team=None,
        wait=0,
        handle=300,
        reasons=("browse_products", "check_stock", "read_reviews"),
        topics=("app_bugs",),
    ),
    "store": _Touchpoint(
        channels=(Channel.STORE,),
        team="store_staff",
        wait=240,
        handle=900,
        reasons=("product_demo", "price_check", "try_in_store"),
        topics=("store_staff", "store_queue"),
    ),
    "call_center": _Touchpoint(
        channels=(Channel.PHONE,),
        team="call_center",
        wait=75,
        handle=360,
        reasons=("product_info", "order_status", "account_question"),
        topics=("phone_wait", "service_staff"),
    ),
    "live_chat": _Touchpoint(
        channels=(Channel.CHAT,),
        team="online_service",
        wait=40,
        handle=420,
        reasons=("product_info", "order_status", "promotion_question"),
        topics=("chat_wait", "service_staff"),
    ),
    "social_media": _Touchpoint(
        channels=(Channel.SOCIAL,),
        team="social_care",
        wait=1800,
        handle=240,
        reasons=("product_question", "brand_mention"),
        topics=("product_quality",),
    ),
    "checkout": _Touchpoint(
        channels=(Channel.WEB, Channel.APP, Channel.STORE),
        team="sales",
        wait=180,
        handle=200,
        reasons=("place_order",),
        topics=("app_bugs", "billing"),
    ),
    "delivery": _Touchpoint(
        channels=(Channel.APP, Channel.PHONE),
        team="logistics",
        wait=60,
        handle=150,
        reasons=("delivery_tracking", "delivery_slot", "parcel_handover"),
        topics=("delivery",),
    ),
    "billing": _Touchpoint(
        channels=(Channel.PHONE, Channel.EMAIL, Channel.WEB),
        team="billing",
        wait=90,
        handle=330,
        reasons=("invoice_question", "payment_issue", "refund_status"),
        topics=("billing",),
    ),
    "after_sales_repair": _Touchpoint(
        channels=(Channel.STORE, Channel.PHONE),
        team="repair",
        wait=300,
        handle=1200,
        reasons=("repair_booking", "warranty_claim", "repair_pickup"),
        topics=("product_quality", "repair_staff"),
    ),
    "email_support": _Touchpoint(
        channels=(Channel.EMAIL,),
        team="email_support",
        wait=5 * 3600,
        handle=240,
        reasons=("order_change", "return_request", "warranty_question"),
        topics=("email_wait",),
    ),
}
_PRE_TOUCHPOINTS = {
    "website": 5,
    "app": 5,
    "store": 2,
    "call_center": 1.5,
    "live_chat": 1.5,
    "social_media": 1,
}
_SERVICE_TOUCHPOINTS = {
    "billing": 2,
    "after_sales_repair": 1.5,
    "email_support": 1.5,
    "call_center": 2,
    "live_chat": 2,
}
#: Where a degrading customer's recurring problem sits; all have an assisted channel to chase on.
_PAIN_TOUCHPOINTS = ("delivery", "billing", "after_sales_repair", "call_center", "email_support")


# --- One customer's story ------------------------------------------------------------------


@dataclass
class _Story:
    """One customer's events as they are written, with the clock that keeps them in order."""

    customer: _Customer
    seed: int
    rng: random.Random
    now: datetime
    end: datetime
    rows: list[tuple[datetime, int, int, dict[str, Any]]] = field(default_factory=list)
    orders: int = 0
    cases: int = 0

    def wait(self, typical: timedelta) -> None:
        """Let about `typical` pass, shrinking gaps near `end` so the story fits the period."""
        gap = min(typical * self.rng.uniform(0.5, 1.5), (self.end - self.now) / 4)
        self.now = (self.now + max(gap, _MIN_GAP)).replace(microsecond=0)

    def resume_at(self, moment: datetime) -> None:
        self.now = max(moment, self.now + _MIN_GAP).replace(microsecond=0)

    def emit(
        self, event_type: str, source: str, data: dict[str, Any], at: datetime | None = None
    ) -> None:
        time = self.now if at is None else at.replace(microsecond=0)
        seq = len(self.rows)
        event_id = uuid.uuid5(_ID_NAMESPACE, f"{self.seed}/{self.customer.customer_id}/{seq}")
        event = {
            "specversion": "1.0",
            "id": str(event_id),
            "source": source,
            "type": event_type,
            "time": time.isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": {"customer_id": self.customer.customer_id, **data},
        }
        self.rows.append((time, self.customer.index, seq, event))

    def identify(self) -> None:
        c, rng = self.customer, self.rng
        attributes = {
            "city": rng.choice(_CITIES[c.locale]),
            "age_band": rng.choice(("18-24", "25-34", "35-44", "45-54", "55-64")),
            "member_since": _member_since(c.segment, self.now.year, rng),
        }
        consent = {"marketing": c.marketing_consent, "analytics": rng.random() < 0.92}
        self.emit(
            _IDENTIFIED,
            _CRM_SOURCE,
            {
                "segment": c.segment,
                "locale": c.locale,
                "consent": consent,
                "attributes": attributes,
            },
        )

    def contact(
        self,
        touchpoint: str,
        stage: JourneyStage,
        strain: float = 0.0,
        *,
        channel: Channel | None = None,
        case_id: str | None = None,
    ) -> Channel:
        """A contact; `strain` (0 healthy, 1+ badly degraded) means longer waits, worse outcomes."""
        tp, rng = _TOUCHPOINTS[touchpoint], self.rng
        channel = channel or rng.choice(tp.channels)
        data: dict[str, Any] = {
            "channel": channel.value,
            "touchpoint": touchpoint,
            "stage": stage.value,
            "reason": rng.choice(tp.reasons),
            "handle_seconds": round(tp.handle * rng.lognormvariate(0, 0.4) * (1 + 0.8 * strain)),
        }
        if channel in _ASSISTED:
            data["wait_seconds"] = _wait_seconds(tp, strain, rng)
            data["outcome"] = _outcome(strain, rng)
            data["agent_id"] = f"{tp.team}-{rng.randint(1, 40):03d}"
            data["team"] = tp.team
        if case_id:
            data["case_id"] = case_id
        self.emit(_CONTACT, _CHANNEL_SOURCES[channel], data)
        return channel

    def purchase(self, channel: Channel) -> None:
        self.orders += 1
        order_id = f"SO{self.customer.index + 1:05d}-{self.orders}"
        data = {
            "order_id": order_id,
            "amount": _price(self.customer.segment, self.rng),
            "currency": "CNY",
            "channel": channel.value,
            "touchpoint": "checkout",
        }
        self.emit(_PURCHASE, _CHANNEL_SOURCES[channel], data)

    def survey(
        self,
        touchpoint: str,
        stage: JourneyStage,
        mood: str,
        measures: tuple[str, ...],
        *,
        channel: Channel | None = None,
        topic: str | None = None,
    ) -> None:
        rng = self.rng
        data: dict[str, Any] = {
            "survey_id": f"{measures[0]}-{touchpoint}",
            "touchpoint": touchpoint,
            "stage": stage.value,
            "language": self.customer.language,
        }
        if channel is not None:
            data["channel"] = channel.value
        for measure in measures:
            low, high = _SCORE_RANGES[mood][measure]
            data[measure] = rng.randint(low, high)
        if "nps" in measures and rng.random() < SERVQUAL_SHARE:
            data["servqual"] = _servqual(mood, rng)
        # Unhappy customers explain themselves far more often than happy ones.
        if rng.random() < (0.65 if mood == "detractor" else 0.3):
            topic = topic or rng.choice(_TOUCHPOINTS[touchpoint].topics)
            data["comment"] = self.text(_comment_kind(mood, topic, rng))
        self.emit(_SURVEY, _SURVEY_SOURCE, data)

    def voice(
        self,
        kind: str,
        text: str,
        touchpoint: str,
        stage: JourneyStage,
        channel: Channel,
        case_id: str | None = None,
    ) -> None:
        data: dict[str, Any] = {
            "kind": kind,
            "text": text,
            "channel": channel.value,
            "touchpoint": touchpoint,
            "stage": stage.value,
        }
        # Channels send the language hint only sometimes; the rest is left to detection.
        if self.rng.random() < 0.5:
            data["language"] = self.customer.language
        if case_id:
            data["case_id"] = case_id
        self.emit(_VOICE, _CHANNEL_SOURCES[channel], data)

    def complaint(self, touchpoint: str, topic: str, *, case_id: str | None = None) -> str:
        """A complaint, opening a case, or chasing `case_id` again in angrier words."""
        if case_id is None:
            self.cases += 1
            case_id, words = f"CASE-{self.customer.index + 1:05d}-{self.cases}", topic
        else:
            words = "escalation"
        channels = (*_TOUCHPOINTS[touchpoint].channels, Channel.CHAT, Channel.EMAIL)
        channel = self.rng.choice(channels)
        self.voice("complaint", self.text(words), touchpoint, _POST, channel, case_id)
        return case_id

    def resolve(self, case_id: str, touchpoint: str) -> None:
        data = {
            "case_id": case_id,
            "resolution": self.rng.choice(_RESOLUTIONS),
            "touchpoint": touchpoint,
        }
        self.emit(_RESOLVED, _CASES_SOURCE, data)

    def churn(self) -> None:
        self.emit(_CHURNED, _CRM_SOURCE, {"reason": self.rng.choice(_CHURN_REASONS)})

    def text(self, kind: str) -> str:
        return self.rng.choice(_TEXTS[self.customer.language][kind])


def _tell(
    customer: _Customer, seed: int, start: datetime, horizon: timedelta
) -> list[tuple[datetime, int, int, dict[str, Any]]]:
    """Everything that happens to one customer, from identification to (perhaps) churn."""
    # A generator per customer: one customer's story does not shift when another's changes.
    rng = random.Random(f"touchstream-demo/{seed}/{customer.index}")
    first_seen = (start + horizon * rng.uniform(0, 0.2)).replace(microsecond=0)
    story = _Story(customer, seed, rng, first_seen, start + horizon * rng.uniform(0.94, 0.995))
    story.identify()
    _journeys(story)
    if customer.churns:
        story.wait(timedelta(days=3))
        story.churn()
    last_seen = story.now if customer.churns else story.end
    _campaigns(story, start, horizon, first_seen, last_seen)
    return story.rows


def _journeys(story: _Story) -> None:
    """Purchase cycles spread over the customer's month; for degrading customers the later
    cycles go wrong, each a little worse than the one before."""
    rng, customer = story.rng, story.customer
    count = {"vip": rng.randint(2, 4), "regular": rng.randint(1, 3), "new": rng.randint(1, 2)}[
        customer.segment
    ]
    if customer.degrading:
        count = max(count, 2)
    first_bad = rng.randint(1, count - 1) if customer.degrading else count
    pain = rng.choice(_PAIN_TOUCHPOINTS)
    begin, span = story.now, story.end - story.now
    for cycle in range(count):
        story.resume_at(begin + span * (cycle + rng.uniform(0.05, 0.4)) / count)
        severity = (cycle - first_bad + 1) / (count - first_bad) if cycle >= first_bad else 0.0
        _pre_purchase(story, severity / 2)
        channel = _purchase(story, severity / 2)
        if severity:
            _troubled_after_sales(story, channel, pain, severity)
        else:
            _after_sales(story, channel)


def _pre_purchase(story: _Story, strain: float) -> None:
    rng = story.rng
    for _ in range(rng.choices((1, 2, 3), weights=(3, 4, 2))[0]):
        story.wait(timedelta(hours=10))
        story.contact(_weighted(rng, _PRE_TOUCHPOINTS), _PRE, strain)
    if rng.random() < 0.3:
        story.wait(timedelta(hours=3))
        kind, channel = rng.choice((("inquiry", Channel.EMAIL), ("chat", Channel.CHAT)))
        touchpoint = "email_support" if channel is Channel.EMAIL else "live_chat"
        story.voice(kind, story.text(kind), touchpoint, _PRE, channel)


def _purchase(story: _Story, strain: float) -> Channel:
    rng = story.rng
    story.wait(timedelta(days=1))
    channel = rng.choices((Channel.WEB, Channel.APP, Channel.STORE), weights=(4, 4, 2))[0]
    story.contact("checkout", _BUY, strain, channel=channel)
    story.wait(timedelta(minutes=4))
    story.purchase(channel)
    if rng.random() < 0.3:
        story.wait(timedelta(minutes=30))
        mood = "passive" if strain else _healthy_mood(rng)
        story.survey("checkout", _BUY, mood, ("csat", "ces"), channel=channel)
    return channel


def _after_sales(story: _Story, bought_on: Channel) -> None:
    """A healthy after-sales stage: delivery, a survey, the odd service contact or remark."""
    rng = story.rng
    mood = _healthy_mood(rng)
    rated = "checkout"
    # Store purchases are mostly carried home; everything else is delivered.
    if bought_on is not Channel.STORE or rng.random() < 0.3:
        story.wait(timedelta(days=1.5))
        story.contact("delivery", _POST)
        rated = "delivery"
    if rng.random() < 0.7:
        story.wait(timedelta(hours=8))
        story.survey(rated, _POST, mood, ("nps", "csat") if rng.random() < 0.7 else ("nps",))
    for _ in range(rng.choices((0, 1, 2), weights=(5, 4, 1))[0]):
        story.wait(timedelta(days=2))
        touchpoint = _weighted(rng, _SERVICE_TOUCHPOINTS)
        channel = story.contact(touchpoint, _POST)
        if rng.random() < 0.3:
            story.wait(timedelta(hours=2))
            story.survey(touchpoint, _POST, mood, ("csat", "ces"), channel=channel)
    _remarks(story, mood)


def _remarks(story: _Story, mood: str) -> None:
    """What a healthy customer says unprompted: mostly kind words, sometimes a fixed complaint."""
    rng = story.rng
    if rng.random() < 0.07:
        touchpoint = rng.choice(("app", "delivery", "billing", "store", "call_center"))
        story.wait(timedelta(days=1))
        case_id = story.complaint(touchpoint, rng.choice(_TOUCHPOINTS[touchpoint].topics))
        # Healthy customers' complaints are handled, and quickly.
        if rng.random() < 0.85:
            story.wait(timedelta(hours=20))
            story.resolve(case_id, touchpoint)
    if rng.random() < 0.08:
        story.wait(timedelta(days=1))
        story.voice("suggestion", story.text("suggestion"), "app", _POST, Channel.APP)
    if mood == "promoter" and rng.random() < 0.12:
        story.wait(timedelta(hours=6))
        story.voice("social_post", story.text("praise"), "social_media", _POST, Channel.SOCIAL)


def _troubled_after_sales(story: _Story, bought_on: Channel, pain: str, severity: float) -> None:
    """After-sales going wrong at the customer's `pain` touchpoint: a complaint, contacts
    chasing it with ever longer waits, an angrier repeat, maybe a resolution, and a detractor
    score at the end."""
    rng = story.rng
    if bought_on is not Channel.STORE or pain == "delivery":
        story.wait(timedelta(days=1.5))
        story.contact("delivery", _POST, severity if pain == "delivery" else 0.0)
    chase_on = _TOUCHPOINTS[pain].assisted_channels
    topic = rng.choice(_TOUCHPOINTS[pain].topics)
    story.wait(timedelta(days=1))
    story.contact(pain, _POST, severity, channel=rng.choice(chase_on))
    story.wait(timedelta(hours=2))
    case_id = story.complaint(pain, topic)
    for attempt in range(1, 2 + round(2 * severity * rng.random())):
        story.wait(timedelta(days=1.5))
        strain = severity + 0.3 * attempt
        story.contact(pain, _POST, strain, channel=rng.choice(chase_on), case_id=case_id)
    if rng.random() < 0.4 + 0.5 * severity:
        story.wait(timedelta(hours=12))
        story.complaint(pain, topic, case_id=case_id)
    # The worse it gets, the less likely anyone closes the case.
    if rng.random() < 0.6 - 0.4 * severity:
        story.wait(timedelta(days=2))
        story.resolve(case_id, pain)
    story.wait(timedelta(hours=6))
    story.survey(pain, _POST, "detractor", ("nps", "csat", "ces"), topic=topic)
    if rng.random() < 0.35:
        story.wait(timedelta(hours=10))
        story.voice("social_post", story.text(topic), "social_media", _POST, Channel.SOCIAL)


# --- Campaigns -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Campaign:
    campaign_id: str
    at: float  # when in the period it goes out, as a fraction of it
    channels: tuple[Channel, ...]
    segments: frozenset[str]
    response_rate: float


_CAMPAIGNS = (
    _Campaign("spring-sale", 0.12, (Channel.EMAIL, Channel.SMS), frozenset(_SEGMENTS), 0.02),
    _Campaign("app-members-week", 0.45, (Channel.APP, Channel.EMAIL), frozenset(_SEGMENTS), 0.02),
    # Personal invitations to the most valuable customers get answered more often.
    _Campaign("vip-private-preview", 0.7, (Channel.EMAIL, Channel.PHONE), frozenset({"vip"}), 0.05),
)


def _campaigns(
    story: _Story, start: datetime, horizon: timedelta, first_seen: datetime, last_seen: datetime
) -> None:
    rng, customer = story.rng, story.customer
    if not customer.marketing_consent:
        return
    for campaign in _CAMPAIGNS:
        sent_at = start + horizon * campaign.at + timedelta(hours=rng.uniform(0, 10))
        if customer.segment not in campaign.segments or not first_seen < sent_at < last_seen:
            continue
        if rng.random() > 0.85:
            continue
        channel = rng.choice(campaign.channels)
        base = {"campaign_id": campaign.campaign_id, "channel": channel.value}
        story.emit(_CAMPAIGN_SENT, _MARKETING_SOURCE, base, at=sent_at)
        if rng.random() < campaign.response_rate:
            response = _campaign_response(customer, rng)
            responded_at = sent_at + timedelta(hours=rng.uniform(0.5, 30))
            story.emit(
                _CAMPAIGN_RESPONDED, _MARKETING_SOURCE, {**base, "response": response}, responded_at
            )


def _campaign_response(customer: _Customer, rng: random.Random) -> str:
    if customer.degrading:
        return rng.choice(("unsubscribed", "unsubscribed", "clicked"))
    return rng.choices(("clicked", "replied", "converted", "unsubscribed"), weights=(5, 1, 3, 1))[0]


# --- Scores, amounts and queues --------------------------------------------------------------

#: Share of NPS surveys that also ask SERVQUAL expectation and perception (1-7).
SERVQUAL_SHARE = 0.3
_SERVQUAL_DIMENSIONS = ("tangibles", "reliability", "responsiveness", "assurance", "empathy")
#: How far perception falls short of (or beats) expectation, by mood.
_PERCEPTION_SHIFT = {"promoter": (0, 1), "passive": (-2, 0), "detractor": (-4, -2)}


def _servqual(mood: str, rng: random.Random) -> list[dict[str, int]]:
    low, high = _PERCEPTION_SHIFT[mood]
    items = []
    for dimension in _SERVQUAL_DIMENSIONS:
        expectation = rng.randint(5, 7)
        perception = min(7, max(1, expectation + rng.randint(low, high)))
        items.append({"dimension": dimension, "expectation": expectation, "perception": perception})
    return items


_SCORE_RANGES = {
    "promoter": {"nps": (9, 10), "csat": (4, 5), "ces": (1, 3)},
    "passive": {"nps": (7, 8), "csat": (3, 4), "ces": (2, 4)},
    "detractor": {"nps": (0, 6), "csat": (1, 2), "ces": (5, 7)},
}


def _healthy_mood(rng: random.Random) -> str:
    return rng.choices(("promoter", "passive", "detractor"), weights=(60, 34, 6))[0]


def text_share(events: Sequence[Mapping[str, Any]]) -> float:
    """The share of events that carry the customer's own words (voice events, survey comments)."""
    texts = sum(1 for e in events if e["type"] == _VOICE or e["data"].get("comment"))
    return texts / len(events) if events else 0.0


def with_text_share(
    events: Sequence[dict[str, Any]], share: float, seed: int = 0
) -> list[dict[str, Any]]:
    """The events with a comment added to surveys that have none, until `share` of all events
    carry free text (or every survey does): the benchmark's mix. Each comment fits its answer,
    as the generator's own do: praise from promoters, what went wrong from detractors."""
    rng = random.Random(seed)
    result = list(events)
    missing = round(share * len(result)) - round(text_share(result) * len(result))
    bare = [
        i for i, e in enumerate(result) if e["type"] == _SURVEY and not e["data"].get("comment")
    ]
    for i in sorted(rng.sample(bare, max(0, min(missing, len(bare))))):
        data = result[i]["data"]
        touchpoint = _TOUCHPOINTS.get(data["touchpoint"])
        topic = rng.choice(touchpoint.topics) if touchpoint else "neutral"
        kind = _comment_kind(_mood_of(data), topic, rng)
        language = data.get("language") or "en"
        result[i] = {**result[i], "data": {**data, "comment": rng.choice(_TEXTS[language][kind])}}
    return result


def _mood_of(answer: Mapping[str, Any]) -> str:
    if answer.get("nps") is not None:
        return nps_band(answer["nps"])
    top = answer.get("csat_scale", 5)
    csat = answer.get("csat")
    if csat is not None:
        return "promoter" if csat >= top - 1 else "passive" if csat >= top / 2 else "detractor"
    return "passive"


def _comment_kind(mood: str, topic: str, rng: random.Random) -> str:
    """Which bank a survey comment comes from: detractors say what went wrong."""
    if mood == "promoter":
        return "praise"
    if mood == "passive":
        return rng.choice(("neutral", "neutral", "suggestion"))
    return topic


def _wait_seconds(tp: _Touchpoint, strain: float, rng: random.Random) -> int:
    # A degraded service shows first in the queue: waits several times the usual.
    seconds = tp.wait * rng.lognormvariate(0, 0.45) * (1 + 4 * strain)
    return max(1, min(round(seconds), 6 * 24 * 3600))


def _outcome(strain: float, rng: random.Random) -> str:
    resolved = max(0.1, 0.9 - 0.7 * strain)
    rest = 1 - resolved
    return rng.choices(
        ("resolved", "unresolved", "escalated", "transferred"),
        weights=(resolved, 0.45 * rest, 0.3 * rest, 0.25 * rest),
    )[0]


def _price(segment: str, rng: random.Random) -> str:
    # Shop prices end in 9: 299, 1299, 2999...
    value = _MEDIAN_SPEND[segment] * rng.lognormvariate(0, 0.55)
    return f"{max(19, round(value / 10) * 10 - 1)}.00"


_RESOLUTIONS = (
    "refund issued",
    "replacement sent",
    "voucher 50 CNY with apology",
    "repair redone free of charge",
    "invoice corrected",
    "callback and apology",
    "delivery rescheduled",
)
_CHURN_REASONS = (
    "closed account after unresolved complaints",
    "switched to a competitor",
    "membership not renewed",
    "cancelled contract during cooling-off period",
)


# --- Voice of the customer ------------------------------------------------------------------
# Free text as customers really write it, by language and by what it is about. Complaint texts
# are keyed by topic (the same keys as `_Touchpoint.topics`) so a complaint about billing says
# something about billing.

_TEXTS: dict[str, dict[str, tuple[str, ...]]] = {
    "zh": {
        "billing": (
            "这个月的账单多扣了我两百多块，打客服电话说要核实，到现在也没人回复。",
            "发票抬头开错了，申请重开已经一个星期了还没收到。",
            "明明取消了自动续费，结果还是被扣款了，这种操作太不负责任了。",
            "退款说三到五个工作日到账，现在都快两周了，钱还是没退回来。",
        ),
        "delivery": (
            "快递显示已签收，可我根本没收到包裹，问了好几次都说在查。",
            "说好的次日达，结果等了五天才送到，外包装还压坏了。",
            "送货师傅没打电话就直接放在门口，东西差点丢了。",
            "预约了周六上午送货，在家等了一整天也没人来，连个通知都没有。",
        ),
        "product_quality": (
            "用了不到一个月就开不了机，这质量实在让人失望。",
            "收到的东西和页面描述差别很大，颜色不对，做工也很粗糙。",
            "刚修好没几天又出现同样的问题，已经返修两次了。",
            "屏幕上有明显划痕，怀疑是翻新机，要求换新。",
        ),
        "store_staff": (
            "门店店员态度很差，多问两句就不耐烦，还说爱买不买。",
            "店里的销售只顾着玩手机，叫了好几次都没人理。",
        ),
        "service_staff": (
            "客服一直在推卸责任，让我找快递，快递又让我找客服。",
            "客服回答全是套话，问什么都说不清楚，感觉根本没在听我说。",
        ),
        "repair_staff": (
            "维修点的工作人员说话很冲，一点解决问题的诚意都没有。",
            "送修时师傅很不耐烦，检测结果也不解释就让我签字。",
        ),
        "phone_wait": (
            "客服电话排队排了四十分钟，好不容易接通又被转走了。",
            "打了一上午电话都在排队，转人工永远提示坐席繁忙。",
        ),
        "chat_wait": (
            "在线客服半天不回消息，最后直接把对话关掉了。",
            "机器人客服答非所问，转人工又要排队二十多分钟。",
        ),
        "email_wait": (
            "发了三封邮件都只收到自动回复，没有一个真人处理。",
            "邮件说48小时内回复，现在一个星期过去了还是没消息。",
        ),
        "store_queue": (
            "门店排队一个多小时才轮到我，只有一个人在办业务。",
            "周末去店里取货，等了快一个小时，现场也没人维持秩序。",
        ),
        "app_bugs": (
            "App更新之后一直闪退，订单页面根本打不开。",
            "付款的时候页面卡住了，钱扣了订单却显示未支付。",
            "优惠券在App里领了却用不了，结算时提示系统错误。",
        ),
        "escalation": (
            "这已经是我第三次投诉同一个问题了，每次都说会处理，结果什么都没变。",
            "再不给我解决我就去消费者协会投诉了，真的太失望了。",
            "之前的工单被莫名其妙关闭了，问题根本没解决，请给个说法。",
            "我是你们多年的老客户了，这次的体验让我开始考虑换别家。",
            "打了无数次电话，每次都要从头解释一遍，根本没人跟进。",
        ),
        "inquiry": (
            "请问这款还有别的颜色吗？大概什么时候补货？",
            "你好，会员积分可以抵扣运费吗？",
            "想了解一下以旧换新活动，旧机器是怎么估价的？",
            "请问延长保修怎么买？保修期内上门维修收费吗？",
            "下单之后还能改收货地址吗？",
            "这个型号和上一代比主要升级了哪些功能？",
        ),
        "chat": (
            "你好，帮我查一下订单现在到哪了？",
            "我刚付完款，大概什么时候能发货？",
            "在吗？想问一下这单能不能开增值税专票。",
        ),
        "suggestion": (
            "建议App增加物流实时地图，现在只能看到文字状态。",
            "希望周末也能预约上门安装，工作日实在抽不出时间。",
            "客服电话的语音菜单太长了，建议加一个直接转人工的选项。",
            "可以考虑给老客户提供专属的售后通道。",
            "发票能不能下单时就直接开好，省得再单独申请。",
        ),
        "praise": (
            "送货很快，师傅还顺手帮忙把旧机器搬走了，非常贴心。",
            "客服小姐姐特别耐心，一步一步教我设置，点赞！",
            "东西质量很好，和描述的一样，会推荐给朋友。",
            "门店导购很专业，帮我挑到了最合适的型号。",
            "维修比预想的快，两天就修好送回来了。",
            "App用起来很顺手，下单付款一气呵成。",
            "第一次在这里买，体验不错，下次还会再来。",
        ),
        "neutral": (
            "整体还可以，就是物流稍微慢了一点。",
            "产品不错，但价格有点偏高。",
            "服务中规中矩，没留下什么特别的印象。",
            "安装师傅来得有点晚，不过活干得还行。",
        ),
    },
    "en": {
        "billing": (
            "I've been charged twice for the same order and nobody can tell me when I'll get "
            "the money back.",
            "The invoice has the wrong company name on it. I asked for a corrected one over a "
            "week ago and have heard nothing.",
            "I cancelled the auto-renewal last month, yet you've taken another payment. Not "
            "impressed.",
            "Refund was promised within 5 working days. It's been a fortnight and still nothing "
            "in my account.",
        ),
        "delivery": (
            "Tracking says delivered but there's no parcel here and no photo either. Where has "
            "it gone?",
            "Paid extra for next-day delivery, it turned up five days later with the box crushed.",
            "The driver left my parcel on the doorstep in the rain without even knocking.",
            "Stayed in all Saturday morning for a delivery slot that never happened. No call, no "
            "email.",
        ),
        "product_quality": (
            "Stopped working after three weeks. For the price I expected far better.",
            "What arrived looks nothing like the photos: wrong shade and the stitching is already "
            "coming apart.",
            "Second repair for exactly the same fault. I'd rather have a replacement at this "
            "point.",
            "Screen was scratched straight out of the box, looks refurbished rather than new.",
        ),
        "store_staff": (
            "The assistant in the shop was frankly rude and clearly couldn't be bothered.",
            "Staff in store were chatting among themselves and ignored me for ten minutes.",
        ),
        "service_staff": (
            "Customer service keep telling me to contact the courier, and the courier sends me "
            "straight back to you.",
            "Every answer from your support team is copy and paste. Nobody actually reads what I "
            "write.",
        ),
        "repair_staff": (
            "The repair desk treated me as if I was the problem. Very poor attitude.",
            "The technician was dismissive and wouldn't explain what was actually wrong with it.",
        ),
        "phone_wait": (
            "Forty minutes on hold, then I got transferred and cut off. Absolutely ridiculous.",
            "Spent the whole morning in your phone queue listening to the same tune on repeat.",
        ),
        "chat_wait": (
            "Live chat left me waiting for ages and then closed the conversation on me.",
            "The chatbot kept going round in circles, then I waited 25 minutes for a real person.",
        ),
        "email_wait": (
            "Three emails, three automated replies. Is anyone actually reading these?",
            "Your auto-reply promised an answer within 48 hours. That was a week ago.",
        ),
        "store_queue": (
            "Over an hour queuing in store with only one till open.",
            "Went in on Saturday to collect my order and queued for the best part of an hour.",
        ),
        "app_bugs": (
            "Since the last update the app crashes every time I open my orders.",
            "The payment page froze, the money left my account but the order still says unpaid.",
            "The voucher shows in the app but checkout just says something went wrong.",
        ),
        "escalation": (
            "This is the third time I'm complaining about the same issue. Every time I'm told "
            "it's sorted and it isn't.",
            "If this isn't fixed this week I'm taking it to Trading Standards.",
            "My case was closed without anyone getting back to me. The problem is still there.",
            "I've been a customer for years and honestly I'm now looking at your competitors.",
            "Every time I ring I have to explain everything from scratch. Nobody follows "
            "anything up.",
        ),
        "inquiry": (
            "Hi, does this come in any other colours, and when will it be back in stock?",
            "Can I use my loyalty points towards the delivery charge?",
            "How does the trade-in scheme work? How do you value the old device?",
            "Is the extended warranty worth it, and does it cover home visits?",
            "Can I change the delivery address after I've placed the order?",
            "What's actually different between this model and last year's?",
        ),
        "chat": (
            "Hi, could you check where my order is please?",
            "I've just paid, when will it be dispatched?",
            "Hello, can I get a VAT invoice for this order?",
        ),
        "suggestion": (
            "It would be great to see the courier on a map rather than just a status line.",
            "Please offer weekend installation slots, weekdays are impossible for most of us.",
            "Your phone menu is far too long, just let people press 0 for a human.",
            "Loyal customers could do with a dedicated after-sales line.",
            "Why not send the VAT invoice automatically with the order confirmation?",
        ),
        "praise": (
            "Delivery was quick and the driver even took the old unit away. Brilliant service.",
            "The lady on the phone was so patient and walked me through the whole setup. Thank "
            "you!",
            "Really pleased with the quality, exactly as described. I'll be recommending you.",
            "The chap in store knew his stuff and helped me pick the right model.",
            "Repair was done in two days, much faster than I expected.",
            "The app is dead easy to use, ordered and paid in a couple of minutes.",
            "First time buying from you and it was a lovely experience. Will be back.",
        ),
        "neutral": (
            "Fine overall, delivery was a bit slow though.",
            "Decent product, slightly on the pricey side.",
            "Service was okay, nothing special either way.",
            "Installer turned up a bit late but did a tidy job.",
        ),
    },
}
