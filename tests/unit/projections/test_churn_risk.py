"""Churn risk: which journeys score high and why, how signals fade, and how scores become alerts
that open once, close with hysteresis, keep their id across replays and say what to do.

Expected scores are worked out here from the documented formula, R = 1 - exp(-Σ hazards) with
hazard = weight x severity x 0.5^(age / half-life), not read back from the module.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from touchstream.events.kafka_binding import decode_record, encode_binary
from touchstream.projections.alert_ids import alert_id
from touchstream.projections.churn_risk import (
    ALERT_KIND,
    AlertState,
    CustomerEvent,
    RiskModel,
    RiskScore,
    Transition,
    alert_priority,
    alert_steps,
    churn_alert,
    churn_alerts,
    churn_risk,
    next_alert_state,
    risk_history,
    tier_for_clv,
)
from touchstream.projections.customer_value import ValueTierThresholds

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CUSTOMER = "c-1001"
SURVEY = "cx.feedback.survey.v1"
VOICE = "cx.feedback.voice.v1"
CONTACT = "cx.touchpoint.contact.v1"
RESOLVED = "cx.feedback.complaint_resolved.v1"
PURCHASE = "cx.commerce.purchase.v1"
RECOVERY = "cx.loop.recovery_offered.v1"


def day(days: float) -> datetime:
    return T0 + timedelta(days=days)


def survey(event_id: str, days: float, **fields: Any) -> CustomerEvent:
    return CustomerEvent(event_id, day(days), SURVEY, touchpoint="call_center", **fields)


def complaint(event_id: str, days: float, **fields: Any) -> CustomerEvent:
    fields = {"touchpoint": "delivery", "feedback_kind": "complaint", "case_id": "case-7", **fields}
    return CustomerEvent(event_id, day(days), VOICE, **fields)


def contact(event_id: str, days: float, **fields: Any) -> CustomerEvent:
    return CustomerEvent(event_id, day(days), CONTACT, **{"touchpoint": "call_center", **fields})


def other(event_id: str, days: float, type_: str, **fields: Any) -> CustomerEvent:
    return CustomerEvent(event_id, day(days), type_, **fields)


def decayed(weight: float, half_life_days: float, age_days: float) -> float:
    return weight * 0.5 ** (age_days / half_life_days)


def risk_of(*hazards: float) -> float:
    return 1.0 - math.exp(-sum(hazards))


# A delivery complaint with angry words, a long call that ends escalated, the same complaint
# again (a repeat), and a detractor survey: the case is never resolved.
UNHAPPY = (
    complaint("ev-complaint-1", 0, sentiment=-0.6),
    contact("ev-call", 2, wait_seconds=1800, outcome="escalated", case_id="case-7"),
    complaint("ev-complaint-2", 3, sentiment=-0.8, repeat_contact=True, touchpoint="call_center"),
    survey("ev-survey", 6, nps=2),
)
# Hazards of UNHAPPY as of day 6, `age` days later than that, from the RiskModel defaults.
UNHAPPY_HAZARDS = {
    "complaint_unresolved": lambda age: (
        decayed(0.3 * 3, 45, 6 + age) + decayed(0.3 * 3 * 1.5, 45, 3 + age)
    ),
    "nps_detractor": lambda age: decayed(0.8 * (0.5 + 0.5 * 4 / 6), 30, age),
    "negative_sentiment": lambda age: (
        decayed(0.4 * (0.5 + 0.5 * 0.35 / 0.75), 21, 6 + age)
        + decayed(0.4 * (0.5 + 0.5 * 0.55 / 0.75), 21, 3 + age)
    ),
    "escalation": lambda age: decayed(0.4, 21, 4 + age),
    "long_wait": lambda age: decayed(0.3 * (0.5 + 0.5 * 1200 / 3000), 14, 4 + age),
}

HAPPY = (
    other("ev-buy", 0, PURCHASE),
    contact("ev-call", 1, wait_seconds=45, outcome="resolved"),
    survey("ev-survey", 2, nps=10, csat=5, ces=1, sentiment=0.8),
    complaint("ev-question", 3, feedback_kind="inquiry", sentiment=0.3),
)


def score(*events: CustomerEvent, **kwargs: Any) -> RiskScore:
    return churn_risk(CUSTOMER, events, **kwargs)


def hazard(reason_code: str, result: RiskScore) -> float:
    """A reason's hazard, recovered from its contribution: h_k = -ln(1 - R) x c_k / R."""
    (reason,) = [r for r in result.reasons if r.code == reason_code]
    return -math.log1p(-result.score) * reason.contribution / result.score


