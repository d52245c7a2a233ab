"""Agreement between raters (humans, models): Cohen's and Fleiss' kappa, Krippendorff's alpha,
Spearman correlation, selection rates, and mean pairwise kappa within and between groups.

Selection rates are compared on the items every rater labeled: a rate over a rater's own items
mixes "how often does this rater say yes" with "which items did it see", so the model-to-human
ratio is taken on the common items only; rates over each rater's own items are reported apart.

Kappa and alpha are written out from their count matrices (a few lines each) rather than taken
from a package: the bootstrap evaluates them on thousands of resamples as weighted counts, which
no package offers. scikit-learn's `cohen_kappa_score` checks ours in the tests.

Labels are a table: one row per rater, one column per item, NaN where a rater gave no label
(labels are coded as numbers; for ordinal alpha their order matters).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
from ..seeds import numpy_rng


def confusion(a: np.ndarray, b: np.ndarray, categories: np.ndarray, weights: Optional[np.ndarray] = None) -> np.ndarray:
    """Weighted confusion matrix of two label vectors over `categories`."""
    ia, ib = np.searchsorted(categories, a), np.searchsorted(categories, b)
    k = len(categories)
    w = np.ones(len(a)) if weights is None else weights
    return np.bincount(ia * k + ib, weights=w, minlength=k * k).reshape(k, k)


def kappa_from_confusion(m: np.ndarray) -> float:
    """Cohen's kappa of a confusion matrix: (observed - chance agreement) / (1 - chance)."""
    total = m.sum()
    if total <= 0:
        return float("nan")
    p = m / total
    observed = np.trace(p)
    chance = float(p.sum(axis=1) @ p.sum(axis=0))
    if chance >= 1.0:  # both raters used one and the same category: agreement is perfect but kappa undefined
        return float("nan")
    return float((observed - chance) / (1.0 - chance))


