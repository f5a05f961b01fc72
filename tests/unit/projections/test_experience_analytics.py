"""The experience-analytics read models (migration 0004) in a real chDB warehouse, each checked
against answers worked out by hand: NPS, CSAT and CES from counts, voice and topics, campaign
response, SERVQUAL gaps, journeys with their peak and end, repeat contacts, cross-channel
consistency and the key-driver inputs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.projections.conftest import (
    CUSTOMER,
    campaign_responded,
    campaign_sent,
    churned,
    complaint_resolved,
    contact,
    purchase,
    survey,
    voice,
)
from tests.unit.projections.test_read_models import RECEIVED
from touchstream.events.envelope import CloudEvent
from touchstream.projections.timeline import RecordOrigin, ingest_row

DAY = 24 * 60  # minutes


def project(warehouse, events: list[CloudEvent], segment: str = "") -> None:
    """Insert events as the processor would, with the customer's segment stamped on each row."""
    rows = []
    for offset, event in enumerate(events):
        row = ingest_row(event, RecordOrigin("cx.touchpoints.v1", 0, offset), RECEIVED)
        row["segment"] = row["segment"] or segment
        rows.append(row)
    warehouse.insert("cx.ingest", rows)


def one(warehouse, sql: str) -> dict[str, Any]:
    rows = warehouse.query(sql)
    assert len(rows) == 1, rows
    return rows[0]


def surveys(prefix: str, touchpoint: str, scores: list[int], minute: float = 0, **data) -> list:
    return [
        survey(f"{prefix}-{i}", minute + i, touchpoint=touchpoint, nps=score, **data)
        for i, score in enumerate(scores)
    ]


# ---- satisfaction -----------------------------------------------------------------------------


def test_nps_of_ten_surveys_is_promoters_minus_detractors_never_an_average_of_averages(
    warehouse,
):
    # delivery: 10 and 0 -> NPS 0; billing: 4 promoters, 2 passives, 2 detractors -> NPS 25.
    # Overall: 5 promoters, 2 passives, 3 detractors of 10 -> NPS 20 (not (0 + 25) / 2).
    project(warehouse, surveys("d", "delivery", [10, 0]))
    project(warehouse, surveys("b", "billing", [10, 9, 9, 9, 8, 7, 6, 3], minute=90))
    by_touchpoint = {
        r["touchpoint"]: r
        for r in warehouse.query(
            "SELECT touchpoint, sum(promoters) AS p, sum(detractors) AS d, sum(nps_responses) AS n,"
            " round(100 * (p - d) / n, 2) AS nps FROM cx.satisfaction_by_hour GROUP BY touchpoint"
        )
    }
    assert by_touchpoint["delivery"]["nps"] == 0
    assert by_touchpoint["billing"]["nps"] == 25
    overall = one(
        warehouse,
        "SELECT sum(promoters) AS promoters, sum(passives) AS passives,"
        " sum(detractors) AS detractors, sum(nps_responses) AS responses,"
        " round(100 * (promoters - detractors) / responses, 2) AS nps"
        " FROM cx.satisfaction_hourly",
    )
    assert overall == {
        "promoters": 5,
        "passives": 2,
        "detractors": 3,
        "responses": 10,
        "nps": 20,
    }
    hours = warehouse.query(
        "SELECT toString(hour) AS hour, nps FROM cx.satisfaction_by_hour ORDER BY hour"
    )
    assert [(h["hour"], h["nps"]) for h in hours] == [
        ("2026-03-01 09:00:00", 0),
        ("2026-03-01 10:00:00", 25),
    ]


def test_csat_is_the_top_two_box_share_with_7_and_10_point_scales_mapped_onto_5(warehouse):
    answers = [(5, 5), (4, 5), (3, 5), (2, 5), (1, 5), (7, 7), (6, 7), (5, 7), (10, 10), (8, 10)]
    project(
        warehouse,
        [
            survey(f"s{i}", i, nps=None, csat=score, csat_scale=scale)
            for i, (score, scale) in enumerate(answers)
        ],
    )
    row = one(warehouse, "SELECT csat_responses, csat_top2, csat FROM cx.satisfaction_by_day")
    # top two: 5, 4 of 5; 7, 6 of 7; 10, 8 of 10 -> 6 of 10
    assert row == {"csat_responses": 10, "csat_top2": 6, "csat": 60}


