"""Embedding-distribution distances on arrays: known cases, and agreement with reference code."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from sklearn.metrics import roc_auc_score

from synthgap.comparators import distances as D
from synthgap.comparators import mauve as M
from synthgap.comparators.embedding_metrics import weighted_auc
from synthgap.errors import SynthgapError


def gauss(n, d=8, shift=0.0, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return rng.normal(shift, scale, size=(n, d))


def scipy_frechet(X, Y):
    """The textbook formula with scipy's general matrix square root (the reference)."""
    m1, m2 = X.mean(0), Y.mean(0)
    c1, c2 = np.cov(X, rowvar=False), np.cov(Y, rowvar=False)
    covmean = scipy.linalg.sqrtm(c1 @ c2)
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    return float(((m1 - m2) ** 2).sum() + np.trace(c1 + c2 - 2 * covmean))


# --- Fréchet ------------------------------------------------------------------------------------

def test_frechet_identical_sets_is_zero():
    X = gauss(500)
    assert D.frechet_distance(X, X.copy()) == pytest.approx(0.0, abs=1e-9)


def test_frechet_closed_form_for_known_gaussians():
    # N(m1, diag(s1^2)) vs N(m2, diag(s2^2)): ||m1 - m2||^2 + sum (s1 - s2)^2
    m1, m2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 2.0, 0.5]), np.array([2.0, 2.0, 1.5])
    value = D.frechet_from_moments(m1, np.diag(s1 ** 2), m2, np.diag(s2 ** 2))
    assert value == pytest.approx(((m1 - m2) ** 2).sum() + ((s1 - s2) ** 2).sum(), rel=1e-10)


def test_frechet_of_shifted_samples_approaches_the_shift():
    X, Y = gauss(20000, d=4, seed=1), gauss(20000, d=4, shift=0.5, seed=2)
    assert D.frechet_distance(X, Y) == pytest.approx(4 * 0.25, rel=0.05)


@pytest.mark.parametrize("n,d", [(400, 10), (50, 80)])  # the second is singular: fewer rows than dimensions
def test_frechet_agrees_with_scipy_sqrtm(n, d):
    X, Y = gauss(n, d, seed=3), gauss(n, d, shift=0.3, seed=4, scale=1.5)
    assert D.frechet_distance(X, Y) == pytest.approx(scipy_frechet(X, Y), rel=1e-6, abs=1e-6)


def test_weighted_gaussian_fit_equals_repeated_rows():
    X = gauss(30, 5, seed=5)
    w = np.random.default_rng(0).integers(0, 4, size=30)
    mu, cov = D.gaussian_fit(X, w)
    rep = np.repeat(X, w, axis=0)
    assert np.allclose(mu, rep.mean(0)) and np.allclose(cov, np.cov(rep, rowvar=False))


# --- MMD ----------------------------------------------------------------------------------------

