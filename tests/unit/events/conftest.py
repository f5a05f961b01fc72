"""Sample events shared by the event-contract tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


def _survey_answer(**overrides: Any) -> dict[str, Any]:
    """A valid `cx.feedback.survey.v1` event in structured mode, with top-level overrides."""
    event = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "/crm/web",
        "type": "cx.feedback.survey.v1",
        "time": "2026-01-01T10:00:00Z",
        "data": {"customer_id": "c-1", "survey_id": "s-1", "touchpoint": "call_center", "nps": 3},
    }
    event.update(overrides)
    return event


def _contact(**overrides: Any) -> dict[str, Any]:
    """A valid `cx.touchpoint.contact.v1` event with every optional attribute set."""
    event = {
        "specversion": "1.0",
        "id": "e-2",
        "source": "/callcenter/shanghai",
        "type": "cx.touchpoint.contact.v1",
        "time": "2026-01-01T18:30:00.250+08:00",
        "subject": "通话 call 42",
        "dataschema": "urn:touchstream:schema:cx.touchpoint.contact.v1",
        "region": "east",
        "data": {
            "customer_id": "c-2",
            "channel": "phone",
            "touchpoint": "call_center",
            "stage": "post_purchase",
            "wait_seconds": 95.5,
            "handle_seconds": 300,
            "outcome": "escalated",
            "agent_id": "a-7",
            "reason": "退款没有到账 (refund missing)",
        },
    }
    event.update(overrides)
    return event


SampleFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def survey_answer() -> SampleFactory:
    """Builds a valid survey answer; keyword arguments replace top-level members."""
    return _survey_answer


@pytest.fixture
def contact() -> SampleFactory:
    """Builds a valid contact with every optional attribute; keyword arguments replace members."""
    return _contact
