"""The embedding-distribution metrics as `Metric`s: each estimates itself with bootstrap replicates.

How each interval is drawn (cluster-bootstrap counts from `yardstick.py`):
- KID, MMD: both sides resampled; kernel sums take the counts as weights.
- C2ST: folds hold whole authors; each replicate refits the classifier on the resample.
- PRDC, memorization: both sides resampled; a row's ball (or its near-copy test) counts when the
  row is drawn, with the k-NN radii held at their full-sample values (a resample with repeated rows
  would shrink every ball to zero).
- MAUVE: the cluster histograms are resampled, the clustering seed cycling through the seeds,
  so the interval holds both sampling and quantization spread.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from . import distances as D
from . import mauve as M
from .base import Estimate, Metric
from .yardstick import Bootstrap, Side
from ..seeds import numpy_rng

weighted_auc = D.weighted_auc


def _weighted_means(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Mean of per-item values under each bootstrap count column."""
    return (values @ counts) / np.maximum(counts.sum(axis=0), 1)


KERNEL_ROWS = D.FULL_KERNEL_MAX // 2  # per side: beyond it, kernel metrics use a seeded subsample


def kernel_sides(x: Side, y: Side, seed: int) -> tuple[Side, Side, dict]:
    """Both sides cut to at most KERNEL_ROWS rows each (seeded, by row index), so a pooled kernel
    matrix fits in memory; the rows keep their authors and bootstrap counts. Details say so."""
    out, details = [], {}
    for tag, side in (("x", x), ("y", y)):
        if len(side.data) <= KERNEL_ROWS:
            out.append(side)
            continue
        rng = numpy_rng(seed, 11, len(side.data), tag)
        keep = np.sort(rng.choice(len(side.data), KERNEL_ROWS, replace=False))
        out.append(Side(side.data[keep], [side.groups[i] for i in keep], Bootstrap(side.boot.counts[keep])))
        details["subsample"] = KERNEL_ROWS
    return out[0], out[1], details


def pooled(*sides: Side) -> np.ndarray:
    return np.concatenate([np.asarray(s.data, np.float64) for s in sides])


class FrechetMetric(Metric):
    """The Fréchet family with a bias-aware headline: KID, the unbiased MMD^2 with the cubic
    polynomial kernel (gamma x.y + 1)^3, whose expectation is 0 for two samples of one distribution
    at any size. Raw Fréchet distance is biased upwards by about d/m (0.88 at m = 40 in 384
    dimensions, enough to rank a collapsed set closer to real than real), so it is kept in details
    only. gamma = 1 / mean squared row norm of the pooled sample (1 for unit-length embeddings; the
    same scale as KID's 1/d for features whose squared norm is about d), shared by both comparisons.
    """
    name = "kid"
    goal, range = "lower", (0.0, None)
    interval = "percentile"
    min_items = {"kid": 50}

    def __init__(self, gamma: Optional[float] = None):
        self.gamma = gamma
        self._gamma = gamma

    def prepare(self, real_a: Side, real_b: Side, synthetic: Side) -> None:
        if self.gamma is None:
            Z = pooled(real_a, real_b, synthetic)
            self._gamma = float(1.0 / max(np.mean((Z * Z).sum(axis=1)), 1e-12))

    def shared_key(self) -> tuple:
        return (self._gamma,)

    def estimate(self, x: Side, y: Side, seed: int) -> dict:
        gamma = self._gamma or float(1.0 / max(np.mean((pooled(x, y) ** 2).sum(axis=1)), 1e-12))
        fd = D.frechet_distance(x.data, y.data)
        kx, ky, details = kernel_sides(x, y, seed)
        K = D.polynomial_kernel(np.concatenate([kx.data, ky.data]), gamma)
        diag = np.diagonal(K).astype(np.float64)
        value = float(D.mmd2_from_kernel(K, len(kx.data), diag=diag))
        reps = D.mmd2_from_kernel(K, len(kx.data), kx.boot.counts, ky.boot.counts, diag=diag) \
            if x.boot.replicates else None
        del K
        details.update({"kernel": "polynomial", "degree": 3, "gamma": gamma, "frechet_distance": fd,
                        "frechet_note": "raw plug-in Fréchet distance, biased upwards at small m"})
        return {self.name: Estimate(value, None if reps is None else np.asarray(reps), details)}

    def results(self, real_vs_synthetic, real_vs_real, n, authors=None):
        out = super().results(real_vs_synthetic, real_vs_real, n, authors)
        for r in out:  # the raw FD pair beside the headline
            r.details["frechet_distance"] = {
                "real_vs_synthetic": real_vs_synthetic[self.name].details["frechet_distance"],
                "real_vs_real": real_vs_real[self.name].details["frechet_distance"]}
        return out


