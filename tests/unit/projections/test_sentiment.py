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
BLIND2 = EVAL_SET.with_name("feedback_blind2.jsonl")
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


@pytest.mark.parametrize("language", ["zh", "en"])
def test_text_never_tuned_on_still_meets_the_target(language):
    """The second blind set: measured once blind (en 0.871, zh 0.941), now a regression guard."""
    blind = [json.loads(line) for line in BLIND2.read_text(encoding="utf-8").splitlines()]
    clear = [i for i in blind if i["language"] == language and i["clear"]]
    right = sum(analyze_sentiment(i["text"]).label == i["label"] for i in clear)
    assert len(clear) >= 50
    assert right / len(clear) >= TARGET


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


# Round 5 (docs/sentiment.md): general rules, each checked on sentences written for these tests
# (none of them is in the evaluation set).


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # negation scope
        ("这家店的东西一点也不好用", "negative"),
        ("没有想象中那么好", "negative"),
        ("从来没遇到过这么差的服务", "negative"),  # "never met such bad service" keeps 差
        ("从来没见过如此敷衍的客服", "negative"),
        ("这次没出什么问题，挺顺利的", "positive"),
        ("快递员不但没送上门，还态度很差", "negative"),
        ("The food was not bad at all, actually really tasty.", "positive"),
        ("Never seen such poor service in my life.", "negative"),
        ("Been with them six years and never had a single issue.", "positive"),
        ("Absolutely no complaints, the fitters were tidy and quick.", "positive"),
        ("Not once did anyone apologise.", "negative"),
        # contrast: the clause after "but" weighs more
        ("价格是便宜，但是质量太差了", "negative"),
        ("虽然等了几天，不过东西很满意", "positive"),
        ("本来挺期待的，结果很一般。", "negative"),
        ("The room was nice, however the noise from the bar kept us up all night.", "negative"),
        ("Although the wait was long, the doctor was brilliant.", "positive"),
    ],
)
def test_negation_scope_and_contrast(text, label):
    assert analyze_sentiment(text).label == label


@pytest.mark.parametrize(
    "text",
    [
        "为什么我的快递还在原地不动？",
        "怎么又扣了我的月租？",
        "到底什么时候能退款？",
        "你们到底有没有人管？",
        "还要等多久？",
        "Why is my parcel still stuck in the depot?",
        "How many times do I have to ask for a refund?",
        "Why has nobody called me back?",
        "How is this acceptable?",
        "Is anyone actually reading my emails?",
    ],
)
def test_complaints_worded_as_questions_read_negative(text):
    assert analyze_sentiment(text).label == "negative"


@pytest.mark.parametrize(
    "text",
    [
        "请问这款手机支持5G吗？",
        "退款申请提交了，大概什么时候能到账？",
        "请问积分什么时候过期？",
        "这款是不是缺货了？什么时候补货？",
        "麻烦把订单取消一下，谢谢。",
        "能把自动扣款日期改到15号吗？",
        "我把地址填错了，能帮我改一下吗？",  # the customer's own slip
        "我买错颜色了，可以换吗？",
        "Can I return an item if I've lost the receipt?",
        "What's the best way to contact you outside office hours?",
        "I entered the wrong postcode at checkout, can I still change it?",
        "I ordered the wrong size, how do I swap it?",
        "How do I cancel my subscription?",
        "How many times can I change my delivery date?",
        "Please cancel the engineer visit on Friday, the fault has gone.",
        "My order number is 48213, could you tell me when it will be dispatched?",
    ],
)
def test_inquiries_and_own_mistakes_stay_neutral(text):
    assert analyze_sentiment(text).label == "neutral"


