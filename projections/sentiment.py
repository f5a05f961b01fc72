"""Sentiment of customer free text (complaints, inquiries, chats, posts, survey comments): a
score in [-1, 1], a negative/neutral/positive label, and the method that produced them.

The language decides the method: English goes to VADER with a customer-service vocabulary,
Chinese to a lexicon scorer over jieba segmentation; both were chosen by measurement on
tests/data/feedback_eval.jsonl (docs/sentiment.md, tests/eval_sentiment.py). Text of another
language is read by VADER alone, which still understands emoji and emoticons and finds nothing
in scripts it does not know, so a Japanese sentence comes out neutral rather than guessed at.

Everything here is offline and deterministic. Models load lazily, once per process; call
`warm_up()` at start-up so the first event does not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from touchstream.projections.language import Language, detect_language
from touchstream.projections.sentiment_en import vader_cx_score, vader_score
from touchstream.projections.sentiment_zh import lexicon_score

Label = Literal["negative", "neutral", "positive"]


@dataclass(frozen=True)
class Scorer:
    """One way of scoring text: a function into [-1, 1] and the half-width of its neutral band."""

    name: str
    score: Callable[[str], float]
    neutral_band: float

    def label(self, score: float) -> Label:
        if score >= self.neutral_band:
            return "positive"
        if score <= -self.neutral_band:
            return "negative"
        return "neutral"


#: The candidates shipped here, per language; the first of each is the one in use. (SnowNLP,
#: the other Chinese candidate measured, lives in tests/eval_sentiment.py: it is not used.)
CANDIDATES: dict[str, tuple[Scorer, ...]] = {
    "en": (
        Scorer("vader-cx", vader_cx_score, 0.05),
        Scorer("vader", vader_score, 0.05),  # VADER's own recommended thresholds
    ),
    "zh": (Scorer("zh-lexicon", lexicon_score, 0.2),),
}
_CHOSEN: dict[str, Scorer] = {lang: scorers[0] for lang, scorers in CANDIDATES.items()}
_CHOSEN["other"] = _CHOSEN["en"]


@dataclass(frozen=True)
class Sentiment:
    """The sentiment of one text. `score` is in [-1, 1]; `method` names the scorer."""

    language: Language
    score: float
    label: Label
    method: str


NO_TEXT = Sentiment(language="other", score=0.0, label="neutral", method="none")


def analyze_sentiment(text: str, language: Language | None = None) -> Sentiment:
    """Sentiment of `text`; `language` is detected when not given. Blank text is neutral."""
    if not text or text.isspace():
        return NO_TEXT
    language = language or detect_language(text)
    scorer = _CHOSEN[language]
    score = round(max(-1.0, min(1.0, scorer.score(text))), 4)
    return Sentiment(language=language, score=score, label=scorer.label(score), method=scorer.name)


def analyze_batch(texts: Iterable[str]) -> list[Sentiment]:
    """`analyze_sentiment` for each text, languages detected, in order."""
    return [analyze_sentiment(text) for text in texts]


def warm_up() -> None:
    """Load the models the chosen scorers need, so the first real event does not wait."""
    for scorer in {id(s): s for s in _CHOSEN.values()}.values():
        scorer.score("好")