def naive_mmd2(X, Y, h):
    k = lambda a, b: np.exp(-((a - b) ** 2).sum() / (2 * h * h))  # noqa: E731
    n, m = len(X), len(Y)
    sxx = sum(k(X[i], X[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    syy = sum(k(Y[i], Y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    sxy = sum(k(X[i], Y[j]) for i in range(n) for j in range(m)) / (n * m)
    return sxx + syy - 2 * sxy


def test_mmd_matches_the_definition():
    X, Y = gauss(25, 3, seed=1), gauss(30, 3, shift=0.4, seed=2)
    assert D.mmd2_unbiased(X, Y, bandwidth=1.3) == pytest.approx(naive_mmd2(X, Y, 1.3), rel=1e-5)
    K = D.gaussian_kernel(np.concatenate([X, Y]), 1.3)
    assert D.mmd2_from_kernel(K, 25) == pytest.approx(naive_mmd2(X, Y, 1.3), rel=1e-5)


def test_mmd_median_heuristic_is_the_default():
    X, Y = gauss(40, 3, seed=1), gauss(40, 3, shift=0.4, seed=2)
    h = D.median_bandwidth(X, Y)
    Z = np.concatenate([X, Y])
    pairwise = np.sqrt(((Z[:, None] - Z[None]) ** 2).sum(-1))[np.triu_indices(80, 1)]
    assert h == pytest.approx(np.median(pairwise), rel=1e-6)
    assert D.mmd2_unbiased(X, Y) == pytest.approx(D.mmd2_unbiased(X, Y, bandwidth=h), rel=1e-6)


def test_mmd_identical_and_shifted():
    X = gauss(400, 5, seed=1)
    assert abs(D.mmd2_unbiased(X, X.copy())) < 0.01
    assert abs(D.mmd2_unbiased(X, gauss(400, 5, seed=2))) < 0.01
    assert D.mmd2_unbiased(X, gauss(400, 5, shift=1.0, seed=2)) > 0.1


def test_mmd_permutation_test_p_values():
    X = gauss(150, 4, seed=1)
    same = D.mmd_permutation_test(X, gauss(150, 4, seed=2), permutations=200, seed=0)
    shifted = D.mmd_permutation_test(X, gauss(150, 4, shift=0.5, seed=2), permutations=200, seed=0)
    assert same.p_value > 0.05 and shifted.p_value < 0.01
    assert shifted.method == "permutation" and shifted.permutations == 200


def test_block_and_linear_estimators_agree_with_the_full_one():
    X, Y = gauss(3000, 4, seed=1), gauss(3000, 4, shift=0.3, seed=2)
    h = D.median_bandwidth(X, Y)
    full = D.mmd2_unbiased(X, Y, h)
    block = D.mmd_block_test(X, Y, h)
    linear = D.mmd_block_test(X, Y, h, block_size=2)
    assert block.method == "block" and linear.method == "linear"
    assert block.mmd2 == pytest.approx(full, rel=0.15) and block.p_value < 0.001
    assert linear.mmd2 == pytest.approx(full, rel=0.5) and linear.p_value < 0.05


def test_resample_counts_skip_pairs_of_copies():
    X, Y = gauss(6, 2, seed=1), gauss(5, 2, seed=2)
    cx, cy = np.array([2, 0, 1, 1, 1, 1]), np.array([1, 3, 0, 1, 0])
    K = D.gaussian_kernel(np.concatenate([X, Y]), 1.0)
    got = D.mmd2_from_kernel(K, 6, cx, cy)
    # expected: the U-statistic over the expanded sample, leaving out pairs of copies of one row
    ix, iy = np.repeat(np.arange(6), cx), np.repeat(np.arange(5), cy)
    k = lambda a, b: np.exp(-((a - b) ** 2).sum() / 2)  # noqa: E731
    sxx = [k(X[a], X[b]) for p, a in enumerate(ix) for q, b in enumerate(ix) if a != b]
    syy = [k(Y[a], Y[b]) for p, a in enumerate(iy) for q, b in enumerate(iy) if a != b]
    sxy = [k(X[a], Y[b]) for a in ix for b in iy]
    assert got == pytest.approx(np.mean(sxx) + np.mean(syy) - 2 * np.mean(sxy), rel=1e-5)
    many = D.mmd2_from_kernel(K, 6, np.stack([cx, np.ones(6)], 1), np.stack([cy, np.ones(5)], 1))
    assert many[0] == pytest.approx(got, rel=1e-5)
    assert many[1] == pytest.approx(D.mmd2_from_kernel(K, 6), rel=1e-5)


# --- C2ST ---------------------------------------------------------------------------------------

def test_c2st_identical_same_and_shifted():
    X = gauss(300, 6, seed=1)
    assert D.c2st_auc(X, X.copy()) == pytest.approx(0.5, abs=0.08)
    assert D.c2st_auc(X, gauss(300, 6, seed=2)) == pytest.approx(0.5, abs=0.08)
    assert D.c2st_auc(X, gauss(300, 6, shift=1.0, seed=2)) > 0.9


def test_weighted_auc_matches_sklearn():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(200), 2)  # rounding makes ties
    labels = rng.integers(0, 2, 200)
    w = rng.integers(0, 3, size=(200, 3)).astype(float)
    got = weighted_auc(scores, labels, w)
    for r in range(3):
        assert got[r] == pytest.approx(roc_auc_score(labels, scores, sample_weight=w[:, r]), abs=1e-12)


# --- PRDC ---------------------------------------------------------------------------------------

def test_prdc_matches_the_reference_package():
    reference = pytest.importorskip("prdc", reason="the prdc package (extra [dev]) is the reference")
    real, fake = gauss(400, 16, seed=1), gauss(350, 16, shift=0.3, seed=2)
    ours = D.prdc(real, fake, k=5)
    theirs = reference.compute_prdc(real_features=real, fake_features=fake, nearest_k=5)
    for key in ("precision", "recall", "density", "coverage"):
        assert ours[key] == pytest.approx(theirs[key], abs=1e-9), key


def test_prdc_identical_sets_are_perfect_and_disjoint_sets_are_not():
    X = gauss(300, 8, seed=1)
    same = D.prdc(X, X.copy(), k=5)
    assert same["precision"] == 1.0 and same["recall"] == 1.0 and same["coverage"] == 1.0
    far = D.prdc(X, gauss(300, 8, shift=20.0, seed=2), k=5)
    assert far["precision"] == 0.0 and far["coverage"] == 0.0


def test_prdc_replicates_come_from_the_same_pass_and_reduce_to_the_estimate():
    """A resample that draws every row once is the full sample: its replicate equals the estimate,
    and asking for replicates leaves the per-item terms unchanged (one pass serves both)."""
    real, fake = gauss(300, 8, seed=1), gauss(250, 8, shift=0.4, seed=2)
    items, none = D.prdc_terms(real, fake, k=5)
    assert none is None
    rng = np.random.default_rng(0)
    rc = np.c_[np.ones(300), rng.poisson(1.0, (300, 3))]
    fc = np.c_[np.ones(250), rng.poisson(1.0, (250, 3))]
    items2, reps = D.prdc_terms(real, fake, 5, rc, fc, chunk=64)  # several chunks
    for key in items:
        assert np.array_equal(items[key], items2[key]), key
        assert reps[key][0] == pytest.approx(items[key].mean(), abs=1e-12), key
        assert reps[key].shape == (4,) and np.ptp(reps[key][1:]) > 0, key


# --- MAUVE --------------------------------------------------------------------------------------

def test_mauve_same_distribution_high_disjoint_low():
    X = gauss(600, 16, seed=1)
    assert M.mauve(X, gauss(600, 16, seed=2), seed=0) > 0.85
    assert M.mauve(X, gauss(600, 16, shift=3.0, seed=2), seed=0) < 0.1


def test_mauve_divergence_curve_limits():
    p = np.array([0.5, 0.5, 0.0])
    assert M.mauve_from_histograms(p, p) == pytest.approx(1.0, abs=1e-6)
    assert M.mauve_from_histograms(np.array([1.0, 0.0]), np.array([0.0, 1.0])) < 0.01


@pytest.mark.parametrize("shift", [0.0, 0.25])
def test_mauve_agrees_with_mauve_text(shift):
    mt = pytest.importorskip("mauve", reason="mauve-text (extra [dev]) is the reference")
    X, Y = gauss(800, 24, seed=1), gauss(800, 24, shift=shift, seed=2)
    ours = np.mean([M.mauve(X, Y, seed=s) for s in range(3)])
    theirs = mt.compute_mauve(p_features=X, q_features=Y, verbose=False).mauve
    assert ours == pytest.approx(theirs, abs=0.06)


# --- memorization and input checks -------------------------------------------------------------

def test_memorization_finds_copies():
    real = gauss(200, 10, seed=1)
    fake = np.concatenate([real[:50] + 1e-4, gauss(150, 10, seed=9)])
    assert D.memorization(real, fake) == pytest.approx(50 / 200)
    best, where = D.nearest_cosine(real, fake)
    assert (where[:50] == np.arange(50)).all() and (best[:50] > 0.999).all()


@pytest.mark.parametrize("X,Y,message", [
    (np.zeros(5), np.zeros((5, 2)), "2-D"),
    (np.zeros((5, 2)), np.zeros((5, 3)), "columns"),
    (np.full((5, 2), np.nan), np.zeros((5, 2)), "NaN"),
    (np.zeros((1, 2)), np.zeros((5, 2)), "at least 2 rows"),
])
def test_bad_arrays_get_one_line_errors(X, Y, message):
    with pytest.raises(SynthgapError, match=message):
        D.frechet_distance(X, Y)


def test_c2st_folds_go_by_author_so_a_leaking_author_is_not_learned():
    """Two sides from one population of authors, 6 items each around the author's own centre: item
    folds put an author's items on both sides of the split and the classifier learns authors.
    (A cross-validated AUC under the null sits a little below 0.5 at these sizes, and clustered
    data make it vary: hence six seeds and their mean.)"""
    d, per = 16, 6
    by_item, by_author = [], []
    for seed in range(6):
        rng = np.random.default_rng(seed)

        def side(n_authors, tag):
            centres = rng.normal(0, 1.0, (n_authors, d))
            rows = np.repeat(centres, per, axis=0) + rng.normal(0, 0.3, (n_authors * per, d))
            return rows, [f"{tag}{i}" for i in range(n_authors) for _ in range(per)]

        (X, gx), (Y, gy) = side(60, "a"), side(60, "b")
        by_item.append(D.c2st_auc(X, Y))
        by_author.append(D.c2st_auc(X, Y, groups_x=gx, groups_y=gy))
    assert np.mean(by_item) > 0.58, by_item  # the leak: authors learned across folds
    assert 0.4 < np.mean(by_author) < 0.55, by_author
    assert all(a > b for a, b in zip(by_item, by_author))


def clustered_halves(rng, n_authors=30, per=8, d=8, spread=1.0, noise=0.3):
    """Two author-disjoint samples of one population whose items cluster around their author."""
    def side(tag):
        centres = rng.normal(0, spread, (n_authors, d))
        rows = np.repeat(centres, per, axis=0) + rng.normal(0, noise, (n_authors * per, d))
        return rows, [f"{tag}{i}" for i in range(n_authors) for _ in range(per)]
    return side("a"), side("b")


def test_mmd_permutations_of_whole_authors_hold_a_clustered_null():
    """Halves of one clustered population differ only by which authors they drew: permuting items
    calls that a difference almost always; permuting authors keeps the false rate near alpha."""
    by_item = by_author = 0
    runs = 20
    for seed in range(runs):
        (X, gx), (Y, gy) = clustered_halves(np.random.default_rng(seed))
        by_item += D.mmd_permutation_test(X, Y, permutations=200, seed=seed).p_value < 0.05
        by_author += D.mmd_permutation_test(X, Y, permutations=200, seed=seed, groups_x=gx,
                                            groups_y=gy).p_value < 0.05
    assert by_item >= 15, by_item
    assert by_author <= 3, by_author


def test_kid_is_not_fooled_by_a_collapse_at_small_samples():
    """At n = 40 in 64 dimensions the plug-in Frechet distance of a collapsed set (variance x 0.3) is
    below that of a second real sample in every draw (its bias falls with the variance). KID is
    unbiased: about 0 between two real samples, and clearly above that for the collapsed set."""
    d, n, runs = 64, 40, 20
    fd_fooled, kid_other, kid_collapsed = 0, [], []
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        real, other = rng.normal(size=(n, d)), rng.normal(size=(n, d))
        collapsed = rng.normal(size=(n, d)) * np.sqrt(0.3)
        fd_fooled += D.frechet_distance(real, collapsed) < D.frechet_distance(real, other)
        pooled = np.concatenate([real, other, collapsed])
        gamma = 1.0 / np.mean((pooled * pooled).sum(1))  # shared by both comparisons, as the metric does

        def kid(A, B):
            K = D.polynomial_kernel(np.concatenate([A, B]), gamma)
            return float(D.mmd2_from_kernel(K, len(A), diag=np.diagonal(K).astype(np.float64)))
        kid_other.append(kid(real, other))
        kid_collapsed.append(kid(real, collapsed))
    assert fd_fooled == runs
    other, diff = np.array(kid_other), np.array(kid_collapsed) - np.array(kid_other)
    se = lambda v: v.std(ddof=1) / np.sqrt(len(v))  # noqa: E731
    assert abs(other.mean()) < 3 * se(other), other.mean()
    assert diff.mean() > 3 * se(diff), (diff.mean(), se(diff))


def test_c2st_averages_over_fold_partitions():
    """Repeated cross-fitting: the first partition is the single fit's, the AUC is the partitions'
    mean, and over draws of one population the mean moves less than a single partition's AUC."""
    single, averaged = [], []
    for seed in range(12):
        (X, gx), (Y, gy) = clustered_halves(np.random.default_rng(100 + seed), n_authors=40, per=3, d=16)
        one = D.c2st_fit(X, Y, seed=seed, groups_x=gx, groups_y=gy)
        five = D.c2st_fit(X, Y, seed=seed, groups_x=gx, groups_y=gy, partitions=5)
        assert len(five.partition_aucs) == 5 and five.partition_aucs[0] == one.auc
        assert five.auc == pytest.approx(five.partition_aucs.mean()) and np.ptp(five.partition_aucs) > 0
        assert (five.folds == one.folds).all()
        single.append(one.auc)
        averaged.append(five.auc)
    assert np.std(averaged) < np.std(single), (np.std(averaged), np.std(single))


def test_c2st_folds_come_from_identities_not_float_bytes():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(60, 8)), rng.normal(0.5, 1, size=(60, 8))
    gx, gy = [f"u{i // 3}" for i in range(60)], [f"s{i // 2}" for i in range(60)]
    labels = np.r_[np.zeros(60, int), np.ones(60, int)]
    folds = D.c2st_folds(gx, gy, labels, 5, seed=0, Z=np.concatenate([X, Y]))
    nudged = D.c2st_folds(gx, gy, labels, 5, seed=0, Z=np.concatenate([X + 1e-7 * rng.normal(size=X.shape), Y]))
    assert (folds == nudged).all()  # a 1e-7 change in a vector (another batch) moves no row
    for author in set(gx):  # an author's items share a fold
        assert len({folds[i] for i, g in enumerate(gx) if g == author}) == 1
    # a copied row shares the fold of its twin, even across sides and authors
    Y2 = Y.copy()
    Y2[5] = X[10]
    folds2 = D.c2st_folds(gx, gy, labels, 5, seed=0, Z=np.concatenate([X, Y2]))
    assert folds2[60 + 5] == folds2[10]
    assert D.c2st_auc(X, Y, groups_x=gx, groups_y=gy) > 0.6