# --- the score and its explanation --------------------------------------------------------


def test_an_unhappy_journey_scores_above_the_raise_threshold_for_the_expected_reasons():
    result = score(*UNHAPPY)
    assert result.score == pytest.approx(risk_of(*(h(0) for h in UNHAPPY_HAZARDS.values())))
    assert result.score > RiskModel().raise_at
    assert [r.code for r in result.reasons] == [
        "complaint_unresolved",
        "nps_detractor",
        "negative_sentiment",
        "escalation",
        "long_wait",
    ]
    complaints, detractor, words, escalation, wait = result.reasons
    assert complaints.evidence == ("ev-complaint-2", "ev-complaint-1")  # strongest first
    assert complaints.text == "2 complaints open for 2 days or more, 1 of them repeated"
    assert (detractor.observed, detractor.threshold, detractor.evidence) == (2, 6, ("ev-survey",))
    assert (words.observed, words.threshold) == (-0.8, -0.25)
    assert escalation.evidence == wait.evidence == ("ev-call",)
    assert (wait.observed, wait.threshold) == (1800, 600)
    assert "30 min" in wait.text
    assert result.as_of == day(6) and result.latest_event_id == "ev-survey"


def test_each_reason_gets_its_share_of_the_hazard_and_the_shares_add_up_to_the_score():
    result = score(*UNHAPPY)
    assert sum(r.contribution for r in result.reasons) == pytest.approx(result.score)
    for code, expected in UNHAPPY_HAZARDS.items():
        assert hazard(code, result) == pytest.approx(expected(0))


def test_a_happy_journey_scores_low_and_raises_nothing():
    assert score(*HAPPY).score == 0.0 and score(*HAPPY).reasons == ()
    engaged = score(*HAPPY, p_alive=0.9)
    assert engaged.score == pytest.approx(1 - (1 - 0.5 * 0.1)) and engaged.score < 0.2
    assert [r.code for r in engaged.reasons] == ["engagement_dropping"]
    assert churn_alerts(CUSTOMER, HAPPY, p_alive=0.9) == []


def test_the_same_signals_90_days_older_score_much_lower():
    now, later = score(*UNHAPPY), score(*UNHAPPY, now=day(96))
    assert later.score == pytest.approx(risk_of(*(h(90) for h in UNHAPPY_HAZARDS.values())))
    assert later.score == pytest.approx(0.4827, abs=1e-4)
    assert now.score == pytest.approx(0.9788, abs=1e-4)
    # The open complaints fade slowest (45-day half-life), so they explain even more of it.
    assert later.reasons[0].code == "complaint_unresolved"
    assert later.reasons[0].contribution / later.score > now.reasons[0].contribution / now.score


def test_events_after_the_as_of_time_are_not_seen():
    assert score(*UNHAPPY, now=day(3)) == score(*UNHAPPY[:3])


@pytest.mark.parametrize(
    "resolution",
    [
        other("ev-resolved", 1, RESOLVED, case_id="case-7"),
        contact("ev-resolved", 1, outcome="resolved", case_id="case-7"),
    ],
    ids=["complaint_resolved", "resolved_contact"],
)
def test_a_resolved_complaint_scores_lower_than_an_unresolved_one(resolution):
    bought = other("ev-buy", 5, PURCHASE)
    open_case = score(complaint("ev-complaint", 0), bought)
    closed_case = score(complaint("ev-complaint", 0), resolution, bought)
    assert open_case.score == pytest.approx(risk_of(decayed(0.9, 45, 5)))
    assert closed_case.score == pytest.approx(risk_of(decayed(0.3, 45, 5)))
    (reason,) = closed_case.reasons
    assert reason.code == "complaint"
    assert reason.evidence == ("ev-complaint", "ev-resolved")


def test_a_resolution_of_another_case_or_from_before_the_complaint_does_not_count():
    other_case = other("ev-resolved", 1, RESOLVED, case_id="case-8")
    earlier = other("ev-resolved-before", -1, RESOLVED, case_id="case-7")
    result = score(earlier, complaint("ev-complaint", 0), other_case, other("ev-buy", 5, PURCHASE))
    assert [r.code for r in result.reasons] == ["complaint_unresolved"]


