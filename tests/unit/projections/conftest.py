"""Event factories and a migrated chDB warehouse for the projection tests.

The factories build valid, typed events with readable defaults; keyword arguments override the
payload. Times are minutes after `T0` unless given, so a test can say what happened when.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from touchstream.events.alerts import AlertRaised
from touchstream.events.campaigns import CampaignResponded, CampaignSent
from touchstream.events.commerce import PurchaseMade
from touchstream.events.customers import ChurnObserved, CustomerIdentified
from touchstream.events.envelope import CloudEvent
from touchstream.events.feedback import ComplaintResolved, FeedbackGiven, SurveyAnswered
from touchstream.events.loop import AlertAcknowledged, AlertAssigned, AlertResolved, RecoveryOffered
from touchstream.events.privacy import ErasureRequested
from touchstream.events.touchpoints import ContactRecorded
from touchstream.projections.churn_risk import RiskModel, churn_alerts, customer_events
from touchstream.projections.migrations import migrate
from touchstream.projections.timeline import RecordOrigin, ingest_row
from touchstream.projections.warehouse import Warehouse, open_warehouse
from touchstream.services.settings import Settings

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
#: The churn model with the product's default thresholds (services/settings.py).
PRODUCT_RISK = RiskModel(
    raise_at=Settings().churn_alert_at, clear_below=Settings().churn_clear_below
)
CUSTOMER = "c-1001"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _event(
    cls: type[CloudEvent], event_id: str, minute: float, data: dict[str, Any], overrides: dict
) -> Any:
    return cls(id=event_id, source="/test/channel", time=at(minute), data={**data, **overrides})


def with_envelope(event: Any, **attributes: Any) -> Any:
    """The same event with other envelope attributes (time, partitionkey, extensions)."""
    return type(event).model_validate({**event.model_dump(), **attributes})


def identified(event_id: str = "ev-identified", minute: float = 0, **data: Any) -> Any:
    base = {"customer_id": CUSTOMER, "segment": "vip", "locale": "zh-CN"}
    return _event(CustomerIdentified, event_id, minute, base, data)


def contact(event_id: str = "ev-contact", minute: float = 10, **data: Any) -> Any:
    base = {
        "customer_id": CUSTOMER,
        "channel": "phone",
        "touchpoint": "call_center",
        "stage": "post_purchase",
        "reason": "refund missing",
        "wait_seconds": 320,
        "outcome": "escalated",
    }
    return _event(ContactRecorded, event_id, minute, base, data)


def purchase(event_id: str = "ev-purchase", minute: float = 20, **data: Any) -> Any:
    base = {
        "customer_id": CUSTOMER,
        "order_id": "o-77",
        "amount": "1299.00",
        "currency": "CNY",
        "channel": "web",
    }
    return _event(PurchaseMade, event_id, minute, base, data)


def survey(event_id: str = "ev-survey", minute: float = 30, **data: Any) -> Any:
    base = {"customer_id": CUSTOMER, "survey_id": "s-1", "touchpoint": "delivery", "nps": 9}
    return _event(SurveyAnswered, event_id, minute, base, data)


def voice(event_id: str = "ev-voice", minute: float = 40, **data: Any) -> Any:
    base = {
        "customer_id": CUSTOMER,
        "kind": "complaint",
        "text": "The parcel arrived broken",
        "channel": "app",
        "touchpoint": "delivery",
        "case_id": "case-9",
    }
    return _event(FeedbackGiven, event_id, minute, base, data)


def complaint_resolved(event_id: str = "ev-resolved", minute: float = 50, **data: Any) -> Any:
    base = {"customer_id": CUSTOMER, "case_id": "case-9", "resolution": "replacement shipped"}
    return _event(ComplaintResolved, event_id, minute, base, data)


def campaign_sent(event_id: str = "ev-campaign-sent", minute: float = 60, **data: Any) -> Any:
    base = {"customer_id": CUSTOMER, "campaign_id": "spring-sale", "channel": "sms"}
    return _event(CampaignSent, event_id, minute, base, data)


def campaign_responded(event_id: str = "ev-campaign-resp", minute: float = 70, **data: Any) -> Any:
    base = {
        "customer_id": CUSTOMER,
        "campaign_id": "spring-sale",
        "channel": "sms",
        "response": "clicked",
    }
    return _event(CampaignResponded, event_id, minute, base, data)


def alert_acknowledged(event_id: str = "ev-ack", minute: float = 80, **data: Any) -> Any:
    base = {"alert_id": "alrt-1", "actor": "agent-7", "customer_id": CUSTOMER}
    return _event(AlertAcknowledged, event_id, minute, base, data)


def alert_assigned(event_id: str = "ev-assigned", minute: float = 81, **data: Any) -> Any:
    base = {"alert_id": "alrt-1", "actor": "lead-2", "assignee": "agent-7", "customer_id": CUSTOMER}
    return _event(AlertAssigned, event_id, minute, base, data)


def alert_resolved(event_id: str = "ev-alert-resolved", minute: float = 82, **data: Any) -> Any:
    base = {"alert_id": "alrt-1", "actor": "agent-7", "resolution": "recovered"}
    return _event(AlertResolved, event_id, minute, base, data)


def recovery_offered(event_id: str = "ev-recovery", minute: float = 83, **data: Any) -> Any:
    base = {
        "customer_id": CUSTOMER,
        "actor": "agent-7",
        "offer": "voucher",
        "value": "50",
        "currency": "CNY",
    }
    return _event(RecoveryOffered, event_id, minute, base, data)


def churned(event_id: str = "ev-churned", minute: float = 90, **data: Any) -> Any:
    base = {"customer_id": CUSTOMER, "reason": "moved to a competitor"}
    return _event(ChurnObserved, event_id, minute, base, data)


def erasure_requested(event_id: str = "ev-erasure", minute: float = 100, **data: Any) -> Any:
    base = {"customer_id": CUSTOMER, "requested_by": "dpo-1"}
    return _event(ErasureRequested, event_id, minute, base, data)


#: One factory per inbound event type, in catalog order.
FACTORIES = {
    CustomerIdentified: identified,
    ContactRecorded: contact,
    PurchaseMade: purchase,
    SurveyAnswered: survey,
    FeedbackGiven: voice,
    ComplaintResolved: complaint_resolved,
    CampaignSent: campaign_sent,
    CampaignResponded: campaign_responded,
    AlertAcknowledged: alert_acknowledged,
    AlertAssigned: alert_assigned,
    AlertResolved: alert_resolved,
    RecoveryOffered: recovery_offered,
    ChurnObserved: churned,
    ErasureRequested: erasure_requested,
}


def unhappy_journey() -> list[Any]:
    """A customer let down three times in two hours: a churn-risk alert, opened at the
    detractor answer (risk 0.71 after the complaint, 0.91 after the answer)."""
    return [
        contact("ev-escalated", 0, outcome="escalated", wait_seconds=1800),
        voice("ev-complaint", 60, text="Still no refund, nobody calls back. Terrible service."),
        survey("ev-detractor", 120, nps=1, csat=1),
    ]


def happy_journey() -> list[Any]:
    return [
        contact("ev-quick", 0, outcome="resolved", wait_seconds=20),
        purchase("ev-bought", 30),
        survey("ev-promoter", 60, nps=10, csat=5, comment="Lovely service, thank you"),
    ]


def churn_alerts_of(events: list[Any]) -> list[AlertRaised]:
    """The churn alert revisions the events of `CUSTOMER` raise (as the processors do)."""
    rows = []
    for event in events:
        row = ingest_row(event, RecordOrigin(), T0)
        rows.append({**row, "event_id": row["id"], "time": row["time"]})
    return churn_alerts(CUSTOMER, customer_events(rows), model=PRODUCT_RISK)


def open_migrated(path: Path) -> Warehouse:
    warehouse = open_warehouse(f"chdb://{path}")
    migrate(warehouse)
    return warehouse


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    """A fresh, migrated chDB warehouse (chDB allows one open data directory per process)."""
    warehouse = open_migrated(tmp_path / "warehouse")
    yield warehouse
    warehouse.close()
