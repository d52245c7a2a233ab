"""MAUVE (Pillutla et al. 2021) on precomputed embeddings: joint k-means quantization, then the
area under the divergence curve of the two cluster histograms.

Defaults follow the authors' `mauve-text` package (L2-normalized features, PCA keeping 90% of
the variance, n/10 clusters, scaling constant 5, 25 mixture weights) so that the numbers are
comparable with published ones; tests check agreement with `compute_mauve` on the same features.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import SynthgapError


@dataclass(frozen=True)
class Quantized:
    """Cluster labels of both sides after joint quantization."""
    labels_p: np.ndarray
    labels_q: np.ndarray
    clusters: int


def default_clusters(n_p: int, n_q: int) -> int:
    """One cluster per ten items of the smaller side, at least two (the mauve-text default)."""
    return max(2, int(round(min(n_p, n_q) / 10)))


def _pca_reduce(Z: np.ndarray, explained_variance: float) -> np.ndarray:
    """Project onto the leading principal components that keep `explained_variance` of the variance.

    An eigendecomposition of the d x d covariance instead of an SVD of the n x d data: the same
    subspace, at a cost that does not grow with n beyond one matrix product.
    """
    centred = Z - Z.mean(axis=0)
    cov = centred.T @ centred
    w, v = np.linalg.eigh(cov)
    order = np.argsort(w)[::-1]
    w, v = np.clip(w[order], 0.0, None), v[:, order]
    share = np.cumsum(w) / max(w.sum(), 1e-300)
    keep = int(np.searchsorted(share, explained_variance) + 1)
    return centred @ v[:, :min(keep, len(w))]


def reduce_features(P, Q, explained_variance: float = 0.9) -> np.ndarray:
    """Stack P over Q, L2-normalize the rows and keep the leading principal components (float32).

    Deterministic, so it is done once and shared by every clustering seed.
    """
    P, Q = np.asarray(P, np.float64), np.asarray(Q, np.float64)
    if P.ndim != 2 or Q.ndim != 2 or P.shape[1] != Q.shape[1]:
        raise SynthgapError(f"MAUVE needs two 2-D arrays with the same columns, got {P.shape} and {Q.shape}")
    if min(len(P), len(Q)) < 2:
        raise SynthgapError("MAUVE needs at least 2 rows on each side")
    Z = np.concatenate([P, Q])
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    return _pca_reduce(Z / np.where(norms > 0, norms, 1.0), explained_variance).astype(np.float32)


def quantize_reduced(Z: np.ndarray, n_p: int, clusters: int, seed: int = 0, max_iter: int = 300) -> Quantized:
    """k-means on reduced features (first n_p rows are P).

    Initial centres are random data rows (as in the reference implementation's faiss k-means);
    k-means++ seeding costs ten times the whole clustering at these sizes and changes MAUVE by
    less than the spread between seeds. tol=0 runs until no label changes.
    """
    from sklearn.cluster import KMeans

    k = min(clusters, len(Z))
    km = KMeans(n_clusters=k, init="random", n_init=1, max_iter=max_iter, tol=0.0, random_state=seed).fit(Z)
    return Quantized(km.labels_[:n_p], km.labels_[n_p:], k)


def quantize(P, Q, clusters: Optional[int] = None, seed: int = 0, explained_variance: float = 0.9) -> Quantized:
    """Jointly cluster P and Q (L2-normalized, PCA-reduced) with k-means for one seed."""
    Z = reduce_features(P, Q, explained_variance)
    return quantize_reduced(Z, len(P), clusters or default_clusters(len(P), len(Q)), seed)


def histograms(q: Quantized, weights_p=None, weights_q=None) -> tuple[np.ndarray, np.ndarray]:
    """Cluster histograms of both sides (rows weighted by bootstrap counts when given)."""
    p = np.bincount(q.labels_p, weights=weights_p, minlength=q.clusters).astype(np.float64)
    r = np.bincount(q.labels_q, weights=weights_q, minlength=q.clusters).astype(np.float64)
    return p / p.sum(), r / r.sum()


def _kl(a: np.ndarray, b: np.ndarray) -> float:
    """KL(a || b) for histograms; infinite when a has mass where b has none."""
    if np.any((a > 0) & (b == 0)):
        return np.inf
    m = a > 0
    return float(np.sum(a[m] * np.log(a[m] / b[m])))


def divergence_curve(p: np.ndarray, q: np.ndarray, scaling: float = 5.0, points: int = 25) -> np.ndarray:
    """Points (exp(-c KL(Q||R)), exp(-c KL(P||R))) for R = w P + (1 - w) Q, plus both end points."""
    curve = [(1.0, 0.0)]
    for w in np.linspace(1e-6, 1 - 1e-6, points):
        r = w * p + (1 - w) * q
        curve.append((np.exp(-scaling * _kl(q, r)), np.exp(-scaling * _kl(p, r))))
    curve.append((0.0, 1.0))
    return np.array(curve)


def mauve_from_histograms(p: np.ndarray, q: np.ndarray, scaling: float = 5.0, points: int = 25) -> float:
    """Area under the divergence curve (1 = identical histograms).

    The trapezoids follow the curve's own order (x falls as the weight on P grows), so that the
    vertical pieces at x = 1 and y = 1 add nothing however ties would sort.
    """
    curve = divergence_curve(p, q, scaling, points)
    x, y = curve[:, 0], curve[:, 1]
    return float(np.sum((x[:-1] - x[1:]) * (y[:-1] + y[1:]) / 2.0))


def mauve(X, Y, seed: int = 0, clusters: Optional[int] = None, explained_variance: float = 0.9,
          scaling: float = 5.0) -> float:
    """MAUVE of Y (synthetic) against X (real) for one clustering seed; run several seeds for a spread."""
    q = quantize(X, Y, clusters=clusters, seed=seed, explained_variance=explained_variance)
    return mauve_from_histograms(*histograms(q), scaling=scaling)


__all__ = ["Quantized", "default_clusters", "divergence_curve", "histograms", "mauve", "mauve_from_histograms",
           "quantize", "quantize_reduced", "reduce_features"]
