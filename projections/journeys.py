"""Journey facets of an event: how it felt (its valence, for the peak-end rule) and which matter
a contact is about (for repeat contacts).

The journey views of migration 0004 (`cx.journey_moments`, `cx.journeys`, `cx.repeat_contacts`)
work on these columns of `cx.timeline`; the rules are documented in docs/bi.md:

- An episode is a run of a customer's events with no gap longer than `EPISODE_GAP_DAYS`.
- The peak of an episode is its most intense moment (largest |valence|, the later one on a
  tie), the end its last moment with a valence; peak-end score = (peak + end) / 2.
- A repeat contact is an inbound contact or a complaint, inquiry or chat about the same matter
  within `REPEAT_WINDOW_DAYS` of the previous one. The matter is the case when there is one,
  otherwise the touchpoint and the contact's stated reason. Browsing before a purchase, praise,
  suggestions and outbound contacts are about no matter.
"""

from __future__ import annotations

from touchstream.events.customers import ChurnObserved
from touchstream.events.envelope import CloudEvent
from touchstream.events.feedback import ComplaintResolved, FeedbackGiven, SurveyAnswered
from touchstream.events.loop import RecoveryOffered
from touchstream.events.touchpoints import ContactRecorded
from touchstream.projections.satisfaction import satisfaction_score

EPISODE_GAP_DAYS = 30
REPEAT_WINDOW_DAYS = 7

#: How a contact's outcome felt; a contact without outcome or long wait is not a moment.
OUTCOME_VALENCE = {"resolved": 0.3, "transferred": -0.3, "unresolved": -0.5, "escalated": -0.6}
#: Waits at or above these many seconds feel this bad.
WAIT_VALENCE = ((900.0, -0.6), (300.0, -0.3))
#: A complaint is a bad moment even when its words read neutral.
COMPLAINT_VALENCE_MAX = -0.5
COMPLAINT_RESOLVED_VALENCE = 0.4
#: Voice messages about a matter the customer may have to raise again.
MATTER_KINDS = frozenset({"complaint", "inquiry", "chat"})
RECOVERY_VALENCE = 0.3
CHURN_VALENCE = -1.0


def _wait_valence(seconds: float | None) -> float | None:
    if seconds is None:
        return None
    return next((v for limit, v in WAIT_VALENCE if seconds >= limit), None)


def moment_valence(event: CloudEvent, sentiment: float | None) -> float | None:
    """How the moment felt to the customer in [-1, 1], or None when it is not a moment of the
    experience. `sentiment` is the score of the event's free text, if it has one."""
    d = event.data
    match event:
        case SurveyAnswered():
            score = satisfaction_score(d.nps, d.csat, d.csat_scale, d.ces, d.ces_scale)
            return round(2 * score - 1, 4) if score is not None else sentiment
        case FeedbackGiven():
            if d.kind == "complaint":
                return min(sentiment or 0.0, COMPLAINT_VALENCE_MAX)
            return sentiment
        case ContactRecorded():
            felt = [OUTCOME_VALENCE.get(d.outcome or ""), _wait_valence(d.wait_seconds)]
            known = [v for v in felt if v is not None]
            return min(known) if known else None  # the worst aspect is what is remembered
        case ComplaintResolved():
            return COMPLAINT_RESOLVED_VALENCE
        case RecoveryOffered():
            return RECOVERY_VALENCE
        case ChurnObserved():
            return CHURN_VALENCE
    return None


def _about_a_matter(event: CloudEvent) -> bool:
    d = event.data
    if isinstance(event, FeedbackGiven):
        return d.kind in MATTER_KINDS
    if isinstance(event, ContactRecorded) and d.direction == "inbound":
        return d.stage != "pre_purchase" or bool(d.case_id)
    return False


def contact_matter(event: CloudEvent) -> str:
    """What a customer's contact is about, for repeat contacts ('' when it is not about a
    matter: outbound contacts, browsing before a purchase, praise and suggestions)."""
    d = event.data
    if not _about_a_matter(event):
        return ""
    if d.case_id:
        return f"case:{d.case_id}"
    reason = " ".join((getattr(d, "reason", None) or "").split()).lower()
    return f"touchpoint:{d.touchpoint}" + (f":{reason}" if reason else "")
