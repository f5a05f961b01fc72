"""The foundation, end to end: gateway → Kafka → processors → ClickHouse read models and alerts."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from tests.e2e.conftest import Runtime, eventually

pytestmark = pytest.mark.e2e


def event(type_: str, data: dict[str, Any], *, id_: str | None = None, time: str | None = None):
    return {
        "specversion": "1.0",
        "id": id_ or f"t-{uuid.uuid4().hex[:12]}",
        "source": "/tests",
        "type": type_,
        "time": time or "2026-03-01T10:00:00Z",
        "data": data,
    }


def survey(customer: str, nps: int, **extra: Any) -> dict[str, Any]:
    data = {"customer_id": customer, "survey_id": "s-1", "touchpoint": "delivery", "nps": nps}
    return event("cx.feedback.survey.v1", data | extra)


def count(rt: Runtime, sql: str, **params: Any) -> int:
    return int(rt.client.query(sql, **params)[0]["n"])


def test_posted_event_reaches_archive_timeline_and_sql_cli(runtime: Runtime) -> None:
    ev = survey(f"c-{uuid.uuid4().hex[:8]}", 8, comment="Quick delivery, friendly driver")
    status, body = runtime.client.post_events([ev])
    assert status == 202, body
    assert body["results"][0]["status"] == "accepted"

    sql = "SELECT count() AS n FROM cx.timeline WHERE event_id = {id:String}"
    eventually(lambda: count(runtime, sql, id=ev["id"]) == 1, timeout=10)

    result = runtime.cli(
        "sql",
        f"SELECT summary FROM cx.timeline WHERE event_id = '{ev['id']}'",
        "--format",
        "TabSeparated",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == (
        "Survey on delivery: NPS 8 (passive) — “Quick delivery, friendly driver”"
    )


def test_invalid_event_is_refused_with_the_field(runtime: Runtime) -> None:
    bad = survey("c-x", 11)
    status, body = runtime.client.post_events([bad])
    assert status == 400
    errors = body["results"][0]["errors"]
    assert errors[0]["field"] == "data.nps"
    assert "less than or equal to 10" in errors[0]["reason"]


def test_batch_accepts_valid_events_beside_invalid_ones(runtime: Runtime) -> None:
    good, bad = survey("c-batch", 9), survey("c-batch", 9)
    del bad["data"]["touchpoint"]
    status, body = runtime.client.post_events([good, bad])
    assert status == 207
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected"]
    assert body["results"][1]["errors"][0]["field"] == "data.touchpoint"
    sql = "SELECT count() AS n FROM cx.events WHERE id = {id:String}"
    eventually(lambda: count(runtime, sql, id=good["id"]) == 1, timeout=10)


def test_oversized_body_and_wrong_media_type(runtime: Runtime) -> None:
    huge = [survey("c-big", 9, comment="x" * 9000) for _ in range(700)]
    status, body = runtime.client.post_events(huge)
    assert status == 413
    assert "limit" in body["error"]
    code, _ = runtime.client._request("POST", "/v1/events", b"<xml/>", {"Content-Type": "text/xml"})
    assert code == 415


def test_malformed_record_on_kafka_is_dead_lettered(runtime: Runtime) -> None:
    marker = uuid.uuid4().hex
    producer = KafkaProducer(bootstrap_servers=runtime.bootstrap, acks="all")
    value = f'{{"broken": "{marker}"'.encode()
    meta = producer.send("cx.touchpoints.v1", value=value, headers=[("origin", b"test")]).get(10)
    producer.close()

    sql = "SELECT reason, value_preview FROM cx.dead_letters WHERE value_preview LIKE {m:String}"
    rows = eventually(lambda: runtime.client.query(sql, m=f"%{marker}%"), timeout=15)
    assert "not valid JSON" in rows[0]["reason"] or "JSON" in rows[0]["reason"]

    consumer = KafkaConsumer(bootstrap_servers=runtime.bootstrap, consumer_timeout_ms=3000)
    parts = [
        TopicPartition("cx.deadletter.v1", p)
        for p in consumer.partitions_for_topic("cx.deadletter.v1")
    ]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    letter = next(r for r in consumer if r.value == value)
    consumer.close()
    headers = dict(letter.headers)
    assert headers["origin"] == b"test"
    assert headers["dlq_source_topic"] == b"cx.touchpoints.v1"
    assert int(headers["dlq_source_partition"]) == meta.partition
    assert int(headers["dlq_source_offset"]) == meta.offset
    assert headers["dlq_reason"]


def unhappy_journey(customer: str) -> list[dict[str, Any]]:
    """A customer let down three times in two hours: a churn-risk alert, opened at the
    detractor answer."""
    return [
        event(
            "cx.touchpoint.contact.v1",
            {
                "customer_id": customer,
                "channel": "phone",
                "touchpoint": "call_center",
                "stage": "post_purchase",
                "outcome": "escalated",
                "wait_seconds": 1800,
            },
            time="2026-03-01T09:00:00Z",
        ),
        event(
            "cx.feedback.voice.v1",
            {
                "customer_id": customer,
                "kind": "complaint",
                "channel": "app",
                "touchpoint": "delivery",
                "text": "Still no refund, nobody calls back. Terrible service.",
            },
            time="2026-03-01T10:00:00Z",
        ),
        survey(customer, 1, csat=1, comment="Parcel arrived broken, nobody called back")
        | {"time": "2026-03-01T11:00:00Z"},
    ]


def happy_journey(customer: str) -> list[dict[str, Any]]:
    return [
        event(
            "cx.touchpoint.contact.v1",
            {
                "customer_id": customer,
                "channel": "phone",
                "touchpoint": "call_center",
                "stage": "post_purchase",
                "outcome": "resolved",
                "wait_seconds": 25,
            },
            time="2026-03-01T09:00:00Z",
        ),
        survey(customer, 10, csat=5, comment="Lovely service, thank you")
        | {"time": "2026-03-01T10:00:00Z"},
    ]


def churn_alerts(runtime: Runtime, customer: str) -> list[dict[str, Any]]:
    sql = (
        "SELECT * FROM cx.alert_revisions WHERE customer_id = {c:String}"
        " AND kind = 'customer.churn_risk' ORDER BY alert_id, revision"
    )
    return runtime.client.query(sql, c=customer)


def test_an_unhappy_journey_raises_one_explained_churn_alert(runtime: Runtime) -> None:
    customer = f"c-{uuid.uuid4().hex[:8]}"
    journey = unhappy_journey(customer)
    assert runtime.client.post_events(journey)[0] == 202

    (revision,) = eventually(lambda: churn_alerts(runtime, customer), timeout=15)
    assert re.fullmatch(r"alrt-[0-9a-f]{20}", revision["alert_id"])
    sql = "SELECT * FROM cx.alerts FINAL WHERE customer_id = {c:String}"
    (alert,) = runtime.client.query(sql, c=customer)
    assert alert["revision"] == 1 and alert["status"] == "open"
    assert alert["priority"] == "P2"  # risk 0.91 x a customer of unknown value
    assert alert["sla_hours"] == 24
    assert alert["score"] >= 0.8 > alert["previous_score"]
    assert set(alert["evidence"]) == {e["id"] for e in journey}
    assert alert["reason_codes"][:2] == ["churn_risk", "nps_detractor"]
    reasons = orjson.loads(alert["reasons"])
    assert reasons[0]["threshold"] == 0.8
    assert alert["suggested_action"]

    status, body = runtime.client.get_json(f"/v1/alerts?customer_id={customer}")
    assert status == 200 and body["alerts"][0]["alert_id"] == alert["alert_id"]


def test_a_happy_journey_raises_no_alert(runtime: Runtime) -> None:
    customer = f"c-{uuid.uuid4().hex[:8]}"
    journey = happy_journey(customer)
    assert runtime.client.post_events(journey)[0] == 202
    sql = "SELECT count() AS n FROM cx.timeline WHERE customer_id = {c:String}"
    eventually(lambda: count(runtime, sql, c=customer) == len(journey), timeout=15)
    # the alerts of a batch are published before it is acknowledged; give the alert agent a
    # moment to project anything the batch might have raised
    time.sleep(1.0)
    alerts = "SELECT count() AS n FROM cx.alerts WHERE customer_id = {c:String}"
    assert count(runtime, alerts, c=customer) == 0


def test_replaying_the_log_raises_no_new_alert(runtime: Runtime) -> None:
    customer = f"c-{uuid.uuid4().hex[:8]}"
    journey = unhappy_journey(customer)
    assert runtime.client.post_events(journey)[0] == 202
    assert eventually(lambda: len(churn_alerts(runtime, customer)) == 1, timeout=15)
    before = churn_alerts(runtime, customer)

    assert runtime.client.post_events(journey)[0] == 202  # the same events, read again
    marker = survey(customer, 9) | {"time": "2026-03-01T11:30:00Z"}
    assert runtime.client.post_events([marker])[0] == 202  # projected after the replay
    sql = "SELECT count() AS n FROM cx.events WHERE id = {id:String}"
    eventually(lambda: count(runtime, sql, id=marker["id"]) == 1, timeout=15)
    time.sleep(1.0)
    assert churn_alerts(runtime, customer) == before


def test_customer_profile_aggregates(runtime: Runtime) -> None:
    c = f"c-{uuid.uuid4().hex[:8]}"
    events = [
        event(
            "cx.customer.identified.v1",
            {"customer_id": c, "segment": "vip", "locale": "zh-CN"},
            time="2026-03-01T09:00:00Z",
        ),
        event(
            "cx.touchpoint.contact.v1",
            {
                "customer_id": c,
                "channel": "phone",
                "touchpoint": "call_center",
                "stage": "pre_purchase",
            },
            time="2026-03-01T09:05:00Z",
        ),
        event(
            "cx.commerce.purchase.v1",
            {
                "customer_id": c,
                "order_id": "o-1",
                "amount": "120.50",
                "currency": "CNY",
                "channel": "app",
            },
            time="2026-03-02T10:00:00Z",
        ),
        event(
            "cx.commerce.purchase.v1",
            {
                "customer_id": c,
                "order_id": "o-2",
                "amount": 79.5,
                "currency": "CNY",
                "channel": "app",
            },
            time="2026-03-03T10:00:00Z",
        ),
        event(
            "cx.feedback.survey.v1",
            {
                "customer_id": c,
                "survey_id": "s",
                "touchpoint": "app",
                "nps": 10,
                "csat": 5,
                "ces": 2,
            },
            time="2026-03-04T10:00:00Z",
        ),
        event(
            "cx.feedback.survey.v1",
            {"customer_id": c, "survey_id": "s", "touchpoint": "app", "nps": 7},
            time="2026-03-05T10:00:00Z",
        ),
    ]
    assert runtime.client.post_events(events)[0] == 202

    def profile() -> dict | None:
        status, body = runtime.client.get_json(f"/v1/customers/{c}/profile")
        return body if status == 200 and body["events"] == len(events) else None

    p = eventually(profile, timeout=15)
    assert p["segment"] == "vip" and p["locale"] == "zh-CN"
    assert p["first_contact"].startswith("2026-03-01 09:05")
    assert p["last_contact"].startswith("2026-03-05 10:00")
    assert p["contacts_by_channel"] == {"phone": 1, "app": 2}
    assert p["latest_nps"] == 7 and p["latest_csat"] == 5 and p["latest_ces"] == 2
    assert p["purchases"] == 2 and float(p["lifetime_spend"]) == 200.0

    status, body = runtime.client.get_json(f"/v1/customers/{c}/timeline")
    assert status == 200
    times = [row["time"] for row in body["events"]]
    assert times == sorted(times, reverse=True) and len(times) == len(events)


def test_free_text_is_enriched_with_language_sentiment_and_topics(runtime: Runtime) -> None:
    customer = f"c-{uuid.uuid4().hex[:8]}"
    complaint = event(
        "cx.feedback.voice.v1",
        {
            "customer_id": customer,
            "kind": "complaint",
            "text": "快递太慢了，等了一个星期还没到，客服也不理人",
            "channel": "app",
            "touchpoint": "delivery",
        },
    )
    praise = survey(customer, 10, comment="Brilliant service, the engineer fixed it in minutes")
    assert runtime.client.post_events([complaint, praise])[0] == 202

    def timeline() -> list[dict] | None:
        status, body = runtime.client.get_json(f"/v1/customers/{customer}/timeline")
        return body["events"] if status == 200 and len(body["events"]) == 2 else None

    rows = {row["event_id"]: row for row in eventually(timeline, timeout=15)}
    zh, en = rows[complaint["id"]], rows[praise["id"]]
    assert zh["language"] == "zh" and zh["sentiment_label"] == "negative" and zh["sentiment"] < 0
    assert "delivery" in zh["topics"]
    assert en["language"] == "en" and en["sentiment_label"] == "positive" and en["sentiment"] > 0
