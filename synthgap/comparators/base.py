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


def round_floats(x, digits: int = 6):
    """Round floats to `digits` significant digits (so BLAS round-off does not change results.json)."""
    if isinstance(x, float):
        if not math.isfinite(x):
            return None
        return float(f"{x:.{digits}g}")
    if isinstance(x, (np.floating, np.integer)):
        return round_floats(x.item(), digits)
    if isinstance(x, dict):
        return {k: round_floats(v, digits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [round_floats(v, digits) for v in x]
    if isinstance(x, np.ndarray):
        return round_floats(x.tolist(), digits)
    return x


ALPHA = 0.05
CORRECTION = "holm"


def too_few(m: int, needs: Optional[int]) -> Optional[str]:
    """The refusal a metric gives below its reliable size, or None."""
    if needs is not None and m < needs:
        return f"too few items (m = {m}; needs >= {needs})"
    return None


@dataclass
class Result:
    """A metric's real-vs-synthetic value beside its real-vs-real baseline, each with a 95% interval,
    and the paired difference of the two that decides the verdict.

    `replicates` and `baseline_replicates` are the bootstrap replicates of the two comparisons on
    the same real-half-A draws (column r of one belongs with column r of the other), so the
    difference has its own bootstrap distribution at no extra cost. `beyond` is set by
    `adjust_verdicts` across all results of a report (it is None until then).
    """
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
    authors: dict = field(default_factory=dict)
    min_items: Optional[int] = None
    replicates: Optional[np.ndarray] = field(default=None, repr=False)
    baseline_replicates: Optional[np.ndarray] = field(default=None, repr=False)

    def _reference(self) -> Optional[float]:
        """The best possible value: `ideal` when set, else the end of the range the goal points to."""
        if self.ideal is not None:
            return self.ideal
        return self.range[0] if self.goal == "lower" else self.range[1]

    def gap(self, v):
        """How far values are from the best one, signed so that larger is worse: |v - ideal| for a
        two-sided metric, v - best for "lower", best - v for "higher" (-v when unbounded). Signed,
        because an unbiased MMD^2 below 0 means "indistinguishable", not "far"."""
        v = np.asarray(v, np.float64)
        best = self._reference()
        if self.ideal is not None:
            return np.abs(v - best)
        if self.goal == "lower":
            return v - (best or 0.0)
        return (best - v) if best is not None else -v

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
    def status(self) -> Optional[str]:
        """Why no verdict can be given (too few items, no interval), or None."""
        refusal = too_few(self.n, self.min_items)
        if refusal:
            return refusal
        if self.value is None or not np.isfinite(self.value) or self.baseline is None or \
                not np.isfinite(self.baseline):
            return "no estimate"
        if self.replicates is None or self.baseline_replicates is None:
            return "no interval"
        return None

    def clusters(self) -> Optional[int]:
        """The fewest authors (or blocks) on any side: what the bootstrap's spread really rests on."""
        counts = [v for k, v in self.authors.items() if k in ("real_a", "real_b", "synthetic", "real")
                  and isinstance(v, int)]
        return min(counts) if counts else None

    def paired(self) -> Optional[dict]:
        """The difference gap(real-vs-synthetic) - gap(real-vs-real), its bootstrap standard error from
        the paired replicates, a 95% interval and the one-sided p-value of "no larger than 0".

        The reference distribution is Student's t with G - 1 degrees of freedom, G the fewest authors
        on any side: a cluster bootstrap's standard error from G authors is itself uncertain, and with
        a few dozen authors the normal reference gives too many false "beyond" verdicts (the usual
        small-cluster correction). Normal-theory rather than percentile: the replicates of plug-in
        distances sit above their estimate (repeated rows), which shifts percentiles but not their
        spread, and the bias is alike on both sides of the difference.
        """
        if self.status:
            return None
        from scipy.stats import norm, t

        diff = float(self.gap(self.value) - self.gap(self.baseline))
        reps = self.gap(self.replicates) - self.gap(self.baseline_replicates)
        reps = reps[np.isfinite(reps)]
        if len(reps) < 2:
            return None
        se = float(reps.std(ddof=1))
        g = self.clusters()
        ref = t(df=g - 1) if g is not None and g >= 2 else norm()
        if se > 0:
            p = float(ref.sf(diff / se))
        else:
            p = 0.0 if diff > 0 else 1.0
        q = float(ref.ppf(0.975))
        return {"value": diff, "ci95": [diff - q * se, diff + q * se], "se": se, "p_value": p,
                "df": None if g is None else g - 1, "replicates": int(len(reps))}

    def to_json(self, synthetic: str) -> dict:
        ratio = self.ratio_to_baseline
        paired = self.paired()
        return round_floats({
            "name": self.name, "family": self.family, "synthetic": synthetic, "goal": self.goal,
            "range": list(self.range), "ideal": self.ideal,
            "real_vs_synthetic": self.value, "ci95": self.ci95,
            "real_vs_real": self.baseline, "real_vs_real_ci95": self.baseline_ci95,
            "ratio_to_baseline": None if ratio is None or math.isinf(ratio) else ratio,
            "difference": paired, "beyond_baseline": None, "status": self.status,
            "m": self.n, "authors": self.authors, "min_items": self.min_items, "details": self.details,
        })


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order as given)."""
    k = len(p_values)
    order = sorted(range(k), key=lambda i: p_values[i])
    adjusted = [0.0] * k
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (k - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def adjust_verdicts(metrics: list[dict], alpha: float = ALPHA) -> dict:
    """Decide every "beyond real-vs-real" verdict of one report together, in place.

    Holm's correction over every metric that has a paired p-value (all synthetic corpora and
    families of the report): it holds the chance of any false "beyond" at alpha under any
    dependence between the tests, and these tests are strongly dependent (PRDC's four outputs,
    style features of the same turns), which Benjamini-Hochberg's guarantee does not cover.
    A metric without a p-value (too few items, no interval) gets no verdict (None).
    Returns the summary that results.json keeps under "verdicts".
    """
    tested = [m for m in metrics if (m.get("difference") or {}).get("p_value") is not None]
    adjusted = holm([m["difference"]["p_value"] for m in tested])
    for m, p in zip(tested, adjusted):
        m["difference"]["p_adjusted"] = round_floats(p)
        m["beyond_baseline"] = bool(p < alpha)
    for m in metrics:
        if m not in tested:
            m["beyond_baseline"] = None
    return {"correction": CORRECTION, "alpha": alpha, "tests": len(tested),
            "beyond": sum(1 for m in tested if m["beyond_baseline"]),
            "no_verdict": len(metrics) - len(tested),
            "rule": "beyond real-vs-real when the paired difference gap(real vs synthetic) - gap(real vs real) "
                    "is above 0 at one-sided level alpha after Holm's correction across the report"}


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
    min_items: dict = {}  # per output: the smallest m at which its estimator is reliable (see calibration)
    splits: int = 1  # author splits of the real corpus its point estimates average over (`over_splits`)

    def prepare(self, real_a: Side, real_b: Side, synthetic: Side) -> None:
        """Fix what both comparisons must share (a kernel bandwidth from the pooled sample)."""

    def shared_key(self) -> tuple:
        """What `prepare` fixed, so a cached baseline is reused only with the same settings."""
        return ()

    def names(self) -> tuple:
        return self.outputs or (self.name,)

    @abstractmethod
    def estimate(self, x: Side, y: Side, seed: int) -> dict[str, Estimate]:
        """Estimate every output for x (real) against y; use x.boot / y.boot counts for replicates."""

    def over_splits(self, estimates: list[dict[str, Estimate]]) -> dict[str, Estimate]:
        """One comparison's estimates on several author splits of the real corpus, as one: the mean
        point estimate, with the first split's replicates and details (the first split is the plan's
        own halves, on which the bootstrap draws are shared, so pairing and intervals come from it).

        A single split's value moves with which authors happened to land in half A and half B (a
        real-vs-real C2ST AUC over 130 ConvAI2 users has a standard deviation of 0.03 across
        splits); the mean over k splits cuts that by about sqrt(k). The interval from the first
        split's replicates is then conservative for the mean.
        """
        if len(estimates) == 1:
            return estimates[0]
        out = {}
        for key, first in estimates[0].items():
            values = [e[key].value for e in estimates]
            finite = [v for v in values if v is not None and np.isfinite(v)]
            value = float(np.mean(finite)) if finite else float("nan")
            out[key] = Estimate(value, first.replicates,
                                {**first.details, "splits": len(values), "split_values": values,
                                 "split_sd": float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0})
        return out

    def estimate_splits(self, pairs: list[tuple[Side, Side]], seed: int) -> dict[str, Estimate]:
        """`estimate` on each (x, y) pair, one per author split with the plan's own first, as one
        (`over_splits`)."""
        return self.over_splits([self.estimate(x, y, seed) for x, y in pairs])

    def results(self, real_vs_synthetic: dict[str, Estimate], real_vs_real: dict[str, Estimate], n: int,
                authors: Optional[dict] = None) -> list[Result]:
        """Results from the two comparisons' estimates (replicates paired column by column)."""
        out = []
        for key in self.names():
            a, b = real_vs_synthetic[key], real_vs_real[key]
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
                n=n, ideal=self.ideals.get(key, self.ideal), details=details, authors=dict(authors or {}),
                min_items=self.min_items.get(key), replicates=a.replicates, baseline_replicates=b.replicates))
        return out

    def compute(self, real_a: Side, synthetic: Side, real_b: Side, seed: int = 0) -> list[Result]:
        """Real half A vs the synthetic side, and real half A vs real half B (the yardstick)."""
        self.prepare(real_a, real_b, synthetic)
        return self.results(self.estimate(real_a, synthetic, seed), self.estimate(real_a, real_b, seed),
                            len(real_a.data), side_authors(real_a, real_b, synthetic))


def authors_cell(metric: dict, missing: str = "-") -> str:
    """Distinct authors behind real half A / real half B / the synthetic side (`missing` when not recorded)."""
    a = metric.get("authors") or {}
    if "real_a" not in a:
        return missing
    parts = [a.get("real_a"), a.get("real_b"), a.get("synthetic")]
    text = "/".join("?" if x is None else str(x) for x in parts)
    return f"{text} {a['unit']}" if a.get("unit") else text


def p_cell(metric: dict, missing: str = "-") -> str:
    """The Holm-adjusted p-value of the paired difference, as a table shows it."""
    p = (metric.get("difference") or {}).get("p_adjusted")
    if p is None:
        return missing
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def side_authors(real_a: Side, real_b: Side, synthetic: Side) -> dict:
    """Distinct authors on each side of a metric's comparisons."""
    return {"real_a": len(set(real_a.groups)), "real_b": len(set(real_b.groups)),
            "synthetic": len(set(synthetic.groups))}


__all__ = ["ALPHA", "CORRECTION", "Estimate", "GOALS", "Metric", "Result", "adjust_verdicts", "authors_cell", "holm", "p_cell", "side_authors",
           "too_few"]
