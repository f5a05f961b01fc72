"""Experience analytics end to end: events posted to the gateway reach the satisfaction, voice,
campaign, SERVQUAL, journey, repeat-contact and driver read models, read back through the
query endpoint and `touchstream sql` / `touchstream drivers` as an analyst would."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from tests.e2e.conftest import Runtime, eventually
from tests.e2e.test_pipeline import event
from tests.unit.services.test_drivers import TRUE_EFFECT, synthetic_customers

pytestmark = pytest.mark.e2e


def post_all(runtime: Runtime, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 500):
        status, body = runtime.client.post_events(events[start : start + 500])
        assert status == 202, body


def projected(runtime: Runtime, ids: list[str]) -> None:
    """Wait until every id is in the archive (the ids go in the body, not the URL)."""
    literal = "[" + ",".join(f"'{i}'" for i in ids) + "]"
    sql = f"SELECT count() AS n FROM cx.events WHERE id IN {literal}"
    eventually(lambda: int(runtime.client.query(sql)[0]["n"]) == len(ids), timeout=30)


def numbers(row: dict[str, Any]) -> dict[str, Any]:
    """A row with 64-bit integers (quoted in ClickHouse JSON) as numbers."""
    return {k: int(v) if isinstance(v, str) and v.isdigit() else v for k, v in row.items()}


def at(day: int, minute: int = 0) -> str:
    return f"2026-04-{day:02d}T09:{minute:02d}:00Z"


def test_a_customers_surveys_journey_and_campaign_reach_every_analytics_view(runtime: Runtime):
    tag = uuid.uuid4().hex[:8]
    customer, segment, touchpoint, campaign = f"c-{tag}", f"seg-{tag}", f"tp-{tag}", f"cmp-{tag}"
    surveys = [
        event(
            "cx.feedback.survey.v1",
            {
                "customer_id": customer,
                "survey_id": "s",
                "touchpoint": touchpoint,
                "nps": nps,
                "channel": "app",
                "stage": "post_purchase",
            },
            time=at(3, minute),
        )
        for minute, nps in enumerate([10, 10, 9, 9, 9, 8, 7, 6, 3, 0])
    ]
    servqual = [
        {"dimension": "reliability", "expectation": 7, "perception": 4},
        {"dimension": "empathy", "expectation": 5, "perception": 6},
    ]
    events = [
        event(
            "cx.customer.identified.v1", {"customer_id": customer, "segment": segment}, time=at(1)
        ),
        event(
            "cx.touchpoint.contact.v1",
            {
                "customer_id": customer,
                "channel": "phone",
                "touchpoint": touchpoint,
                "stage": "pre_purchase",
                "outcome": "resolved",
            },
            time=at(1, 30),
        ),
        *surveys,
        event(
            "cx.feedback.survey.v1",
            {
                "customer_id": customer,
                "survey_id": "q",
                "touchpoint": touchpoint,
                "servqual": servqual,
            },
            time=at(3, 30),
        ),
        event(  # the same customer rates another channel much lower: inconsistent channels
            "cx.feedback.survey.v1",
            {
                "customer_id": customer,
                "survey_id": "e",
                "touchpoint": "email_support",
                "channel": "email",
                "nps": 2,
            },
            time=at(3, 40),
        ),
        event(
            "cx.feedback.voice.v1",
            {
                "customer_id": customer,
                "kind": "complaint",
                "channel": "phone",
                "touchpoint": touchpoint,
                "text": "Still waiting, nobody calls back. Terrible.",
            },
            time=at(4),
        ),
        event(
            "cx.touchpoint.contact.v1",
            {
                "customer_id": customer,
                "channel": "phone",
                "touchpoint": touchpoint,
                "stage": "post_purchase",
                "outcome": "escalated",
            },
            time=at(5),
        ),
        event(
            "cx.campaign.sent.v1",
            {"customer_id": customer, "campaign_id": campaign, "channel": "sms"},
            time=at(6),
        ),
        event(
            "cx.campaign.responded.v1",
            {
                "customer_id": customer,
                "campaign_id": campaign,
                "channel": "sms",
                "response": "clicked",
            },
            time=at(6, 5),
        ),
    ]
    post_all(runtime, events)
    projected(runtime, [e["id"] for e in events])
    q = runtime.client.query

    (sat,) = q(
        "SELECT segment, sum(promoters) AS p, sum(passives) AS pa, sum(detractors) AS d,"
        " round(100 * (p - d) / sum(nps_responses), 2) AS nps FROM cx.satisfaction_by_day"
        " WHERE touchpoint = {tp:String} AND nps_responses > 0 GROUP BY segment",
        tp=touchpoint,
    )
    assert numbers(sat) == {"segment": segment, "p": 5, "pa": 2, "d": 3, "nps": 20}

    (gap,) = q(
        "SELECT gap FROM cx.servqual_gaps WHERE touchpoint = {tp:String}"
        " AND dimension = 'reliability'",
        tp=touchpoint,
    )
    assert gap == {"gap": -3}

    (voice,) = q(
        "SELECT sum(texts) AS texts, sum(negative) AS negative FROM cx.voice_hourly"
        " WHERE touchpoint = {tp:String}",
        tp=touchpoint,
    )
    assert numbers(voice) == {"texts": 1, "negative": 1}

    (journey,) = q(
        "SELECT stage_path, peak_event_id, end_event_id FROM cx.journeys"
        " WHERE customer_id = {c:String}",
        c=customer,
    )
    assert journey["stage_path"] == ["pre_purchase", "post_purchase"]
    assert journey["peak_event_id"] == surveys[-1]["id"]  # NPS 0: the most intense moment
    assert journey["end_event_id"] == events[-3]["id"]  # the escalated contact

    repeats = q(
        "SELECT event_id FROM cx.repeat_contacts WHERE customer_id = {c:String} ORDER BY time",
        c=customer,
    )
    # the call the day after the complaint (the first contact, before purchase, is no matter)
    assert [r["event_id"] for r in repeats] == [events[-3]["id"]]

    (campaign_row,) = q(
        "SELECT segment, recipients, responders, response_rate FROM cx.campaign_response"
        " WHERE campaign_id = {c:String}",
        c=campaign,
    )
    assert numbers(campaign_row) == {
        "segment": segment,
        "recipients": 1,
        "responders": 1,
        "response_rate": 1,
    }

    result = runtime.cli(
        "sql",
        f"SELECT sum(surveys) FROM cx.satisfaction_by_day WHERE segment = '{segment}'",
        "--format",
        "TabSeparated",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == "12"

    (consistency,) = q(
        "SELECT channels, best_channel, worst_channel, spread FROM cx.channel_consistency"
        " WHERE customer_id = {c:String}",
        c=customer,
    )
    # app: mean of NPS 10,10,9,9,9,8,7,6,3,0 / 10 = 0.71; email: 0.2 -> spread 0.255
    assert numbers(consistency) == {
        "channels": 2,
        "best_channel": "app",
        "worst_channel": "email",
        "spread": 0.255,
    }


def test_touchstream_drivers_ranks_the_true_drivers_first(runtime: Runtime):
    tag = uuid.uuid4().hex[:6]
    prefix = f"kd{tag}-"
    events = [
        orjson.loads(e.model_dump_json())
        for e in synthetic_customers(400, seed=11, prefix=f"c-kd{tag}", touchpoint_prefix=prefix)
    ]
    post_all(runtime, events)
    projected(runtime, [e["id"] for e in events])
    result = runtime.cli("drivers", "--outcome", "nps", "--json", "--bootstrap", "50")
    assert result.returncode == 0, result.stderr
    (report,) = orjson.loads(result.stdout)
    ours = [d["touchpoint"] for d in report["drivers"] if d["touchpoint"].startswith(prefix)]
    assert ours == [prefix + name for name in TRUE_EFFECT]
