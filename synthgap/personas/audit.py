"""Fidelity audit: how a persona set compares with a reference population.

Per attribute, the marginal distance (total variation for categories, Kolmogorov–Smirnov for
numbers); per pair of attributes, the distance between joint distributions and the change in
association (Cramér's V), which catches sets whose marginals match but whose combinations
are wrong; duplicate and near-duplicate personas; consistency-rule violations. Every
distance comes with a bootstrap 95% interval and the noise floor: the same distance between
two samples of these sizes drawn from the reference itself, below which a gap means nothing.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any, Optional, Sequence

import numpy as np

from ..records import Persona
from .reference import Population, from_personas
from .rules import count_violations
from .taxonomy import Taxonomy
from ..seeds import numpy_rng


# ---------------------------------------------------------------------------- plain metrics
def total_variation(p: Sequence[float], q: Sequence[float]) -> float:
    """Total variation distance between two distributions on the same categories (counts or shares)."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    if p.sum() == 0 or q.sum() == 0:
        return float("nan")
    return float(0.5 * np.abs(p / p.sum() - q / q.sum()).sum())


def ks_statistic(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov statistic and p-value (scipy)."""
    from scipy.stats import ks_2samp

    result = ks_2samp(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return float(result.statistic), float(result.pvalue)


def cramers_v(table: np.ndarray) -> float:
    """Cramér's V of a contingency table (0 = independent, 1 = one decides the other)."""
    from scipy.stats.contingency import association

    table = np.rint(np.asarray(table, dtype=float)).astype(np.int64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return 0.0
    return float(association(table, method="cramer"))


def _counts(values: Sequence[Any], categories: list) -> np.ndarray:
    c = Counter(values)
    return np.array([c.get(k, 0) for k in categories], dtype=float)


def _bootstrap_tv(p_counts: np.ndarray, q_counts: np.ndarray, rng: np.random.Generator, b: int) -> dict:
    """95% interval of the TV by resampling both sides, and the noise floor under the reference."""
    n_p, n_q = int(p_counts.sum()), int(q_counts.sum())
    p_share, q_share = p_counts / n_p, q_counts / n_q
    boot = [total_variation(rng.multinomial(n_p, p_share), rng.multinomial(n_q, q_share)) for _ in range(b)]
    floor = [total_variation(rng.multinomial(n_p, q_share), rng.multinomial(n_q, q_share)) for _ in range(b)]
    return {"ci95": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
            "noise_floor": float(np.median(floor)), "noise_p95": float(np.percentile(floor, 95))}


def _bootstrap_ks(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, b: int) -> dict:
    from scipy.stats import ks_2samp

    boot = [ks_2samp(rng.choice(x, len(x)), rng.choice(y, len(y))).statistic for _ in range(b)]
    floor = [ks_2samp(rng.choice(y, len(x)), rng.choice(y, len(y))).statistic for _ in range(b)]
    return {"ci95": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
            "noise_floor": float(np.median(floor)), "noise_p95": float(np.percentile(floor, 95))}


def quantile_bins(reference: Sequence[float], k: int = 4) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (so pairs with a number use k even bins)."""
    edges = np.unique(np.quantile(np.asarray(reference, dtype=float), np.linspace(0, 1, k + 1)[1:-1]))
    return edges


def _binned(values: Sequence[float], edges: np.ndarray) -> list[str]:
    idx = np.searchsorted(edges, np.asarray(values, dtype=float), side="right")
    return [f"q{int(i) + 1}" for i in idx]


# ---------------------------------------------------------------------------- duplicates
def near_duplicates(rows: list[dict], keys: list[str], max_diff: int = 1, limit: int = 20000,
                    seed: int = 0) -> dict:
    """Exact duplicates and pairs differing in at most `max_diff` attributes (missing = its own value).

    Pairwise comparison is chunked in numpy; above `limit` rows a seeded sample is checked
    (and the result says so).
    """
    n_all = len(rows)
    if n_all < 2 or not keys:
        return {"rows": n_all, "attributes": len(keys), "exact_duplicate_share": 0.0, "near_duplicate_share": 0.0,
                "max_diff": max_diff, "checked": n_all}
    if n_all > limit:
        pick = np.sort(numpy_rng(seed).choice(n_all, limit, replace=False))
        rows = [rows[i] for i in pick]
    codes = np.empty((len(rows), len(keys)), dtype=np.int32)
    for j, key in enumerate(keys):
        table: dict = {}
        codes[:, j] = [table.setdefault(row.get(key, None), len(table)) for row in rows]
    exact = Counter(map(bytes, codes))
    exact_share = sum(c for c in exact.values() if c > 1) / len(rows)
    has_near = np.zeros(len(rows), dtype=bool)
    chunk = max(1, 4_000_000 // max(1, len(rows) * len(keys)))
    for start in range(0, len(rows), chunk):
        block = codes[start:start + chunk]
        diff = (block[:, None, :] != codes[None, :, :]).sum(axis=2)
        for i in range(len(block)):
            diff[i, start + i] = max_diff + 1  # a persona is not its own duplicate
        has_near[start:start + len(block)] = (diff <= max_diff).any(axis=1)
    return {"rows": n_all, "checked": len(rows), "attributes": len(keys), "max_diff": max_diff,
            "exact_duplicate_share": float(exact_share), "near_duplicate_share": float(has_near.mean())}


# ---------------------------------------------------------------------------- the audit
def audit(personas: list[Persona], reference: Population, taxonomy: Taxonomy, mapping=None, *,
          seed: int = 0, bootstrap: int = 200, max_pairs: int = 120, near_diff: int = 1) -> dict:
    """The full audit report (a JSON-ready dict); see the module docstring."""
    rng = numpy_rng(seed)
    mine = from_personas(personas, taxonomy, "personas", mapping)
    shared = [k for k in mine.kinds if k in reference.kinds and mine.column(k) and reference.column(k)]
    order = list(taxonomy.attributes)
    shared.sort(key=lambda k: order.index(k) if k in order else len(order))
    marginals = [_marginal(k, mine, reference, rng, bootstrap) for k in shared]
    pairs = []
    for a, b in itertools.islice(itertools.combinations(shared, 2), max_pairs):
        item = _pair(a, b, mine, reference, rng, bootstrap)
        if item is not None:
            pairs.append(item)
    keys_own = sorted({k for row in from_personas(personas, taxonomy).rows for k in row})
    dup_own = near_duplicates(from_personas(personas, taxonomy).rows, keys_own, near_diff, seed=seed)
    dup_shared = near_duplicates(mine.rows, shared, near_diff, seed=seed)
    dup_ref = near_duplicates(reference.rows, shared, near_diff, seed=seed)
    beyond = [m for m in marginals if m["beyond_noise"]]
    summary = {
        "attributes_compared": len(marginals),
        "mean_marginal_distance": _mean(m["value"] for m in marginals),
        "marginals_beyond_noise": len(beyond),
        "pairs_compared": len(pairs),
        "mean_joint_tv": _mean(p["joint_tv"] for p in pairs),
        "mean_abs_delta_cramers_v": _mean(p["abs_delta_v"] for p in pairs),
        "pairs_beyond_noise": sum(1 for p in pairs if p["beyond_noise"]),
    }
    return {
        "personas": {"n": len(personas), "unmapped_values": dict(mine.unmapped)},
        "reference": {"name": reference.name, "n": len(reference), "mapping": getattr(mapping, "name", None),
                      "unmapped_values": dict(reference.unmapped)},
        "summary": summary,
        "marginals": marginals,
        "pairs": pairs,
        "duplicates": {"personas_all_attributes": dup_own, "personas_shared_attributes": dup_shared,
                       "reference_shared_attributes": dup_ref},
        "violations": count_violations(personas, taxonomy),
        "settings": {"seed": seed, "bootstrap": bootstrap, "near_duplicate_max_diff": near_diff},
    }


def _mean(values) -> Optional[float]:
    values = [v for v in values if v is not None and not np.isnan(v)]
    return float(np.mean(values)) if values else None


def _marginal(key: str, mine: Population, ref: Population, rng, b: int) -> dict:
    x, y = mine.column(key), ref.column(key)
    if ref.kinds[key] == "numeric":
        xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        stat, p = ks_statistic(xa, ya)
        boot = _bootstrap_ks(xa, ya, rng, b)
        shown = {"personas": _describe(xa), "reference": _describe(ya)}
        return {"attribute": key, "kind": "numeric", "metric": "ks", "value": stat, "p_value": p, **boot,
                "beyond_noise": stat > boot["noise_p95"], "n_personas": len(x), "n_reference": len(y), **shown}
    categories = sorted(set(x) | set(y), key=str)
    pc, qc = _counts(x, categories), _counts(y, categories)
    value = total_variation(pc, qc)
    boot = _bootstrap_tv(pc, qc, rng, b)
    return {"attribute": key, "kind": "categorical", "metric": "tv", "value": value, **boot,
            "beyond_noise": value > boot["noise_p95"], "n_personas": len(x), "n_reference": len(y),
            "personas": {c: float(v / pc.sum()) for c, v in zip(categories, pc)},
            "reference": {c: float(v / qc.sum()) for c, v in zip(categories, qc)}}


def _describe(values: np.ndarray) -> dict:
    return {"mean": float(values.mean()), "median": float(np.median(values)), "sd": float(values.std()),
            "min": float(values.min()), "max": float(values.max())}


def _replace(pair: tuple, pos: int, value) -> tuple:
    return (value, pair[1]) if pos == 0 else (pair[0], value)


def _pair(a: str, b: str, mine: Population, ref: Population, rng, boots: int) -> Optional[dict]:
    def cells(pop: Population) -> list[tuple]:
        return [(row[a], row[b]) for row in pop.rows if a in row and b in row]

    mine_pairs, ref_pairs = cells(mine), cells(ref)
    if len(mine_pairs) < 10 or len(ref_pairs) < 10:
        return None
    for pos, key in enumerate((a, b)):
        if ref.kinds[key] == "numeric":
            edges = quantile_bins([p[pos] for p in ref_pairs])
            binned_m = _binned([p[pos] for p in mine_pairs], edges)
            binned_r = _binned([p[pos] for p in ref_pairs], edges)
            mine_pairs = [_replace(p, pos, binned_m[i]) for i, p in enumerate(mine_pairs)]
            ref_pairs = [_replace(p, pos, binned_r[i]) for i, p in enumerate(ref_pairs)]
    rows = sorted({p[0] for p in mine_pairs + ref_pairs}, key=str)
    cols = sorted({p[1] for p in mine_pairs + ref_pairs}, key=str)
    cats = [(r, c) for r in rows for c in cols]
    pc, qc = _counts(mine_pairs, cats), _counts(ref_pairs, cats)
    joint = total_variation(pc, qc)
    boot = _bootstrap_tv(pc, qc, rng, boots)
    vm = cramers_v(pc.reshape(len(rows), len(cols)))
    vr = cramers_v(qc.reshape(len(rows), len(cols)))
    return {"attributes": [a, b], "joint_tv": joint, **{f"joint_{k}": v for k, v in boot.items()},
            "beyond_noise": joint > boot["noise_p95"], "cramers_v_personas": vm, "cramers_v_reference": vr,
            "abs_delta_v": abs(vm - vr), "n_personas": len(mine_pairs), "n_reference": len(ref_pairs)}
