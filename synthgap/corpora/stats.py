"""Descriptive statistics of a corpus for `synthgap corpus inspect`: counts, lengths, scripts."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .reader import Corpus

# Dominant writing system of a turn: a cheap, honest stand-in for language identification.
SCRIPTS = {
    "Latin": "A-Za-z\u00c0-\u024f",
    "Cyrillic": "\u0400-\u04ff",
    "Greek": "\u0370-\u03ff",
    "Arabic": "\u0600-\u06ff",
    "Hebrew": "\u0590-\u05ff",
    "Devanagari": "\u0900-\u097f",
    "Thai": "\u0e00-\u0e7f",
    "Hangul": "\uac00-\ud7af",
    "Kana": "\u3040-\u30ff",
    "Han": "\u4e00-\u9fff",
}
_SCRIPT_RES = {name: re.compile(f"[{chars}]") for name, chars in SCRIPTS.items()}
SCRIPT_SAMPLE = 400


def dominant_script(text: str) -> str:
    sample = text[:SCRIPT_SAMPLE]
    counts = {name: len(rx.findall(sample)) for name, rx in _SCRIPT_RES.items()}
    if counts["Kana"]:  # Japanese mixes Kana and Han
        counts["Kana"] += counts.pop("Han")
    best = max(counts, key=counts.get)
    return best if counts[best] else "none"


def distribution(values: list[int]) -> dict:
    """Count, mean and quantiles of a list of numbers (empty list -> count 0)."""
    if not values:
        return {"count": 0}
    values = sorted(values)
    n = len(values)

    def q(p: float) -> int:
        return values[min(n - 1, int(p * (n - 1) + 0.5))]

    return {"count": n, "mean": round(statistics.fmean(values), 2), "min": values[0], "p10": q(0.1),
            "p25": q(0.25), "median": q(0.5), "p75": q(0.75), "p90": q(0.9), "max": values[-1]}


def corpus_stats(corpus: "Corpus") -> dict:
    """Read the corpus once and return the inspect report: counts, distributions, problems."""
    turns: Counter = Counter()
    words, chars, per_conv = [], [], []
    scripts, languages, sources, categories = Counter(), Counter(), Counter(), Counter()
    synthetic = Counter()
    users_with_conversations = 0
    for history in corpus.histories():
        users_with_conversations += bool(history.conversations)
        categories.update(a.category or "none" for a in history.attributes)
        for conv in history.conversations:
            sources[conv.source] += 1
            synthetic["synthetic" if conv.synthetic else "real"] += 1
            per_conv.append(len(conv.turns))
            if isinstance(conv.meta.get("language"), str):
                languages[conv.meta["language"]] += 1
            for turn in conv.turns:
                turns[turn.role] += 1
                if turn.role == "user":
                    words.append(len(turn.content.split()))
                    chars.append(len(turn.content))
                    scripts[dominant_script(turn.content)] += 1
    summary = corpus.summary
    report = {
        "sources": summary.sources,
        "formats": summary.formats,
        "records": summary.records,
        "conversations": summary.conversations,
        "users": summary.users,
        "users_with_conversations": users_with_conversations,
        "unmarked_conversations": summary.unmarked_conversations,
        "turns": {role: turns.get(role, 0) for role in ("user", "assistant", "system")},
        "turns_per_conversation": distribution(per_conv),
        "user_turn_words": distribution(words),
        "user_turn_chars": distribution(chars),
        "scripts": dict(scripts.most_common()),
        "attributes": sum(categories.values()),
        "attribute_categories": dict(categories.most_common()),
        "real_or_synthetic": dict(synthetic),
        "by_source": dict(sources.most_common()),
    }
    if languages:
        report["languages"] = dict(languages.most_common())
    report.update({
        "skipped": dict(sorted(summary.skipped.items())),
        "skipped_examples": summary.to_dict()["skipped_examples"],
        "dropped": dict(sorted(summary.dropped.items())),
        "warnings": summary.warnings,
        "truncated": summary.truncated,
        "truncation": summary.truncation,
    })
    return report
