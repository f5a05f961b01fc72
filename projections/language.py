"""Which language a piece of customer free text is written in: Chinese, English, or other.

Runs on every free-text event in the hot path, so it is a script count, not a model: customers
of this product write Chinese or English, and the two are told apart by their scripts. A
model-based identifier (fastText, langid) would cost a model load and microseconds per text to
answer a question the character classes already answer; see docs/sentiment.md.

The rule, in "word equivalents": one Han ideograph carries about as much as three Latin letters,
so Chinese with an English brand name in it ("App更新后闪退") stays Chinese and English with a
Chinese word in it stays English. Kana and Hangul (Japanese, Korean) and other letters count for
"other"; digits, punctuation, emoji, URLs and e-mail addresses count for nothing, and a text
with no letters at all is "other".
"""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["zh", "en", "other"]

# Han ideographs: unified, extension A, compatibility, and extensions B-F (supplementary plane).
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
# ASCII and full-width Latin letters, plus Latin-1/Extended-A letters with diacritics.
_LATIN = re.compile(r"[A-Za-z\uff21-\uff3a\uff41-\uff5a\u00c0-\u00ff\u0100-\u017f]")
# Kana and Hangul are syllables: weighed like ideographs so Japanese with kanji is not "zh".
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u1100-\u11ff\uac00-\ud7af\u3130-\u318f]")
# Other alphabets (Cyrillic, Greek, Arabic, Hebrew, Thai, Devanagari...), letter for letter.
_OTHER_LETTERS = re.compile(r"[\u0370-\u03ff\u0400-\u052f\u0590-\u06ff\u0900-\u0e7f]")
# Links and addresses are Latin noise inside Chinese posts, not English.
_NOISE = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+\.\w+", re.IGNORECASE)

_SYLLABLE_WEIGHT = 3  # one ideograph, kana or hangul syllable ~ three Latin letters


def detect_language(text: str) -> Language:
    """ "zh", "en" or "other" for `text`, by the weight of each script in it; ties go to "zh"
    (a Chinese customer quoting an English product name is the commoner case)."""
    if not text or text.isspace():
        return "other"
    if "://" in text or "@" in text or "www." in text:
        text = _NOISE.sub(" ", text)
    zh = len(_HAN.findall(text)) * _SYLLABLE_WEIGHT
    en = len(_LATIN.findall(text))
    other = len(_KANA_HANGUL.findall(text)) * _SYLLABLE_WEIGHT + len(_OTHER_LETTERS.findall(text))
    if zh == en == other == 0:
        return "other"
    if zh >= en and zh >= other:
        return "zh"
    return "en" if en > other else "other"
