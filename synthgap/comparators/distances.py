"""Two-sample distances between embedding sets: plain functions on arrays whose rows are items.

Every function takes the real set first (X, or `real`) and the synthetic set second. Optional
`weights` arguments are integer counts per row; the bootstrap in `yardstick.py` passes them so
that a resample never copies an array.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..errors import SynthgapError
from ..seeds import numpy_rng

# Kernel matrices up to this many pooled rows are built whole (float32: 12,000 rows = 576 MB);
# beyond it the block estimator keeps memory linear in the input.
FULL_KERNEL_MAX = 12000


def _rows(name: str, a) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2 or a.shape[0] < 2:
        raise SynthgapError(f"{name}: expected a 2-D array with at least 2 rows, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise SynthgapError(f"{name}: contains NaN or infinite values")
    return a


def _pair(X, Y) -> tuple[np.ndarray, np.ndarray]:
    X, Y = _rows("X", X), _rows("Y", Y)
    if X.shape[1] != Y.shape[1]:
        raise SynthgapError(f"X has {X.shape[1]} columns but Y has {Y.shape[1]}")
    return X, Y


# ---------------------------------------------------------------------------------------------
# Fréchet distance


def gaussian_fit(X: np.ndarray, weights: Optional[np.ndarray] = None,
                 dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of the rows (each row counted `weights` times when given).

    dtype float32 halves the cost of the covariance product; the bootstrap uses it for its
    replicates, whose round-off (about 1e-6) is far below their spread.
    """
    X = np.asarray(X, dtype=dtype)
    w = np.ones(len(X), dtype) if weights is None else np.asarray(weights, dtype=dtype)
    total = float(w.sum())
    mu = (w @ X) / total
    centred = X - mu
    cov = (centred * w[:, None]).T @ centred / (total - 1.0)
    return mu.astype(np.float64), cov.astype(np.float64)


def _psd_sqrt(c: np.ndarray) -> np.ndarray:
    """Symmetric square root of a covariance; tiny negative eigenvalues (round-off) become 0."""
    w, v = np.linalg.eigh((c + c.T) / 2.0)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def trace_sqrt_product(c1: np.ndarray, c2: np.ndarray) -> float:
    """tr((C1 C2)^(1/2)) for covariances C1, C2, without a general (complex, unstable) `sqrtm`.

    C1 C2 has the spectrum of the symmetric PSD matrix S C2 S for any S with S S^T = C1, so the
    trace is the sum of square roots of that matrix's eigenvalues (round-off negatives clipped).
    S is the Cholesky factor when C1 is positive definite (fast), else its eigh square root.
    """
    try:
        s = np.linalg.cholesky(c1)
    except np.linalg.LinAlgError:  # singular C1: fewer rows than dimensions, or duplicates
        s = _psd_sqrt(c1)
    middle = s.T @ c2 @ s
    eig = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum())


def frechet_from_moments(mu1, c1, mu2, c2) -> float:
    """||mu1 - mu2||^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^(1/2)), clipped at 0 against round-off."""
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(c1) + np.trace(c2) - 2.0 * trace_sqrt_product(c1, c2))
    return max(value, 0.0)


def frechet_distance(X, Y) -> float:
    """Fréchet distance between Gaussians fitted to X and Y (the FID/FBD formula)."""
    X, Y = _pair(X, Y)
    return frechet_from_moments(*gaussian_fit(X), *gaussian_fit(Y))


# ---------------------------------------------------------------------------------------------
# Maximum mean discrepancy


def sq_distances(A: np.ndarray, B: np.ndarray, a_sq=None, b_sq=None) -> np.ndarray:
    """Squared Euclidean distances between the rows of A and B (one matrix product, clipped at 0)."""
    a_sq = (A * A).sum(axis=1) if a_sq is None else a_sq
    b_sq = (B * B).sum(axis=1) if b_sq is None else b_sq
    d = a_sq[:, None] + b_sq[None, :] - 2.0 * (A @ B.T)
    np.maximum(d, 0.0, out=d)
    return d


def median_bandwidth(X, Y=None, max_points: int = 1000, seed: int = 0) -> float:
    """Median heuristic: the median pairwise distance among the rows of X (and Y, pooled, when given),
    from at most `max_points` rows drawn with the seed."""
    Z = np.asarray(X, np.float64)
    if Y is not None:
        Z = np.concatenate([Z, np.asarray(Y, np.float64)])
    if len(Z) > max_points:
        Z = Z[numpy_rng(seed).choice(len(Z), max_points, replace=False)]
    d = np.sqrt(sq_distances(Z, Z)[np.triu_indices(len(Z), k=1)])
    d = d[d > 0]
    return float(np.median(d)) if len(d) else 1.0


