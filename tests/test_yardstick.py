"""The yardstick: group-aware halves, size matching, cluster bootstrap, intervals and verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from synthgap.comparators.base import Estimate, Metric, Result
from synthgap.comparators.yardstick import (Bootstrap, Side, group_halves, make_plan, normal_interval,
                                            percentile_interval)
from synthgap.errors import SynthgapError


def test_halves_never_share_a_group_and_are_balanced():
    groups = [f"u{i // 3}" for i in range(300)]  # 100 users with 3 turns each
    a, b, how = group_halves(groups, np.random.default_rng(0))
    assert how == "groups"
    assert not {groups[i] for i in a} & {groups[i] for i in b}
    assert abs(len(a) - len(b)) <= 3 and len(a) + len(b) == 300


def test_one_dominant_group_falls_back_to_items():
    groups = ["big"] * 90 + [f"u{i}" for i in range(10)]
    a, b, how = group_halves(groups, np.random.default_rng(0))
    assert how == "items" and len(a) == len(b) == 50


def test_plan_matches_sizes_and_is_seeded():
    groups = [f"u{i // 2}" for i in range(1000)]
    plan = make_plan(groups, 300, seed=1)
    assert plan.size == 300 and len(plan.real_b) == 300 and len(plan.synthetic) == 300
    assert not set(plan.real_a) & set(plan.real_b)
    again = make_plan(groups, 300, seed=1)
    assert (again.real_a == plan.real_a).all() and (again.synthetic == plan.synthetic).all()
    other = make_plan(groups, 300, seed=2)
    assert not (other.real_a == plan.real_a).all()
    assert make_plan(groups, 300, seed=1, sample=100).size == 100
    unmatched = make_plan(groups, 2000, seed=1, match=False)
    assert len(unmatched.synthetic) == 2000 and unmatched.size == 500


def test_plan_refuses_tiny_samples():
    with pytest.raises(SynthgapError, match="too few user turns"):
        make_plan([f"u{i}" for i in range(12)], 100, what="user turns")
    with pytest.raises(SynthgapError, match="too few"):
        make_plan([f"u{i}" for i in range(100)], 5)


def test_cluster_bootstrap_draws_whole_groups():
    groups = ["a", "a", "b", "c", "c", "c"]
    boot = Bootstrap.draw(groups, 500, np.random.default_rng(0))
    c = boot.counts
    assert c.shape == (6, 500)
    assert (c[0] == c[1]).all() and (c[3] == c[4]).all() and (c[4] == c[5]).all()
    # three groups drawn three times per replicate
    assert ((c[0] + c[2] + c[3]) == 3).all()


def test_intervals():
    reps = np.arange(1000, dtype=float)
    low, high = percentile_interval(reps)
    assert low == pytest.approx(24.975) and high == pytest.approx(974.025)
    assert percentile_interval(np.array([np.nan, 1.0])) is None
    low, high = normal_interval(np.array([1.0, 2.0, 3.0]), 0.5, bounds=(0.0, 1.0))
    assert low == 0.0 and high == 1.0


def result(value, ci, base, base_ci, goal="lower", ideal=None, rng=(0.0, 1.0)):
    return Result("m", "embedding", goal, rng, value, ci, base, base_ci, 100, ideal)


def test_verdicts_and_ratios():
    assert result(0.5, [0.4, 0.6], 0.1, [0.05, 0.2]).beyond_baseline is True
    assert result(0.5, [0.15, 0.6], 0.1, [0.05, 0.2]).beyond_baseline is False
    higher = result(0.2, [0.1, 0.3], 0.9, [0.85, 0.95], goal="higher")
    assert higher.beyond_baseline is True and higher.ratio_to_baseline == pytest.approx(0.8 / 0.1)
    auc = result(0.95, [0.93, 0.97], 0.52, [0.48, 0.56], ideal=0.5)
    assert auc.beyond_baseline is True and auc.ratio_to_baseline == pytest.approx(0.45 / 0.02)
    below = result(0.3, [0.28, 0.32], 0.52, [0.48, 0.56], ideal=0.5)  # far below chance is also a gap
    assert below.beyond_baseline is True
    assert result(0.5, None, 0.1, None).beyond_baseline is None
    js = result(0.5, [0.4, 0.6], 0.1, [0.05, 0.2]).to_json("syn")
    for key in ("name", "family", "synthetic", "real_vs_synthetic", "real_vs_real", "ci95", "goal"):
        assert key in js
    assert js["synthetic"] == "syn" and js["ci95"] == [0.4, 0.6]


class MeanGap(Metric):
    """A toy metric: |mean(x) - mean(y)|, bootstrapped with the counts."""
    name = "mean_gap"

    def estimate(self, x, y, seed):
        reps = np.abs((x.data @ x.boot.counts) / x.boot.counts.sum(0) - (y.data @ y.boot.counts) / y.boot.counts.sum(0))
        return {self.name: Estimate(abs(x.data.mean() - y.data.mean()), reps)}


def test_metric_compute_runs_both_comparisons():
    rng = np.random.default_rng(0)
    make = lambda data: Side(data, list(range(len(data))), Bootstrap.draw(list(range(len(data))), 200, rng))  # noqa
    a, b, s = make(rng.normal(0, 1, 400)), make(rng.normal(0, 1, 400)), make(rng.normal(1, 1, 400))
    (res,) = MeanGap().compute(a, s, b)
    assert res.value > 0.8 and res.baseline < 0.2 and res.beyond_baseline
    assert res.ci95[0] < res.value < res.ci95[1] and res.details["interval"] == "percentile"