def test_ces_is_the_mean_effort_on_a_1_to_7_scale(warehouse):
    project(
        warehouse,
        [
            survey("e1", 0, nps=None, ces=2, ces_scale=7),
            survey("e2", 1, nps=None, ces=6, ces_scale=7),
            survey("e3", 2, nps=None, ces=3, ces_scale=5),  # 1 + 2 * 6 / 4 = 4
        ],
    )
    row = one(warehouse, "SELECT ces_responses, ces_sum, ces FROM cx.satisfaction_by_day")
    assert row == {"ces_responses": 3, "ces_sum": 12.0, "ces": 4.0}


def test_satisfaction_is_cut_by_touchpoint_channel_stage_and_segment(warehouse):
    project(warehouse, [survey("v", 0, channel="app", stage="post_purchase")], segment="vip")
    project(warehouse, [survey("u", 1, customer_id="c-2", nps=3)])
    rows = warehouse.query(
        "SELECT touchpoint, channel, stage, segment, promoters, detractors"
        " FROM cx.satisfaction_by_day ORDER BY segment"
    )
    assert rows == [
        {
            "touchpoint": "delivery",
            "channel": "unknown",
            "stage": "unknown",
            "segment": "unknown",
            "promoters": 0,
            "detractors": 1,
        },
        {
            "touchpoint": "delivery",
            "channel": "app",
            "stage": "post_purchase",
            "segment": "vip",
            "promoters": 1,
            "detractors": 0,
        },
    ]


# ---- voice, topics, touchpoint activity --------------------------------------------------------


def test_voice_counts_texts_by_sentiment_label_and_topics_by_mention(warehouse):
    project(
        warehouse,
        [
            voice("v1", 0, text="The parcel arrived broken and nobody answered, terrible"),
            voice("v2", 1, kind="suggestion", text="Great service, thank you so much"),
            voice("v3", 2, text="快递太慢了，包裹破损，非常失望", language="zh"),
            survey("s1", 3, nps=9, comment="Lovely staff, very helpful"),
        ],
    )
    kinds = {
        r["kind"]: r
        for r in warehouse.query(
            "SELECT kind, sum(texts) AS texts, sum(negative) AS negative,"
            " sum(positive) AS positive FROM cx.voice_hourly GROUP BY kind"
        )
    }
    assert kinds["complaint"] == {"kind": "complaint", "texts": 2, "negative": 2, "positive": 0}
    assert kinds["suggestion"]["positive"] == 1
    assert kinds["survey_comment"]["positive"] == 1
    topics = warehouse.query(
        "SELECT language, topic, sum(complaints) AS complaints FROM cx.complaint_topics_daily"
        " WHERE topic = 'delivery' GROUP BY language, topic ORDER BY language"
    )
    assert [(t["language"], t["complaints"]) for t in topics] == [("en", 1), ("zh", 1)]


def test_touchpoint_activity_counts_contacts_waits_and_outcomes(warehouse):
    project(
        warehouse,
        [
            contact("c1", 0, wait_seconds=100, outcome="resolved"),
            contact("c2", 5, wait_seconds=300, outcome="escalated"),
            contact("c3", 10, wait_seconds=None, outcome=None),
            voice("c4", 15, touchpoint="call_center", channel="phone"),
        ],
    )
    row = one(
        warehouse,
        "SELECT contacts, complaints, complaint_rate, waits, mean_wait_seconds, resolved,"
        " escalated FROM cx.touchpoint_by_hour WHERE touchpoint = 'call_center'",
    )
    assert row == {
        "contacts": 4,
        "complaints": 1,
        "complaint_rate": 0.25,
        "waits": 2,
        "mean_wait_seconds": 200.0,
        "resolved": 1,
        "escalated": 1,
    }


# ---- campaigns --------------------------------------------------------------------------------


