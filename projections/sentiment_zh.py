"""Sentiment of Chinese customer text: a lexicon scorer over jieba segmentation.

The scorer segments with jieba (its dictionary extended with the lexicon, so multi-character
expressions stay whole), then walks the tokens: a polar word's weight is scaled by the degree
words before it (很/非常/太), reversed by a negator before it (不/没/别/未) or after it
(一点诚意都没有), weighed up after a "but" (但是/不过) and down before it or in a conceded clause
(虽然…), and damped in a question unless the question is rhetorical (这不是骗人吗？). Service
expectations count when negated (还没发货, 没人回复). Some negations complain on their own: an
emphatic denial (我根本没出国), "no way to" (没法组装), and "not even one" (一个电话都没有);
"从来没遇到过这么差的" does not reverse 差. A few patterns that are not words add their weight
(等了两个小时, 打了五次, 为什么还没…, 当天就到账), context-dependent slang (绝了) takes the sign
of the rest, and praise in quotation marks (真是太“快”了) is irony. The sum is squashed into
[-1, 1] as VADER does. Why this and not SnowNLP: docs/sentiment.md.

The tokenizer loads lazily, once per process (about 1.5 s; jieba caches its dictionary in the
temp directory); after that segmentation is the only per-text cost.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

from touchstream.projections.sentiment_emoji import EMOJI_VALENCE
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
    SLIPS,
    UNMET,
    WEAK_NEGATORS,
)

_POLAR: dict[str, float] = {
    **POSITIVE,
    **{word: -weight for word, weight in NEGATIVE.items()},
    **EMOJI_VALENCE,
}
_KNOWN = frozenset(
    [*_POLAR, *UNMET, *NEGATORS, *WEAK_NEGATORS, *DEGREE, *CONTRAST, *ATTRIBUTES, *LEVELS]
)
_NEGATION = -0.75  # "不专业" is clearly negative, "不贵" only mildly positive: both ~3/4
_WEAK_NEGATION = -0.5  # "不太满意": a softened complaint
_BEFORE_BUT, _AFTER_BUT = 0.5, 1.5  # as VADER: "虽然…但是…" is judged by its second half
_QUESTION = 0.6  # "质量好吗？" asks more than it praises
_INQUIRY = 0.3  # "请问积分什么时候过期？" only asks: its polar words are topics, not verdicts
_EXCLAMATION = 1.2
_WINDOW = 3  # tokens a negator or degree word reaches ("没有任何质量问题")
_ALPHA = 4.0  # squashing: one ordinary word ~0.45, one strong word ~0.7
_QUESTION_MARKS = frozenset("?？")
_EXCLAMATION_MARKS = frozenset("!！")
_CLAUSE_ENDS = frozenset("，,。.；;：:~～…\n") | _QUESTION_MARKS | _EXCLAMATION_MARKS
_CONCESSIVE = frozenset({"虽然", "虽", "尽管", "虽说", "本来", "原本", "本以为", "原以为"})
#: Clause openings that turn as "but" does: "很好，就是贵了点", "本来挺期待的，结果很一般".
_OPENING_CONTRAST = frozenset({"就是", "结果"})
_RHETORICAL = frozenset({"不是", "难道"})  # 这不是欺骗吗？ 难道不是坑人？
_REQUEST_STARTS = frozenset(
    {"帮", "帮忙", "您", "你", "请", "给", "问", "查", "看", "把", "再", "尽快", "核实", "确认"}
)
#: Question words, with or without "？" ("能不能帮我改一下地址" asks).
_ASKING = frozenset({"吗", "能否", "是否", "可否", "能不能", "可不可以", "有没有"})
#: Words of an inquiry: a question that only asks (damped more than other questions).
_INQUIRING = frozenset(
    {"请问", "咨询", "想问", "了解", "什么时候", "多久", "几天", "多少", "哪里", "哪儿", "如何"}
)
#: A clause that is a condition or a wish (订单还没发货的话能取消吗？, 希望你们能重视) states
#: no fact: its polar words are damped as an inquiry's are.
_HYPOTHETICAL = frozenset({"的话", "如果", "要是", "假如", "万一", "希望", "建议", "恳请"})
#: "到底什么时候能退款？" demands rather than asks: such a question is not damped as an inquiry.
_INSISTING = frozenset({"到底", "究竟"})
#: Before a negator, these make a denial that complains even with nothing polar after it
#: (我根本没出国 "I never even went abroad", 压根不知道, 完全不是我要的).
_EMPHATIC = frozenset({"根本", "压根", "压根儿", "完全"})
#: So do negators that say a thing cannot be done (没法组装 "there is no way to assemble it")
#: or was never done (账单上有我从来没看过的电影: a charge disputed).
_DENIALS = frozenset({"没法", "没办法", "从来没", "从没", "从未", "从来没有"})
_DENIAL = -1.0
#: "从来没遇到过这么差的服务" ("never met service this bad") does not deny the badness.
_EXPERIENTIAL = frozenset({"从来没", "从没", "从来没有", "从未", "从来不"})
_SUCH = frozenset({"这么", "那么", "如此", "这样"})
#: "Not even one": 一个电话都没有, 连个说法都没有 (the noun need not be polar).
_NOT_EVEN = frozenset(
    {"连", "一个", "一点", "一句", "一条", "一封", "一次", "任何", "一分", "一通"}
)
_NOT_EVEN_VALENCE = -1.5
#: Words whose sign follows the rest of the text: "服务绝了" praises, "这物流绝了，一周没动"
#: complains; alone they praise.
_CONTEXTUAL = frozenset({"绝了", "厉害了"})
_MYSELF = frozenset({"我", "自己", "本人"})  # a clause about the customer's own slip
_PARTICLES = frozenset({"了", "啊", "呀", "呢", "哦", "的", "吧", "啦"})
#: A praise word in quotation marks is irony (真是太“快”了, 你们的App真是“稳定”): it counts
#: against, at the weight of an ordinary complaint plus.
_QUOTED = re.compile(r"[“\"「‘']([^”\"」’'，。！？,.!?]{1,4})[”\"」’']")
_IRONY = -1.5


@cache
def _tokenizer() -> Any:
    """A private jieba tokenizer whose dictionary knows every lexicon entry (loaded once)."""
    with warnings.catch_warnings():  # jieba 0.42 imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        import jieba

    jieba.setLogLevel(logging.WARNING)  # jieba logs its dictionary loading at DEBUG to stderr
    tokenizer = jieba.Tokenizer()  # a private one: the global jieba stays as others expect it
    tokenizer.initialize()
    for word in sorted({*_KNOWN, *SHIELDS, *_ASKING, *_INQUIRING}, key=len):
        if len(word) > 1:
            tokenizer.add_word(word, freq=_word_freq(tokenizer, word))
    return tokenizer


def _word_freq(tokenizer: Any, word: str) -> int:
    """A frequency high enough that jieba keeps `word` whole, yet no higher: a huge frequency
    would let it swallow characters that belong to a neighbouring word."""
    return max(tokenizer.suggest_freq(word, tune=False), 50)


def segment(text: str) -> list[str]:
    """jieba's accurate-mode segmentation with the lexicon's words kept whole, and jieba's own
    modifier-plus-word compounds (太差, 真好, 不差, 没用过) split so the modifier is applied."""
    text = text.lower().replace("\ufe0f", "")  # "BUG" is "bug"; "❤️" is "❤"
    tokens = _tokenizer().lcut(text, HMM=False)
    return [part for token in tokens for part in _split_compound(token)]


def _split_compound(token: str) -> tuple[str, ...]:
    if len(token) < 2 or token in _KNOWN:
        return (token,)
    head, rest = token[0], token[1:]
    if (head in DEGREE or head in NEGATORS) and (rest in _POLAR or rest in UNMET):
        return head, rest
    if token[:2] in DEGREE and token[2:] in _POLAR:
        return token[:2], token[2:]  # 强烈推荐, 非常满意
    if head == "没" and len(token) > 2 and token.endswith("过"):
        return head, rest  # 没用过, 没见过: "never (did)", read as a negation
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
    denial: bool = False  # an emphatic negation (根本没, 没法), a complaint even if nothing follows
    experiential: bool = False  # 从来没: "never (met such)", which 这么/如此 then does not reverse

    def read(self, tokens: list[str], i: int) -> float | None:
        """Take in token `i`: a modifier updates this state; a polar word returns its bare
        valence (None otherwise)."""
        token = tokens[i]
        if token in NEGATORS or token in WEAK_NEGATORS:
            self.sign *= _WEAK_NEGATION if token in WEAK_NEGATORS else _NEGATION
            self.rhetorical = self.rhetorical or token in _RHETORICAL
            self.denial = self.denial or token in _DENIALS or (i > 0 and tokens[i - 1] in _EMPHATIC)
            self.experiential = token in _EXPERIENTIAL
            self.reach = _WINDOW
        elif _is_degree(tokens, i):
            if self.experiential and token in _SUCH:
                self.sign = 1.0  # 从来没遇到过这么差的服务: never met service this bad
            elif self.sign < 0 and self.degree == 1.0:
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
                lapsed = self.unresolved()
                self.sign, self.degree, self.rhetorical, self.attribute = 1.0, 1.0, False, 0.0
                self.denial = self.experiential = False
                return lapsed
        return None

    def unresolved(self) -> float | None:
        """The complaint of an emphatic denial that negated nothing polar (根本没出国)."""
        return _DENIAL if self.denial and self.sign < 0 else None

    def hit(self, valence: float, clause: int) -> _Hit:
        plain = valence * self.degree
        undone = plain if self.rhetorical and self.sign < 0 else None
        return _Hit(plain * self.sign, clause, undone)


@dataclass
class _Clause:
    """The clause being read: whether it asks, or concedes (虽然…)."""

    index: int = 0
    asking: bool = False
    inquiring: bool = False
    conceding: bool = False
    hypothetical: bool = False
    insisting: bool = False

    def close(self, hits: list[_Hit], mark: str) -> None:
        """Questions are damped (they ask rather than judge), inquiries (请问, 什么时候) more,
        and their rhetorical negations undone; exclamations are strengthened; a conceded clause
        weighs as before a "but"."""
        question = self.asking or mark[:1] in _QUESTION_MARKS
        factor = _QUESTION if question else _EXCLAMATION if mark[:1] in _EXCLAMATION_MARKS else 1
        if (question and self.inquiring and not self.insisting) or self.hypothetical:
            factor = _INQUIRY
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
    clause, modifiers, contrast_at, last_hit_at, clause_at = _Clause(), _Modifiers(), -1, -9, 0
    for i, token in enumerate(tokens):
        if _negates_backwards(tokens, i):
            # "一点诚意都没有": the negation follows the word it negates; with no polar word
            # before it, "一个电话都没有" / "连个说法都没有" is "not even one"
            follows = hits and hits[-1].clause == clause.index and i - last_hit_at <= _WINDOW + 1
            if follows:
                hits[-1].valence *= _NEGATION
            elif _NOT_EVEN.intersection(tokens[clause_at:i]) and _ends_clause(tokens, i + 1):
                hits.append(_Hit(_NOT_EVEN_VALENCE, clause.index))
                modifiers, last_hit_at = _Modifiers(), i
                continue
        clause.insisting = clause.insisting or token in _INSISTING  # still read as a word
        if token[:1] in _CLAUSE_ENDS:
            if (denial := modifiers.unresolved()) is not None:
                hits.append(_Hit(denial, clause.index))
            clause.close(hits, token)
            clause, modifiers, clause_at = _Clause(clause.index + 1), _Modifiers(), i + 1
        elif token in _ASKING or token in _INQUIRING:
            clause.asking = True
            clause.inquiring = clause.inquiring or token in _INQUIRING
        elif token in _CONCESSIVE:
            clause.conceding = True
        elif token in _HYPOTHETICAL:
            clause.hypothetical = True
        elif token in CONTRAST or _opens_contrast(tokens, i):
            contrast_at = len(hits)  # "，就是…" opens a clause as "only, …" does, "，结果…" too
        elif token in _CONTEXTUAL:
            continue  # weighed by `lexicon_score`, once the sign of the rest is known
        elif (valence := modifiers.read(tokens, i)) is not None:
            if token not in SLIPS or tokens[clause_at] not in _MYSELF:
                hits.append(modifiers.hit(valence, clause.index))
            modifiers, last_hit_at = _Modifiers(), i
    if (denial := modifiers.unresolved()) is not None:
        hits.append(_Hit(denial, clause.index))
    clause.close(hits, "")
    return _weigh_contrast([hit.valence for hit in hits], contrast_at)


def _negates_backwards(tokens: list[str], i: int) -> bool:
    """都没有 / 也没有 / 都没 / 都不 after a word negate it: 一点诚意都没有 ("no sincerity at
    all")."""
    return tokens[i] in ("没有", "没", "不") and i > 0 and tokens[i - 1] in ("都", "也")


def _opens_contrast(tokens: list[str], i: int) -> bool:
    return tokens[i] in _OPENING_CONTRAST and i > 0 and tokens[i - 1][:1] in _CLAUSE_ENDS


def _ends_clause(tokens: list[str], i: int) -> bool:
    """Whether the clause ends at token `i` (punctuation, the end, or a final particle)."""
    return i >= len(tokens) or tokens[i][:1] in _CLAUSE_ENDS or tokens[i] in _PARTICLES


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
    """麻烦 before a verb (麻烦帮我查一下, 麻烦查收) is "would you please", not "a hassle"; it
    complains when modified (太麻烦了) or when nothing follows it in its clause (真的很麻烦)."""
    if tokens[i] != "麻烦" or i + 1 >= len(tokens):
        return False
    after = tokens[i + 1]
    if after in _REQUEST_STARTS:
        return True
    modified = i > 0 and (tokens[i - 1] in DEGREE or tokens[i - 1] == "好")
    return not modified and after[:1] not in _CLAUSE_ENDS and after not in _PARTICLES


def _weigh_contrast(valences: list[float], contrast_at: int) -> float:
    if contrast_at < 0:
        return sum(valences)
    before, after = valences[:contrast_at], valences[contrast_at:]
    return sum(before) * _BEFORE_BUT + sum(after) * _AFTER_BUT


def squash(total: float) -> float:
    """Map an unbounded sum into (-1, 1), as VADER's normalisation does."""
    return total / math.sqrt(total * total + _ALPHA)


def _ironic_quotes(text: str) -> tuple[str, float]:
    """`text` without the praise words in quotation marks, and the irony they add."""
    irony = 0.0

    def quoted(match: re.Match[str]) -> str:
        nonlocal irony
        if any(_POLAR.get(token, 0.0) > 0 for token in segment(match.group(1))):
            irony += _IRONY
            return ""
        return match.group(0)

    return _QUOTED.sub(quoted, text), irony


def lexicon_score(text: str) -> float:
    """Sentiment in [-1, 1] of Chinese `text` by the lexicon scorer."""
    irony = 0.0
    if any(mark in text for mark in "“\"「‘'"):
        text, irony = _ironic_quotes(text)
    tokens = segment(text)
    total = lexicon_total(tokens) + phrase_total(text) + irony
    contextual = sum(_POLAR[token] for token in tokens if token in _CONTEXTUAL)
    return squash(total + math.copysign(contextual, total or 1.0))
