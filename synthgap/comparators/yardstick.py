"""The yardstick: how real and synthetic items are drawn so that every gap has a baseline.

The real corpus is split into two halves *by group* (user, else conversation), so that turns of
one person never sit on both sides of the real-vs-real comparison; each half and the synthetic
set are then subsampled to one common size m. Real-vs-synthetic compares half A with the
synthetic sample, real-vs-real compares half A with half B: both at the same size, because most
of these distances shrink as samples grow. Bootstrap resamples draw whole groups (a cluster
bootstrap) and are handed to metrics as count vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from ..errors import SynthgapError
from ..seeds import numpy_rng

MIN_ITEMS = 10  # per side; below this no distance or interval means anything


def _codes(groups: Sequence) -> np.ndarray:
    """Dense integer codes for group labels, in order of first appearance."""
    seen: dict = {}
    return np.fromiter((seen.setdefault(g, len(seen)) for g in groups), dtype=np.int64, count=len(groups))


def group_halves(groups: Sequence, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """Split item indices into two halves with no group on both sides, about equal in items.

    Groups are visited in random order and each goes to the half that holds fewer items. When
    one group dominates (fewer than a quarter of the items would land in the smaller half), the
    split falls back to items and says so: "groups" or "items" is returned as the third value.
    """
    codes = _codes(groups)
    n = len(codes)
    sizes = np.bincount(codes)
    halves = ([], [])
    count = [0, 0]
    for g in rng.permutation(len(sizes)):
        side = 0 if count[0] <= count[1] else 1
        halves[side].append(g)
        count[side] += sizes[g]
    if min(count) >= n / 4:
        mask = np.isin(codes, np.asarray(halves[0], dtype=np.int64))
        return np.flatnonzero(mask), np.flatnonzero(~mask), "groups"
    order = rng.permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2:]), "items"


@dataclass(frozen=True)
class Plan:
    """Which rows each comparison uses: real half A, real half B, and the synthetic sample (all size m)."""
    real_a: np.ndarray
    real_b: np.ndarray
    synthetic: np.ndarray
    split: str  # "groups" or "items"
    matched: bool  # False when --no-size-match let the synthetic side keep all its rows

    @property
    def size(self) -> int:
        return len(self.real_a)


def make_plan(real_groups: Sequence, n_synthetic: int, seed: int = 0, sample: Optional[int] = None,
              match: bool = True, what: str = "items", synthetic_groups: Optional[Sequence] = None) -> Plan:
    """Draw the halves and the size-matched subsamples (seeded; subsamples balanced by author, see
    `balanced_pick`, when the synthetic side's authors are given too)."""
    rng = numpy_rng(seed, 7001)
    a, b, how = group_halves(real_groups, rng)
    m = min(len(a), len(b))
    if sample:
        m = min(m, sample)
    if match:
        m = min(m, n_synthetic)
    if synthetic_groups is not None:
        synthetic_groups = _codes(synthetic_groups)
    if m < MIN_ITEMS or n_synthetic < MIN_ITEMS:
        raise SynthgapError(f"too few {what} to compare: each real half and the synthetic side need at least "
                            f"{MIN_ITEMS}, got halves of {len(a)} and {len(b)} and {n_synthetic} synthetic")
    codes = _codes(real_groups)
    synth = np.arange(n_synthetic)
    k_synth = m if match else (min(n_synthetic, sample) if sample else n_synthetic)
    return Plan(balanced_pick(a, codes[a], m, rng), balanced_pick(b, codes[b], m, rng),
                balanced_pick(synth, synthetic_groups, k_synth, rng), how, match)


def other_halves(real_groups: Sequence, size: int, seed: int, split: int) -> tuple[np.ndarray, np.ndarray]:
    """Real halves A and B of a further seeded author split (`split` >= 1), each subsampled (balanced
    by author) to at most `size` rows: what a metric that averages over splits compares besides
    the plan's own halves (split 0, see `Metric.splits`)."""
    if split < 1:
        raise ValueError("split 0 is the plan's own halves")
    rng = numpy_rng(seed, 7001, split)
    a, b, _ = group_halves(real_groups, rng)
    codes = _codes(real_groups)
    k = min(size, len(a), len(b))
    return balanced_pick(a, codes[a], k, rng), balanced_pick(b, codes[b], k, rng)


def balanced_pick(idx: np.ndarray, codes: Optional[Sequence], k: int, rng: np.random.Generator) -> np.ndarray:
    """k of the rows `idx`, author by author: every author gives one (random) item before any gives a
    second, and so on (authors in random order within a round). So a prolific author (one user with a
    quarter of a corpus's turns) holds no more of the sample than its fair share, and a subsample
    describes the population of authors, not its most talkative member. All rows when k >= len(idx)."""
    if k >= len(idx):
        return idx
    if codes is None:
        return np.sort(rng.choice(idx, k, replace=False))
    codes = np.asarray(codes)
    order = rng.permutation(len(idx))
    seen: dict = {}
    rank = np.empty(len(idx), dtype=np.int64)
    for pos in order.tolist():  # each item's round: how many items of its author came before it
        c = int(codes[pos])
        rank[pos] = seen.get(c, 0)
        seen[c] = rank[pos] + 1
    tie = rng.permutation(len(idx))
    chosen = np.lexsort((tie, rank))[:k]
    return np.sort(idx[chosen])


@dataclass
class Bootstrap:
    """Cluster-bootstrap count vectors for one side: counts[:, r] says how often each row is drawn in resample r."""
    counts: np.ndarray

    @classmethod
    def draw(cls, groups: Sequence, replicates: int, rng: np.random.Generator) -> "Bootstrap":
        codes = _codes(groups)
        k = int(codes.max()) + 1 if len(codes) else 0
        picks = rng.integers(0, k, size=(k, replicates)) if k else np.zeros((0, replicates), int)
        per_group = np.zeros((k, replicates), dtype=np.int32)
        for r in range(replicates):
            per_group[:, r] = np.bincount(picks[:, r], minlength=k)
        return cls(per_group[codes])

    @property
    def replicates(self) -> int:
        return self.counts.shape[1]


@dataclass
class Side:
    """One side of a comparison: its rows (or values), their groups, and bootstrap counts."""
    data: np.ndarray
    groups: list
    boot: Bootstrap = field(repr=False, default=None)


def sides(x_data, x_groups, y_data, y_groups, replicates: int, seed: int, tag: str) -> tuple[Side, Side]:
    """Both sides of one comparison with their bootstrap counts, seeded by (seed, tag)."""
    rng = numpy_rng(seed, tag)
    return (Side(x_data, list(x_groups), Bootstrap.draw(x_groups, replicates, rng)),
            Side(y_data, list(y_groups), Bootstrap.draw(y_groups, replicates, rng)))


def percentile_interval(replicates: np.ndarray) -> Optional[list[float]]:
    """The 2.5th and 97.5th percentiles of finite bootstrap replicates (None when there are none)."""
    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if len(r) < 2:
        return None
    low, high = np.percentile(r, [2.5, 97.5])
    return [float(low), float(high)]


def normal_interval(replicates: np.ndarray, value: float, bounds: tuple = (None, None)) -> Optional[list[float]]:
    """value +- 1.96 bootstrap standard errors, clipped to the metric's range.

    For plug-in distances (Fréchet, MAUVE, KS, JSD) the replicates sit above the estimate,
    because repeated rows make a resample look less like its source; their spread is still a
    fair standard error, while their percentiles would not even contain the estimate.
    """
    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if len(r) < 2 or value is None or not np.isfinite(value):
        return None
    se = float(r.std(ddof=1))
    low, high = value - 1.96 * se, value + 1.96 * se
    if bounds[0] is not None:
        low = max(low, bounds[0])
    if bounds[1] is not None:
        high = min(high, bounds[1])
    return [float(low), float(high)]


def interval(kind: str, replicates, value: float, bounds: tuple = (None, None)) -> Optional[list[float]]:
    """A 95% interval of the named kind ("percentile" or "normal") from bootstrap replicates."""
    if replicates is None:
        return None
    return percentile_interval(replicates) if kind == "percentile" else normal_interval(replicates, value, bounds)


__all__ = ["Bootstrap", "MIN_ITEMS", "balanced_pick", "Plan", "Side", "group_halves", "interval", "make_plan", "normal_interval", "other_halves",
           "percentile_interval", "sides"]