class MMDMetric(Metric):
    """Unbiased MMD^2, Gaussian kernel. The bandwidth is the median heuristic on the pooled sample
    (real halves and synthetic), fixed once so both comparisons use one kernel; the permutation
    test moves whole authors between the sides."""
    name = "mmd2"
    goal, range = "lower", (0.0, 2.0)
    min_items = {"mmd2": 30}

    def __init__(self, permutations: int = 200, bandwidth: Optional[float] = None):
        self.permutations, self.bandwidth = permutations, bandwidth
        self._bandwidth = bandwidth

    def prepare(self, real_a: Side, real_b: Side, synthetic: Side) -> None:
        if self.bandwidth is None:
            self._bandwidth = D.median_bandwidth(pooled(real_a, real_b, synthetic), seed=0)

    def shared_key(self) -> tuple:
        return (self._bandwidth,)

    def estimate(self, x: Side, y: Side, seed: int) -> dict:
        h = self._bandwidth or D.median_bandwidth(x.data, y.data, seed=seed)
        kx, ky, details = kernel_sides(x, y, seed)
        K = D.gaussian_kernel(np.concatenate([kx.data, ky.data]), h)
        permutations = self.permutations if x.boot.replicates else 0
        test = D.mmd_permutation_test(kx.data, ky.data, h, permutations, seed, K=K, groups_x=kx.groups,
                                      groups_y=ky.groups)
        reps = D.mmd2_from_kernel(K, len(kx.data), kx.boot.counts, ky.boot.counts) if x.boot.replicates else None
        del K
        details.update({"bandwidth": h, "method": test.method, "permutation_unit": "author"})
        if permutations:
            details.update(p_value=test.p_value, permutations=permutations)
        return {self.name: Estimate(test.mmd2, None if reps is None else np.asarray(reps), details)}


class C2STMetric(Metric):
    """A cross-fitted linear classifier telling synthetic from real; AUC 0.5 means indistinguishable.

    Folds hold whole authors. Both AUCs are means over `splits` author splits of the real corpus
    (`Metric.over_splits`: half A, and half B, change with the split; the synthetic sample stays),
    each over `partitions` seeded fold partitions (repeated cross-fitting): one split's AUC moves
    with which authors landed in which half, by 0.03 on ConvAI2 (130 users), and the mean over 5
    splits cuts that to 0.014, where 5 fold partitions of one split cut it by only 7-13%.
    The interval refits: each of `refits` cluster-bootstrap resamples (the same draws as the other
    metrics, so real-vs-real pairs with real-vs-synthetic) is refitted fold by fold on the first
    split and partition and scored, and the interval is the normal one from their spread.
    """
    name = "c2st_auc"
    goal, range, ideal = "lower", (0.0, 1.0), 0.5
    interval = "normal"
    min_items = {"c2st_auc": 50}

    def __init__(self, folds: int = 5, refits: int = 30, partitions: int = 1, splits: int = 5):
        self.folds, self.refits, self.partitions, self.splits = folds, refits, partitions, splits

    def estimate(self, x: Side, y: Side, seed: int) -> dict:
        R = min(self.refits, x.boot.replicates, y.boot.replicates)
        counts = np.concatenate([x.boot.counts[:, :R], y.boot.counts[:, :R]]) if R else None
        fit = D.c2st_fit(x.data, y.data, seed=seed, folds=self.folds, groups_x=x.groups, groups_y=y.groups,
                         counts=counts, partitions=self.partitions)
        return {self.name: Estimate(fit.auc, fit.refit_aucs if R else None,
                                    {"folds": self.folds, "fold_unit": "author", "refits": R,
                                     "partitions": len(fit.partition_aucs),
                                     "partition_sd": float(fit.partition_aucs.std(ddof=1))
                                     if len(fit.partition_aucs) > 1 else 0.0,
                                     "classifier": "ridge linear discriminant"})}


