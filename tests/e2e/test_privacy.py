"""The right to erasure end to end, through the gateway, the broker and chDB: after an erasure
request no read model names the customer, a tombstone records it, and a later event of theirs
is projected without their identity."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from tests.e2e.conftest import Runtime, eventually
from tests.e2e.test_pipeline import churn_alerts, count, event, survey, unhappy_journey

pytestmark = pytest.mark.e2e

#: Every table a customer's identity can reach (views read from these).
NAMING = {
    "cx.events": "customer_id = {c:String}",
    "cx.timeline": "customer_id = {c:String}",
    "cx.customer_profile": "customer_id = {c:String}",
    "cx.alerts": "customer_id = {c:String}",
    "cx.alert_revisions": "customer_id = {c:String}",
    "cx.alert_actions": "customer_id = {c:String}",
    "cx.dead_letters": "key = {c:String} OR position(value_preview, {c:String}) > 0",
}


def test_an_erased_customer_is_gone_from_every_read_model_and_stays_gone(runtime: Runtime):
    customer = f"c-{uuid.uuid4().hex[:8]}"
    journey = unhappy_journey(customer)
    assert runtime.client.post_events(journey)[0] == 202
    eventually(lambda: churn_alerts(runtime, customer), timeout=60)
    ids = [e["id"] for e in journey]
    erasure = event(
        "cx.privacy.erasure_requested.v1",
        {"customer_id": customer, "requested_by": "dpo-7", "reason": "customer request"},
        time="2026-03-02T10:00:00Z",
    )
    assert runtime.client.post_events([erasure])[0] == 202

    subject = hashlib.sha256(customer.encode()).hexdigest()
    stones = (
        "SELECT count() AS n FROM cx.erasures FINAL"
        " WHERE subject_sha256 = {s:String} AND status = 'done'"
    )
    eventually(lambda: count(runtime, stones, s=subject) == 1, timeout=60)
    for table, where in NAMING.items():
        assert count(runtime, f"SELECT count() AS n FROM {table} WHERE {where}", c=customer) == 0
    kept = "SELECT count() AS n FROM cx.events WHERE id IN {ids:Array(String)} AND customer_id = ''"
    assert count(runtime, kept, ids=ids) == len(ids)  # anonymised, still counted once by id

    later = survey(customer, 2, comment=f"I am {customer} and still unhappy")
    assert runtime.client.post_events([later])[0] == 202
    anonymous = "SELECT count() AS n FROM cx.events WHERE id = {id:String} AND customer_id = ''"
    eventually(lambda: count(runtime, anonymous, id=later["id"]) == 1, timeout=60)
    for table, where in NAMING.items():
        assert count(runtime, f"SELECT count() AS n FROM {table} WHERE {where}", c=customer) == 0
    words = "SELECT count() AS n FROM cx.events WHERE position(data, {c:String}) > 0"
    assert count(runtime, words, c=customer) == 0  # the comment naming them is not kept