@pytest.mark.parametrize(
    ("age", "code", "weight"), [(1.9, "complaint", 0.3), (2, "complaint_unresolved", 0.9)]
)
def test_a_complaint_counts_as_unresolved_only_once_open_for_two_days(age, code, weight):
    result = score(complaint("ev-complaint", 0), other("ev-buy", age, PURCHASE))
    assert [r.code for r in result.reasons] == [code]
    assert result.score == pytest.approx(risk_of(decayed(weight, 45, age)))


def test_a_recovery_offer_halves_the_signals_before_it_but_not_after():
    before = survey("ev-before", 0, nps=0)
    offer = other("ev-offer", 1, RECOVERY)
    after = survey("ev-after", 2, nps=0)
    result = score(before, offer, after)
    assert result.score == pytest.approx(risk_of(decayed(0.8 * 0.5, 30, 2), decayed(0.8, 30, 0)))
    (reason,) = result.reasons
    assert reason.evidence == ("ev-after", "ev-before", "ev-offer")
    assert "recovery offer" in reason.text


def test_low_engagement_raises_risk_on_top_of_experience():
    experience = risk_of(decayed(0.8, 30, 0))  # one NPS 0 answer
    answer = survey("ev-survey", 0, nps=0)
    assert score(answer).score == pytest.approx(experience)
    for p_alive in (0.9, 0.1):
        expected = 1 - (1 - experience) * (1 - 0.5 * (1 - p_alive))
        assert score(answer, p_alive=p_alive).score == pytest.approx(expected)
    dormant = score(answer, p_alive=0.1)
    assert dormant.score > RiskModel().raise_at > score(answer, p_alive=0.9).score
    assert dormant.engagement == pytest.approx(0.9)
    assert dormant.reasons[-1].code == "engagement_dropping"
    assert dormant.reasons[-1].observed == 0.1


def test_p_alive_can_be_given_as_of_each_score_time():
    asked = []

    def p_alive(moment: datetime) -> float:
        asked.append(moment)
        return 0.5

    history = risk_history(CUSTOMER, UNHAPPY, p_alive=p_alive)
    assert asked == [day(0), day(2), day(3), day(6)]
    assert [s.engagement for s in history] == [0.5] * 4


@pytest.mark.parametrize(
    ("fields", "code", "hazard_at_age_0"),
    [
        ({"csat": 1, "csat_scale": 5}, "low_csat", 0.4),
        ({"csat": 2, "csat_scale": 5}, "low_csat", 0.4 * 0.5),
        ({"csat": 3, "csat_scale": 10}, "low_csat", 0.4 * (0.5 + 0.5 * (0.25 - 2 / 9) / 0.25)),
        ({"ces": 7, "ces_scale": 7}, "high_effort", 0.4),
        ({"ces": 4, "ces_scale": 5}, "high_effort", 0.4 * 0.5),
        ({"nps": 6}, "nps_detractor", 0.8 * 0.5),
    ],
)
def test_graded_signals_weigh_half_at_their_threshold_and_fully_at_the_worst(
    fields, code, hazard_at_age_0
):
    result = score(survey("ev-survey", 0, **fields))
    assert [r.code for r in result.reasons] == [code]
    assert result.score == pytest.approx(risk_of(hazard_at_age_0))


@pytest.mark.parametrize(
    "fields", [{"csat": 3, "csat_scale": 5}, {"ces": 5, "ces_scale": 7}, {"nps": 7}]
)
def test_answers_just_past_the_thresholds_add_nothing(fields):
    assert score(survey("ev-survey", 0, **fields)).score == 0.0


@pytest.mark.parametrize(
    ("fields", "code", "weight"),
    [
        ({"outcome": "transferred"}, "transfer", 0.15),
        ({"outcome": "unresolved"}, "service_failure", 0.4),
        ({"repeat_contact": True}, "repeat_contact", 0.3),
    ],
)
def test_contact_signals(fields, code, weight):
    result = score(contact("ev-call", 0, **fields))
    assert [(r.code, r.evidence) for r in result.reasons] == [(code, ("ev-call",))]
    assert result.score == pytest.approx(risk_of(weight))


