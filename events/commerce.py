"""Purchases: the customer's spending, the input of value and lifetime estimates."""

from __future__ import annotations

from typing import Literal

from touchstream.events.envelope import CloudEvent, Payload
from touchstream.events.vocabulary import (
    Channel,
    Currency,
    CustomerId,
    Money,
    Reference,
    Touchpoint,
)


class PurchaseMadeData(Payload):
    customer_id: CustomerId
    order_id: Reference
    amount: Money
    currency: Currency
    channel: Channel
    touchpoint: Touchpoint | None = None


class PurchaseMade(CloudEvent):
    type: Literal["cx.commerce.purchase.v1"] = "cx.commerce.purchase.v1"
    data: PurchaseMadeData
