"""Deterministic alert identity: the same detector finding the same problem always gives the
same alert id, so a replay or a restart re-raises an alert the projection already keeps."""

from __future__ import annotations

import uuid

ALERT_SOURCE = "/touchstream/processors"
_ALERT_NAMESPACE = uuid.UUID("5b0f4bb8-4d3c-4f55-9a3a-6f1d0b6e2c11")


def alert_id(rule: str, *keys: str) -> str:
    """A stable alert id from the rule and what the alert is about."""
    return f"alrt-{uuid.uuid5(_ALERT_NAMESPACE, '|'.join((rule, *keys))).hex[:20]}"