def gaussian_kernel(Z: np.ndarray, bandwidth: float) -> np.ndarray:
    """k(x, y) = exp(-||x - y||^2 / (2 bandwidth^2)) over all pairs of rows, in float32, built in place."""
    Z = np.asarray(Z, dtype=np.float32)
    sq = (Z * Z).sum(axis=1)
    k = Z @ Z.T
    k *= -2.0
    k += sq[:, None]
    k += sq[None, :]
    np.maximum(k, 0.0, out=k)
    k *= np.float32(-1.0 / (2.0 * bandwidth * bandwidth))
    np.exp(k, out=k)
    np.fill_diagonal(k, 1.0)
    return k


def _mmd_from_sums(sxx, syy, sxy, pairs_x, pairs_y, pairs_xy):
    """MMD^2 from within-side pair sums (i != j) and the cross sum, each over its number of pairs."""
    return sxx / pairs_x + syy / pairs_y - 2.0 * sxy / pairs_xy


def mmd2_from_kernel(K: np.ndarray, nx: int, wx=None, wy=None, diag: Optional[np.ndarray] = None) -> np.ndarray:
    """Unbiased MMD^2 from a pooled kernel matrix (X rows first), for one or many count vectors.

    wx, wy: counts per X row and per Y row, shape (n,) or (n, B) for B bootstrap resamples. The
    within-side sums skip every pair of copies of one row (as the U-statistic skips i == j), so
    a resample's repeated rows do not pull the estimate up: sum_{i != j} c_i c_j k_ij over
    (sum c)^2 - sum c^2 pairs. `diag` is k(z, z) per row (1 for the Gaussian kernel, the default).
    """
    n = K.shape[0]
    ny = n - nx
    single = wx is None or np.ndim(wx) == 1
    wx = np.asarray(np.ones(nx) if wx is None else wx, np.float32).reshape(nx, -1)
    wy = np.asarray(np.ones(ny) if wy is None else wy, np.float32).reshape(ny, -1)
    kx = K[:, :nx] @ wx  # (n, B): each pooled row's kernel mass against the X draws
    ky = K[:, nx:] @ wy
    wx64, wy64 = wx.astype(np.float64), wy.astype(np.float64)
    d = np.ones(n) if diag is None else np.asarray(diag, np.float64)
    sq_x, sq_y = (wx64 * wx64).sum(0), (wy64 * wy64).sum(0)
    sxx = (wx64 * kx[:nx]).sum(0) - ((wx64 * wx64) * d[:nx, None]).sum(0)
    syy = (wy64 * ky[nx:]).sum(0) - ((wy64 * wy64) * d[nx:, None]).sum(0)
    sxy = (wx64 * ky[:nx]).sum(0)
    tx, ty = wx64.sum(0), wy64.sum(0)
    out = _mmd_from_sums(sxx, syy, sxy, tx * tx - sq_x, ty * ty - sq_y, tx * ty)
    return out[0] if single else out


def mmd2_unbiased(X, Y, bandwidth: Optional[float] = None) -> float:
    """Unbiased estimate of squared MMD with a Gaussian kernel (median heuristic when bandwidth is None).

    Exact at any size: pair sums are accumulated over row chunks so memory stays bounded.
    """
    X, Y = _pair(X, Y)
    h = bandwidth or median_bandwidth(X, Y)
    X32, Y32 = np.asarray(X, np.float32), np.asarray(Y, np.float32)
    scale = np.float32(-1.0 / (2.0 * h * h))

    def pair_sum(A, B, same: bool) -> float:
        total, b_sq = 0.0, (B * B).sum(1)
        for i in range(0, len(A), 2048):
            k = sq_distances(A[i:i + 2048], B, b_sq=b_sq)
            k *= scale
            np.exp(k, out=k)
            total += float(k.sum(dtype=np.float64))
        return total - (len(A) if same else 0.0)  # drop the i == j terms (k = 1)

    nx, ny = len(X), len(Y)
    return float(_mmd_from_sums(pair_sum(X32, X32, True), pair_sum(Y32, Y32, True), pair_sum(X32, Y32, False),
                                nx * (nx - 1.0), ny * (ny - 1.0), nx * ny))


