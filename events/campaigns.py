"""Marketing campaigns sent to the customer, and the customer's response."""

from __future__ import annotations

from typing import Literal

from touchstream.events.envelope import CloudEvent, Payload
from touchstream.events.vocabulary import Channel, CustomerId, Reference


class CampaignSentData(Payload):
    customer_id: CustomerId
    campaign_id: Reference
    channel: Channel


class CampaignSent(CloudEvent):
    type: Literal["cx.campaign.sent.v1"] = "cx.campaign.sent.v1"
    data: CampaignSentData


class CampaignRespondedData(Payload):
    customer_id: CustomerId
    campaign_id: Reference
    channel: Channel
    response: Literal["opened", "clicked", "replied", "converted", "unsubscribed"]


class CampaignResponded(CloudEvent):
    type: Literal["cx.campaign.responded.v1"] = "cx.campaign.responded.v1"
    data: CampaignRespondedData
