"""Sentiment of Chinese customer text: a lexicon scorer over jieba segmentation.

The scorer segments with jieba (its dictionary extended with the lexicon, so multi-character
expressions stay whole), then walks the tokens: a polar word's weight is scaled by the degree
words before it (很/非常/太), reversed by a negator before it (不/没/别/未), weighed up after a
"but" (但是/不过) and down before it or in a conceded clause (虽然…), and damped in a question
unless the question is rhetorical (这不是骗人吗？). Service expectations count when negated
(还没发货, 没人回复), and a few patterns that are not words add their weight (等了两个小时, 打了
五次). The sum is squashed into [-1, 1] as VADER does. Why this and not SnowNLP:
docs/sentiment.md.

The tokenizer loads lazily, once per process (about 1.5 s; jieba caches its dictionary in the
temp directory); after that segmentation is the only per-text cost.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

from touchstream.projections.sentiment_lexicon_zh import (
    ATTRIBUTES,
    CONTRAST,
    DEGREE,
    LEVELS,
    NEGATIVE,
    NEGATORS,
    PHRASES,
    POSITIVE,
    SHIELDS,
    UNMET,
    WEAK_NEGATORS,
)

_POLAR: dict[str, float] = {**POSITIVE, **{word: -weight for word, weight in NEGATIVE.items()}}
_KNOWN = frozenset(
    [*_POLAR, *UNMET, *NEGATORS, *WEAK_NEGATORS, *DEGREE, *CONTRAST, *ATTRIBUTES, *LEVELS]
)
_NEGATION = -0.75  # "不专业" is clearly negative, "不贵" only mildly positive: both ~3/4
_WEAK_NEGATION = -0.5  # "不太满意": a softened complaint
_BEFORE_BUT, _AFTER_BUT = 0.5, 1.5  # as VADER: "虽然…但是…" is judged by its second half
_QUESTION = 0.6  # "质量好吗？" asks more than it praises
_EXCLAMATION = 1.2
_WINDOW = 3  # tokens a negator or degree word reaches ("没有任何质量问题")
_ALPHA = 4.0  # squashing: one ordinary word ~0.45, one strong word ~0.7
_QUESTION_MARKS = frozenset("?？")
_EXCLAMATION_MARKS = frozenset("!！")
_CLAUSE_ENDS = frozenset("，,。.；;：:~～…\n") | _QUESTION_MARKS | _EXCLAMATION_MARKS
_CONCESSIVE = frozenset({"虽然", "虽", "尽管", "虽说"})
_RHETORICAL = frozenset({"不是", "难道"})  # 这不是欺骗吗？ 难道不是坑人？
_REQUEST_STARTS = frozenset({"帮", "帮忙", "您", "你", "请", "给", "问", "查", "看"})
_ASKING = frozenset({"吗", "请问", "能否", "是否", "可否"})  # question words, with or without "？"


@cache
def _tokenizer() -> Any:
    """A private jieba tokenizer whose dictionary knows every lexicon entry (loaded once)."""
    with warnings.catch_warnings():  # jieba 0.42 imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        import jieba

    jieba.setLogLevel(logging.WARNING)  # jieba logs its dictionary loading at DEBUG to stderr
    tokenizer = jieba.Tokenizer()  # a private one: the global jieba stays as others expect it
    tokenizer.initialize()
    for word in sorted({*_KNOWN, *SHIELDS}, key=len):
        if len(word) > 1:
            tokenizer.add_word(word, freq=_word_freq(tokenizer, word))
    return tokenizer


def _word_freq(tokenizer: Any, word: str) -> int:
    """A frequency high enough that jieba keeps `word` whole, yet no higher: a huge frequency
    would let it swallow characters that belong to a neighbouring word."""
    return max(tokenizer.suggest_freq(word, tune=False), 50)


def segment(text: str) -> list[str]:
    """jieba's accurate-mode segmentation with the lexicon's words kept whole, and jieba's own
    modifier-plus-word compounds (太差, 真好, 不差) split so the modifier is applied."""
    tokens = _tokenizer().lcut(text.lower(), HMM=False)  # lower: "BUG" and "bug" are one word
    return [part for token in tokens for part in _split_compound(token)]


def _split_compound(token: str) -> tuple[str, ...]:
    if len(token) < 2 or token in _KNOWN:
        return (token,)
    head, rest = token[0], token[1:]
    if (head in DEGREE or head in NEGATORS) and (rest in _POLAR or rest in UNMET):
        return head, rest
    return (token,)


@dataclass
class _Hit:
    """One polar word as read: its valence, its clause, and the valence it has if its negation
    turns out to be rhetorical (这不是骗人吗？ "isn't this a swindle?" affirms, not denies)."""

    valence: float
    clause: int
    rhetorical: float | None = None


@dataclass
class _Modifiers:
    """What the words since the last polar word say about the next one."""

    sign: float = 1.0
    degree: float = 1.0
    reach: int = 0  # tokens left before the modifiers lapse
    rhetorical: bool = False
    attribute: float = 0.0  # +1 after 效率 (high is good), -1 after 价格 (high is bad)

    def read(self, tokens: list[str], i: int) -> float | None:
        """Take in token `i`: a modifier updates this state; a polar word returns its bare
        valence (None otherwise)."""
        token = tokens[i]
        if token in NEGATORS or token in WEAK_NEGATORS:
            self.sign *= _WEAK_NEGATION if token in WEAK_NEGATORS else _NEGATION
            self.rhetorical = self.rhetorical or token in _RHETORICAL
            self.reach = _WINDOW
        elif _is_degree(tokens, i):
            if self.sign < 0 and self.degree == 1.0:
                self.sign = _WEAK_NEGATION  # 不很好: a negated degree softens, 很不好 strengthens
            else:
                self.degree *= DEGREE.get(token, 1.3)
            self.reach = _WINDOW
        elif token in ATTRIBUTES:
            self.attribute, self.reach = ATTRIBUTES[token], _WINDOW
        elif self.attribute and token in LEVELS:
            return self.attribute * LEVELS[token]
        elif token in _POLAR and not _is_polite(tokens, i):
            return _POLAR[token]
        elif self.sign < 0 and token in UNMET:
            return UNMET[token]
        elif self.reach:
            self.reach -= 1
            if not self.reach:  # the modifiers lapse before reaching a polar word
                self.sign, self.degree, self.rhetorical, self.attribute = 1.0, 1.0, False, 0.0
        return None

    def hit(self, valence: float, clause: int) -> _Hit:
        plain = valence * self.degree
        undone = plain if self.rhetorical and self.sign < 0 else None
        return _Hit(plain * self.sign, clause, undone)


@dataclass
class _Clause:
    """The clause being read: whether it asks, or concedes (虽然…)."""

    index: int = 0
    asking: bool = False
    conceding: bool = False

    def close(self, hits: list[_Hit], mark: str) -> None:
        """Questions are damped (they ask rather than judge) and their rhetorical negations
        undone; exclamations are strengthened; a conceded clause weighs as before a "but"."""
        question = self.asking or mark[:1] in _QUESTION_MARKS
        factor = _QUESTION if question else _EXCLAMATION if mark[:1] in _EXCLAMATION_MARKS else 1
        if self.conceding:
            factor *= _BEFORE_BUT
        for hit in hits:
            if hit.clause == self.index:
                if question and hit.rhetorical is not None:
                    hit.valence = hit.rhetorical
                hit.valence *= factor


def lexicon_total(tokens: list[str]) -> float:
    """The unsquashed sum of the polar words in `tokens`, modifiers applied."""
    hits: list[_Hit] = []
    clause, modifiers, contrast_at, last_hit_at = _Clause(), _Modifiers(), -1, -9
    for i, token in enumerate(tokens):
        # "一点诚意都没有": the negation follows the word it negates
        follows = hits and hits[-1].clause == clause.index and i - last_hit_at <= _WINDOW + 1
        if follows and _negates_backwards(tokens, i):
            hits[-1].valence *= _NEGATION
        if token[:1] in _CLAUSE_ENDS:
            clause.close(hits, token)
            clause, modifiers = _Clause(clause.index + 1), _Modifiers()
        elif token in _ASKING:
            clause.asking = True
        elif token in _CONCESSIVE:
            clause.conceding = True
        elif token in CONTRAST or (token == "就是" and i and tokens[i - 1][:1] in _CLAUSE_ENDS):
            contrast_at = len(hits)  # "，就是…" opens a clause as "only, …" does
        elif (valence := modifiers.read(tokens, i)) is not None:
            hits.append(modifiers.hit(valence, clause.index))
            modifiers, last_hit_at = _Modifiers(), i
    clause.close(hits, "")
    return _weigh_contrast([hit.valence for hit in hits], contrast_at)


def _negates_backwards(tokens: list[str], i: int) -> bool:
    """都没有 / 也没有 / 都没 after a word negate it: 一点诚意都没有 ("no sincerity at all")."""
    return tokens[i] in ("没有", "没", "不") and i > 0 and tokens[i - 1] in ("都", "也")


def phrase_total(text: str) -> float:
    """Complaint patterns that are not words: waited an hour, called five times."""
    return sum(valence for pattern, valence in PHRASES if pattern.search(text))


def _is_degree(tokens: list[str], i: int) -> bool:
    """Degree words, and 好 when it intensifies the next polar word (好慢, 好失望)."""
    token = tokens[i]
    if token in DEGREE:
        return True
    return token == "好" and i + 1 < len(tokens) and tokens[i + 1] in _POLAR


def _is_polite(tokens: list[str], i: int) -> bool:
    """麻烦 before a request (麻烦帮我查一下) is "would you please", not "a hassle"."""
    return tokens[i] == "麻烦" and i + 1 < len(tokens) and tokens[i + 1] in _REQUEST_STARTS


def _weigh_contrast(valences: list[float], contrast_at: int) -> float:
    if contrast_at < 0:
        return sum(valences)
    before, after = valences[:contrast_at], valences[contrast_at:]
    return sum(before) * _BEFORE_BUT + sum(after) * _AFTER_BUT


def squash(total: float) -> float:
    """Map an unbounded sum into (-1, 1), as VADER's normalisation does."""
    return total / math.sqrt(total * total + _ALPHA)


def lexicon_score(text: str) -> float:
    """Sentiment in [-1, 1] of Chinese `text` by the lexicon scorer."""
    return squash(lexicon_total(segment(text)) + phrase_total(text))
