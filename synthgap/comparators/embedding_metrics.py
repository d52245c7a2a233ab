"""The embedding-distribution metrics as `Metric`s: each estimates itself with bootstrap replicates.

How each interval is drawn (cluster-bootstrap counts from `yardstick.py`):
- Fréchet distance, MMD: both sides resampled; moments and kernel sums take the counts as weights.
- C2ST: folds hold whole authors; the out-of-fold scores are resampled (the classifier is not refitted).
- PRDC, memorization: the side the mean runs over is resampled with the k-NN balls held fixed,
  because a resample with repeated rows would shrink every ball to zero.
- MAUVE: the cluster histograms are resampled, the clustering seed cycling through the seeds,
  so the interval holds both sampling and quantization spread.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from . import distances as D
from . import mauve as M
from .base import Estimate, Metric
from .yardstick import Side


def _weighted_means(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Mean of per-item values under each bootstrap count column."""
    return (values @ counts) / np.maximum(counts.sum(axis=0), 1)


def weighted_auc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC (Mann-Whitney, ties count one half) for each weight column at once.

    Written out because sklearn's `roc_auc_score` takes one weight vector per call; this sorts once
    and serves all bootstrap replicates with cumulative sums.
    """
    weights = np.asarray(weights, np.float64).reshape(len(scores), -1)
    order = np.argsort(scores, kind="mergesort")
    s, pos, w = scores[order], labels[order] == 1, weights[order]
    # rows sharing a score form one block; negatives below a block count fully, within it half
    starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]
    neg_w = np.where(pos[:, None], 0.0, w)
    pos_w = np.where(pos[:, None], w, 0.0)
    neg_block = np.add.reduceat(neg_w, starts, axis=0)
    pos_block = np.add.reduceat(pos_w, starts, axis=0)
    neg_below = np.cumsum(neg_block, axis=0) - neg_block
    wins = (pos_block * (neg_below + neg_block / 2.0)).sum(axis=0)
    total = pos_w.sum(axis=0) * neg_w.sum(axis=0)
    return np.where(total > 0, wins / np.where(total > 0, total, 1.0), np.nan)


class FrechetMetric(Metric):
    """Fréchet distance of Gaussian fits. Each replicate refits two covariances, so the interval
    uses at most `max_replicates` of them for its standard error (50 give it to about 10%)."""
    name = "frechet_distance"
    goal, range, interval = "lower", (0.0, None), "normal"

    def __init__(self, max_replicates: int = 50):
        self.max_replicates = max_replicates

    def estimate(self, x: Side, y: Side, seed: int) -> dict:
        from threadpoolctl import threadpool_limits

        value = D.frechet_distance(x.data, y.data)
        reps = []
        for r in range(min(x.boot.replicates, self.max_replicates)):
            moments = (*D.gaussian_fit(x.data, x.boot.counts[:, r], np.float32),
                       *D.gaussian_fit(y.data, y.boot.counts[:, r], np.float32))
            # one BLAS thread for the d x d decompositions: too small to split, and a second thread
            # competing with any other load slows them down many times over
            with threadpool_limits(limits=1, user_api="blas"):
                reps.append(D.frechet_from_moments(*moments))
        return {self.name: Estimate(value, np.array(reps))}


class MMDMetric(Metric):
    """Unbiased MMD^2, Gaussian kernel. The bandwidth is the median heuristic on the real half, so
    the real-vs-synthetic and real-vs-real numbers use one kernel and can be compared."""
    name = "mmd2"
    goal, range = "lower", (0.0, 2.0)

    def __init__(self, permutations: int = 200, bandwidth: Optional[float] = None, method: str = "auto",
                 block_size: Optional[int] = None):
        self.permutations, self.bandwidth, self.method, self.block_size = permutations, bandwidth, method, block_size

    def estimate(self, x: Side, y: Side, seed: int) -> dict:
        h = self.bandwidth or D.median_bandwidth(x.data, seed=seed)
        method = self.method
        if method == "auto":
            method = "permutation" if len(x.data) + len(y.data) <= D.FULL_KERNEL_MAX else "block"
        if method == "permutation":
            K = D.gaussian_kernel(np.concatenate([x.data, y.data]), h)
            test = D.mmd_permutation_test(x.data, y.data, h, self.permutations, seed, K=K)
            reps = D.mmd2_from_kernel(K, len(x.data), x.boot.counts, y.boot.counts)
            del K
        else:
            size = 2 if method == "linear" else (self.block_size or D.block_size_for(min(len(x.data), len(y.data))))
            test = D.mmd_block_test(x.data, y.data, h, size, seed)
            rng = np.random.default_rng([seed, 3])
            perm_x, perm_y = rng.permutation(len(x.data)), rng.permutation(len(y.data))
            blocks = D.mmd2_blocks(x.data[perm_x], y.data[perm_y], h, size)
            picks = rng.integers(0, len(blocks), size=(x.boot.replicates, len(blocks)))
            reps = blocks[picks].mean(axis=1)
        details = {"p_value": test.p_value, "bandwidth": h, "method": test.method}
        if test.permutations:
            details["permutations"] = test.permutations
        if test.block_size:
            details["block_size"] = test.block_size
        return {self.name: Estimate(test.mmd2, np.asarray(reps), details)}


class C2STMetric(Metric):
    """Cross-validated logistic regression telling synthetic from real; AUC 0.5 means indistinguishable."""
    name = "c2st_auc"
    goal, range, ideal = "lower", (0.0, 1.0), 0.5

    def __init__(self, folds: int = 5):
        self.folds = folds

    def estimate(self, x: Side, y: Side, seed: int) -> dict:
        scores, labels = D.c2st_scores(x.data, y.data, seed=seed, folds=self.folds, groups_x=x.groups,
                                       groups_y=y.groups)
        value = float(weighted_auc(scores, labels, np.ones(len(scores)))[0])
        reps = weighted_auc(scores, labels, np.concatenate([x.boot.counts, y.boot.counts]))
        return {self.name: Estimate(value, reps, {"folds": self.folds, "fold_unit": "author",
                                                  "classifier": "logistic regression"})}


class PRDCMetric(Metric):
    """Precision, recall, density and coverage (Naeem et al. 2020) with k-nearest-neighbour balls."""
    name = "prdc"
    outputs = ("prdc_precision", "prdc_recall", "prdc_density", "prdc_coverage")
    goal, range = "higher", (0.0, 1.0)
    ranges = {"prdc_density": (0.0, None)}
    ideals = {"prdc_density": 1.0}

    def __init__(self, k: int = 5):
        self.k = k

    def estimate(self, x: Side, y: Side, seed: int) -> dict:
        items = D.prdc_items(x.data, y.data, self.k)
        out = {}
        for key, values in items.items():
            counts = y.boot.counts if key in ("precision", "density") else x.boot.counts
            out[f"prdc_{key}"] = Estimate(float(values.mean()), _weighted_means(values, counts), {"k": self.k})
        return out


class MauveMetric(Metric):
    """MAUVE on the embeddings, the mean over several k-means seeds (spread in details)."""
    name = "mauve"
    goal, range, interval = "higher", (0.0, 1.0), "normal"

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

    def __init__(self, threshold: float = 0.95, examples: int = 5):
        self.threshold, self.examples = threshold, examples

    def estimate(self, x: Side, y: Side, seed: int) -> dict:
        best, where = D.nearest_cosine(x.data, y.data)
        hit = (best >= self.threshold - 1e-6).astype(float)
        top = np.argsort(-best, kind="stable")[: self.examples]
        details = {"threshold": self.threshold, "count": int(hit.sum()),
                   "nearest": [{"item": int(i), "real_item": int(where[i]), "cosine": float(best[i])} for i in top]}
        return {self.name: Estimate(float(hit.mean()), _weighted_means(hit, y.boot.counts), details)}


EMBEDDING_METRICS = {"frechet": FrechetMetric, "mmd": MMDMetric, "c2st": C2STMetric, "prdc": PRDCMetric,
                     "mauve": MauveMetric, "memorization": MemorizationMetric}

__all__ = ["C2STMetric", "EMBEDDING_METRICS", "FrechetMetric", "MMDMetric", "MauveMetric", "MemorizationMetric",
           "PRDCMetric", "weighted_auc"]
