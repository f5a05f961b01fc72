"""Closed-loop actions taken by operations staff on alerts and on unhappy customers."""

from __future__ import annotations

from typing import ClassVar, Literal

from touchstream.events.envelope import CloudEvent, Payload
from touchstream.events.vocabulary import Currency, CustomerId, Money, Reference, ShortText


class AlertActionData(Payload):
    alert_id: Reference
    actor: Reference
    customer_id: CustomerId | None = None
    note: ShortText | None = None


class AlertAcknowledged(CloudEvent):
    key_field: ClassVar[str] = "alert_id"
    type: Literal["cx.loop.alert_acknowledged.v1"] = "cx.loop.alert_acknowledged.v1"
    data: AlertActionData


class AlertAssignedData(AlertActionData):
    assignee: Reference


class AlertAssigned(CloudEvent):
    key_field: ClassVar[str] = "alert_id"
    type: Literal["cx.loop.alert_assigned.v1"] = "cx.loop.alert_assigned.v1"
    data: AlertAssignedData


class AlertResolvedData(AlertActionData):
    resolution: Literal["fixed", "recovered", "no_action_needed", "false_positive"] = "fixed"


class AlertResolved(CloudEvent):
    key_field: ClassVar[str] = "alert_id"
    type: Literal["cx.loop.alert_resolved.v1"] = "cx.loop.alert_resolved.v1"
    data: AlertResolvedData


class RecoveryOfferedData(Payload):
    customer_id: CustomerId
    actor: Reference
    offer: Literal["apology", "refund", "voucher", "upgrade", "callback", "other"]
    alert_id: Reference | None = None
    value: Money | None = None
    currency: Currency | None = None
    note: ShortText | None = None


class RecoveryOffered(CloudEvent):
    """Compensation (补偿) offered to a customer who was let down."""

    type: Literal["cx.loop.recovery_offered.v1"] = "cx.loop.recovery_offered.v1"
    data: RecoveryOfferedData