def test_the_score_is_always_in_0_1_and_fully_explained():
    rng = random.Random(20260301)
    for _ in range(300):
        events = [_random_event(rng, i) for i in range(rng.randint(1, 25))]
        p_alive = rng.choice([None, rng.random(), 0.0, 1.0])
        result = churn_risk(CUSTOMER, events, p_alive=p_alive)
        assert 0.0 <= result.score <= 1.0
        assert sum(r.contribution for r in result.reasons) == pytest.approx(result.score)
        contributions = [r.contribution for r in result.reasons]
        assert contributions == sorted(contributions, reverse=True)
        ids = {e.event_id for e in events}
        assert all(set(r.evidence) <= ids for r in result.reasons)


def _random_event(rng: random.Random, i: int) -> CustomerEvent:
    type_ = rng.choice([SURVEY, VOICE, CONTACT, RESOLVED, PURCHASE, RECOVERY])
    csat_scale, ces_scale = rng.choice([5, 7, 10]), rng.choice([5, 7])
    return CustomerEvent(
        event_id=f"ev-{i}",
        time=day(rng.uniform(0, 400)),
        type=type_,
        touchpoint=rng.choice(["", "delivery", "billing"]),
        nps=rng.choice([None, rng.randint(0, 10)]),
        csat=rng.choice([None, rng.randint(1, csat_scale)]),
        csat_scale=csat_scale,
        ces=rng.choice([None, rng.randint(1, ces_scale)]),
        ces_scale=ces_scale,
        outcome=rng.choice(["", "resolved", "unresolved", "escalated", "transferred"]),
        feedback_kind=rng.choice(["", "complaint", "inquiry"]),
        case_id=rng.choice(["", "case-1", "case-2"]),
        sentiment=rng.choice([None, rng.uniform(-1, 1)]),
        wait_seconds=rng.choice([None, rng.uniform(0, 7 * 24 * 3600)]),
        repeat_contact=rng.random() < 0.3,
    )


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        CustomerEvent("ev-naive", datetime(2026, 3, 1), SURVEY)
    with pytest.raises(ValueError, match="at least one event"):
        churn_risk(CUSTOMER, [])
    with pytest.raises(ValueError, match="p_alive"):
        score(*HAPPY, p_alive=1.5)
    with pytest.raises(ValueError, match="clear_below"):
        RiskModel(raise_at=0.4, clear_below=0.6)


# --- alerts: hysteresis, ids, priority, action ----------------------------------------------


def scored(value: float, event_id: str) -> RiskScore:
    return RiskScore(CUSTOMER, value, T0, (), value, None, event_id)


def walk(*values: float) -> list[Any]:
    state, steps = AlertState(), []
    for i, value in enumerate(values):
        step = next_alert_state(state, scored(value, f"ev-{i}"))
        steps.append(step)
        state = step.state
    return steps


def test_a_score_oscillating_around_the_line_opens_one_alert_and_does_not_flap():
    steps = walk(0.5, 0.65, 0.5, 0.65, 0.5, 0.65, 0.5)
    assert [s.transition for s in steps] == [
        Transition.NONE,
        Transition.OPENED,
        *[Transition.NONE] * 5,
    ]
    assert {s.state.episode for s in steps[1:]} == {"ev-1"}
    assert (steps[1].before, steps[1].state.score) == (0.5, 0.65)


def test_the_alert_closes_only_below_the_clear_threshold_and_a_new_episode_gets_a_new_id():
    steps = walk(0.7, 0.45, 0.4, 0.39, 0.55, 0.6)
    assert [s.transition for s in steps] == [
        Transition.OPENED,
        Transition.NONE,
        Transition.NONE,  # 0.4 is not below 0.4
        Transition.CLOSED,
        Transition.NONE,  # under the raise threshold again
        Transition.OPENED,
    ]
    assert (steps[3].before, steps[3].state) == (
        0.4,
        AlertState(score=0.39, revision=2, closed_episode="ev-0"),
    )
    assert steps[0].state.episode == "ev-0" and steps[5].state.episode == "ev-5"


def test_an_open_alert_is_revised_only_when_risk_rises_by_the_update_step():
    steps = walk(0.6, 0.68, 0.72, 0.65, 0.83, 0.9)
    assert [s.transition for s in steps] == [
        Transition.OPENED,
        Transition.NONE,
        Transition.UPDATED,  # 0.72 >= 0.6 + 0.1
        Transition.NONE,
        Transition.UPDATED,  # 0.83 >= 0.72 + 0.1
        Transition.NONE,
    ]
    assert [s.state.revision for s in steps] == [1, 1, 2, 2, 3, 3]
    assert (steps[4].before, steps[4].state.score) == (0.72, 0.83)  # since the last revision
    assert {s.state.episode for s in steps} == {"ev-0"}


