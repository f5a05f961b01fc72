"""What a piece of customer free text is about: billing, delivery, product quality, staff
attitude, waiting time, the app or website, refunds and returns.

Keyword lexicons per language, a start that is easy to read, audit and extend (a text is about
a topic when it mentions one of the topic's words). A topic is what the text is about, not
whether it complains: "送货很快" and "送货太慢" are both about delivery, and the sentiment of
the same text says which. Chinese keywords match as substrings (Chinese has no spaces, and the
keywords are whole words such as 快递 or 退款); English keywords match whole words, and those
marked as stems ("refund*") also find "refunded" and "refunds". Measured on the evaluation set in
docs/sentiment.md.
"""

from __future__ import annotations

import re
from functools import cache

from touchstream.projections.language import Language

#: The topics, in the order they are reported.
TOPICS: tuple[str, ...] = (
    "billing",
    "delivery",
    "product_quality",
    "staff_attitude",
    "waiting_time",
    "app_website",
    "refund_return",
)

# fmt: off
# (keyword lists are laid out as paragraphs, not one word per line)
KEYWORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "zh": {
        "billing": (
            "账单", "话费", "扣费", "扣款", "扣了", "多扣", "扣钱", "收费", "费用", "付款",
            "发票", "价格", "价保", "降价", "优惠券", "套餐", "续费", "会员费", "积分", "余额",
            "充值", "分期", "计费", "多收", "多交", "流量", "详单", "元", "块钱", "贵",
            # round 6
            "满减", "多少钱", "折扣", "涨价", "加急费", "检测费", "运费",
        ),
        "delivery": (
            "快递", "物流", "送货", "配送", "发货", "到货", "收货", "签收", "包裹", "派送",
            "送达", "送到", "驿站", "外卖", "包邮", "运输", "寄来", "送错", "发错", "漏发",
            "收到货", "送上门", "在路上", "已收到", "箱子", "包装", "就到了", "快递员",
            # round 6
            "寄到", "次日达", "地址", "一起发", "少了", "缺货", "才到", "到货",
        ),
        "product_quality": (
            "质量", "品质", "做工", "故障", "瑕疵", "划痕", "缩水", "掉色", "起球", "异味",
            "味道", "面料", "材质", "耐用", "好用", "失灵", "坏点", "性价比", "残次品", "次品",
            "假货", "正品", "描述", "质检", "噪音", "效果", "发烫", "冒烟", "漏水", "开裂",
            "吸力", "版型", "功能", "坏的", "坏了", "没声音", "扎实", "毛刺", "线头", "烂的",
            "网速", "信号", "机洗",
            # round 6: faults, fit and looks, the goods themselves
            "碎", "破损", "毛病", "区别", "尺码", "码数", "一码", "好看", "颜色", "照骗", "爆痘",
            "过敏", "充不进电", "制冷", "新鲜", "凑合", "螺丝", "组装", "一分钱一分货", "回购",
            "瘪", "封口", "断了", "好吃", "难吃",
        ),
        "staff_attitude": (
            "态度", "店员", "服务员", "工作人员", "导购", "接线员", "售后人员", "柜台", "店长",
            "热情", "耐心", "不耐烦", "冷漠", "甩脸", "冷着脸", "推来推去", "推诿", "敷衍",
            "挂了", "挂断", "话术", "阴阳怪气", "礼貌", "粗鲁", "一问三不知", "师傅", "接待",
            "语气", "说话",
            # round 6
            "小姐姐", "小哥", "回访", "刁难", "贴心", "前台", "人很好", "人挺好", "不归",
            "找不到人", "指责", "黑脸", "怪我",
        ),
        "waiting_time": (
            "排队", "等了", "等待", "等到", "等回电", "半天", "忙音", "接通", "回电", "回复",
            "进展", "处理中", "迟到", "准时", "效率", "及时", "催了", "小时", "分钟", "轮到",
            "等得", "拖了",
            # round 6
            "叫号", "占线", "人多", "改期", "审核", "多久", "一上午", "一下午", "没下文",
            "稍等", "一直没人",
        ),
        "app_website": (
            "app", "应用", "小程序", "官网", "网站", "网页", "页面", "界面", "登录", "登陆",
            "验证码", "密码", "闪退", "卡顿", "卡住", "转圈", "报错", "系统", "更新", "升级",
            "版本", "浏览器", "网络异常", "bug", "扫码", "客户端", "账号", "手机号",
            # round 6
            "查看", "历史订单", "订单页面",
        ),
        "refund_return": (
            "退款", "退货", "换货", "退回", "退钱", "寄回", "无理由", "退了", "到账", "驳回",
            "售后无门",
            # round 6
            "换新", "换了新", "打算退", "退回去", "退掉",
        ),
    },
    "en": {
        "billing": (
            "bill*", "invoice*", "charg*", "overcharg*", "fee", "fees", "price*", "pay*", "paid",
            "card", "subscription*", "plan", "plans", "instalment*", "installment*", "vat",
            "promo*", "direct debit", "roaming", "cost*", "expensive", "receipt*", "£", "$",
            "€",
            # round 6
            "discount*", "pricier", "cheaper", "for the price",
        ),
        "delivery": (
            "deliver*", "parcel*", "package*", "courier*", "shipping", "ship", "shipped",
            "tracking", "arriv*", "driver*", "dispatch*", "locker*", "postage", "packag*",
            "same day",
            # round 6
            "address", "missing", "someone else's order", "sent me", "in a row", "doorstep",
            "neighbour*", "neighbor*", "van",
        ),
        "product_quality": (
            "quality", "broke*", "defect*", "faulty", "fault", "stopped working", "leak*",
            "zip", "battery", "build", "material*", "stitching", "colour*", "color*", "sagging",
            "fell apart", "smell*", "works", "well made", "solid", "durable", "flimsy",
            "won't charge", "as described", "like a charm", "fan", "seal*", "comfortable",
            "easy to clean", "mould*", "mold*", "rotten", "connection", "unusable",
            # round 6: faults, fit and looks, the goods themselves
            "cracked", "screen", "pixel*", "portion*", "taste", "size", "sizes", "washable",
            "warranty", "damage*", "model", "does what it says", "going strong", "broadband",
            "dropped out", "cheap", "worth every penny", "what you pay for", "out of the box",
            "fabric", "lasted", "wears",
        ),
        "staff_attitude": (
            "staff", "rude", "agent*", "rep", "reps", "representative*", "manager*",
            "cashier*", "engineer*", "technician*", "assistant*", "employee*", "installer*",
            "attitude", "friendly", "patient", "polite", "condescending", "ignored", "hung up",
            "helpful", "customer service", "support", "team", "people", "aggressive",
            "interrupt*", "lady", "woman", "guy", "rolled her eyes", "rolled his eyes",
            # round 6
            "live chat", "on the chat", "above and beyond", "you people",
            "patronis*", "patroniz*", "listen*", "apologi*", "receptionist*", "waiter*",
            "waitress*", "chap", "bloke", "gent",
        ),
        "waiting_time": (
            "wait*", "queu*", "on hold", "minutes", "hour", "hours", "callback", "took ages",
            "slow to respond", "repl*", "respon*", "days ago", "picked up", "got through",
            "punctual", "showed up", "turned up", "finally",
            # round 6
            "reach", "picking up", "pick up", "answers the phone", "call back", "called back",
            "hrs", "hr", "quicker", "ticket", "under review", "call volumes", "first call",
            "all morning", "since morning", "a while", "all day", "days now",
            "weeks now", "chase", "chasing", "chased",
        ),
        "app_website": (
            "app", "apps", "website*", "site", "online", "login", "log in", "logs me out",
            "logged", "password*", "page", "pages", "checkout", "browser*", "update*", "error*",
            "crash*", "notification*", "dark mode", "search", "design", "booking page",
            # round 6
            "chatbot", "bot", "portal", "tracking page",
        ),
        "refund_return": (
            "refund*", "return", "returns", "returned", "returning", "exchang*", "money back",
            "send it back", "sent back", "replacement*",
            # round 6
            "replac*", "money back", "swap*",
        ),
    },
}
# fmt: on


@cache
def _patterns(language: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """One alternation per topic, longest keywords first."""
    return tuple(
        (topic, re.compile(_alternation(KEYWORDS[language][topic], language)))
        for topic in TOPICS
        if topic in KEYWORDS[language]
    )


def _alternation(keywords: tuple[str, ...], language: str) -> str:
    ordered = sorted(keywords, key=len, reverse=True)
    if language == "zh":
        return "|".join(re.escape(word) for word in ordered)
    # English: whole words, or word starts for stems marked "refund*" ("app" is not "approved")
    parts = [re.escape(w[:-1]) + "[a-z']*" if w.endswith("*") else re.escape(w) for w in ordered]
    return rf"(?<![a-z])(?:{'|'.join(parts)})(?![a-z])"


def complaint_topics(text: str, language: Language) -> tuple[str, ...]:
    """The topics `text` mentions, in `TOPICS` order; () for other languages or no mention."""
    if language not in KEYWORDS or not text:
        return ()
    lowered = text.lower()
    return tuple(topic for topic, pattern in _patterns(language) if pattern.search(lowered))
