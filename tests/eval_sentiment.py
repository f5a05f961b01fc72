"""Measure the sentiment candidates, language detection and complaint topics on the labelled
evaluation set (tests/data/feedback_eval.jsonl) and the first blind set
(tests/data/feedback_blind.jsonl): accuracy per language and speed in texts/s,
single-threaded. The numbers in docs/sentiment.md come from this script.

    .venv/bin/python tests/eval_sentiment.py                # the tables
    .venv/bin/python tests/eval_sentiment.py --errors dev   # plus one split's misreadings

Splits: "dev" and "test" are the even and odd items of each language among the items without
a "split" field; "holdout" and "dev2" items carry `"split": "holdout"` / `"split": "dev2"` in
the file. "blind1" is every item of feedback_blind.jsonl, written by a separate author and
measured once blind before it became development data (round 6); "blind2" is
feedback_blind2.jsonl, measured once blind after round 6 and a regression guard since.
docs/sentiment.md says which tuning round looked at which split.

The SnowNLP candidates need `pip install snownlp` (not a project dependency, since the product
does not use it); without it their rows are skipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

from touchstream.projections.complaint_topics import complaint_topics
from touchstream.projections.language import detect_language
from touchstream.projections.sentiment import CANDIDATES, Scorer, analyze_sentiment
from touchstream.projections.sentiment_zh import lexicon_score

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
EVAL_SET = DATA / "feedback_eval.jsonl"
#: Further sets, read as one split each (the file is kept as its author wrote it).
EXTRA_SETS = {"blind1": DATA / "feedback_blind.jsonl", "blind2": DATA / "feedback_blind2.jsonl"}
SPLITS = ("dev", "test", "holdout", "dev2", "blind1", "blind2")
_MIN_SECONDS = 1.0


@cache
def _snownlp() -> Callable[[str], float]:
    from snownlp import sentiment  # loads SnowNLP's segmenter, tagger and classifier (~4 s)

    return sentiment.classify


def snownlp_score(text: str) -> float:
    """SnowNLP's bundled naive Bayes sentiment model, P(positive) mapped to 2p - 1."""
    return 2.0 * _snownlp()(text) - 1.0


def lexicon_then_snownlp(text: str) -> float:
    """The lexicon, and SnowNLP only where the lexicon finds nothing polar."""
    score = lexicon_score(text)
    return score if score else snownlp_score(text) * 0.5  # halved: only a hint


def snownlp_candidates() -> tuple[Scorer, ...]:
    if importlib.util.find_spec("snownlp") is None:
        print("(snownlp not installed: its rows are skipped)\n")
        return ()
    return (
        Scorer("snownlp", snownlp_score, 0.6),  # 0.6: its best neutral band on the dev half
        Scorer("zh-lexicon+snownlp", lexicon_then_snownlp, 0.2),
    )


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def load() -> list[dict]:
    items = _read(EVAL_SET)
    seen: dict[str, int] = {}
    for item in items:
        if "split" not in item:
            position = seen.get(item["language"], 0)
            seen[item["language"]] = position + 1
            item["split"] = "dev" if position % 2 == 0 else "test"
    for split, path in EXTRA_SETS.items():
        items += [{**item, "split": split} for item in _read(path)]
    return items


def texts_per_second(fn: Callable[[str], object], texts: list[str]) -> float:
    """Throughput after one warm-up pass, repeated until at least a second has been timed."""
    for text in texts:
        fn(text)
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < _MIN_SECONDS:
        for text in texts:
            fn(text)
        done += len(texts)
    return done / elapsed


def accuracy(hits: list[bool]) -> str:
    return f"{sum(hits) / len(hits):.3f} ({sum(hits)}/{len(hits)})" if hits else "-"


