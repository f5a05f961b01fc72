"""Language detection: right on the labelled feedback, and on the edge cases free text brings
(mixed scripts, links, digits, emoji, other languages, nothing at all)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from touchstream.projections.language import detect_language

EVAL_SET = Path(__file__).resolve().parents[2] / "data" / "feedback_eval.jsonl"


def test_detects_the_language_of_the_labelled_feedback():
    items = [json.loads(line) for line in EVAL_SET.read_text(encoding="utf-8").splitlines()]
    wrong = [item["text"] for item in items if detect_language(item["text"]) != item["language"]]
    assert 1 - len(wrong) / len(items) >= 0.98, wrong


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("", "other"),
        ("   \n\t ", "other"),
        ("12345 678", "other"),
        ("👍👍👍", "other"),
        ("!!!???。。。", "other"),
        ("好", "zh"),
        ("OK", "en"),
        ("服務態度很差，等了半小時", "zh"),  # traditional characters are Chinese too
        ("App更新之后一直闪退", "zh"),  # an English product word inside Chinese
        ("iPhone 15的屏幕换了之后触控失灵", "zh"),
        ("我的order还没到", "zh"),
        ("The 小米 charger stopped working after a week", "en"),  # a Chinese brand in English
        ("看看这个 https://shop.example.com/products/12345?ref=campaign_summer", "zh"),
        ("请联系 john.smith@example.com 处理退款", "zh"),
        ("Ｔｈｅ ａｐｐ ｉｓ ｄｏｗｎ", "en"),  # full-width Latin letters
        ("Delivery was late 😡😡 #fail", "en"),
        ("注文した商品がまだ届きません", "other"),  # Japanese: kanji, but kana decide
        ("배송이 너무 늦어요", "other"),
        ("Доставка опоздала на неделю", "other"),
    ],
)
def test_edge_cases(text, language):
    assert detect_language(text) == language


def test_any_text_gets_one_of_the_three_answers():
    rng = random.Random(20240601)
    alphabet = "aZ 好的。！？😀ñ 가あ д1\n\u200b\ufeff\U00020000"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert detect_language(text) in ("zh", "en", "other")
