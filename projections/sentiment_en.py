"""Sentiment of English customer text: VADER, plain and with a customer-service vocabulary.

VADER (Hutto & Gilbert 2014) is a rule-based scorer tuned on social-media text. Customer
complaints are often factual ("the parcel never arrived", "charged me twice") and customer
inquiries are polite ("please help, thanks"), and VADER reads neither as its authors' raters
did. `vader_cx_score` therefore adds words VADER lacks (overcharged, buggy, prompt, polite),
neutralises request formulas (please, help, kindly), and scores a few multi-word complaint
patterns VADER's word-by-word reading cannot see. Both variants are measured in
docs/sentiment.md.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# fmt: off
#: Words added to, or re-weighted in, VADER's lexicon (VADER's scale: -4 .. +4).
CX_WORDS: dict[str, float] = {
    # requests and courtesy formulas are not verdicts
    "please": 0.0, "kindly": 0.0, "help": 0.0, "thanks": 0.8, "thank": 0.6, "interested": 0.0,
    # names of departments, products and offers are not verdicts ("gift card", "customer
    # care", "support team", "store credit", "loyalty points"); "promised" in a complaint is
    # almost always a promise broken
    "support": 0.0, "care": 0.0, "gift": 0.0, "credit": 0.0, "loyalty": 0.0, "bonus": 0.0,
    "reward": 0.0, "pay": 0.0, "promised": 0.0, "holiday": 0.0, "holidays": 0.0,
    # nor are the verbs of inquiries ("do you accept returns", "I want to switch plans",
    # "leave it with my neighbour"); "unbelievable" in a complaint is exasperation
    "accept": 0.0, "want": 0.0, "leave": 0.0, "treat": 0.0, "unbelievable": -1.5,
    # complaints VADER does not know
    "overcharged": -2.0, "late": -1.0, "slow": -1.0, "delays": -1.3, "overdue": -1.2,
    "unanswered": -1.5, "unhelpful": -1.8, "dismissive": -1.8, "incorrect": -1.2,
    "unresolved": -1.5, "nobody": -1.0, "chasing": -0.8, "runaround": -1.5, "fobbed": -1.5,
    "glitch": -1.2, "glitchy": -1.5, "buggy": -1.5, "crashes": -1.7, "crashed": -1.7,
    "crashing": -1.7, "froze": -1.2, "freezes": -1.2, "unusable": -2.0, "scratched": -1.2,
    "dented": -1.2, "cracked": -1.5, "leaking": -1.2, "leaks": -1.2, "malfunctioning": -1.5,
    "overpriced": -1.5, "rip-off": -2.5, "ripoff": -2.5, "scammed": -2.5, "hassle": -1.2,
    "defect": -1.5, "defects": -1.5, "postponed": -1.0, "condescending": -2.0,
    "patronising": -1.8, "patronizing": -1.8, "loud": -0.8, "noisy": -1.0, "burnt": -1.2,
    "mouldy": -2.0, "moldy": -2.0, "sighed": -0.8,
    # praise VADER does not know
    "quick": 1.2, "quickly": 1.0, "fast": 1.0, "prompt": 1.2, "promptly": 1.2, "smooth": 1.2,
    "smoothly": 1.2, "seamless": 1.5, "hassle-free": 1.8, "effortless": 1.5, "patient": 1.3,
    "polite": 1.5, "knowledgeable": 1.5, "reliable": 1.3, "sturdy": 1.2, "responsive": 1.2,
    "spotless": 1.2, "on-time": 1.0, "painless": 1.5, "punctual": 1.3, "tidy": 1.0,
    "fixed": 1.0, "sorted": 1.0,
}
# fmt: on


def _phrase(valence: float, *alternatives: str) -> tuple[re.Pattern[str], float]:
    return re.compile("|".join(alternatives)), valence


_NOT = r"(?:not|never|n't|still not|yet to)"
_WAITED = r"\b(?:queued?|queuing|queueing|waited|waiting|hold)\b"
_DURATION = r"\b(?:hours?|ages|forever|weeks?|days)\b"
_COULD_NOT = r"\b(?:won't|can't|cannot|doesn't|didn't|will not|does not|did not)"
_DEVICE_VERBS = r"(?:turn on|start|load|open|log ?in|connect|charge|work|sync)"

#: Multi-word patterns and their valence, added to VADER's sum; matched on lower-cased text.
CX_PHRASES: tuple[tuple[re.Pattern[str], float], ...] = (
    # billing errors
    _phrase(-2.0, r"\b(?:charged|billed|debited)\b(?: \w+)? (?:twice|two times|double)"),
    _phrase(-2.0, r"\bdouble[- ](?:charged|billed)"),
    _phrase(-1.5, r"\b(?:costing|charging|charged) me (?:an )?extra\b"),
    # deliveries, replies and refunds that have not come
    _phrase(-1.5, rf"{_NOT} (?:yet )?(?:arrived|arrive|come|turned up|shown up|been delivered)"),
    _phrase(-1.5, r"\bnever (?:received|got|heard back)", r"nowhere to be (?:seen|found)"),
    _phrase(-1.5, r"\bstill (?:waiting|no\b|nothing|haven't|hasn't|not)"),
    _phrase(-1.0, r"\bno (?:response|reply|answer|one|update)s?\b"),
    _phrase(
        -1.5,
        r"\b(?:haven't|hasn't|didn't|not|never|no)\b(?:\s+\w+){0,3}?\s+"
        r"(?:reply|replies|response|answer|update|callback|call back|refund|word)\b",
    ),
    # waiting and delays
    _phrase(-1.0, r"\bon hold\b"),
    _phrase(-1.5, rf"{_WAITED}[^.!?]{{0,30}}?{_DURATION}"),
    _phrase(-1.0, r"\b(?:pushed back|put back|no longer)\b", r"n't\b[^.!?]*\banymore\b"),
    # the effort signal: the customer had to repeat themselves
    _phrase(
        -1.2,
        r"\b(?:explained|called|rang|asked|chased|contacted|emailed|phoned)\b[^.!?]{0,30}"
        r"\b(?:twice|three|four|five|six|several|multiple|many|\d+) times\b",
    ),
    # churn intent
    _phrase(
        -2.0,
        r"\b(?:i'm|i am) done with|closing my account|switching to|taking my business",
        r"never again|never (?:ordering|buying|using) (?:from )?\w+ again",
    ),
    # things that do not work, staff who do not care
    _phrase(-1.5, rf"(?:stopped|{_NOT}) work(?:ing|s)?\b"),
    _phrase(-1.2, rf"{_COULD_NOT} {_DEVICE_VERBS}", r"n't \w+ (?:properly|correctly|at all)\b"),
    _phrase(-1.0, r"\bsmells? (?:of|like)\b"),
    _phrase(-1.5, r"\b(?:rolled|rolling) (?:her|his|their) eyes", r"\bhow you treat\b"),
    # praise idioms VADER reads word by word
    _phrase(1.0, r"\bno questions asked\b"),
    _phrase(2.0, r"\bno (?:surprises|hidden (?:fees|charges|costs))\b"),
    _phrase(
        2.0, r"\b(?:blew me away|blown away|above and beyond)", r"exceeded (?:my |all )?expect"
    ),
)


@cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


#: "I'd like to..." asks for something; VADER reads "like" as praise.
_REQUEST = re.compile(r"\b(i|we)(?:'d| would) like\b", re.IGNORECASE)
#: A "thanks" signing off a question is a formula, not gratitude for anything yet.
_SIGN_OFF = re.compile(
    r"\?\s*(?:many )?(?:thanks|thank you|thx|cheers)(?: in advance| so much)?[.!]*\s*$",
    re.IGNORECASE,
)


class _CxAnalyzer(SentimentIntensityAnalyzer):
    """VADER whose lexicon knows `CX_WORDS` and whose sum includes `CX_PHRASES`."""

    def __init__(self) -> None:
        super().__init__()
        self.lexicon.update(CX_WORDS)

    def polarity_scores(self, text: str) -> dict[str, float]:
        return super().polarity_scores(_SIGN_OFF.sub("?", _REQUEST.sub(r"\1 want", text)))

    def score_valence(self, sentiments: list[float], text: str) -> dict[str, Any]:
        lowered = text.lower()
        extra = [valence for pattern, valence in CX_PHRASES if pattern.search(lowered)]
        return super().score_valence(sentiments + extra, text)


@cache
def _vader_cx() -> _CxAnalyzer:
    return _CxAnalyzer()


def vader_score(text: str) -> float:
    """VADER's compound score in [-1, 1], its lexicon as shipped."""
    return _vader().polarity_scores(text)["compound"]


def vader_cx_score(text: str) -> float:
    """VADER's compound score with the customer-service vocabulary."""
    return _vader_cx().polarity_scores(text)["compound"]
