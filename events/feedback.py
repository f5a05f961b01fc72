"""What the customer thinks: survey answers, free-text voice of the customer, complaint outcomes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from touchstream.events.envelope import CloudEvent, Payload
from touchstream.events.vocabulary import (
    Channel,
    CustomerId,
    FreeText,
    JourneyStage,
    Language,
    NotBoolean,
    Reference,
    ShortText,
    Touchpoint,
)

ServqualDimension = Literal["tangibles", "reliability", "responsiveness", "assurance", "empathy"]


class ServqualItem(Payload):
    """Expectation and perception of one service-quality dimension, both on a 1-7 scale."""

    dimension: ServqualDimension
    expectation: Annotated[float, Field(ge=1, le=7, allow_inf_nan=False), NotBoolean]
    perception: Annotated[float, Field(ge=1, le=7, allow_inf_nan=False), NotBoolean]


class SurveyAnsweredData(Payload):
    customer_id: CustomerId
    survey_id: Reference
    touchpoint: Touchpoint = Field(description="The touchpoint the survey rates.")
    channel: Channel | None = None
    stage: JourneyStage | None = None
    nps: Annotated[int, Field(ge=0, le=10), NotBoolean] | None = Field(
        None, description="Likelihood to recommend, 0-10."
    )
    csat: Annotated[int, Field(ge=1, le=10), NotBoolean] | None = Field(
        None, description="Satisfaction on `csat_scale`."
    )
    csat_scale: Literal[5, 7, 10] = 5
    ces: Annotated[int, Field(ge=1, le=7), NotBoolean] | None = Field(
        None, description="Effort on `ces_scale` (higher = harder)."
    )
    ces_scale: Literal[5, 7] = 7
    servqual: list[ServqualItem] = Field(default_factory=list, max_length=5)
    comment: FreeText | None = None
    language: Language | None = None

    @model_validator(mode="after")
    def _check_scores(self) -> SurveyAnsweredData:
        if self.nps is None and self.csat is None and self.ces is None and not self.servqual:
            raise ValueError("a survey answer needs at least one of nps, csat, ces or servqual")
        if self.csat is not None and self.csat > self.csat_scale:
            raise ValueError(f"csat {self.csat} is above its scale of {self.csat_scale}")
        if self.ces is not None and self.ces > self.ces_scale:
            raise ValueError(f"ces {self.ces} is above its scale of {self.ces_scale}")
        dims = [item.dimension for item in self.servqual]
        if len(dims) != len(set(dims)):
            raise ValueError("servqual lists a dimension more than once")
        return self


class SurveyAnswered(CloudEvent):
    type: Literal["cx.feedback.survey.v1"] = "cx.feedback.survey.v1"
    data: SurveyAnsweredData


FeedbackKind = Literal["complaint", "inquiry", "suggestion", "chat", "social_post"]


class FeedbackGivenData(Payload):
    customer_id: CustomerId
    kind: FeedbackKind
    text: FreeText
    language: Language | None = Field(None, description="Optional hint; detected when absent.")
    channel: Channel
    touchpoint: Touchpoint
    stage: JourneyStage | None = None
    case_id: Reference | None = Field(None, description="Links a complaint to its resolution.")


class FeedbackGiven(CloudEvent):
    """Free text from the customer: a complaint, inquiry, suggestion, chat or social post."""

    type: Literal["cx.feedback.voice.v1"] = "cx.feedback.voice.v1"
    data: FeedbackGivenData


class ComplaintResolvedData(Payload):
    customer_id: CustomerId
    case_id: Reference
    resolution: ShortText | None = None
    touchpoint: Touchpoint | None = None


class ComplaintResolved(CloudEvent):
    type: Literal["cx.feedback.complaint_resolved.v1"] = "cx.feedback.complaint_resolved.v1"
    data: ComplaintResolvedData
