"""The customer timeline row of an event: a readable one-line summary and the extracted facets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from tests.unit.projections.conftest import (
    CUSTOMER,
    FACTORIES,
    alert_acknowledged,
    alert_assigned,
    alert_resolved,
    campaign_responded,
    campaign_sent,
    churned,
    complaint_resolved,
    contact,
    erasure_requested,
    identified,
    purchase,
    recovery_offered,
    survey,
    voice,
    with_envelope,
)
from touchstream.events.catalog import INBOUND_EVENTS, parse_event
from touchstream.projections.timeline import CONTACT_TYPES, RecordOrigin, ingest_row, summarize

SHANGHAI = timezone(timedelta(hours=8))
ORIGIN = RecordOrigin("cx.touchpoints.v1", 3, 4217)
RECEIVED = datetime(2026, 3, 1, 9, 0, 1, 500_000, tzinfo=UTC)

#: What a reader of the timeline must learn from each event type's summary.
KEY_FACTS = {
    identified: ["vip", "zh-CN"],
    contact: ["Inbound", "phone", "call_center", "post-purchase", "refund missing", "escalated"],
    purchase: ["o-77", "1,299.00 CNY", "web"],
    survey: ["delivery", "NPS 9 (promoter)"],
    voice: ["Complaint", "app", "delivery", "The parcel arrived broken"],
    complaint_resolved: ["case-9", "resolved", "replacement shipped"],
    campaign_sent: ["spring-sale", "sent", "sms"],
    campaign_responded: ["spring-sale", "clicked", "sms"],
    alert_acknowledged: ["alrt-1", "acknowledged", "agent-7"],
    alert_assigned: ["alrt-1", "assigned to agent-7", "lead-2"],
    alert_resolved: ["alrt-1", "resolved", "recovered", "agent-7"],
    recovery_offered: ["voucher", "50.00 CNY", "agent-7"],
    churned: ["Churned", "moved to a competitor"],
    erasure_requested: ["Erasure requested", "dpo-1"],
}

#: Every free-text payload field of every type, given a line break and extra blanks.
MULTILINE = {
    identified: {},
    contact: {"reason": "refund\nstill missing"},
    purchase: {},
    survey: {"comment": "slow\n\ndelivery,\r\nrude driver"},
    voice: {"text": "line one\nline two"},
    complaint_resolved: {"resolution": "refunded\nin full"},
    campaign_sent: {},
    campaign_responded: {},
    alert_acknowledged: {"note": "called\nback"},
    alert_assigned: {"note": "urgent\nvip"},
    alert_resolved: {"note": "done\nok"},
    recovery_offered: {"note": "sorry\nagain"},
    churned: {"reason": "moved\nto a competitor"},
    erasure_requested: {"reason": "gdpr\nrequest"},
}


def name(factory) -> str:
    return factory.__name__


def test_every_inbound_type_is_covered_by_these_tests():
    """A new event type must get a summary (and a factory here) before it ships."""
    assert set(FACTORIES) == set(INBOUND_EVENTS)
    assert set(KEY_FACTS) == set(MULTILINE) == set(FACTORIES.values())


@pytest.mark.parametrize("factory", list(KEY_FACTS), ids=name)
def test_summary_states_the_key_facts_of_every_type(factory):
    event = factory()
    summary = summarize(event)
    assert summary != event.type, "fell back to the bare type name"
    for fact in KEY_FACTS[factory]:
        assert fact in summary


@pytest.mark.parametrize("factory", list(MULTILINE), ids=name)
def test_summary_is_one_line_whatever_the_free_text(factory):
    summary = summarize(factory(**MULTILINE[factory]))
    assert "\n" not in summary and "\r" not in summary, summary


def test_summary_keeps_the_words_of_multiline_text_on_one_line():
    summary = summarize(survey(comment="slow\n\ndelivery,\r\n  rude driver"))
    assert summary.endswith("“slow delivery, rude driver”")


NPS_BANDS = [
    (0, "detractor"),
    (6, "detractor"),
    (7, "passive"),
    (8, "passive"),
    (9, "promoter"),
    (10, "promoter"),
]


@pytest.mark.parametrize(("nps", "band"), NPS_BANDS)
def test_survey_summary_names_the_nps_band(nps, band):
    assert f"NPS {nps} ({band})" in summarize(survey(nps=nps))


def test_survey_summary_lists_every_score_given_with_its_scale():
    summary = summarize(
        survey(
            nps=None,
            csat=2,
            csat_scale=5,
            ces=6,
            servqual=[
                {"dimension": "reliability", "expectation": 6, "perception": 3},
                {"dimension": "empathy", "expectation": 5, "perception": 4},
            ],
        )
    )
    assert summary == "Survey on delivery: CSAT 2/5, CES 6/7, SERVQUAL 2 dimensions"


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("1299", "CNY", "1,299.00 CNY"),
        ("1234567.5", "CNY", "1,234,567.50 CNY"),
        ("0.5", "USD", "0.50 USD"),
    ],
)
def test_purchase_summary_formats_money_with_separators_and_two_decimals(amount, currency, shown):
    summary = summarize(purchase(amount=amount, currency=currency))
    assert summary == f"Purchased order o-77 for {shown} via web"


def test_recovery_summary_mentions_a_value_only_when_there_is_one():
    assert "worth" not in summarize(recovery_offered(offer="apology", value=None, currency=None))
    assert "worth 1,000.00 CNY" in summarize(recovery_offered(value="1000"))


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0s"), (45, "45s"), (320, "5m 20s"), (3600, "1h 00m"), (7500, "2h 05m")],
)
def test_contact_summary_shows_the_wait_as_a_readable_duration(seconds, shown):
    assert f"waited {shown}" in summarize(contact(wait_seconds=seconds))


def test_contact_summary_without_wait_or_outcome_has_no_empty_details():
    summary = summarize(contact(wait_seconds=None, outcome=None, reason=None, stage="purchase"))
    assert summary == "Inbound phone contact at call_center (purchase)"


def test_long_quotes_are_cut_at_80_characters_with_an_ellipsis():
    words = "word " * 30  # 150 characters
    summary = summarize(survey(comment=words))
    quoted = summary[summary.index("“") :]
    assert quoted == "“" + words[:80] + "…”"


def test_quotes_of_exactly_80_characters_are_kept_whole():
    text = "x" * 80
    assert summarize(voice(text=text)).endswith(f"“{text}”")


def test_voice_summary_names_the_kind_readably():
    summary = summarize(voice(kind="social_post", channel="social", text="love it"))
    assert summary == "Social post via social at delivery: “love it”"


# ---- ingest_row -------------------------------------------------------------------------------


def row_of(event):
    return ingest_row(event, ORIGIN, RECEIVED)


def test_times_are_utc_clickhouse_text_whatever_the_event_offset():
    local = datetime(2026, 3, 1, 18, 30, 0, 250_000, tzinfo=SHANGHAI)
    row = ingest_row(with_envelope(contact(), time=local), ORIGIN, local + timedelta(seconds=2))
    assert row["time"] == "2026-03-01 10:30:00.250"
    assert row["received_at"] == "2026-03-01 10:30:02.250"


def test_row_keeps_the_envelope_and_where_the_record_was_read():
    event = with_envelope(contact(), subject="call 42")
    row = row_of(event)
    assert (row["id"], row["type"], row["source"], row["subject"]) == (
        "ev-contact",
        "cx.touchpoint.contact.v1",
        "/test/channel",
        "call 42",
    )
    assert (row["kafka_topic"], row["kafka_partition"], row["kafka_offset"]) == (
        "cx.touchpoints.v1",
        3,
        4217,
    )
    assert row["summary"] == summarize(event)


def test_archived_data_is_the_full_payload_so_the_event_can_be_rebuilt():
    event = voice(text="坏了 broken", stage="post_purchase")
    row = row_of(event)
    rebuilt = parse_event(
        {
            "specversion": row["specversion"],
            "id": row["id"],
            "source": row["source"],
            "type": row["type"],
            "time": event.time.isoformat(),
            "data": orjson.loads(row["data"]),
        }
    )
    assert rebuilt == event


def test_extensions_and_partition_key_are_kept_as_text():
    event = with_envelope(contact(), partitionkey="store-12", region="east", hops=3)
    assert row_of(event)["extensions"] == {
        "region": "east",
        "hops": "3",
        "partitionkey": "store-12",
    }
    assert row_of(contact())["extensions"] == {}


def test_contact_facets():
    row = row_of(contact())
    assert row["customer_id"] == CUSTOMER
    assert (row["channel"], row["touchpoint"], row["stage"], row["outcome"]) == (
        "phone",
        "call_center",
        "post_purchase",
        "escalated",
    )
    assert row["amount"] is None and row["nps"] is None and row["feedback_kind"] == ""


def test_survey_facets_carry_a_scale_only_for_the_scores_given():
    with_csat = row_of(survey(nps=4, csat=3, csat_scale=7))
    assert (with_csat["nps"], with_csat["csat"], with_csat["csat_scale"]) == (4, 3, 7)
    assert with_csat["ces"] is None and with_csat["ces_scale"] is None

    nps_only = row_of(survey(nps=4))
    assert nps_only["csat"] is None and nps_only["csat_scale"] is None

    with_ces = row_of(survey(nps=None, ces=2, ces_scale=5))
    assert (with_ces["ces"], with_ces["ces_scale"]) == (2, 5)


def test_amount_is_exact_text_and_only_for_purchases():
    row = row_of(purchase(amount="1299.10", currency="CNY"))
    assert row["amount"] == "1299.10" and row["currency"] == "CNY"
    assert row_of(recovery_offered(value="50"))["amount"] is None


def test_feedback_kind_only_for_voice_events():
    assert row_of(voice(kind="suggestion"))["feedback_kind"] == "suggestion"
    assert row_of(voice())["case_id"] == "case-9"
    for factory in FACTORIES.values():
        if factory is not voice:
            assert row_of(factory())["feedback_kind"] == "", factory.__name__


def test_identity_facets():
    row = row_of(identified(segment="regular", locale="en-GB"))
    assert (row["segment"], row["locale"], row["customer_id"]) == ("regular", "en-GB", CUSTOMER)


@pytest.mark.parametrize("factory", list(FACTORIES.values()), ids=name)
def test_is_contact_marks_the_customers_own_interactions(factory):
    event = factory()
    assert row_of(event)["is_contact"] == int(event.type in CONTACT_TYPES)


def test_contacts_are_interactions_not_company_actions():
    contacts = {f().type for f in FACTORIES.values() if row_of(f())["is_contact"]}
    assert contacts == {
        "cx.touchpoint.contact.v1",
        "cx.commerce.purchase.v1",
        "cx.feedback.survey.v1",
        "cx.feedback.voice.v1",
        "cx.campaign.responded.v1",
    }


def test_events_without_a_customer_have_an_empty_customer_id():
    assert row_of(alert_resolved())["customer_id"] == ""