def sentiment_table(items: list[dict], show_errors: str | None) -> None:
    print("## Sentiment: accuracy on clear items (all, per split), on all items; speed\n")
    print(f"| language | method | clear | {' | '.join(SPLITS)} | all items | texts/s |")
    print("|---|---|---|" + "---|" * len(SPLITS) + "---|---|")
    candidates = {**CANDIDATES, "zh": CANDIDATES["zh"] + snownlp_candidates()}
    errors: list[str] = []
    for language, scorers in candidates.items():
        subset = [item for item in items if item["language"] == language]
        for scorer in scorers:
            load_start = time.perf_counter()
            scorer.score(subset[0]["text"])
            load_s = time.perf_counter() - load_start
            rows = []
            for item in subset:
                score = scorer.score(item["text"])
                label = scorer.label(score)
                rows.append((item, label == item["label"]))
                if label != item["label"] and show_errors in (item["split"], "all"):
                    errors.append(
                        f"{scorer.name:10} {score:+.3f} {label:8} want {item['label']:8}"
                        f" clear={item['clear']!s:5} {item['text']}"
                    )
            clear = [(item, hit) for item, hit in rows if item["clear"]]
            per_split = [
                accuracy([hit for item, hit in clear if item["split"] == split]) for split in SPLITS
            ]
            speed = texts_per_second(scorer.score, [item["text"] for item in subset])
            print(
                f"| {language} | {scorer.name} | {accuracy([hit for _, hit in clear])} |"
                f" {' | '.join(per_split)} | {accuracy([hit for _, hit in rows])} |"
                f" {speed:,.0f} (first call {load_s:.2f} s) |"
            )
    end_to_end = texts_per_second(analyze_sentiment, [item["text"] for item in items])
    print(f"\nanalyze_sentiment (detect language, then score), zh and en mixed: {end_to_end:,.0f}")
    print("texts/s")
    if errors:
        print(f"\n### Errors ({show_errors})\n")
        print("\n".join(errors))


def language_table(items: list[dict]) -> None:
    hits = [detect_language(item["text"]) == item["language"] for item in items]
    speed = texts_per_second(detect_language, [item["text"] for item in items])
    print(f"\n## Language detection\n\naccuracy {accuracy(hits)}, {speed:,.0f} texts/s")


def topic_table(items: list[dict]) -> None:
    print("\n## Complaint topics\n")
    print("recall: the labelled topic is among those found (items with a topic); precision:")
    print("found topics equal to the one labelled (a lower bound: a second topic that the text")
    print("really mentions counts as wrong); spurious: items without a topic given one.\n")
    held_out = ("holdout", "dev2", "blind1", "blind2")
    print(
        f"| language | recall | {' | '.join(f'recall {split}' for split in held_out)} |"
        " precision | spurious | texts/s |"
    )
    print("|---|---|" + "---|" * len(held_out) + "---|---|---|")
    for language in ("zh", "en"):
        subset = [item for item in items if item["language"] == language]
        found = [(item, complaint_topics(item["text"], language)) for item in subset]
        recall = [item["topic"] in topics for item, topics in found if item.get("topic")]
        per_split = [
            accuracy(
                [
                    item["topic"] in topics
                    for item, topics in found
                    if item.get("topic") and item["split"] == split
                ]
            )
            for split in held_out
        ]
        returned = [topic == item.get("topic") for item, topics in found for topic in topics]
        spurious = [bool(topics) for item, topics in found if not item.get("topic")]
        speed = texts_per_second(
            lambda text, lang=language: complaint_topics(text, lang),
            [item["text"] for item in subset],
        )
        print(
            f"| {language} | {accuracy(recall)} | {' | '.join(per_split)} |"
            f" {accuracy(returned)} |"
            f" {accuracy(spurious)} | {speed:,.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", choices=(*SPLITS, "all"), help="list misreadings")
    args = parser.parse_args()
    items = load()
    sources = ", ".join(path.name for path in (EVAL_SET, *EXTRA_SETS.values()))
    print(f"{len(items)} items from {sources}\n")
    sentiment_table(items, args.errors)
    language_table(items)
    topic_table(items)


if __name__ == "__main__":
    main()
