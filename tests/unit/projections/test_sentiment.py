"""Sentiment of customer free text: accurate on the labelled bilingual feedback set, and
well-behaved on the cases a stream of real text brings (negation, degree, "but", questions,
blank text, other languages)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from touchstream.projections.sentiment import (
    NO_TEXT,
    Sentiment,
    analyze_batch,
    analyze_sentiment,
)

EVAL_SET = Path(__file__).resolve().parents[2] / "data" / "feedback_eval.jsonl"
TARGET = 0.85  # accuracy on clear items, per language (issue 3)


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return [json.loads(line) for line in EVAL_SET.read_text(encoding="utf-8").splitlines()]


def test_the_evaluation_set_is_large_bilingual_and_well_formed(items):
    assert len(items) >= 240
    for item in items:
        assert item["language"] in ("zh", "en")
        assert item["label"] in ("negative", "neutral", "positive")
        assert isinstance(item["clear"], bool)
    by_language = {lang: sum(i["language"] == lang for i in items) for lang in ("zh", "en")}
    assert min(by_language.values()) >= 0.45 * len(items)
    assert len({item["text"] for item in items}) == len(items)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_accuracy_on_clear_items_meets_the_target(items, language):
    clear = [i for i in items if i["language"] == language and i["clear"]]
    wrong = [i["text"] for i in clear if analyze_sentiment(i["text"]).label != i["label"]]
    assert 1 - len(wrong) / len(clear) >= TARGET, wrong


def test_scores_stay_within_bounds_and_agree_with_labels(items):
    texts = [i["text"] for i in items] + ["垃圾" * 200, "great!!!! " * 50, "😡" * 30, "不" * 50]
    for result in analyze_batch(texts):
        assert -1.0 <= result.score <= 1.0
        if result.label == "positive":
            assert result.score > 0
        elif result.label == "negative":
            assert result.score < 0


@pytest.mark.parametrize(
    ("positive", "negated"),
    [
        ("good", "not good"),
        ("The staff were helpful", "The staff were not helpful"),
        ("I am happy with the service", "I am not happy with the service"),
        ("I would recommend this shop", "I would not recommend this shop"),
        ("满意", "不满意"),
        ("服务很专业", "服务不专业"),
        ("质量好", "质量不好"),
        ("客服很耐心", "客服没有耐心"),
        ("推荐购买", "不推荐购买"),
        ("发货很及时", "发货不及时"),
        ("这次体验很愉快", "这次体验不愉快"),
    ],
)
def test_negation_flips_polarity(positive, negated):
    assert analyze_sentiment(positive).label == "positive"
    assert analyze_sentiment(negated).label == "negative"


@pytest.mark.parametrize(
    ("negative", "negated"),
    [("价格贵", "价格不贵"), ("The app is slow", "The app is not slow")],
)
def test_a_negated_complaint_is_no_complaint(negative, negated):
    assert analyze_sentiment(negative).label == "negative"
    assert analyze_sentiment(negated).score > 0


@pytest.mark.parametrize(
    ("stronger", "plain"),
    [("非常满意", "满意"), ("太差了", "差"), ("very good", "good"), ("really bad", "bad")],
)
def test_degree_words_strengthen(stronger, plain):
    assert abs(analyze_sentiment(stronger).score) > abs(analyze_sentiment(plain).score)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("虽然价格有点贵，但是质量很好", "positive"),  # the half after "but" decides
        ("质量很好，但是太贵了", "negative"),
        ("The food was great but the service was terrible", "negative"),
        ("这不是欺骗消费者吗？", "negative"),  # a rhetorical question affirms
        ("麻烦帮我查一下订单", "neutral"),  # 麻烦 before a request is "please"
        ("请问退款一般几天到账？", "neutral"),
        ("还没发货", "negative"),  # an expectation not met
        ("一直没人回复", "negative"),
        ("Could you tell me where my parcel is? Thanks", "neutral"),
        ("I'd like to change my delivery address.", "neutral"),
        ("Still waiting for a reply after two weeks", "negative"),
        ("I was charged twice for one order", "negative"),
    ],
)
def test_customer_service_patterns(text, label):
    assert analyze_sentiment(text).label == label


@pytest.mark.parametrize("text", ["", " ", "\n\t  \u3000"])
def test_blank_text_is_neutral_and_of_no_language(text):
    assert analyze_sentiment(text) == NO_TEXT
    assert NO_TEXT.language == "other" and NO_TEXT.label == "neutral" and NO_TEXT.score == 0


def test_text_of_another_language_is_neutral_not_guessed():
    result = analyze_sentiment("注文した商品がまだ届きません")
    assert (result.language, result.label, result.score) == ("other", "neutral", 0.0)


def test_the_method_follows_the_language():
    assert analyze_sentiment("服务很好").method == "zh-lexicon"
    assert analyze_sentiment("Great service").method == "vader-cx"
    assert analyze_sentiment("服务很好", language="zh").language == "zh"


def test_results_are_deterministic_and_batch_equals_single(items):
    texts = [i["text"] for i in items[::7]]
    assert analyze_batch(texts) == [analyze_sentiment(t) for t in texts]
    assert analyze_batch(texts) == analyze_batch(texts)


def test_a_sentiment_is_immutable():
    result = analyze_sentiment("很好")
    assert isinstance(result, Sentiment)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    [
        "维修点的工作人员一点解决问题的诚意都没有。",  # the negation follows its word
        "客服的态度也没有以前好了",
        "我是你们多年的老客户了，这次的体验让我开始考虑换别家。",  # intent to leave
        "以后再也不买你们家的东西了",
    ],
)
def test_chinese_backward_negation_and_intent_to_leave_read_negative(text):
    assert analyze_sentiment(text).label == "negative"


def test_backward_negation_of_a_problem_reads_positive():
    assert analyze_sentiment("一点问题都没有，很满意").label == "positive"