def cohen_kappa(a: Sequence, b: Sequence) -> float:
    """Cohen's kappa of two raters over the items both labeled (NaN pairs dropped)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    categories = np.unique(np.concatenate([a, b]))
    return kappa_from_confusion(confusion(a, b, categories))


def fleiss_kappa(table: np.ndarray) -> tuple[float, int]:
    """Fleiss' kappa over the items every rater labeled; returns (kappa, items used).

    Fleiss' kappa assumes the same number of ratings per item, so items with a missing label are
    left out (Krippendorff's alpha uses them all).
    """
    table = np.asarray(table, dtype=float)
    complete = table[:, ~np.isnan(table).any(axis=0)]
    n_raters, n_items = complete.shape
    if n_items == 0 or n_raters < 2:
        return float("nan"), 0
    categories = np.unique(complete)
    counts = np.stack([(complete == c).sum(axis=0) for c in categories], axis=1)  # items x categories
    p_item = ((counts * (counts - 1)).sum(axis=1)) / (n_raters * (n_raters - 1))
    p_cat = counts.sum(axis=0) / (n_items * n_raters)
    observed, chance = p_item.mean(), float((p_cat ** 2).sum())
    if chance >= 1.0:
        return float("nan"), n_items
    return float((observed - chance) / (1.0 - chance)), n_items


def coincidences(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Krippendorff's coincidence matrix (values x values) and the values, from pairable items only."""
    table = np.asarray(table, dtype=float)
    values = np.unique(table[~np.isnan(table)])
    k = len(values)
    out = np.zeros((k, k))
    for column in table.T:
        present = column[~np.isnan(column)]
        m = len(present)
        if m < 2:
            continue  # an item with one label has nothing to agree with
        counts = np.array([(present == v).sum() for v in values], dtype=float)
        out += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    return out, values


def krippendorff_alpha(table: np.ndarray, level: str = "nominal") -> float:
    """Krippendorff's alpha, nominal or ordinal, from the coincidence matrix (missing labels allowed)."""
    o, values = coincidences(table)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    if n <= 1 or len(values) < 2:
        return float("nan")
    k = len(values)
    if level == "nominal":
        delta = 1.0 - np.eye(k)
    elif level == "ordinal":
        # squared sum of the marginals between two ranks, less half of each end (Krippendorff 2011)
        cum = np.concatenate([[0.0], np.cumsum(n_c)])
        delta = np.zeros((k, k))
        for c in range(k):
            for d in range(k):
                lo, hi = min(c, d), max(c, d)
                delta[c, d] = (cum[hi + 1] - cum[lo] - (n_c[lo] + n_c[hi]) / 2.0) ** 2
    else:
        raise ValueError(f"unknown level {level!r} (nominal or ordinal)")
    observed = (o * delta).sum() / n
    expected = (np.outer(n_c, n_c) * delta).sum() / (n * (n - 1))
    if expected == 0:
        return float("nan")
    return float(1.0 - observed / expected)


def spearman(a: Sequence, b: Sequence) -> float:
    from scipy.stats import spearmanr

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    if keep.sum() < 3 or np.ptp(a[keep]) == 0 or np.ptp(b[keep]) == 0:
        return float("nan")
    return float(spearmanr(a[keep], b[keep]).statistic)


def selection_rates(table: np.ndarray, positive: float) -> dict:
    """Each rater's share of `positive` labels, on the common items (labeled by every rater: the
    rates are comparable across raters) and on the rater's own labeled items; None where a rater
    has no such item.

    Returns {"common": [rate per rater], "n_common": int, "own": [rate per rater], "n_own": [int]}.
    """
    labeled = ~np.isnan(table)
    hits = (table == positive) & labeled
    common = labeled.all(axis=0)
    n_common, n_own = int(common.sum()), labeled.sum(axis=1)
    own = [float(h) / n if n else None for h, n in zip(hits.sum(axis=1), n_own)]
    on_common = [float(h) / n_common if n_common else None for h in hits[:, common].sum(axis=1)]
    return {"common": on_common, "n_common": n_common, "own": own, "n_own": [int(n) for n in n_own]}


def _group_mean(rates: dict, groups: dict, group: str) -> Optional[float]:
    """Mean selection rate of one group's raters (those with a rate), None when none has one."""
    values = [v for r, v in rates.items() if groups[r] == group and v is not None]
    return float(np.mean(values)) if values else None


@dataclass
class AgreementReport:
    """Every agreement figure for one set of raters; `to_json()` is what `synthgap agreement --json` prints."""
    raters: list
    groups: dict  # rater -> "human" | "model"
    n_items: int
    pairwise: list = field(default_factory=list)
    selection_rate: dict = field(default_factory=dict)  # rater -> rate on the common items (None: none)
    selection_items: int = 0  # items every rater labeled: the base of selection_rate
    selection_rate_own: dict = field(default_factory=dict)  # rater -> rate on its own labeled items
    selection_items_own: dict = field(default_factory=dict)  # rater -> its labeled items
    group_kappa: dict = field(default_factory=dict)
    overall: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"pairwise": self.pairwise, "selection_rate": self.selection_rate,
                "selection_items": self.selection_items, "selection_rate_own": self.selection_rate_own,
                "selection_items_own": self.selection_items_own,
                "groups": {name: g["mean_kappa"] for name, g in self.group_kappa.items()},
                "groups_detail": self.group_kappa, "overall": self.overall,
                "raters": {r: self.groups[r] for r in self.raters},
                "n_items": self.n_items, "counts": self.counts}


GROUP_PAIRS = (("human-human", "human", "human"), ("model-model", "model", "model"), ("model-human", "model", "human"))


def _pair_kind(ga: str, gb: str) -> str:
    return "-".join(sorted((ga, gb), reverse=True))  # model-model, model-human, human-human