@dataclass(frozen=True)
class MMDTest:
    """An MMD^2 estimate with its test: p-value under H0 (same distribution), how it was computed."""
    mmd2: float
    p_value: float
    bandwidth: float
    method: str  # "permutation" (full kernel), "block" or "linear"
    permutations: int = 0
    block_size: int = 0


def author_codes(groups_x: Optional[Sequence], groups_y: Optional[Sequence], nx: int, ny: int) -> np.ndarray:
    """One integer per pooled row naming its author, numbered in sorted order of the names (each
    row its own author when no groups are given), so draws depend on identities, not row bytes."""
    gx = [("x", i) for i in range(nx)] if groups_x is None else [("x", str(g)) for g in groups_x]
    gy = [("y", i) for i in range(ny)] if groups_y is None else [("y", str(g)) for g in groups_y]
    names = gx + gy
    order = {name: i for i, name in enumerate(sorted(set(names), key=repr))}
    return np.array([order[name] for name in names], dtype=np.int64)


def author_permutations(codes: np.ndarray, nx: int, permutations: int, rng: np.random.Generator) -> np.ndarray:
    """Label columns (1 = X side), shape (n, permutations): whole authors change sides.

    Under H0 authors, not items, are exchangeable: items of one author are alike, so moving them
    one by one would make two halves of one population look different. Each column puts as many
    authors on the X side as it really has; their item count varies from column to column.
    """
    n_groups = int(codes.max()) + 1
    x_groups = len(np.unique(codes[:nx]))
    ranks = rng.random((n_groups, permutations)).argsort(axis=0).argsort(axis=0)
    return (ranks < x_groups).astype(np.float32)[codes]


def mmd_permutation_test(X, Y, bandwidth: Optional[float] = None, permutations: int = 200,
                         seed: int = 0, K: Optional[np.ndarray] = None, groups_x: Optional[Sequence] = None,
                         groups_y: Optional[Sequence] = None, diag: Optional[np.ndarray] = None) -> MMDTest:
    """Unbiased MMD^2 with a permutation-test p-value, all permutations from one pooled kernel matrix.

    With `groups_x`/`groups_y` (one author per row) whole authors are permuted (`author_permutations`);
    without them every row is its own author.
    """
    X, Y = _pair(X, Y)
    h = bandwidth or median_bandwidth(X, Y, seed=seed)
    K = gaussian_kernel(np.concatenate([X, Y]), h) if K is None else K
    nx, n = len(X), len(X) + len(Y)
    observed = float(mmd2_from_kernel(K, nx, diag=diag))
    codes = author_codes(groups_x, groups_y, nx, n - nx)
    rng = numpy_rng(seed)
    exceed = 0
    for start in range(0, permutations, 100):  # batches of 100 label shuffles: one matrix product each
        b = min(100, permutations - start)
        in_x = author_permutations(codes, nx, b, rng)
        perm = _mmd_pooled(K, in_x, diag)
        exceed += int((perm >= observed).sum())
    return MMDTest(observed, (exceed + 1) / (permutations + 1), h, "permutation", permutations=permutations)


def _mmd_pooled(K: np.ndarray, a: np.ndarray, diag: Optional[np.ndarray] = None) -> np.ndarray:
    """MMD^2 for label vectors a (1 = X side) over the pooled kernel; a has shape (n, B) and the side
    sizes may differ from column to column (author permutations)."""
    r = K.sum(axis=1, dtype=np.float64)
    ka = (K @ a).astype(np.float64)
    a64 = a.astype(np.float64)
    d = np.ones(len(a64)) if diag is None else np.asarray(diag, np.float64)
    nx = a64.sum(0)
    ny = len(a64) - nx
    dx = d @ a64
    aka = (a64 * ka).sum(0)
    ar = a64.T @ r
    sxx = aka - dx
    sxy = ar - aka
    syy = r.sum() - 2.0 * ar + aka - (d.sum() - dx)
    return _mmd_from_sums(sxx, syy, sxy, nx * (nx - 1.0), ny * (ny - 1.0), nx * ny)


def polynomial_kernel(Z: np.ndarray, gamma: float, degree: int = 3, coef: float = 1.0) -> np.ndarray:
    """k(x, y) = (gamma x.y + coef)^degree over all pairs of rows, float32 (the KID kernel)."""
    Z = np.asarray(Z, dtype=np.float32)
    k = Z @ Z.T
    k *= np.float32(gamma)
    k += np.float32(coef)
    return k ** degree if degree != 3 else k * k * k