@pytest.mark.parametrize(
    "text",
    [
        "再这样下去我就换别家了",
        "已经决定携号转网了，太失望",
        "果断卸载，再也不用了",
        "I'm switching to another bank, this is ridiculous.",
        "I'm cancelling my contract as soon as I can.",
        "Cancel my account. Never again.",
    ],
)
def test_intent_to_leave_reads_negative(text):
    assert analyze_sentiment(text).label == "negative"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("等了一个多小时都没人理我", "negative"),
        ("几个部门推来推去，谁都不负责", "negative"),
        ("客服说帮我反馈，然后就没有然后了。", "negative"),
        ("物流信息五天没更新了，问客服也只会让我耐心等待。", "negative"),
        ("充了200块话费，显示充值成功但余额没变。", "negative"),
        ("订的是蓝色的水壶，收到的是红色的。", "negative"),
        ("账单上有一笔我从来没看过的电影的费用。", "negative"),  # a disputed charge
        ("我这个月根本没用过国际漫游。", "negative"),  # an emphatic denial
        ("店员一个问题都答不上来。", "negative"),
        ("一个电话都没有，连个说法都没有。", "negative"),  # "not even one"
        ("买的净水器装好第二天就不出水了。", "negative"),  # broke at once
        ("问题当场就解决了，师傅很专业", "positive"),
        ("下午报修，第二天就有人上门修好了", "positive"),  # done the next day
        ("电话一打就通，几分钟就办好了", "positive"),
        ("快递包装很严实，一点磕碰都没有。", "positive"),
        ("师傅装完还把垃圾都带走了，很贴心", "positive"),  # 垃圾 is the rubbish here
        ("On hold for 50 minutes and then cut off.", "negative"),
        ("They passed me from one department to another.", "negative"),
        ("No one got back to me after my complaint.", "negative"),
        ("My bill shows a charge for a film I never rented.", "negative"),
        ("Ordered a blue kettle, received a red one.", "negative"),
        ("My order was marked as delivered but it's nowhere on my doorstep.", "negative"),
        ("I've sent three emails and received nothing but automated replies.", "negative"),
        ("Four weeks for a refund is far too long.", "negative"),
        ("The salesman told me one thing and the contract says another.", "negative"),
        ("The tech had it sorted in ten minutes, great job.", "positive"),
        ("The plumber turned up on time and fixed the leak in twenty minutes.", "positive"),
        ("She went out of her way to get my order changed before it shipped.", "positive"),
        ("The engineer explained what had gone wrong and fixed it.", "positive"),
    ],
)
def test_customer_service_facts(text, label):
    assert analyze_sentiment(text).label == label


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("差评！😡", "negative"),
        ("太好用了吧👍👍", "positive"),
        ("🙃 又延误了", "negative"),
        ("❤️ 非常喜欢", "positive"),
        ("Delivery was late again 😡", "negative"),
        ("Love it ❤️", "positive"),
        ("Great product 👍", "positive"),
        ("Well, that's my weekend gone 💔", "negative"),  # VADER alone reads 💔 as positive
    ],
)
def test_emoji_read_as_verdicts(text, label):
    assert analyze_sentiment(text).label == label


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("这家店真的绝了，下次还来", "positive"),
        ("物流绝了，五天还在省内转", "negative"),  # 绝了 takes the sign of the rest
        ("无语，又踩雷了", "negative"),
        ("避雷！千万别买", "negative"),
        ("yyds，已经回购三次了", "positive"),
        ("给力！当天就到了", "positive"),
        ("这波被坑惨了", "negative"),
        ("已拉黑，什么垃圾店", "negative"),
        ("已经第二次买了，一如既往的好。", "positive"),  # buying again is no repeated fault
    ],
)
def test_internet_slang(text, label):
    assert analyze_sentiment(text).label == label


@pytest.mark.parametrize(
    "text",
    [
        "真是太“快”了，下单半个月才发货",
        "你们的App真是“稳定”，天天闪退",
        "The 'free' gift cost me £4.99 in postage.",
        "Your 'excellent' support team hung up on me.",
    ],
)
def test_praise_in_scare_quotes_is_irony(text):
    assert analyze_sentiment(text).label == "negative"


def test_a_quoted_name_is_not_irony():
    assert analyze_sentiment("I'm on the 'Unlimited Plus' plan, can I add a line?").label == (
        "neutral"
    )


def test_the_english_phrase_prefilter_hides_no_match(items, monkeypatch):
    """Phrases are tried only when their leading words occur (for speed); trying every phrase
    on every text must find the same units."""
    from touchstream.projections import sentiment_en

    analyzer = sentiment_en._vader_cx()
    texts = [i["text"] for i in items] + ["I've been waiting 40 minutes. Again.", "n't"]
    filtered = [analyzer._mark_units(text) for text in texts]
    every = set(range(len(sentiment_en._PHRASE_UNITS)))
    monkeypatch.setattr(sentiment_en, "_candidates", lambda lowered: every)
    assert [analyzer._mark_units(text) for text in texts] == filtered


