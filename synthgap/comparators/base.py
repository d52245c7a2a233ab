"""The one Metric protocol and the one Result type that every comparator produces and reports read.

A metric knows how to estimate itself for one pair of sides (with bootstrap replicates);
`Metric.compute` runs it twice, real half A vs synthetic and real half A vs real half B, and
turns both into Results: the gap, its 95% interval, and the real-vs-real yardstick.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .yardstick import Side, interval

GOALS = ("lower", "higher")


@dataclass
class Estimate:
    """One metric output for one comparison: its value, bootstrap replicates and anything worth keeping."""
    value: float
    replicates: Optional[np.ndarray] = None
    details: dict = field(default_factory=dict)


def _round(x, digits: int = 6):
    """Round floats to `digits` significant digits (so BLAS round-off does not change results.json)."""
    if isinstance(x, float):
        if not math.isfinite(x):
            return None
        return float(f"{x:.{digits}g}")
    if isinstance(x, (np.floating, np.integer)):
        return _round(x.item(), digits)
    if isinstance(x, dict):
        return {k: _round(v, digits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_round(v, digits) for v in x]
    if isinstance(x, np.ndarray):
        return _round(x.tolist(), digits)
    return x


@dataclass
class Result:
    """A metric's real-vs-synthetic value beside its real-vs-real baseline, each with a 95% interval."""
    name: str
    family: str
    goal: str
    range: tuple
    value: float
    ci95: Optional[list]
    baseline: float
    baseline_ci95: Optional[list]
    n: int
    ideal: Optional[float] = None
    details: dict = field(default_factory=dict)

    def _reference(self) -> float:
        """The best possible value: `ideal` when set, else the end of the range the goal points to."""
        if self.ideal is not None:
            return self.ideal
        return self.range[0] if self.goal == "lower" else self.range[1]

    @property
    def ratio_to_baseline(self) -> Optional[float]:
        """How many times further from the best value the synthetic side is than a real half (None if undefined)."""
        best = self._reference()
        if best is None or self.value is None or self.baseline is None:
            return None
        gap, base = abs(self.value - best), abs(self.baseline - best)
        if base < 1e-12:
            return None if gap < 1e-12 else math.inf
        return gap / base

    @property
    def beyond_baseline(self) -> Optional[bool]:
        """True when the whole 95% interval of the gap lies further from the best value than the
        baseline's interval does (distances to the ideal for two-sided metrics such as AUC)."""
        if self.ci95 is None:
            return None
        base = self.baseline_ci95 or [self.baseline, self.baseline]
        best = self._reference()
        if best is None:  # an unbounded "higher" metric without an ideal
            return self.ci95[1] < base[0]
        low, high = self.ci95
        nearest = 0.0 if low <= best <= high else min(abs(low - best), abs(high - best))
        return nearest > max(abs(v - best) for v in base)

    def to_json(self, synthetic: str) -> dict:
        ratio = self.ratio_to_baseline
        return _round({
            "name": self.name, "family": self.family, "synthetic": synthetic, "goal": self.goal,
            "range": list(self.range), "ideal": self.ideal,
            "real_vs_synthetic": self.value, "ci95": self.ci95,
            "real_vs_real": self.baseline, "real_vs_real_ci95": self.baseline_ci95,
            "ratio_to_baseline": None if ratio is None or math.isinf(ratio) else ratio,
            "beyond_baseline": self.beyond_baseline, "n": self.n, "details": self.details,
        })


class Metric(ABC):
    """Base class: subclasses set the class attributes and implement `estimate`.

    `outputs` lists the reported quantities (PRDC reports four), each becoming one Result named
    `<output>`; `goals`/`ranges`/`ideals` may override the defaults per output.
    """
    name: str = ""
    family: str = "embedding"
    goal: str = "lower"
    range: tuple = (0.0, None)
    ideal: Optional[float] = None
    interval: str = "percentile"  # or "normal" where resampling biases the replicates (see yardstick.py)
    outputs: tuple = ()
    goals: dict = {}
    ranges: dict = {}
    ideals: dict = {}

    def names(self) -> tuple:
        return self.outputs or (self.name,)

    @abstractmethod
    def estimate(self, x: Side, y: Side, seed: int) -> dict[str, Estimate]:
        """Estimate every output for x (real) against y; use x.boot / y.boot counts for replicates."""

    def results(self, rvs: dict[str, Estimate], rvr: dict[str, Estimate], n: int) -> list[Result]:
        """Results from the two comparisons' estimates."""
        out = []
        for key in self.names():
            a, b = rvs[key], rvr[key]
            details = {**a.details, "interval": self.interval}
            if a.replicates is not None:
                details["replicates"] = int(np.isfinite(a.replicates).sum())
            if b.details:
                details["real_vs_real"] = b.details
            bounds = self.ranges.get(key, self.range)
            out.append(Result(
                name=key, family=self.family, goal=self.goals.get(key, self.goal), range=bounds, value=a.value,
                ci95=interval(self.interval, a.replicates, a.value, bounds), baseline=b.value,
                baseline_ci95=interval(self.interval, b.replicates, b.value, bounds),
                n=n, ideal=self.ideals.get(key, self.ideal), details=details))
        return out

    def compute(self, real_a: Side, synthetic: Side, real_b: Side, seed: int = 0) -> list[Result]:
        """Real half A vs the synthetic side, and real half A vs real half B (the yardstick)."""
        return self.results(self.estimate(real_a, synthetic, seed), self.estimate(real_a, real_b, seed),
                            len(real_a.data))


__all__ = ["Estimate", "GOALS", "Metric", "Result"]