def block_size_for(n: int) -> int:
    """Default B-test block size: about sqrt(n), at least 2 (Zaremba et al. 2013)."""
    return max(2, int(np.sqrt(n)))


def mmd2_blocks(X, Y, bandwidth: float, block_size: int) -> np.ndarray:
    """Unbiased MMD^2 of each disjoint block pair (X and Y cut into blocks of `block_size` rows).

    Their mean is an unbiased estimate whose cost is linear in n for a fixed block size; block
    size 2 is the linear-time estimator.
    """
    X, Y = _pair(X, Y)
    blocks = min(len(X), len(Y)) // block_size
    if blocks < 2:
        raise SynthgapError(f"need at least two blocks of {block_size} rows per side, got {len(X)} and {len(Y)}")
    out = np.empty(blocks)
    for b in range(blocks):
        sl = slice(b * block_size, (b + 1) * block_size)
        K = gaussian_kernel(np.concatenate([X[sl], Y[sl]]), bandwidth)
        out[b] = mmd2_from_kernel(K, block_size)
    return out


def mmd_block_test(X, Y, bandwidth: Optional[float] = None, block_size: Optional[int] = None,
                   seed: int = 0) -> MMDTest:
    """B-test: the mean of per-block MMD^2 values with a one-sided normal p-value from their spread."""
    from scipy.stats import norm

    X, Y = _pair(X, Y)
    h = bandwidth or median_bandwidth(X, Y, seed=seed)
    size = block_size or block_size_for(min(len(X), len(Y)))
    rng = numpy_rng(seed)  # blocks of a shuffled order, so file order cannot bias them
    values = mmd2_blocks(X[rng.permutation(len(X))], Y[rng.permutation(len(Y))], h, size)
    mean, se = float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))
    p = float(norm.sf(mean / se)) if se > 0 else (0.0 if mean > 0 else 1.0)
    return MMDTest(mean, p, h, "linear" if size == 2 else "block", block_size=size)


# ---------------------------------------------------------------------------------------------
# Classifier two-sample test


def c2st_folds(groups_x: Sequence, groups_y: Sequence, labels: np.ndarray, folds: int, seed: int,
               Z: Optional[np.ndarray] = None, partition: int = 0) -> np.ndarray:
    """The fold of each row: whole authors per fold, stratified by side, assigned from author identities.

    Items of one author are not independent: with an author in both the training and the test
    folds, the classifier learns the author and a real-vs-real AUC rises above 0.5. So folds go
    by author (`grouped_folds`, stratified by side). The authors of the two sides are kept apart ('x'/'y' + name)
    and numbered in sorted order of their names, so the folds depend on who wrote what, never on the
    float bytes of the vectors (which change by 1e-7 with the batch an embedding was made in).
    Rows identical across authors (a copied item) are put in one group, so a copy is never scored
    by a model that trained on its twin; that check rounds to 1e-6 first.
    `partition` numbers further seeded assignments of the same groups (repeated cross-fitting, see `c2st_fit`).
    """
    return grouped_folds(c2st_groups(groups_x, groups_y, Z, folds), np.asarray(labels), folds, seed, partition)


def c2st_groups(groups_x: Sequence, groups_y: Sequence, Z: Optional[np.ndarray], folds: int,
                joint: bool = False) -> np.ndarray:
    """Group code of each row for `c2st_folds`: side and author, identical rows merged.

    `joint`: the two sides name the same groups (a paired design: row i of X and row i of Y are twins
    of one real user, `comparators/paired.py`), so a group's rows on both sides share a fold; identical
    rows are then not merged (each pair is already in one group, and merging would chain every user of a
    simulator that repeats one line into a single group, leaving no folds)."""
    names = [("" if joint else "x", str(g)) for g in groups_x] + [("" if joint else "y", str(g)) for g in groups_y]
    order = {name: i for i, name in enumerate(sorted(set(names)))}
    codes = np.array([order[name] for name in names], dtype=np.int64)
    if Z is not None and not joint:  # merge the groups of identical rows (union-find over group codes)
        parent = np.arange(len(order))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        rounded = np.round(np.asarray(Z, np.float64), 6)
        rows = np.ascontiguousarray(rounded).view(np.dtype((np.void, rounded.dtype.itemsize * rounded.shape[1]))).ravel()
        _, inverse = np.unique(rows, return_inverse=True)
        first: dict[int, int] = {}
        for row, code in zip(inverse.ravel().tolist(), codes.tolist()):
            if row in first:
                a, b = root(first[row]), root(code)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                first[row] = code
        codes = np.array([root(c) for c in codes.tolist()], dtype=np.int64)
    _, codes = np.unique(codes, return_inverse=True)
    n_groups = int(codes.max()) + 1
    if n_groups < folds:
        raise SynthgapError(f"the classifier test needs at least {folds} authors, got {n_groups}")
    return codes.ravel()


