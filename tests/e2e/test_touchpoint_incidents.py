"""Touchpoint health end to end: a spike of complaints at one touchpoint, posted to the gateway,
raises one incident alert that is updated while it lasts and resolved after it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import Runtime, eventually
from tests.e2e.test_pipeline import event

pytestmark = pytest.mark.e2e

#: Later than any other test's events, so this test's hours are judged whatever ran before.
START = datetime(2030, 1, 1, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def hours_at(touchpoint: str, spike: range) -> list[dict]:
    """30 app contacts an hour for 32 hours, one of them a complaint (12 in the spike hours)."""
    events = []
    for hour in range(32):
        complaints = 12 if hour in spike else 1
        for n in range(30):
            moment = iso(START + timedelta(hours=hour, minutes=n))
            customer = f"c-{touchpoint}-{hour}-{n}"
            if n < complaints:
                data = {
                    "customer_id": customer,
                    "kind": "complaint",
                    "channel": "app",
                    "touchpoint": touchpoint,
                    "text": "Parcel late again, nobody answers",
                }
                events.append(event("cx.feedback.voice.v1", data, time=moment))
            else:
                data = {
                    "customer_id": customer,
                    "channel": "app",
                    "touchpoint": touchpoint,
                    "stage": "post_purchase",
                    "outcome": "resolved",
                    "wait_seconds": 30,
                }
                events.append(event("cx.touchpoint.contact.v1", data, time=moment))
    closing = {
        "customer_id": f"c-{touchpoint}-end",
        "channel": "web",
        "touchpoint": touchpoint,
        "stage": "post_purchase",
    }
    events.append(event("cx.touchpoint.contact.v1", closing, time=iso(START + timedelta(hours=34))))
    return events


def test_a_complaint_spike_raises_one_incident_that_resolves(runtime: Runtime) -> None:
    touchpoint = f"tp-{uuid.uuid4().hex[:8]}"
    events = hours_at(touchpoint, spike=range(24, 27))
    for start in range(0, len(events), 500):
        status, body = runtime.client.post_events(events[start : start + 500])
        assert status == 202, body

    sql = (
        "SELECT alert_id, revision, status, priority, toString(raised_at) AS raised_at, title,"
        " evidence, sla_hours FROM cx.alert_revisions WHERE touchpoint = {tp:String}"
        " AND kind = 'touchpoint.incident' ORDER BY revision"
    )

    def resolved() -> list[dict] | None:
        revisions = runtime.client.query(sql, tp=touchpoint)
        return revisions if revisions and revisions[-1]["status"] == "resolved" else None

    revisions = eventually(resolved, timeout=60)
    assert len({r["alert_id"] for r in revisions}) == 1
    opened = revisions[0]
    assert opened["raised_at"] == "2030-01-02 01:00:00.000"  # the end of the first spike hour
    assert "Complaint rate" in opened["title"] and touchpoint in opened["title"]
    assert opened["sla_hours"] in (1, 4)
    ids = {e["id"] for e in events}
    assert opened["evidence"] and set(opened["evidence"]) <= ids
    assert [r["revision"] for r in revisions] == list(range(1, len(revisions) + 1))

    (life,) = runtime.client.query(
        "SELECT state, revisions FROM cx.alert_lifecycle WHERE alert_id = {a:String}",
        a=opened["alert_id"],
    )
    assert life["state"] == "cleared"