def test_the_unhappy_journey_opens_at_the_escalated_call_and_revises_once():
    steps = [s for s in alert_steps(CUSTOMER, UNHAPPY) if s.transition != Transition.NONE]
    assert [(s.transition, s.score.latest_event_id) for s in steps] == [
        (Transition.OPENED, "ev-call"),
        (Transition.UPDATED, "ev-survey"),
    ]


def test_replays_restarts_and_batch_order_give_the_very_same_alerts():
    first = churn_alerts(CUSTOMER, UNHAPPY, tier="high")
    again = churn_alerts(CUSTOMER, list(reversed(UNHAPPY)), tier="high")
    before_restart = churn_alerts(CUSTOMER, UNHAPPY[:2], tier="high")
    assert first == again
    assert [encode_binary(a) for a in first] == [encode_binary(a) for a in again]
    assert before_restart == first[:1]
    ident = alert_id(ALERT_KIND, CUSTOMER, "ev-call")
    assert [(a.data.alert_id, a.id, a.data.revision) for a in first] == [
        (ident, f"{ident}.r1", 1),
        (ident, f"{ident}.r2", 2),
    ]


@pytest.mark.parametrize(
    ("risk", "tier", "priority", "sla_hours"),
    [
        (0.7, "top", "P1", 4),
        (0.7, "high", "P2", 24),
        (0.7, None, "P2", 24),
        (0.7, "medium", "P2", 24),
        (0.7, "low", "P3", 72),
        (0.95, "low", "P2", 24),
        (0.3, "low", "P4", 168),
    ],
)
def test_priority_is_risk_times_value_mapped_to_an_sla(risk, tier, priority, sla_hours):
    result = alert_priority(risk, tier)
    assert (result.priority, result.sla_hours) == (priority, sla_hours)


def test_a_clv_is_tiered_against_the_customer_base():
    thresholds = ValueTierThresholds(top=5000.0, high=2000.0, medium=500.0)
    tiers = [tier_for_clv(clv, thresholds) for clv in (9000.0, 2000.0, 800.0, 10.0)]
    assert tiers == ["top", "high", "medium", "low"]


def test_the_alert_carries_reasons_evidence_scores_and_a_recovery_offer_for_a_top_customer():
    update = next(s for s in alert_steps(CUSTOMER, UNHAPPY) if s.transition == Transition.UPDATED)
    alert = churn_alert(update, tier="top")
    d = alert.data
    assert (d.kind, d.rule, d.priority, d.customer_id) == (ALERT_KIND, "churn-risk", "P1", CUSTOMER)
    assert alert.time == d.raised_at == day(6)
    headline, *explained = d.reasons
    assert headline.code == "churn_risk"
    assert headline.observed == pytest.approx(update.score.score, abs=1e-4)
    assert headline.threshold == 0.6
    assert f"was {update.before:.2f}" in headline.text
    assert f"{update.before:.2f} → {update.score.score:.2f}" in d.title
    assert [r.code for r in explained] == [r.code for r in update.score.reasons]
    assert d.evidence == ["ev-complaint-2", "ev-complaint-1", "ev-survey", "ev-call"]
    assert d.touchpoint == "call_center"
    assert d.suggested_action.startswith("Call the customer back and make a recovery offer")
    assert d.suggested_action.endswith("within 4 h")
    record = encode_binary(alert)
    assert decode_record(record.value, record.headers, record.key) == alert


def test_a_low_value_customer_gets_the_top_reasons_remedy_at_a_lower_priority():
    alert = churn_alerts(CUSTOMER, UNHAPPY, tier="low")[-1]
    assert alert.data.priority == "P2"
    assert alert.data.suggested_action.startswith("Resolve the open complaint")


def test_long_waits_suggest_priority_routing():
    calls = [contact(f"ev-call-{i}", i, wait_seconds=3600) for i in range(4)]
    (alert,) = churn_alerts(CUSTOMER, calls)
    assert alert.data.reasons[1].code == "long_wait"
    assert "priority queue" in alert.data.suggested_action


def test_only_opened_or_updated_steps_raise_an_alert():
    (step,) = walk(0.3)
    with pytest.raises(ValueError, match="raises no alert"):
        churn_alert(step)