def grouped_folds(codes: np.ndarray, labels: np.ndarray, folds: int, seed: int, partition: int = 0) -> np.ndarray:
    """Whole groups to folds, balancing each label's items across folds: largest group first (ties in
    a seeded random order; for `partition` > 0 all in a seeded random order), each to the fold where
    it adds least to the loads of its labels.

    Our own greedy rather than sklearn's StratifiedGroupKFold, which does the same job but takes
    seconds at 10^4 authors (it re-scores every fold's label spread for each group).
    """
    n_groups = int(codes.max()) + 1
    rng = numpy_rng(seed, 2, *([partition] if partition else []))
    need = np.stack([np.bincount(codes, weights=(labels == k).astype(float), minlength=n_groups)
                     for k in (0, 1)], axis=1)  # items of each label per group
    # partition 0: largest group first (the best balance); further partitions (repeated cross-fitting)
    # take the groups in a seeded random order, else with unequal authors they would all come out alike
    order = rng.permutation(n_groups) if partition else np.lexsort((rng.permutation(n_groups), -need.sum(axis=1)))
    load = np.zeros((2, folds))
    fold_of_group = np.empty(n_groups, dtype=int)
    for g in order.tolist():
        cost = need[g] @ load + 1e-9 * load.sum(axis=0)  # ties: the emptier fold, then the lower index
        f = int(np.argmin(cost))
        fold_of_group[g] = f
        load[:, f] += need[g]
    return fold_of_group[codes]


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


@dataclass
class C2STFit:
    """Out-of-fold scores of the classifier test (Y labeled 1) on the first fold partition, its folds,
    the within-fold AUC of every partition (`auc` is their mean), and the AUCs of refits on bootstrap
    resamples (one per count column given; empty without)."""
    scores: np.ndarray
    labels: np.ndarray
    folds: np.ndarray
    refit_aucs: np.ndarray
    partition_aucs: np.ndarray

    @property
    def auc(self) -> float:
        return float(self.partition_aucs.mean())


RIDGE = 0.1  # penalty per (weighted) training row on the standardized coefficients


def _fold_scores(Z1: np.ndarray, target: np.ndarray, fold_of: np.ndarray, folds: int,
                 w: np.ndarray) -> np.ndarray:
    """Out-of-fold scores of a ridge (penalized least-squares) linear classifier, rows weighted by w.

    Each fold's normal equations are the whole sample's minus the fold's own, so one weighted Gram
    matrix per fold serves all folds: two passes over the rows and `folds` small d x d solves.
    """
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    d = Z1.shape[1] - 1
    Zw = Z1 * w[:, None]
    parts = [fold_of == f for f in range(folds)]
    grams = [Zw[p].T @ Z1[p] for p in parts]
    rhss = [Zw[p].T @ target[p] for p in parts]
    gram, rhs = sum(grams), sum(rhss)
    scores = np.zeros(len(Z1))
    for f, test in enumerate(parts):
        g = gram - grams[f]
        r = rhs - rhss[f]
        n_train = float(w.sum() - w[test].sum())
        g[np.arange(d), np.arange(d)] += RIDGE * max(n_train, 1.0)  # the intercept (last) is not penalized
        try:  # positive definite by the penalty, unless the training rows are empty
            beta = cho_solve(cho_factor(g), r)
        except (LinAlgError, ValueError):
            beta = np.linalg.lstsq(g, r, rcond=None)[0]
        scores[test] = Z1[test] @ beta
    return scores


