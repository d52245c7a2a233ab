"""Matching extracted attributes to gold ones: embedding similarity, an optimal one-to-one
assignment (`scipy.optimize.linear_sum_assignment`), and precision, recall and F1 overall, per
category and per disclosure style.

A greedy match (best pair first) can take the one gold attribute that two extracted ones both
resemble and leave the other unmatched. So the threshold comes first, then the assignment: among
the pairs at or above the threshold, it takes as many pairs as possible and, among assignments
with that many, the one of the largest total similarity. (Assigning on the raw similarities and
thresholding afterwards can lose matches: with [[.60, .59], [.59, 0]] at 0.6 the largest total
pairs .59 with .59 and keeps nothing, where one valid match exists.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

DEFAULT_THRESHOLD = 0.6  # cosine of all-MiniLM-L6-v2 statement vectors; a paraphrase scores above, a new fact below


def assign(similarity: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> list[tuple[int, int, float]]:
    """(extracted index, gold index, similarity) of the one-to-one pairs at or above threshold: the most
    pairs possible, and among those the largest total similarity."""
    from scipy.optimize import linear_sum_assignment

    sim = np.asarray(similarity, dtype=float)
    if sim.size == 0:
        return []
    eligible = sim >= threshold
    # Every eligible pair is worth more than any difference in total similarity (each similarity lies
    # in [-1, 1], so totals over at most min(n, m) pairs differ by less than 2 min(n, m) + 1): the
    # assignment maximizes the number of pairs first, their similarity second.
    bonus = 2.0 * min(sim.shape) + 2.0
    weights = np.where(eligible, sim + bonus, 0.0)
    rows, cols = linear_sum_assignment(weights, maximize=True)
    return [(int(i), int(j), float(sim[i, j])) for i, j in zip(rows, cols) if eligible[i, j]]


@dataclass
class Counts:
    """Matched, extracted and gold counts, and the scores they give (None when undefined)."""
    matched: int = 0
    extracted: int = 0
    gold: int = 0

    @property
    def precision(self) -> Optional[float]:
        return self.matched / self.extracted if self.extracted else None

    @property
    def recall(self) -> Optional[float]:
        return self.matched / self.gold if self.gold else None

    @property
    def f1(self) -> Optional[float]:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    def to_json(self) -> dict:
        return {"matched": self.matched, "extracted": self.extracted, "gold": self.gold,
                **{k: None if v is None else round(v, 6) for k, v in
                   (("precision", self.precision), ("recall", self.recall), ("f1", self.f1))}}


@dataclass
class Item:
    """A statement to match, with what the scores are broken down by."""
    statement: str
    category: Optional[str] = None
    style: Optional[str] = None  # gold only: how it was disclosed (explicit, implicit)


@dataclass
class MatchReport:
    overall: Counts = field(default_factory=Counts)
    by_category: dict = field(default_factory=dict)
    by_style: dict = field(default_factory=dict)
    pairs: dict = field(default_factory=dict)  # user -> [(extracted index, gold index, similarity)]

    def to_json(self) -> dict:
        return {"overall": self.overall.to_json(),
                "by_category": {k: v.to_json() for k, v in sorted(self.by_category.items())},
                "by_style": {k: v.to_json() for k, v in sorted(self.by_style.items())}}


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def match_users(extracted: dict[str, Sequence[Item]], gold: dict[str, Sequence[Item]],
                embed: Callable[[list[str]], np.ndarray], threshold: float = DEFAULT_THRESHOLD) -> MatchReport:
    """Match each user's extracted items to their gold items; counts summed over users (micro).

    A matched pair counts in its gold item's category, an unmatched extracted item in its own (or
    "unknown"), so per-category precision and recall use the same matches. Per style there is
    only recall: extracted items have no disclosure style.
    """
    report = MatchReport()
    texts = sorted({i.statement for items in (*extracted.values(), *gold.values()) for i in items})
    vectors = dict(zip(texts, _unit(np.asarray(embed(texts), dtype=float)))) if texts else {}
    for user in sorted(set(extracted) | set(gold)):
        ex, go = list(extracted.get(user, ())), list(gold.get(user, ()))
        sim = np.array([[vectors[a.statement] @ vectors[b.statement] for b in go] for a in ex]).reshape(len(ex),
                                                                                                     len(go))
        pairs = assign(sim, threshold)
        report.pairs[user] = pairs
        matched_ex = {i: j for i, j, _ in pairs}
        matched_gold = {j for _, j, _ in pairs}
        report.overall.matched += len(pairs)
        report.overall.extracted += len(ex)
        report.overall.gold += len(go)
        for i, item in enumerate(ex):
            category = (go[matched_ex[i]].category if i in matched_ex else item.category) or "unknown"
            report.by_category.setdefault(category, Counts()).extracted += 1
        for j, item in enumerate(go):
            counts = report.by_category.setdefault(item.category or "unknown", Counts())
            counts.gold += 1
            hit = j in matched_gold
            counts.matched += hit
            if item.style:
                style = report.by_style.setdefault(item.style, Counts())
                style.gold += 1
                style.matched += hit
    return report


__all__ = ["Counts", "DEFAULT_THRESHOLD", "Item", "MatchReport", "assign", "match_users"]