def test_campaign_response_rate_counts_each_recipient_once(warehouse):
    people = ["c-1", "c-2", "c-3", "c-4"]
    events = [campaign_sent(f"sent-{c}", 0, customer_id=c) for c in people]
    events += [
        campaign_responded("r1", 10, customer_id="c-1", response="opened"),
        campaign_responded("r2", 11, customer_id="c-1", response="clicked"),
        campaign_responded("r3", 12, customer_id="c-2", response="converted"),
        campaign_responded("r4", 13, customer_id="c-3", response="unsubscribed"),
    ]
    project(warehouse, events, segment="regular")
    row = one(
        warehouse,
        "SELECT campaign_id, segment, recipients, responders, response_rate, converted,"
        " conversion_rate, unsubscribed FROM cx.campaign_response",
    )
    assert row == {
        "campaign_id": "spring-sale",
        "segment": "regular",
        "recipients": 4,
        "responders": 2,
        "response_rate": 0.5,
        "converted": 1,
        "conversion_rate": 0.25,
        "unsubscribed": 1,
    }


# ---- SERVQUAL ---------------------------------------------------------------------------------


def test_servqual_gap_is_mean_perception_minus_mean_expectation(warehouse):
    def rated(event_id: str, minute: float, expectation: float, perception: float):
        items = [
            {"dimension": "reliability", "expectation": expectation, "perception": perception},
            {"dimension": "empathy", "expectation": 5, "perception": 6},
        ]
        return survey(event_id, minute, nps=None, servqual=items)

    project(warehouse, [rated("q1", 0, 6, 4), rated("q2", 1, 7, 5.5)], segment="vip")
    gaps = {
        r["dimension"]: r
        for r in warehouse.query(
            "SELECT dimension, responses, expectation, perception, gap FROM cx.servqual_gaps"
            " WHERE touchpoint = 'delivery' AND segment = 'vip'"
        )
    }
    assert gaps["reliability"] == {
        "dimension": "reliability",
        "responses": 2,
        "expectation": 6.5,
        "perception": 4.75,
        "gap": -1.75,
    }
    assert gaps["empathy"]["gap"] == 1.0


# ---- journeys ---------------------------------------------------------------------------------


def unhappy_then_quiet_then_back() -> list[CloudEvent]:
    return [
        contact("j1", 0, stage="pre_purchase", outcome="resolved", wait_seconds=30),  # +0.3
        purchase("j2", DAY),  # stage purchase, not a moment
        survey("j3", 3 * DAY, nps=0, stage="post_purchase"),  # -1.0: the peak
        complaint_resolved("j4", 6 * DAY),  # +0.4: the end; stage carried (post_purchase)
        # 40 days of silence: a new episode
        contact("j5", 46 * DAY, stage="pre_purchase", outcome=None, wait_seconds=1000),  # -0.6
    ]


def test_journey_episodes_split_on_a_30_day_gap_with_peak_end_and_time_in_stage(warehouse):
    project(warehouse, unhappy_then_quiet_then_back())
    episodes = warehouse.query(
        "SELECT events, stage_path, pre_purchase_seconds, purchase_seconds,"
        " post_purchase_seconds, moments, peak_valence, peak_event_id, end_valence,"
        " end_event_id, peak_end_score FROM cx.journeys ORDER BY episode_start"
    )
    assert episodes[0] == {
        "events": 4,
        "stage_path": ["pre_purchase", "purchase", "post_purchase"],
        "pre_purchase_seconds": 86400,
        "purchase_seconds": 2 * 86400,
        "post_purchase_seconds": 3 * 86400,
        "moments": 3,
        "peak_valence": -1.0,
        "peak_event_id": "j3",
        "end_valence": pytest.approx(0.4),
        "end_event_id": "j4",
        "peak_end_score": -0.3,
    }
    assert episodes[1]["events"] == 1
    assert episodes[1]["peak_end_score"] == pytest.approx(-0.6)


def test_each_customer_has_their_own_episodes(warehouse):
    project(warehouse, unhappy_then_quiet_then_back())
    project(warehouse, [survey("other", 2 * DAY, customer_id="c-2", nps=10)])
    counts = warehouse.query(
        "SELECT customer_id, count() AS episodes FROM cx.journeys GROUP BY customer_id"
        " ORDER BY customer_id"
    )
    assert counts == [
        {"customer_id": CUSTOMER, "episodes": 2},
        {"customer_id": "c-2", "episodes": 1},
    ]


# ---- repeat contacts --------------------------------------------------------------------------