def c2st_fit(X, Y, seed: int = 0, folds: int = 5, groups_x: Optional[Sequence] = None,
             groups_y: Optional[Sequence] = None, counts: Optional[np.ndarray] = None,
             partitions: int = 1, joint_groups: bool = False) -> C2STFit:
    """Cross-fitted linear classifier telling Y from X, with folds of whole authors, and refits.

    Folds hold whole authors (`groups_x`, `groups_y`: one author per row; without them each row is
    its own author) and are assigned from author identities (see `c2st_folds`). Features are
    standardized once on the pooled rows (no labels are used, so nothing leaks).
    The classifier is ridge regression on labels -1/+1 (a regularized linear discriminant): the
    same kind of boundary as a logistic regression, within 0.01 AUC of it on real corpora, but in
    closed form, so that refitting costs two matrix products instead of an iterative solve.
    `counts` (n_x + n_y, R): cluster-bootstrap counts, X rows first. For each column the classifier
    is refitted on every fold's training rows weighted by the counts and scored on the fold's
    held-out rows, the AUC weighted by the counts: the spread of these AUCs holds the training
    variance that resampling fixed out-of-fold scores would leave out.
    `partitions` > 1 repeats the cross-fitting over further seeded fold partitions and averages the
    AUCs (repeated cross-fitting): one partition's AUC moves with which authors happened to share a
    fold, and the mean over 5 cut that spread by 15-18% on real corpora (ShareGPT, PersuasionForGood,
    m = 300). Refits stay on the first partition.
    `joint_groups`: `groups_x` and `groups_y` name the same groups (paired twins), whose rows on both
    sides then share a fold (see `c2st_groups`).
    """
    X, Y = _pair(X, Y)
    Z = np.concatenate([X, Y]).astype(np.float64)
    Z -= Z.mean(axis=0)
    sd = Z.std(axis=0)
    Z /= np.where(sd > 0, sd, 1.0)
    Z1 = np.concatenate([Z, np.ones((len(Z), 1))], axis=1)
    labels = np.r_[np.zeros(len(X), int), np.ones(len(Y), int)]
    target = 2.0 * labels - 1.0
    folds = min(folds, len(X), len(Y))
    if folds < 2:
        raise SynthgapError("the classifier test needs at least 2 rows on each side")
    gx = list(range(len(X))) if groups_x is None else list(groups_x)
    gy = list(range(len(Y))) if groups_y is None else list(groups_y)
    if len(gx) != len(X) or len(gy) != len(Y):
        raise SynthgapError("the classifier test needs one author per row on each side")
    codes = c2st_groups(gx, gy, Z, folds, joint_groups)
    fold_sets = [grouped_folds(codes, labels, folds, seed, p) for p in range(max(1, partitions))]
    fold_of = fold_sets[0]
    from threadpoolctl import threadpool_limits

    # one BLAS thread: these products and d x d solves are too small to split, and a second thread
    # competing with any other load (torch's idle OpenMP workers after embedding) slows them 30-fold
    with threadpool_limits(limits=1, user_api="blas"):
        ones = np.ones(len(Z))
        scores = _fold_scores(Z1, target, fold_of, folds, ones)
        aucs = [within_fold_auc(scores, labels, fold_of)] + [
            within_fold_auc(_fold_scores(Z1, target, f, folds, ones), labels, f) for f in fold_sets[1:]]
        refits = []
        if counts is not None and counts.shape[1]:
            for r in range(counts.shape[1]):
                c = counts[:, r].astype(np.float64)
                refits.append(float(within_fold_auc(_fold_scores(Z1, target, fold_of, folds, c), labels, fold_of,
                                                    c)))
    return C2STFit(scores, labels, fold_of, np.asarray(refits, np.float64), np.asarray(aucs, np.float64))


def within_fold_auc(scores: np.ndarray, labels: np.ndarray, fold_of: np.ndarray,
                    weights: Optional[np.ndarray] = None) -> float:
    """ROC AUC over pairs of one fold only (each fold's AUC weighted by its pairs).

    Pooling out-of-fold scores across folds compares scores of different models: when whole authors
    make the folds' class mixes differ, each model's intercept leans against its test fold's majority
    and the pooled AUC falls well below 0.5 between two samples of one population (0.34 on ConvAI2
    thirds with one prolific author). Within a fold one model scores both classes, so that shift
    cancels.
    """
    w = np.ones(len(scores)) if weights is None else np.asarray(weights, np.float64)
    wins = pairs = 0.0
    for f in np.unique(fold_of):
        part = fold_of == f
        pos, neg = w[part & (labels == 1)].sum(), w[part & (labels == 0)].sum()
        if pos <= 0 or neg <= 0:
            continue
        auc = weighted_auc(scores[part], labels[part], w[part])[0]
        wins += auc * pos * neg
        pairs += pos * neg
    return wins / pairs if pairs > 0 else float("nan")


