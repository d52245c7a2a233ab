"""The yardstick: group-aware halves, size matching, cluster bootstrap, intervals and verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from synthgap.comparators.base import Estimate, Metric, Result, adjust_verdicts, holm
from synthgap.comparators.yardstick import (Bootstrap, Side, balanced_pick, group_halves, make_plan, normal_interval,
                                            other_halves, percentile_interval)
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


def result(value, base, reps, base_reps, goal="lower", ideal=None, rng=(0.0, 1.0), n=100, min_items=None):
    return Result("m", "embedding", goal, rng, value, None, base, None, n, ideal, min_items=min_items,
                  replicates=None if reps is None else np.asarray(reps, float),
                  baseline_replicates=None if base_reps is None else np.asarray(base_reps, float))


def test_paired_difference_decides_where_overlapping_intervals_would_not():
    """The sign-reversal case: both comparisons share real half A, so their replicates move together.
    Their marginal intervals overlap (the old rule said "not beyond"), yet real-vs-synthetic is
    further from the ideal in every single draw: the paired difference is clearly above 0."""
    rng = np.random.default_rng(0)
    shared = rng.normal(0, 0.05, 400)  # half A's draw moves both numbers alike
    rvs = 0.30 + shared + rng.normal(0, 0.002, 400)
    rvr = 0.27 + shared + rng.normal(0, 0.002, 400)
    r = result(0.30, 0.27, rvs, rvr)
    ci, base_ci = percentile_interval(rvs), percentile_interval(rvr)
    assert ci[0] < base_ci[1]  # the intervals overlap
    d = r.paired()
    assert d["value"] == pytest.approx(0.03) and d["ci95"][0] > 0.02 and d["p_value"] < 1e-6
    # independent replicates with the same marginal spread: the same gap is not significant
    loose = result(0.30, 0.27, 0.30 + rng.normal(0, 0.05, 400), 0.27 + rng.normal(0, 0.05, 400)).paired()
    assert loose["p_value"] > 0.2


def test_gap_is_signed_and_two_sided_where_the_metric_has_an_ideal():
    higher = result(0.2, 0.9, [0.2, 0.21, 0.19], [0.9, 0.91, 0.89], goal="higher")
    assert higher.paired()["value"] == pytest.approx(0.7) and higher.ratio_to_baseline == pytest.approx(0.8 / 0.1)
    below = result(0.3, 0.52, [0.29, 0.31, 0.3], [0.51, 0.53, 0.52], ideal=0.5)  # far below chance is a gap too
    assert below.paired()["value"] == pytest.approx(0.18)
    # an unbiased MMD^2 below 0 is "indistinguishable", not far: the gap keeps its sign
    mmd = result(-0.001, 0.002, [-0.001, 0.0, -0.002], [0.002, 0.003, 0.001], rng=(0.0, 2.0))
    assert mmd.paired()["value"] == pytest.approx(-0.003)


def test_no_verdict_without_replicates_or_below_the_metrics_size():
    assert result(0.5, 0.1, None, None).status == "no interval" and result(0.5, 0.1, None, None).paired() is None
    few = result(0.5, 0.1, [0.5, 0.6], [0.1, 0.2], n=40, min_items=100)
    assert few.status == "too few items (m = 40; needs >= 100)" and few.paired() is None
    js = few.to_json("syn")
    assert js["status"].startswith("too few") and js["difference"] is None and js["m"] == 40


def test_holm_and_report_wide_verdicts():
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    metrics = [{"difference": {"p_value": 0.001}}, {"difference": {"p_value": 0.02}},
               {"difference": {"p_value": 0.3}}, {"difference": None}]
    summary = adjust_verdicts(metrics)
    # 0.001 x 3, then 0.02 x 2 = 0.04 (< 0.05), then 0.3: two beyond; without a p-value, no verdict
    assert [m["beyond_baseline"] for m in metrics] == [True, True, False, None]
    assert [m["difference"]["p_adjusted"] for m in metrics[:3]] == pytest.approx([0.003, 0.04, 0.3])
    assert summary["tests"] == 3 and summary["beyond"] == 2 and summary["no_verdict"] == 1
    assert summary["correction"] == "holm"


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
    assert res.value > 0.8 and res.baseline < 0.2 and res.paired()["p_value"] < 0.001
    assert res.authors == {"real_a": 400, "real_b": 400, "synthetic": 400}
    assert res.ci95[0] < res.value < res.ci95[1] and res.details["interval"] == "percentile"


def test_subsamples_are_balanced_by_author():
    """One prolific author (half the items) must not hold half of a subsample: every author gives one
    item before any gives a second."""
    groups = ["big"] * 500 + [f"u{i // 5}" for i in range(500)]  # "big" + 100 authors of 5
    idx = np.arange(len(groups))
    codes = np.array([0] * 500 + [1 + i // 5 for i in range(500)])
    pick = balanced_pick(idx, codes, 202, np.random.default_rng(0))
    chosen = [groups[i] for i in pick]
    assert len(pick) == 202 and chosen.count("big") == 2  # two rounds of 101 authors
    assert len(set(chosen)) == 101
    assert (balanced_pick(idx, codes, 1000, np.random.default_rng(0)) == idx).all()
    plan = make_plan(groups, 1000, seed=0, sample=100, synthetic_groups=[f"p{i // 10}" for i in range(1000)])
    in_a = [groups[i] for i in plan.real_a]
    assert in_a.count("big") <= 2 and len(plan.synthetic) == 100


def test_other_halves_are_further_author_splits_of_the_plans_size():
    groups = [f"u{i % 40}" for i in range(400)]  # 40 users, 10 items each
    plan = make_plan(groups, 1000, seed=3, sample=120)
    firsts = {frozenset(groups[i] for i in plan.real_a)}
    for split in (1, 2, 3):
        a, b = other_halves(groups, plan.size, seed=3, split=split)
        assert len(a) == len(b) == plan.size == 120
        assert not {groups[i] for i in a} & {groups[i] for i in b}  # author-disjoint
        firsts.add(frozenset(groups[i] for i in a))
        same = other_halves(groups, plan.size, seed=3, split=split)
        assert (same[0] == a).all() and (same[1] == b).all()  # seeded
    assert len(firsts) == 4  # every split puts other authors in half A
    with pytest.raises(ValueError):
        other_halves(groups, 10, 0, 0)


def test_over_splits_averages_points_and_keeps_the_first_splits_replicates():
    class M(Metric):
        name = "m"

        def estimate(self, x, y, seed):
            return {}

    reps = np.array([1.0, 2.0, 3.0])
    first = {"m": Estimate(0.5, reps, {"folds": 5})}
    merged = M().over_splits([first, {"m": Estimate(0.7)}, {"m": Estimate(0.6)}])["m"]
    assert merged.value == pytest.approx(0.6) and merged.replicates is reps
    assert merged.details["splits"] == 3 and merged.details["split_values"] == [0.5, 0.7, 0.6]
    assert merged.details["folds"] == 5 and merged.details["split_sd"] == pytest.approx(0.1)
    assert M().over_splits([first]) is first
