"""Rows of `cx.alerts`, the projection of the `cx.alerts.v1` topic."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from touchstream.events.alerts import AlertRaised
from touchstream.projections.timeline import ch_time


def alert_row(alert: AlertRaised, projected_at: datetime) -> dict[str, Any]:
    d = alert.data
    return {
        "alert_id": d.alert_id,
        "event_id": alert.id,
        "revision": d.revision,
        "kind": d.kind,
        "rule": d.rule,
        "priority": d.priority,
        "title": d.title,
        "customer_id": d.customer_id or "",
        "touchpoint": d.touchpoint or "",
        "reason_codes": [r.code for r in d.reasons],
        "reasons": orjson.dumps([r.model_dump(mode="json") for r in d.reasons]).decode(),
        "evidence": list(d.evidence),
        "suggested_action": d.suggested_action or "",
        "raised_at": ch_time(d.raised_at),
        "projected_at": ch_time(projected_at),
        "status": d.status,
        "score": d.score,
        "previous_score": d.previous_score,
        "sla_hours": d.sla_hours,
        "channel": str(d.channel or ""),
    }