class PRDCMetric(Metric):
    """Precision, recall, density and coverage (Naeem et al. 2020) with k-nearest-neighbour balls."""
    name = "prdc"
    min_items = {"prdc_precision": 100, "prdc_recall": 100, "prdc_density": 100, "prdc_coverage": 100}
    outputs = ("prdc_precision", "prdc_recall", "prdc_density", "prdc_coverage")
    goal, range = "higher", (0.0, 1.0)
    ranges = {"prdc_density": (0.0, None)}
    ideals = {"prdc_density": 1.0}

    def __init__(self, k: int = 5):
        self.k = k

    def estimate(self, x: Side, y: Side, seed: int) -> dict:
        counts = (x.boot.counts, y.boot.counts) if x.boot.replicates else (None, None)
        items, reps = D.prdc_terms(x.data, y.data, self.k, *counts)
        reps = reps or {}
        return {f"prdc_{key}": Estimate(float(values.mean()), reps.get(key), {"k": self.k})
                for key, values in items.items()}


class MauveMetric(Metric):
    """MAUVE on the embeddings, the mean over several k-means seeds (spread in details). The cluster
    count is fixed per report (`clusters`, set by the comparison from its smallest size), so that
    both comparisons and every synthetic corpus are quantized alike: MAUVE falls as clusters grow."""
    name = "mauve"
    goal, range, interval = "higher", (0.0, 1.0), "normal"
    min_items = {"mauve": 100}

    def __init__(self, seeds: int = 5, clusters: Optional[int] = None, explained_variance: float = 0.9,
                 scaling: float = 5.0):
        self.seeds, self.clusters, self.explained_variance, self.scaling = seeds, clusters, explained_variance, scaling

    def estimate(self, x: Side, y: Side, seed: int) -> dict:
        Z = M.reduce_features(x.data, y.data, self.explained_variance)
        k = self.clusters or M.default_clusters(len(x.data), len(y.data))
        runs = [M.quantize_reduced(Z, len(x.data), k, seed=seed * 1000 + s) for s in range(self.seeds)]
        values = [M.mauve_from_histograms(*M.histograms(q), scaling=self.scaling) for q in runs]
        reps = np.array([M.mauve_from_histograms(*M.histograms(runs[r % len(runs)], x.boot.counts[:, r],
                                                               y.boot.counts[:, r]), scaling=self.scaling)
                         for r in range(x.boot.replicates)])
        details = {"seeds": self.seeds, "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                   "per_seed": values, "clusters": k, "pca_dims": int(Z.shape[1])}
        return {self.name: Estimate(float(np.mean(values)), reps, details)}


class MemorizationMetric(Metric):
    """Share of items whose nearest real item is a near copy (cosine similarity >= threshold)."""
    name = "memorization"
    goal, range = "lower", (0.0, 1.0)
    min_items = {"memorization": 20}

    def __init__(self, threshold: float = 0.95, examples: int = 5):
        self.threshold, self.examples = threshold, examples

    def estimate(self, x: Side, y: Side, seed: int) -> dict:
        best, where = D.nearest_cosine(x.data, y.data)
        hit = (best >= self.threshold - 1e-6).astype(float)
        top = np.argsort(-best, kind="stable")[: self.examples]
        details = {"threshold": self.threshold, "count": int(hit.sum()),
                   "nearest": [{"item": int(i), "real_item": int(where[i]), "cosine": float(best[i])} for i in top]}
        reps = D.memorization_replicates(x.data, y.data, self.threshold, x.boot.counts, y.boot.counts) \
            if x.boot.replicates else None
        return {self.name: Estimate(float(hit.mean()), reps, details)}


EMBEDDING_METRICS = {"frechet": FrechetMetric, "mmd": MMDMetric, "c2st": C2STMetric, "prdc": PRDCMetric,
                     "mauve": MauveMetric, "memorization": MemorizationMetric}

__all__ = ["C2STMetric", "EMBEDDING_METRICS", "FrechetMetric", "MMDMetric", "MauveMetric", "MemorizationMetric",
           "PRDCMetric", "weighted_auc"]
