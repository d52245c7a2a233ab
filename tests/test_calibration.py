"""A small calibration run on a real corpus (the full one is `benchmarks/calibration.py`): author-disjoint
thirds of ConvAI2 give no "beyond" verdict, and a mode-collapsed third is caught and never looks closer
to real than real is."""

from __future__ import annotations

import numpy as np
import pytest

from synthgap.comparators.calibration import (Corpus, MemoAnalyzer, MemoEmbedder, compare_once, degrade, load_turns,
                                              rates, thirds)
from synthgap.comparators.comparison import CompareConfig

EMBEDDING = ["frechet", "mmd", "c2st", "prdc", "mauve", "memorization"]


@pytest.fixture
def convai2(corpora):
    path = corpora / "convai2_wild_intermediate.json"
    if not path.exists():
        pytest.skip(f"{path} is absent: the calibration test needs the shared ConvAI2 file")
    return Corpus("convai2", *load_turns(str(path)))


@pytest.fixture(scope="module")
def models(embedder):
    from synthgap.comparators.style import StyleAnalyzer

    return MemoEmbedder(embedder), MemoAnalyzer(StyleAnalyzer())


def test_thirds_are_author_disjoint_and_seeded():
    authors = [f"u{i % 37}" for i in range(500)]
    parts = thirds(authors, 3)
    sets = [{authors[i] for i in p} for p in parts]
    assert not (sets[0] & sets[1]) and not (sets[1] & sets[2]) and sum(map(len, parts)) == 500
    assert all(abs(len(p) - 500 / 3) < 20 for p in parts)
    assert all((a == b).all() for a, b in zip(parts, thirds(authors, 3)))


def test_a_large_corpus_is_cut_to_whole_authors():
    authors = [f"u{i % 50}" for i in range(1000)]  # 20 turns each
    corpus = Corpus("c", [f"t{i}" for i in range(1000)], authors)
    cut = corpus.limited(300, seed=1)
    kept = set(cut.authors)
    assert 300 <= len(cut.texts) < 320 and len(kept) == 15  # stops at the first author past the cap
    assert all(sum(a == k for a in cut.authors) == 20 for k in kept)  # no author split
    assert cut.texts == [t for t, a in zip(corpus.texts, authors) if a in kept]  # order kept
    assert cut.authors == corpus.limited(300, seed=1).authors and corpus.limited(5000) is corpus


def test_degradations_change_what_they_say():
    texts = [f"turn number {i} with some words in it" for i in range(60)]
    authors = [f"u{i % 6}" for i in range(60)]
    embed = lambda t: np.random.default_rng(0).normal(size=(len(t), 8))  # noqa: E731
    boiler, _ = degrade("boilerplate", texts, authors, embed, None, 30, 0)
    assert all(b.startswith("Quick question") and b.endswith("thanks!") for b in boiler)
    short, _ = degrade("shortened", texts, authors, embed, None, 30, 0)
    assert all(len(s.split()) == 3 for s in short)
    dup, dup_authors = degrade("duplicates", texts, authors, embed, None, 30, 0)
    assert len(dup) == 30 and len({t.rstrip(" .!?,") for t in dup}) == 6 and len(dup_authors) == 30
    pool = np.array([i % 3 for i in range(60)])
    kept, _ = degrade("topic", texts, authors, embed, pool, 30, 0)
    assert len(kept) == 40
    collapsed, _ = degrade("collapse", texts, authors, embed, None, 30, 0)
    assert 0 < len(collapsed) < 60


def test_real_vs_real_thirds_give_no_verdict_and_collapse_is_caught(convai2, models):
    config = CompareConfig(metrics=EMBEDDING, bootstrap=100, sensitivity=False)
    null = [compare_once(convai2, seed, 150, config, *models) for seed in range(3)]
    null_rates = rates(null)
    assert all(row["beyond"] == 0 for row in null_rates.values()), null_rates
    assert all(row["verdicts"] == 3 for row in null_rates.values())  # m = 150: every metric gives one
    aucs = [m["real_vs_real"] for r in null for m in r["metrics"] if m["name"] == "c2st_auc"]
    assert all(0.35 < a < 0.65 for a in aucs), aucs
    collapsed = rates([compare_once(convai2, seed, 150, config, *models, degradation="collapse")
                       for seed in range(2)])
    for name in ("kid", "mmd2"):
        assert collapsed[name]["beyond"] == 2, (name, collapsed[name])
    assert collapsed["kid"]["closer"] == 0 and collapsed["mmd2"]["closer"] == 0
    # three of twenty clusters leave under 100 items: PRDC and MAUVE refuse rather than guess
    assert collapsed["prdc_recall"]["verdicts"] == 0 and collapsed["prdc_recall"]["status"].startswith("too few")


def test_c2st_halves_first_split_is_compares_and_the_mean_covers_five():
    from synthgap.comparators import distances as D
    from synthgap.comparators.calibration import c2st_halves
    from synthgap.comparators.yardstick import make_plan

    rng = np.random.default_rng(5)
    authors = [f"u{i // 4}" for i in range(400)]
    vectors = np.repeat(rng.normal(size=(100, 6)), 4, axis=0) + rng.normal(0, 0.5, (400, 6))
    corpus = Corpus("c", [f"t{i}" for i in range(400)], authors)
    first, mean = c2st_halves(corpus, vectors, seed=2, m=150)
    plan = make_plan(authors, 400, 2, 150, match=False)
    g = np.asarray(authors, dtype=object)
    a, b = plan.real_a, plan.real_b
    assert first == D.c2st_fit(vectors[a], vectors[b], seed=2, groups_x=g[a], groups_y=g[b]).auc
    assert mean != first and 0.3 < mean < 0.7
    assert c2st_halves(corpus, vectors, seed=2, m=150, splits=1) == (first, first)