# Round 6 (docs/sentiment.md): a clause-aware rule layer in place of VADER's word rules, and
# general phrase families; every sentence below was written for these tests (none is in the
# evaluation set or the blind set).


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # a negated opinion verb reaches to the end of its clause, past VADER's three words
        ("I wouldn't say the installers were very careful with our floors.", "negative"),
        ("I don't think your courier is reliable at all.", "negative"),
        ("I wouldn't describe the checkout process as intuitive.", "negative"),
        ("I don't think I've ever had a smoother checkout.", "positive"),  # emphasis
        ("Can't believe how easy the switch was.", "positive"),
        # negation stops at the end of its clause (VADER's window runs across full stops)
        ("Not a fan of the new layout. The old one was great.", "positive"),
        ("No, the manager was lovely about it.", "positive"),
        # "less" and "less than" negate the praise they precede
        ("The new app is far less reliable than the old one.", "negative"),
        ("Customer service was less than helpful on the phone.", "negative"),
        # a wish that a bad thing had not happened does not negate it
        ("I shouldn't have to chase you for my own money.", "negative"),
    ],
)
def test_english_negation_scope(text, label):
    assert analyze_sentiment(text).label == label


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Brilliant, the train ticket refund got rejected again.", "negative"),
        ("Oh lovely, another surprise fee on my statement.", "negative"),
        ("Waited in for the engineer all day and he never came. Great.", "negative"),
        ("Fantastic. Charged for a service I cancelled in March.", "negative"),
        ("The app crashes every hour 👏", "negative"),  # praise emoji after a complaint
        # the same words are praise when the rest is
        ("Great, thanks for sorting it so fast!", "positive"),
        ("Wow, that was the quickest refund I've ever had.", "positive"),
        ("Perfect, that's exactly what I needed.", "positive"),
        ("Cheers for the quick turnaround on the repair!", "positive"),
    ],
)
def test_sarcastic_interjections_take_the_sign_of_the_rest(text, label):
    assert analyze_sentiment(text).label == label


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # complaints worded as questions, and genuine questions
        ("Does anyone there actually check the stock levels?", "negative"),
        ("Where is the rest of my money?", "negative"),
        ("Why do I have to re-enter my card every single time?", "negative"),
        ("Do you offer student discounts?", "neutral"),
        ("What happens if my parcel gets lost in transit?", "neutral"),
        ("Will I be charged if I cancel within the trial?", "neutral"),
        ("Is the damaged box covered by your returns policy?", "neutral"),
        ("Quick question, do the trainers come in half sizes?", "neutral"),
        ("Am I able to pause my subscription over the summer?", "neutral"),
        # effort, repetition, waiting
        ("This is my fourth email about the same invoice.", "negative"),
        ("Tried to pay three times and the page kept erroring.", "negative"),
        ("Still waiting on that callback from Tuesday.", "negative"),
        ("The tracker has said 'in transit' for nine days now.", "negative"),
        ("The food was lovely but we waited ninety minutes for it.", "negative"),
        ("They sorted the refund without me even having to ask.", "positive"),
        ("Didn't have to chase anything, it just happened.", "positive"),
        # expectations, and fears that did not come true
        ("Expected a lot more from a five star hotel.", "negative"),
        ("Much better than I expected for the price.", "positive"),
        ("The meal was ok but nothing to write home about.", "negative"),
        # facts that complain or praise
        ("The heel came loose after two wears.", "negative"),
        ("My premium went up by £80 at renewal with no explanation.", "negative"),
        ("The courier threw the box over the gate into the flower bed.", "negative"),
        ("The agent didn't even listen to what I was saying.", "negative"),
        ("Smells like a campfire when it's running.", "negative"),
        ("This app saves me loads of time every morning.", "positive"),
        (
            "Went back to them after a year with another supplier, should never have left.",
            "positive",
        ),
        ("Will be ordering again for sure.", "positive"),
        ("Your driver was an absolute gent, carried it all upstairs.", "positive"),
        # "like" as a preposition is no praise; typos are read as the word
        ("Looks just like the photos, very happy.", "positive"),
        ("The second kettle leaked just like the first one.", "negative"),
        ("realy dissapointed with the service tbh", "negative"),
        ("definately recomend this shop, staff were brillant", "positive"),
        ("The replacement was a bit of a letdown, to be honest.", "negative"),
    ],
)
def test_english_round_6_families(text, label):
    assert analyze_sentiment(text).label == label


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("麻烦尽快帮我处理一下退款", "neutral"),  # 麻烦 before a verb is "please"
        ("麻烦核对一下我的账单，谢谢", "neutral"),
        ("这个流程太麻烦了", "negative"),
        ("手续真的很麻烦", "negative"),
        ("如果质量有问题可以退吗？", "neutral"),  # a condition states no fact
        ("要是下雨的话还能正常配送吗？", "neutral"),
        ("希望以后发货能快一点", "neutral"),  # a wish
        ("新买的耳机还没用过，能退吗？", "neutral"),  # not used yet, not "useless"
        ("强烈推荐这家店，服务超好", "positive"),
        ("强烈不推荐，质量太差", "negative"),
        ("已经第五天了，快递还是没动", "negative"),  # a stale status
        ("说好的赔偿呢？", "negative"),
        ("排队排到前面还有200人", "negative"),
        ("客服还没等我开口就把问题解决了", "positive"),  # the effort spared
        ("不用我催，第二天就发货了", "positive"),
        ("服务员一直黑着脸，还怪我们点错了", "negative"),
        ("店员当众指责顾客，太不像话了", "negative"),
        ("已经安利给同事了，都说好用", "positive"),
    ],
)
def test_chinese_round_6_rules(text, label):
    assert analyze_sentiment(text).label == label
