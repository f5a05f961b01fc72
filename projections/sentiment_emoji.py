"""Emoji that customers use as verdicts, with one valence for both languages.

A complaint ending in 😡 or a thank-you ending in 👍 says what the words may not. VADER reads
emoji by their Unicode names ("pouting face", "thumbs up"), which its lexicon mostly does not
score (😡 and 👍 come out neutral, 💔 positive), and the Chinese lexicon had only a handful; the
two tables here are what both scorers use. Weights are on the Chinese lexicon's scale (about 1
for an ordinary word, 2 for a strong one); the English scorer doubles them onto VADER's scale.

🙃 (upside-down face) and 🙂 in a complaint are resignation or sarcasm rather than a smile, and
🙏 is "please" or "thanks" as often as praise: they are weak or zero here. Each key is one code
point, written without the emoji variation selector (U+FE0F) that may follow it in text.
"""

from __future__ import annotations

# fmt: off
POSITIVE_EMOJI: dict[str, float] = {
    "👍": 1.5, "👏": 1.5, "💯": 1.5, "❤": 1.5, "♥": 1.2, "💕": 1.5, "💖": 1.5, "😍": 1.8,
    "🥰": 1.5, "😊": 1.0, "😄": 1.0, "😀": 1.0, "😁": 1.0, "😃": 1.0, "☺": 1.0, "🤩": 1.8,
    "🥳": 1.2, "🎉": 1.0, "🌟": 1.0, "⭐": 0.8, "✨": 0.6, "💪": 1.0, "🙌": 1.2, "😘": 1.2,
    "👌": 1.2, "🤗": 1.0, "🏆": 1.0, "🔥": 0.8,
}
NEGATIVE_EMOJI: dict[str, float] = {
    "😡": 2.0, "😠": 2.0, "🤬": 2.5, "👎": 1.5, "😤": 1.5, "💢": 1.5, "🙄": 1.0, "😒": 1.2,
    "😑": 0.8, "😞": 1.2, "😔": 1.0, "😟": 1.0, "😩": 1.5, "😫": 1.5, "😖": 1.5, "😣": 1.2,
    "😭": 1.5, "😢": 1.2, "💔": 1.5, "🤮": 2.5, "🤢": 2.0, "🤦": 1.5, "😓": 1.0, "😰": 1.2,
    "😱": 1.2, "🤡": 1.5, "💩": 2.0, "😪": 0.8, "🙃": 0.6,
}
# fmt: on
#: Signed valence of every emoji in the two tables.
EMOJI_VALENCE: dict[str, float] = {
    **POSITIVE_EMOJI,
    **{emoji: -weight for emoji, weight in NEGATIVE_EMOJI.items()},
}