def test_a_repeat_contact_is_the_same_matter_again_within_seven_days(warehouse):
    project(
        warehouse,
        [
            contact("r1", 0, case_id=None),
            contact("r2", 3 * DAY, case_id=None),  # same touchpoint 3 days later: repeat
            contact("r3", 13 * DAY, case_id=None),  # 10 days after: not a repeat
            contact("r4", 13 * DAY + 60, case_id=None, direction="outbound"),  # we called them
            voice("r5", 20 * DAY, case_id="case-7"),
            contact("r6", 22 * DAY, case_id="case-7", touchpoint="after_sales"),  # same case
        ],
    )
    repeats = warehouse.query(
        "SELECT event_id, previous_event_id, hours_since_previous FROM cx.repeat_contacts"
        " ORDER BY time"
    )
    assert repeats == [
        {"event_id": "r2", "previous_event_id": "r1", "hours_since_previous": 72.0},
        {"event_id": "r6", "previous_event_id": "r5", "hours_since_previous": 48.0},
    ]
    rate = one(
        warehouse,
        "SELECT sum(contacts) AS contacts, sum(repeat_contacts) AS repeats"
        " FROM cx.repeat_contact_rate",
    )
    assert rate == {"contacts": 5, "repeats": 2}


# ---- cross-channel consistency ----------------------------------------------------------------


def test_channel_consistency_is_the_spread_of_a_customers_satisfaction_between_channels(
    warehouse,
):
    project(
        warehouse,
        [
            survey("a1", 0, channel="app", nps=10),  # app: 1.0
            survey("a2", 1, channel="phone", nps=4),  # phone: mean of 0.4 and 0.6 = 0.5
            survey("a3", 2, channel="phone", nps=6),
            survey("b1", 3, customer_id="c-2", channel="app", nps=8),  # one channel only
        ],
        segment="vip",
    )
    row = one(
        warehouse,
        "SELECT customer_id, segment, channels, responses, spread, satisfaction_range,"
        " best_channel, worst_channel FROM cx.channel_consistency",
    )
    assert row == {
        "customer_id": CUSTOMER,
        "segment": "vip",
        "channels": 2,
        "responses": 3,
        "spread": 0.25,
        "satisfaction_range": 0.5,
        "best_channel": "app",
        "worst_channel": "phone",
    }
    segment = one(warehouse, "SELECT * FROM cx.channel_consistency_by_segment")
    assert segment["segment"] == "vip"
    assert segment["customers"] == 1
    assert segment["mean_customer_spread"] == 0.25
    # channel means over the segment: app (1.0 + 0.8) / 2 = 0.9, phone 0.5 -> spread 0.2
    assert segment["channel_spread"] == 0.2


# ---- key-driver inputs ------------------------------------------------------------------------


def test_driver_inputs_pair_touchpoint_scores_with_the_latest_nps_and_churn(warehouse):
    project(
        warehouse,
        [
            survey("d1", 0, touchpoint="checkout", nps=None, csat=5, ces=1),  # score 1.0
            survey("d2", 1, touchpoint="delivery", nps=None, csat=1),  # score 0.0
            survey("d3", 2, touchpoint="delivery", nps=3),  # NPS only: no touchpoint score
            churned("d4", 3),
        ],
    )
    rows = warehouse.query(
        "SELECT touchpoint, touchpoint_score, ratings, latest_nps, churned"
        " FROM cx.driver_inputs ORDER BY touchpoint"
    )
    assert rows == [
        {
            "touchpoint": "checkout",
            "touchpoint_score": 1.0,
            "ratings": 1,
            "latest_nps": 3,
            "churned": 1,
        },
        {
            "touchpoint": "delivery",
            "touchpoint_score": 0.0,
            "ratings": 1,
            "latest_nps": 3,
            "churned": 1,
        },
    ]


def test_analytics_views_are_empty_not_broken_on_an_empty_warehouse(warehouse):
    views = [
        "satisfaction_by_hour",
        "satisfaction_by_day",
        "touchpoint_by_hour",
        "campaign_response",
        "servqual_gaps",
        "journey_moments",
        "journeys",
        "repeat_contacts",
        "repeat_contact_rate",
        "channel_consistency",
        "channel_consistency_by_segment",
        "driver_inputs",
    ]
    for view in views:
        assert warehouse.query(f"SELECT * FROM cx.{view}") == [], view
