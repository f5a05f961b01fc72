"""The closed loop end to end: operations staff acknowledge, assign and resolve a churn alert
and offer a recovery; the lifecycle and the recovery outcome are projected from those events."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.e2e.conftest import Runtime, eventually
from tests.e2e.test_pipeline import churn_alerts, event, survey, unhappy_journey

pytestmark = pytest.mark.e2e


def test_acknowledgement_assignment_resolution_and_recovery_are_tracked(runtime: Runtime):
    customer = f"c-{uuid.uuid4().hex[:8]}"
    assert runtime.client.post_events(unhappy_journey(customer))[0] == 202
    alert_id = eventually(lambda: churn_alerts(runtime, customer), timeout=15)[0]["alert_id"]

    def action(type_: str, minute: int, **data) -> dict:
        payload = {"alert_id": alert_id, "actor": "agent-7", "customer_id": customer, **data}
        return event(type_, payload, time=f"2026-03-01T12:{minute:02d}:00Z")

    recovery = event(
        "cx.loop.recovery_offered.v1",
        {
            "customer_id": customer,
            "actor": "agent-7",
            "offer": "voucher",
            "alert_id": alert_id,
            "value": "50",
            "currency": "CNY",
        },
        time="2026-03-01T12:40:00Z",
    )
    loop = [
        action("cx.loop.alert_acknowledged.v1", 0),
        action("cx.loop.alert_assigned.v1", 10, assignee="agent-9"),
        recovery,
        action("cx.loop.alert_resolved.v1", 50, resolution="recovered"),
        survey(customer, 9) | {"time": "2026-03-03T09:00:00Z"},  # happier afterwards
    ]
    assert runtime.client.post_events(loop)[0] == 202

    sql = (
        "SELECT state, assignee, resolution, recovery_offers, seconds_to_acknowledge,"
        " seconds_to_resolve, sla_breached FROM cx.alert_lifecycle WHERE alert_id = {a:String}"
    )
    life = eventually(
        lambda: (
            (rows := runtime.client.query(sql, a=alert_id))
            and rows[0]["state"] == "resolved"
            and rows[0]
        ),
        timeout=15,
    )
    # opened at the detractor answer (11:00), acknowledged at 12:00, resolved at 12:50
    assert {k: str(v) for k, v in life.items()} == {
        "state": "resolved",
        "assignee": "agent-9",
        "resolution": "recovered",
        "recovery_offers": "1",
        "seconds_to_acknowledge": "3600",
        "seconds_to_resolve": "6600",
        "sla_breached": "0",
    }
    (outcome,) = runtime.client.query(
        "SELECT offer, satisfaction_before, satisfaction_after, churned_after"
        " FROM cx.recovery_outcomes WHERE customer_id = {c:String}",
        c=customer,
    )
    assert outcome["offer"] == "voucher"
    assert outcome["satisfaction_after"] > outcome["satisfaction_before"]
    assert outcome["churned_after"] == 0


def test_an_alert_left_unacknowledged_past_its_sla_is_escalated_once(runtime: Runtime):
    customer = f"c-{uuid.uuid4().hex[:8]}"
    assert runtime.client.post_events(unhappy_journey(customer))[0] == 202
    (churn,) = eventually(lambda: churn_alerts(runtime, customer), timeout=15)
    # a day and more later in the stream (another customer's contact), nobody has acknowledged
    later = event(
        "cx.touchpoint.contact.v1",
        {
            "customer_id": f"c-{uuid.uuid4().hex[:8]}",
            "channel": "web",
            "touchpoint": "website",
            "stage": "pre_purchase",
        },
        time="2026-03-03T12:00:00Z",
    )
    assert runtime.client.post_events([later])[0] == 202
    sql = (
        "SELECT alert_id, priority, evidence, toString(raised_at) AS raised_at"
        " FROM cx.alert_revisions WHERE kind = 'alert.sla_breach' AND has(evidence, {a:String})"
    )
    (breach,) = eventually(lambda: runtime.client.query(sql, a=churn["alert_id"]), timeout=30)
    assert breach["priority"] == "P1"  # one step above the churn alert's P2
    assert breach["raised_at"] == "2026-03-02 11:00:00.000"  # opened 11:00, due 24 h later
    # the next checks find it escalated already
    time.sleep(12)
    assert len(runtime.client.query(sql, a=churn["alert_id"])) == 1