def c2st_scores(X, Y, seed: int = 0, folds: int = 5, groups_x: Optional[Sequence] = None,
                groups_y: Optional[Sequence] = None) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold probabilities that each row is from Y (folds of whole authors, see `c2st_fit`);
    returns (scores, labels) with Y labeled 1."""
    fit = c2st_fit(X, Y, seed, folds, groups_x, groups_y)
    return fit.scores, fit.labels


def c2st_auc(X, Y, seed: int = 0, groups_x: Optional[Sequence] = None, groups_y: Optional[Sequence] = None,
             partitions: int = 5) -> float:
    """Classifier two-sample test: cross-fitted ROC AUC of telling Y from X (0.5 = indistinguishable),
    within folds as the metric computes it (`within_fold_auc`); with authors, folds hold whole authors."""
    return c2st_fit(X, Y, seed=seed, groups_x=groups_x, groups_y=groups_y, partitions=partitions).auc


# ---------------------------------------------------------------------------------------------
# Precision, recall, density, coverage (Naeem et al. 2020)


def kth_neighbour_radii(A: np.ndarray, k: int, chunk: int = 2048) -> np.ndarray:
    """Distance from each row to its k-th nearest other row (the row itself is at distance 0)."""
    if k >= len(A):
        raise SynthgapError(f"k={k} nearest neighbours need more than {k} rows, got {len(A)}")
    A = np.asarray(A, np.float64)
    sq = (A * A).sum(1)
    out = np.empty(len(A))
    for i in range(0, len(A), chunk):
        d = sq_distances(A[i:i + chunk], A, sq[i:i + chunk], sq)
        out[i:i + chunk] = np.partition(d, k, axis=1)[:, k]
    return np.sqrt(out)


def prdc_terms(real, fake, k: int = 5, real_counts: Optional[np.ndarray] = None,
               fake_counts: Optional[np.ndarray] = None, chunk: int = 2048
               ) -> tuple[dict[str, np.ndarray], Optional[dict[str, np.ndarray]]]:
    """Per-item terms of PRDC and, given both sides' bootstrap counts, its replicates, in one pass
    over the real-by-fake distances (they are the costly part; the metric needs both).

    Items: precision, density one value per fake row; recall, coverage one per real row (the metric
    is their mean). Balls are open (distance < radius) and distances are float64, as in the authors'
    reference code.

    Replicates: PRDC under bootstrap resamples of both sides, k-NN radii held at their full-sample
    values. A resample keeps a row's ball (or its membership test) only when the row is drawn:
    recall and coverage of a real row count the fake balls that were drawn, precision and density of
    a fake row count the real balls that were drawn, and each mean runs over its own side's draws.
    So the spread holds both sides' sampling; resampling one side with the other held fixed makes
    the two comparisons of a metric move together and the paired difference look far surer than it
    is. Memberships are boolean matrices, so every replicate is one matrix product.
    """
    real, fake = _pair(real, fake)
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    r_real, r_fake = kth_neighbour_radii(real, k, chunk), kth_neighbour_radii(fake, k, chunk)
    inside = np.zeros(len(fake))  # how many real balls hold each fake row
    recall = np.zeros(len(real), bool)
    coverage = np.zeros(len(real), bool)
    resample = real_counts is not None and fake_counts is not None
    if resample:
        rc = np.asarray(real_counts, np.float32)
        drawn_r = (rc > 0).astype(np.float32)
        drawn_f = (np.asarray(fake_counts) > 0).astype(np.float32)
        R = drawn_r.shape[1]
        in_real_ball_sum = np.zeros((len(fake), R), np.float64)  # per fake row: drawn real balls holding it
        in_real_ball_cnt = np.zeros((len(fake), R), np.float64)  # ... counted with their draw counts
        recall_hits = np.zeros((len(real), R), np.float64)
        cover_hits = np.zeros((len(real), R), np.float64)
    f_sq = (fake * fake).sum(1)
    for i in range(0, len(real), chunk):
        d = np.sqrt(sq_distances(real[i:i + chunk], fake, b_sq=f_sq))
        in_real = d < r_real[i:i + chunk, None]  # real ball i holds fake j
        in_fake = d < r_fake[None, :]  # real i inside fake ball j
        inside += in_real.sum(axis=0)
        recall[i:i + chunk] = in_fake.any(axis=1)
        coverage[i:i + chunk] = in_real.any(axis=1)
        if resample:
            in_real32, in_fake32 = in_real.astype(np.float32), in_fake.astype(np.float32)
            in_real_ball_sum += in_real32.T @ drawn_r[i:i + chunk]
            in_real_ball_cnt += in_real32.T @ rc[i:i + chunk]
            recall_hits[i:i + chunk] = in_fake32 @ drawn_f
            cover_hits[i:i + chunk] = in_real32 @ drawn_f
    items = {"precision": (inside > 0).astype(float), "density": inside / k,
             "recall": recall.astype(float), "coverage": coverage.astype(float)}
    if not resample:
        return items, None
    fc = np.asarray(fake_counts, np.float64)
    rc64 = rc.astype(np.float64)
    mean_over = lambda values, counts: (values * counts).sum(0) / np.maximum(counts.sum(0), 1)  # noqa: E731
    # density: each drawn real ball counts as often as its row was drawn, scaled to the resample's size
    scale = len(real) / np.maximum(rc64.sum(0), 1)
    return items, {"precision": mean_over((in_real_ball_sum > 0).astype(float), fc),
                   "density": mean_over(in_real_ball_cnt / k, fc) * scale,
                   "recall": mean_over((recall_hits > 0).astype(float), rc64),
                   "coverage": mean_over((cover_hits > 0).astype(float), rc64)}


def prdc_items(real, fake, k: int = 5, chunk: int = 2048) -> dict[str, np.ndarray]:
    """Per-item terms of PRDC (see `prdc_terms`)."""
    return prdc_terms(real, fake, k, chunk=chunk)[0]


def prdc_replicates(real, fake, k: int, real_counts: np.ndarray, fake_counts: np.ndarray,
                    chunk: int = 2048) -> dict[str, np.ndarray]:
    """PRDC under bootstrap resamples of both sides (see `prdc_terms`)."""
    return prdc_terms(real, fake, k, real_counts, fake_counts, chunk)[1]


def prdc(real, fake, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of `fake` against `real` with k-NN balls."""
    return {name: float(v.mean()) for name, v in prdc_items(real, fake, k).items()}


