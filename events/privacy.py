"""Privacy requests."""

from __future__ import annotations

from typing import Literal

from touchstream.events.envelope import CloudEvent, Payload
from touchstream.events.vocabulary import CustomerId, Reference, ShortText


class ErasureRequestedData(Payload):
    customer_id: CustomerId
    requested_by: Reference
    reason: ShortText | None = None


class ErasureRequested(CloudEvent):
    """The customer's personal data must be erased or anonymised everywhere."""

    type: Literal["cx.privacy.erasure_requested.v1"] = "cx.privacy.erasure_requested.v1"
    data: ErasureRequestedData