def agreement(table: np.ndarray, raters: list, groups: dict, positive: float = 1.0,
              clusters: Optional[np.ndarray] = None, bootstrap: int = 1000, seed: int = 0) -> AgreementReport:
    """All figures for a raters x items table (NaN = no label).

    positive: the label that counts as "selected" for selection rates. The headline rates (and the
    group means and model-to-human ratio) are on the items every rater labeled; when there is no
    such item they are None and `overall["selection_note"]` says so (the own-item rates remain).
    clusters: one id per item; the bootstrap draws whole clusters (e.g. users, whose items are
    not independent), or single items when None.
    """
    table = np.asarray(table, dtype=float)
    n_items = table.shape[1]
    report = AgreementReport(list(raters), dict(groups), n_items)
    labeled = ~np.isnan(table)
    rates = selection_rates(table, positive)
    report.selection_rate = {r: _round(v) for r, v in zip(raters, rates["common"])}
    report.selection_items = rates["n_common"]
    report.selection_rate_own = {r: _round(v) for r, v in zip(raters, rates["own"])}
    report.selection_items_own = dict(zip(raters, rates["n_own"]))
    categories = np.unique(table[labeled])
    pairs = list(itertools.combinations(range(len(raters)), 2))
    # Per-pair confusion matrices per item, so bootstrap replicates are weighted sums (no copies).
    item_conf = {}
    for i, j in pairs:
        both = labeled[i] & labeled[j]
        ia = np.searchsorted(categories, np.where(both, table[i], categories[0]))
        ib = np.searchsorted(categories, np.where(both, table[j], categories[0]))
        item_conf[(i, j)] = (both, ia * len(categories) + ib)
    k = len(categories)

    def pair_kappas(weights: np.ndarray) -> dict:
        out = {}
        for (i, j), (both, cell) in item_conf.items():
            m = np.bincount(cell, weights=weights * both, minlength=k * k).reshape(k, k)
            out[(i, j)] = kappa_from_confusion(m)
        return out

    point = pair_kappas(np.ones(n_items))
    for (i, j), value in point.items():
        both = item_conf[(i, j)][0]
        report.pairwise.append({"a": raters[i], "b": raters[j], "n": int(both.sum()),
                                "kappa": None if np.isnan(value) else round(value, 6),
                                "spearman": _round(spearman(table[i], table[j])),
                                "kind": _pair_kind(groups[raters[i]], groups[raters[j]])})

    def group_means(kappas: dict) -> dict:
        out = {}
        for name, ga, gb in GROUP_PAIRS:
            vals = [v for (i, j), v in kappas.items() if _pair_kind(groups[raters[i]], groups[raters[j]]) == name
                    and not np.isnan(v)]
            out[name] = float(np.mean(vals)) if vals else float("nan")
        return out

    means = group_means(point)
    draws = {name: [] for name, _, _ in GROUP_PAIRS}
    if bootstrap > 0 and n_items > 1:
        rng = numpy_rng(seed)
        ids = np.arange(n_items) if clusters is None else np.unique(clusters, return_inverse=True)[1]
        n_clusters = ids.max() + 1
        for _ in range(bootstrap):
            picked = np.bincount(rng.integers(0, n_clusters, n_clusters), minlength=n_clusters)
            for name, value in group_means(pair_kappas(picked[ids].astype(float))).items():
                draws[name].append(value)
    for name, _, _ in GROUP_PAIRS:
        vals = np.array([v for v in draws[name] if not np.isnan(v)])
        interval = [round(float(x), 6) for x in np.percentile(vals, [2.5, 97.5])] if len(vals) else None
        n_pairs = sum(1 for (i, j) in point if _pair_kind(groups[raters[i]], groups[raters[j]]) == name)
        report.group_kappa[name] = {"mean_kappa": _round(means[name]), "ci95": interval, "pairs": n_pairs}
    human_rate, model_rate = (_group_mean(dict(zip(raters, rates["common"])), groups, g) for g in ("human", "model"))
    fleiss, fleiss_n = fleiss_kappa(table)
    report.overall = {
        "fleiss_kappa": _round(fleiss), "fleiss_items": fleiss_n,
        "krippendorff_alpha_nominal": _round(krippendorff_alpha(table, "nominal")),
        "krippendorff_alpha_ordinal": _round(krippendorff_alpha(table, "ordinal")),
        "human_selection_rate": _round(human_rate), "model_selection_rate": _round(model_rate),
        "model_to_human_selection_ratio": _round(model_rate / human_rate)
        if human_rate is not None and model_rate is not None and human_rate > 0 else None,
        "selection_items": rates["n_common"],
        "bootstrap": bootstrap, "clusters": int(len(np.unique(clusters))) if clusters is not None else n_items,
    }
    if not rates["n_common"]:
        report.overall["selection_note"] = (f"no item is labeled by all {len(raters)} raters: selection rates and "
                                            "their ratio are not comparable, so none is given (see selection_rate_own)")
    return report


def _round(value) -> Optional[float]:
    return None if value is None or np.isnan(value) else round(float(value), 6)


__all__ = ["AgreementReport", "agreement", "coincidences", "cohen_kappa", "confusion", "fleiss_kappa",
           "kappa_from_confusion", "krippendorff_alpha", "selection_rates", "spearman"]