# ---------------------------------------------------------------------------------------------
# Memorization


def _unit(A: np.ndarray) -> np.ndarray:
    A = np.asarray(A, np.float32)
    norms = np.linalg.norm(A, axis=1, keepdims=True)
    return A / np.where(norms > 0, norms, 1.0)


def nearest_cosine(real, synthetic, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """For each synthetic row, the cosine similarity of its nearest real row and that row's index."""
    real, synthetic = _pair(real, synthetic)
    R, S = _unit(real), _unit(synthetic)
    best, where = np.empty(len(S)), np.empty(len(S), int)
    for i in range(0, len(S), chunk):
        sims = S[i:i + chunk] @ R.T
        where[i:i + chunk] = sims.argmax(axis=1)
        best[i:i + chunk] = sims[np.arange(len(sims)), where[i:i + chunk]]
    return np.minimum(best, 1.0), where


def memorization_replicates(real, synthetic, threshold: float, real_counts: np.ndarray, synthetic_counts: np.ndarray,
                            chunk: int = 4096) -> np.ndarray:
    """The memorization rate under bootstrap resamples of both sides: a synthetic row is a copy in a
    resample when a drawn real row is within the threshold (the real side's sampling matters too)."""
    real, synthetic = _pair(real, synthetic)
    R, S = _unit(real), _unit(synthetic)
    drawn = (np.asarray(real_counts) > 0).astype(np.float32)
    hits = np.zeros((len(S), drawn.shape[1]))
    for i in range(0, len(S), chunk):
        near = ((S[i:i + chunk] @ R.T) >= threshold - 1e-6).astype(np.float32)
        hits[i:i + chunk] = near @ drawn
    c = np.asarray(synthetic_counts, np.float64)
    return ((hits > 0) * c).sum(0) / np.maximum(c.sum(0), 1)


def memorization(real, synthetic, threshold: float = 0.95) -> float:
    """Share of synthetic items whose nearest real item has cosine similarity >= threshold."""
    best, _ = nearest_cosine(real, synthetic)
    return float((best >= threshold - 1e-6).mean())


__all__ = ["FULL_KERNEL_MAX", "MMDTest", "block_size_for", "c2st_auc", "c2st_scores", "frechet_distance",
           "frechet_from_moments", "gaussian_fit", "gaussian_kernel", "kth_neighbour_radii", "median_bandwidth",
           "memorization", "memorization_replicates", "mmd2_blocks", "mmd2_from_kernel", "mmd2_unbiased", "mmd_block_test",
           "mmd_permutation_test", "nearest_cosine", "prdc", "prdc_items", "prdc_replicates", "sq_distances", "within_fold_auc"]
