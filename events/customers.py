"""Facts about the customer: who they are, and that they left."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from touchstream.events.envelope import CloudEvent, Payload
from touchstream.events.vocabulary import CustomerId, ShortText, Slug

# What JSON and the warehouse carry unchanged: no NaN or infinity, 64-bit integers, and text
# short enough that 50 attributes keep an event far below a Kafka record's size limit.
AttributeValue = (
    Annotated[str, StringConstraints(max_length=1024)]
    | Annotated[int, Field(ge=-(2**63), lt=2**63)]
    | Annotated[float, Field(allow_inf_nan=False)]
    | bool
)


class Consent(Payload):
    marketing: bool = False
    analytics: bool = True


class CustomerIdentifiedData(Payload):
    customer_id: CustomerId
    segment: Slug | None = Field(None, examples=["vip", "regular", "new"])
    locale: (
        Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] | None
    ) = Field(None, examples=["zh-CN", "en-GB"])
    consent: Consent | None = None
    attributes: dict[Slug, AttributeValue] = Field(default_factory=dict, max_length=50)


class CustomerIdentified(CloudEvent):
    """A channel identified the customer and (re)stated profile attributes."""

    type: Literal["cx.customer.identified.v1"] = "cx.customer.identified.v1"
    data: CustomerIdentifiedData


class ChurnObservedData(Payload):
    customer_id: CustomerId
    reason: ShortText | None = None


class ChurnObserved(CloudEvent):
    """The customer is known to have left (contract cancelled, account closed): a churn label."""

    type: Literal["cx.customer.churned.v1"] = "cx.customer.churned.v1"
    data: ChurnObservedData
