"""The gap decomposition of `compare --by-topic`: how much of a real-vs-synthetic gap is the topic mix.

Three parts, each beside its real-vs-real yardstick:
- *topic mix*: Jensen-Shannon divergence between the real and synthetic topic distributions
  (`TopicMixMetric`), and, where that is beyond real-vs-real, the topics over- or under-represented
  on the synthetic side (simultaneous Bonferroni intervals over the k topics);
- *within topic*: every metric again on sides drawn to one common topic mix, the real corpus's
  (`matched_counts`): per topic the same number of units from real half A, real half B and the
  synthetic side. Importance weights realized as a stratified draw without replacement, because
  k-NN, classifier and clustering metrics take no weights on their points and a drawn-twice unit
  would be its own nearest neighbour;
- *the share of the gap the topic mix explains*, per metric: 1 - D_within / D_raw, D the paired
  difference gap(real vs synthetic) - gap(real vs real), with a bootstrap percentile interval.

Verdicts of the topic family get their own Holm correction (so `--by-topic` never changes the main
report's verdicts).
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .base import Estimate, Metric, Result
from .yardstick import Side, balanced_pick

WITHIN = "_within_topic"
ALPHA = 0.05


def jsd(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence in bits between distributions in the columns of p and q (or two vectors)."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    mid = (p + q) / 2

    def kl(a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(a > 0, a * np.log2(np.where(a > 0, a, 1) / np.where(b > 0, b, 1)), 0.0)
        return terms.sum(axis=0)

    return 0.5 * kl(p, mid) + 0.5 * kl(q, mid)


def shares(labels: np.ndarray, k: int, counts: Optional[np.ndarray] = None) -> np.ndarray:
    """Topic shares (k,) of the labelled rows, or (k, R) under each bootstrap count column."""
    if counts is None:
        return np.bincount(labels, minlength=k) / max(len(labels), 1)
    onehot = np.zeros((k, len(labels)))
    onehot[labels, np.arange(len(labels))] = 1.0
    mass = onehot @ counts
    return mass / np.maximum(mass.sum(axis=0, keepdims=True), 1)


class TopicMixMetric(Metric):
    """JSD (bits) between the topic distributions of two sides; the rows of a Side are topic ids.
    Plug-in JSD sits above 0 for two samples of one distribution (by about (k-1)/(4 m ln 2)), alike
    in both comparisons at one m, so the verdict is the paired difference; normal interval (see
    yardstick.normal_interval)."""
    name = "topic_mix_jsd"
    family, goal, range, interval = "topic", "lower", (0.0, 1.0), "normal"
    min_items = {"topic_mix_jsd": 50}

    def __init__(self, k: int):
        self.k = k

    def estimate(self, x: Side, y: Side, seed: int) -> dict:
        lx, ly = np.asarray(x.data, np.int64), np.asarray(y.data, np.int64)
        value = float(jsd(shares(lx, self.k), shares(ly, self.k)))
        reps = None
        if x.boot is not None and x.boot.replicates:
            reps = jsd(shares(lx, self.k, x.boot.counts), shares(ly, self.k, y.boot.counts))
        return {self.name: Estimate(value, reps, {"topics": self.k, "unit": "bits"})}


def represented(x: Side, y: Side, k: int, topics: list[dict], alpha: float = ALPHA) -> list[dict]:
    """Per topic: real share (x), synthetic share (y), their difference, and a simultaneous interval
    (Bonferroni over the k topics: difference +- z(1 - alpha / 2k) bootstrap standard errors, steadier
    than the extreme percentiles of a few hundred draws); "over" / "under" when it leaves 0. The caller
    keeps the flags only where the topic mix as a whole is beyond real-vs-real (`gate_flags`)."""
    from scipy.stats import norm

    lx, ly = np.asarray(x.data, np.int64), np.asarray(y.data, np.int64)
    px, py = shares(lx, k), shares(ly, k)
    se = None
    if x.boot is not None and x.boot.replicates:
        diff_reps = shares(ly, k, y.boot.counts) - shares(lx, k, x.boot.counts)
        se = diff_reps.std(axis=1, ddof=1)
    z = float(norm.ppf(1 - alpha / (2 * k)))
    out = []
    for t in range(k):
        d = float(py[t] - px[t])
        ci, flag = None, None
        if se is not None:
            ci = [d - z * float(se[t]), d + z * float(se[t])]
            flag = "over" if ci[0] > 0 else ("under" if ci[1] < 0 else None)
        out.append({"id": t, "label": topics[t]["label"], "real_share": float(px[t]),
                    "synthetic_share": float(py[t]), "difference": d, "ci95": ci, "flag": flag})
    return out


def gate_flags(mix: dict, beyond: Optional[bool]) -> None:
    """Per-topic flags only when the topic-mix JSD is beyond real-vs-real (its Holm verdict): a protected
    second step, so that a mix within real-vs-real never shows "over"/"under" topics by chance."""
    mix["flags"] = "shown: the topic mix is beyond real-vs-real" if beyond else \
        "none shown: the topic mix is not beyond real-vs-real"
    if not beyond:
        for t in mix["topics"]:
            t["flag"] = None


def matched_counts(pools: Sequence[np.ndarray], target: np.ndarray, m: int) -> np.ndarray:
    """Units per topic for every side: proportional to `target` (the real topic mix) over the topics all
    pools have, totalling m where the pools allow. A topic a pool cannot fill gets what the smallest
    pool has and the rest goes to the other topics in proportion (water-filling); largest remainders
    round. The drawn mix then departs from the target only where a pool ran short (`residual_tv`)."""
    k = len(target)
    cap = np.min([np.bincount(np.asarray(p, np.int64), minlength=k) for p in pools], axis=0)
    counts = np.zeros(k, dtype=np.int64)
    active = [t for t in range(k) if cap[t] > 0 and target[t] > 0]
    remaining = min(m, int(cap[active].sum())) if active else 0
    while active:
        weight = target[active] / target[active].sum()
        want = remaining * weight
        binding = [t for t, w in zip(active, want) if w >= cap[t]]
        if not binding:
            base = np.floor(want).astype(np.int64)
            short = remaining - int(base.sum())
            order = np.lexsort((np.array(active), -(want - base)))
            base[order[:short]] += 1
            counts[active] = base
            break
        for t in binding:
            counts[t] = cap[t]
            remaining -= int(cap[t])
        active = [t for t in active if t not in binding]
    return counts


def residual_tv(counts: np.ndarray, target: np.ndarray) -> float:
    """Total variation between the drawn topic mix and the target mix."""
    total = counts.sum()
    if total == 0:
        return 1.0
    return float(0.5 * np.abs(counts / total - target).sum())


def matched_pick(idx: np.ndarray, labels: np.ndarray, codes: Sequence, counts: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """counts[t] rows of topic t from the pool `idx` (labels and author codes per pool row), each topic's
    draw balanced by author (`balanced_pick`)."""
    codes = np.asarray(codes)
    out = []
    for t in np.flatnonzero(counts):
        where = np.flatnonzero(labels == t)
        chosen = balanced_pick(where, codes[where], int(counts[t]), rng)
        out.append(idx[chosen])
    return np.sort(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)


def within_results(results: list[Result]) -> list[Result]:
    """Within-topic Results renamed `<metric>_within_topic` in family "topic" (their own family, their
    own Holm correction)."""
    for r in results:
        r.details["decomposition"] = {"part": "within topic", "metric": r.name, "family": r.family}
        r.name, r.family = r.name + WITHIN, "topic"
    return results


def paired_difference(r: Result) -> tuple[Optional[float], Optional[np.ndarray]]:
    """D = gap(real vs synthetic) - gap(real vs real) and its bootstrap replicates (None when undefined)."""
    if r.value is None or r.baseline is None or not np.isfinite(r.value) or not np.isfinite(r.baseline):
        return None, None
    value = float(r.gap(r.value) - r.gap(r.baseline))
    if r.replicates is None or r.baseline_replicates is None:
        return value, None
    return value, np.asarray(r.gap(r.replicates) - r.gap(r.baseline_replicates), np.float64)


def explained(raw: Result, within: Optional[Result], raw_beyond: Optional[bool]) -> dict:
    """The share of raw's gap the topic mix explains, 1 - D_within / D_raw, with a percentile interval
    over the bootstrap columns. Raw and within-topic sides are drawn separately, so their replicates
    are independent: the positive correlation between the two differences is ignored, which widens
    the interval (conservative). No share without a raw gap beyond real-vs-real: a ratio to a gap
    that may be 0 means nothing."""
    family = raw.family
    out = {"metric": raw.name, "family": family, "raw_gap": None, "within_gap": None, "share": None,
           "ci95": None, "why": None}
    d_raw, reps_raw = paired_difference(raw)
    out["raw_gap"] = d_raw
    out["m"] = {"raw": raw.n, "within": None if within is None else within.n}
    if within is None:
        out["why"] = "no within-topic estimate"
        return out
    d_within, reps_within = paired_difference(within)
    out["within_gap"] = d_within
    if d_raw is None or d_within is None:
        out["why"] = "no estimate"
    elif raw_beyond is not True:
        out["why"] = "no gap beyond real-vs-real to explain" if raw_beyond is False else \
            f"no verdict on the raw gap ({raw.status or 'no p-value'})"
    elif d_raw <= 0:
        out["why"] = "no gap beyond real-vs-real to explain"
    else:
        out["share"] = 1.0 - d_within / d_raw
        if reps_raw is not None and reps_within is not None:
            r = min(len(reps_raw), len(reps_within))
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = 1.0 - reps_within[:r] / reps_raw[:r]
            ratio = ratio[np.isfinite(ratio)]
            if len(ratio) >= 2:
                out["ci95"] = [float(x) for x in np.percentile(ratio, [2.5, 97.5])]
    return out


__all__ = ["TopicMixMetric", "WITHIN", "explained", "gate_flags", "jsd", "matched_counts", "matched_pick", "paired_difference",
           "represented", "residual_tv", "shares", "within_results"]
