"""The detractor rule: which survey answers raise an alert, and what the alert says."""

from __future__ import annotations

import pytest

from tests.unit.projections.conftest import CUSTOMER, FACTORIES, survey, with_envelope
from touchstream.events.alerts import AlertRaised
from touchstream.events.kafka_binding import decode_record, encode_binary
from touchstream.projections.alert_rules import detractor_alerts

THRESHOLD = 6


def raised(*events, threshold=THRESHOLD) -> list[AlertRaised]:
    return detractor_alerts(events, threshold)


def only(*events, threshold=THRESHOLD) -> AlertRaised:
    (alert,) = raised(*events, threshold=threshold)
    return alert


@pytest.mark.parametrize("threshold", [0, 3, 6, 9])
def test_nps_at_the_threshold_alerts_and_one_above_does_not(threshold):
    assert len(raised(survey(nps=threshold), threshold=threshold)) == 1
    assert raised(survey(nps=threshold + 1), threshold=threshold) == []


@pytest.mark.parametrize(("nps", "priority"), [(0, "P2"), (3, "P2"), (4, "P3"), (6, "P3")])
def test_the_angriest_detractors_get_the_higher_priority(nps, priority):
    assert only(survey(nps=nps)).data.priority == priority


def test_the_alert_explains_itself_with_observed_score_and_threshold():
    alert = only(survey(nps=4, touchpoint="billing"))
    (reason,) = alert.data.reasons
    assert (reason.code, reason.observed, reason.threshold) == ("nps_detractor", 4, THRESHOLD)
    assert "4" in reason.text and str(THRESHOLD) in reason.text
    assert alert.data.customer_id == CUSTOMER and alert.data.touchpoint == "billing"
    assert CUSTOMER in alert.data.title and "billing" in alert.data.title
    assert alert.data.suggested_action


@pytest.mark.parametrize(("csat", "scale"), [(1, 5), (2, 5), (3, 7), (5, 10)])
def test_a_low_csat_in_the_same_answer_is_a_second_reason(csat, scale):
    reasons = only(survey(nps=2, csat=csat, csat_scale=scale)).data.reasons
    assert [r.code for r in reasons] == ["nps_detractor", "csat_low"]
    assert (reasons[1].observed, reasons[1].threshold) == (csat, scale // 2)


@pytest.mark.parametrize(("csat", "scale"), [(3, 5), (5, 5), (4, 7), (6, 10)])
def test_a_fair_csat_adds_no_reason(csat, scale):
    reasons = only(survey(nps=2, csat=csat, csat_scale=scale)).data.reasons
    assert [r.code for r in reasons] == ["nps_detractor"]


def test_the_evidence_is_the_survey_answer_and_the_alert_happens_when_it_did():
    event = survey("ev-angry", 95, nps=1)
    alert = only(event)
    assert alert.data.evidence == ["ev-angry"]
    assert alert.time == event.time and alert.data.raised_at == event.time
    assert alert.subject == CUSTOMER


def test_the_same_answer_always_raises_the_very_same_alert():
    """A replay after a crash must raise an identical alert, so the projection keeps it once."""
    first, again = only(survey(nps=2)), only(survey(nps=2))
    assert first == again
    assert first.id == f"{first.data.alert_id}.r1"
    assert encode_binary(first) == encode_binary(again)


def test_different_answers_raise_different_alerts():
    ids = {
        only(survey("ev-a", nps=2)).data.alert_id,
        only(survey("ev-b", nps=2)).data.alert_id,
        only(survey("ev-a", nps=2, customer_id="c-other")).data.alert_id,
    }
    assert len(ids) == 3


def test_one_alert_per_detractor_answer_in_a_batch():
    batch = [survey("ev-1", nps=9), survey("ev-2", nps=2), survey("ev-3", nps=5)]
    assert [a.data.evidence for a in raised(*batch)] == [["ev-2"], ["ev-3"]]


def test_events_that_are_not_nps_answers_are_ignored():
    others = [factory() for factory in FACTORIES.values() if factory is not survey]
    assert raised(*others, threshold=10) == []
    assert raised(survey(nps=None, csat=1), threshold=10) == []


def test_the_alert_is_a_valid_outbound_event_that_survives_the_kafka_binding():
    local = with_envelope(survey(nps=0), time="2026-03-01T17:30:00+08:00")
    alert = only(local)
    record = encode_binary(alert)
    assert record.key == CUSTOMER.encode()
    assert decode_record(record.value, record.headers, record.key) == alert
