"""Shared vocabulary of the contract: identifiers, channels, touchpoints and journey stages."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BeforeValidator, Field, StringConstraints

CustomerId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=r"^[^\s\x00-\x1f\x7f]+$"),
    Field(description="Stable customer identifier; also the Kafka key of the customer's events."),
]
Reference = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=r"^[^\s\x00-\x1f\x7f]+$"),
]
Slug = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$"),
    Field(description="Lowercase identifier: letters, digits, '_', '.', '-'."),
]
Touchpoint = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$"),
    Field(
        description=(
            "Where the customer met the company, as the company names it: call_center, store, "
            "checkout, delivery, billing, website, app, after_sales_repair, ..."
        ),
        examples=["call_center", "delivery", "billing"],
    ),
]


def _not_a_boolean(value: object) -> object:
    """JSON `true` is no score: pydantic would read it as 1 (an NPS detractor)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


#: For numeric fields: a boolean is refused rather than read as 0 or 1.
NotBoolean = BeforeValidator(_not_a_boolean)
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=500)]
FreeText = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
Seconds = Annotated[float, Field(ge=0, le=7 * 24 * 3600, allow_inf_nan=False), NotBoolean]
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), Field(examples=["CNY", "USD"])]


class Channel(StrEnum):
    """The medium of a contact. Touchpoints are open-ended; channels are a closed list."""

    PHONE = "phone"
    STORE = "store"
    APP = "app"
    WEB = "web"
    EMAIL = "email"
    CHAT = "chat"
    SOCIAL = "social"
    SMS = "sms"
    MAIL = "mail"
    FIELD = "field"


class JourneyStage(StrEnum):
    """The three stages of the customer journey (售前 / 售中 / 售后)."""

    PRE_PURCHASE = "pre_purchase"
    PURCHASE = "purchase"
    POST_PURCHASE = "post_purchase"


class Language(StrEnum):
    ZH = "zh"
    EN = "en"
    OTHER = "other"
