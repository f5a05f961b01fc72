"""What `touchstream demo` relies on in its synthetic journeys: valid, repeatable, bilingual
traffic in which a minority of customers — some of them vips — visibly go wrong."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime
from itertools import pairwise
from statistics import mean, median
from typing import Any

import pytest

from touchstream.events import parse_event
from touchstream.services.demo_journeys import (
    _TEXTS,
    DemoData,
    generate_journeys,
    text_share,
    with_text_share,
)

CJK = re.compile(r"[\u4e00-\u9fff]")
STAGES = ("pre_purchase", "purchase", "post_purchase")


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return generate_journeys()


def of_type(demo: DemoData, event_type: str) -> list[dict[str, Any]]:
    return [e for e in demo.events if e["type"] == event_type]


def by_customer(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        grouped[event["data"]["customer_id"]].append(event)
    return grouped


def locales(demo: DemoData) -> dict[str, str]:
    return {
        e["data"]["customer_id"]: e["data"]["locale"]
        for e in of_type(demo, "cx.customer.identified.v1")
    }


def free_texts(demo: DemoData) -> list[tuple[str, str]]:
    """(customer id, text) of every voice message and survey comment."""
    voices = [
        (e["data"]["customer_id"], e["data"]["text"]) for e in of_type(demo, "cx.feedback.voice.v1")
    ]
    comments = [
        (e["data"]["customer_id"], e["data"]["comment"])
        for e in of_type(demo, "cx.feedback.survey.v1")
        if "comment" in e["data"]
    ]
    return voices + comments


def nps_scores(demo: DemoData) -> dict[str, list[int]]:
    scores: dict[str, list[int]] = defaultdict(list)
    for event in of_type(demo, "cx.feedback.survey.v1"):
        if "nps" in event["data"]:
            scores[event["data"]["customer_id"]].append(event["data"]["nps"])
    return scores


def test_every_event_is_accepted_by_the_contract(demo: DemoData) -> None:
    parsed = [parse_event(event) for event in demo.events]

    assert {event.type for event in parsed} == {
        "cx.customer.identified.v1",
        "cx.touchpoint.contact.v1",
        "cx.commerce.purchase.v1",
        "cx.feedback.survey.v1",
        "cx.feedback.voice.v1",
        "cx.feedback.complaint_resolved.v1",
        "cx.campaign.sent.v1",
        "cx.campaign.responded.v1",
        "cx.customer.churned.v1",
    }


def test_default_demo_is_a_month_of_traffic_from_several_hundred_customers(demo: DemoData) -> None:
    segments = Counter(demo.segments.values())
    languages = Counter(locales(demo).values())

    assert demo.customers == 400
    assert 4_000 <= len(demo.events) <= 8_000
    assert segments["vip"] < segments["regular"] and segments["vip"] > 0
    assert 0.5 <= languages["zh-CN"] / demo.customers <= 0.7
    assert 0.10 <= len(demo.degrading) / demo.customers <= 0.15
    assert sum(demo.counts_by_type.values()) == len(demo.events)


def test_same_seed_gives_identical_events_and_another_seed_different_ones() -> None:
    first = generate_journeys(60, seed=11)
    again = generate_journeys(60, seed=11)
    other = generate_journeys(60, seed=12)

    assert first.events == again.events
    assert first.degrading == again.degrading
    assert other.events != first.events
    assert not {e["id"] for e in first.events} & {e["id"] for e in other.events}


def test_event_ids_are_unique(demo: DemoData) -> None:
    ids = [event["id"] for event in demo.events]

    assert len(set(ids)) == len(ids)


def test_events_are_in_time_order_with_timezones_within_the_period(demo: DemoData) -> None:
    times = [datetime.fromisoformat(event["time"]) for event in demo.events]

    assert all(time.tzinfo is not None for time in times)
    assert times == sorted(times)
    assert demo.start <= times[0] and times[-1] <= demo.end


def test_every_customer_starts_by_being_identified(demo: DemoData) -> None:
    stories = by_customer(demo.events)

    assert set(stories) == set(demo.segments)
    assert all(story[0]["type"] == "cx.customer.identified.v1" for story in stories.values())


def test_contacts_go_through_the_stages_in_order(demo: DemoData) -> None:
    # Within a journey a stage is never skipped nor revisited; going back is only ever to
    # pre-purchase, where the customer's next journey starts.
    for customer, contacts in by_customer(of_type(demo, "cx.touchpoint.contact.v1")).items():
        ranks = [STAGES.index(e["data"]["stage"]) for e in contacts]
        assert ranks[0] == 0, customer
        for before, after in pairwise(ranks):
            assert after in (before, before + 1, 0), (customer, STAGES[before], STAGES[after])


def test_purchases_are_in_yuan_and_vips_spend_more(demo: DemoData) -> None:
    spend: dict[str, list[float]] = defaultdict(list)
    for event in of_type(demo, "cx.commerce.purchase.v1"):
        assert event["data"]["currency"] == "CNY"
        spend[demo.segments[event["data"]["customer_id"]]].append(float(event["data"]["amount"]))

    assert median(spend["vip"]) > 2 * median(spend["regular"])
    assert median(spend["regular"]) > median(spend["new"])


def test_free_text_is_written_in_each_customers_language(demo: DemoData) -> None:
    locale = locales(demo)
    texts = free_texts(demo)
    chinese = {text for customer, text in texts if locale[customer] == "zh-CN"}
    english = {text for customer, text in texts if locale[customer] == "en-GB"}

    assert all(CJK.search(text) for text in chinese)
    assert not any(CJK.search(text) for text in english)
    # Enough different texts per language that sentiment and topic views are not trivial.
    assert len(chinese) >= 25 and len(english) >= 25


def test_degrading_customers_are_detractors_while_the_others_are_mostly_happy(
    demo: DemoData,
) -> None:
    scores = nps_scores(demo)
    degrading = [s for c, found in scores.items() if c in demo.degrading for s in found]
    healthy = [s for c, found in scores.items() if c not in demo.degrading for s in found]

    assert all(min(scores[customer]) <= 6 for customer in demo.degrading)
    assert mean(degrading) < mean(healthy) - 2
    assert sum(score >= 7 for score in healthy) / len(healthy) > 0.85


def test_degrading_customers_wait_longer_and_get_resolved_less_as_time_goes_on(
    demo: DemoData,
) -> None:
    contacts = by_customer(of_type(demo, "cx.touchpoint.contact.v1"))
    worsening = 0
    for customer in demo.degrading:
        waits = [
            e["data"]["wait_seconds"] for e in contacts[customer] if "wait_seconds" in e["data"]
        ]
        half = len(waits) // 2
        worsening += median(waits[half:]) > median(waits[:half])

    def resolved_share(customers: set[str]) -> float:
        outcomes = [
            e["data"]["outcome"] for c in customers for e in contacts[c] if "outcome" in e["data"]
        ]
        return outcomes.count("resolved") / len(outcomes)

    assert worsening >= 0.75 * len(demo.degrading)
    assert (
        resolved_share(set(demo.degrading)) < resolved_share(set(contacts) - demo.degrading) - 0.2
    )


def test_some_vip_customers_are_among_the_degrading(demo: DemoData) -> None:
    identified_as = {
        e["data"]["customer_id"]: e["data"]["segment"]
        for e in of_type(demo, "cx.customer.identified.v1")
    }

    assert demo.vips_at_risk
    assert demo.vips_at_risk <= demo.degrading
    assert all(identified_as[customer] == "vip" for customer in demo.vips_at_risk)


def test_degrading_customers_complain_repeatedly_and_not_all_cases_close(demo: DemoData) -> None:
    complaints = [
        e for e in of_type(demo, "cx.feedback.voice.v1") if e["data"]["kind"] == "complaint"
    ]
    per_customer = Counter(e["data"]["customer_id"] for e in complaints)
    cases = {e["data"]["case_id"] for e in complaints}
    closed = {e["data"]["case_id"] for e in of_type(demo, "cx.feedback.complaint_resolved.v1")}

    assert all(per_customer[customer] >= 1 for customer in demo.degrading)
    assert sum(per_customer[c] >= 2 for c in demo.degrading) >= len(demo.degrading) / 2
    assert all(e["data"].get("case_id") for e in complaints)
    assert closed and cases - closed


def test_complaint_resolutions_close_earlier_complaints_of_the_same_customer(
    demo: DemoData,
) -> None:
    opened: dict[str, tuple[str, str]] = {}
    for event in of_type(demo, "cx.feedback.voice.v1"):
        if event["data"]["kind"] == "complaint":
            opened.setdefault(
                event["data"]["case_id"], (event["data"]["customer_id"], event["time"])
            )

    for event in of_type(demo, "cx.feedback.complaint_resolved.v1"):
        customer, complained_at = opened[event["data"]["case_id"]]
        assert event["data"]["customer_id"] == customer
        assert datetime.fromisoformat(complained_at) < datetime.fromisoformat(event["time"])


def test_only_degrading_customers_churn_and_churn_is_their_last_word(demo: DemoData) -> None:
    stories = by_customer(demo.events)
    churned = {e["data"]["customer_id"] for e in of_type(demo, "cx.customer.churned.v1")}

    assert churned and churned == demo.churned <= demo.degrading
    for customer in churned:
        assert stories[customer][-1]["type"] == "cx.customer.churned.v1"


def test_campaigns_get_the_few_percent_response_typical_of_marketing(demo: DemoData) -> None:
    sent = of_type(demo, "cx.campaign.sent.v1")
    responded = of_type(demo, "cx.campaign.responded.v1")
    consented = {
        e["data"]["customer_id"]
        for e in of_type(demo, "cx.customer.identified.v1")
        if e["data"]["consent"]["marketing"]
    }

    assert all(e["data"]["customer_id"] in consented for e in sent)
    assert 0.01 <= len(responded) / len(sent) <= 0.06


def test_the_benchmark_mix_reaches_its_text_share_with_fitting_comments():
    events = generate_journeys(300, seed=5).events
    assert text_share(events) < 0.15
    mixed = with_text_share(events, 0.2, seed=5)
    assert text_share(mixed) == pytest.approx(0.2, abs=0.001)
    assert [e["id"] for e in mixed] == [e["id"] for e in events]
    added = [m for e, m in zip(events, mixed, strict=True) if m is not e]
    assert added and all(m["type"] == "cx.feedback.survey.v1" for m in added)
    # comments fit their answers: praise from promoters, what went wrong from detractors
    for answer in (m["data"] for m in added if m["data"].get("nps") is not None):
        banks = _TEXTS[answer["language"]]
        praise = answer["comment"] in banks["praise"]
        assert praise if answer["nps"] >= 9 else not praise, answer
        if answer["nps"] <= 6:
            assert not any(answer["comment"] in banks[k] for k in ("neutral", "suggestion"))
    assert all(parse_event(e) for e in mixed)
