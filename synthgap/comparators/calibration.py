"""Calibration of `compare`'s verdicts: real-vs-real splits (false positives) and known degradations
of real data (power), through the same library path a user's comparison takes.

A corpus's user turns are split by author into thirds (seeded). Thirds 1 and 2 form the "real"
corpus, which `Comparison` halves by author into half A and half B as always; third 3 plays the
synthetic corpus, unchanged (the null) or degraded (`DEGRADATIONS`). `benchmarks/calibration.py`
prints the tables; the tests run a small version. Researchers can run it on their own corpus to
see how the verdicts behave on their data before trusting them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Callable, Optional

import numpy as np

from .comparison import CompareConfig, Comparison
from .samples import Sample
from ..seeds import numpy_rng

HEADLINE = ("kid", "mmd2", "c2st_auc", "mauve", "prdc_precision", "prdc_recall", "prdc_coverage")
DEGRADATIONS = ("collapse", "duplicates", "topic", "boilerplate", "shortened")
PREFIX, SUFFIX = "Quick question for you. ", " Please answer in detail, thanks!"


# ---------------------------------------------------------------------------------------------
# Memoized models: the same real embedder and spaCy analyzer, each text computed once per process


class MemoEmbedder:
    """An `Embedder` whose vectors are also kept in memory (seeds re-use the same texts many times)."""

    def __init__(self, embedder):
        self.inner, self.memo = embedder, {}
        self.path, self.identity = embedder.path, embedder.identity

    def embed(self, texts, description: str = "embedding") -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if missing:
            for t, v in zip(missing, self.inner.embed(missing, description)):
                self.memo[t] = v
        return np.stack([self.memo[t] for t in texts]) if texts else np.zeros((0, 0), np.float32)


class MemoAnalyzer:
    """A `StyleAnalyzer` whose per-turn feature rows are also kept in memory."""

    def __init__(self, analyzer):
        self.inner, self.memo = analyzer, {}

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def turn_features(self, texts, description: str = "style") -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if missing:
            for t, row in zip(missing, self.inner.turn_features(missing, description)):
                self.memo[t] = row
        return np.stack([self.memo[t] for t in texts])


# ---------------------------------------------------------------------------------------------
# Corpora as turn samples, split by author


def turn_sample(label: str, texts: list[str], authors: list[str]) -> Sample:
    return Sample(label=label, source=label, unit="turn", turns=list(texts), turn_unit=np.arange(len(texts)),
                  unit_ids=[f"{label}#{i}" for i in range(len(texts))], unit_groups=list(authors))


def load_turns(spec: str) -> tuple[list[str], list[str]]:
    """User turns and their authors of any corpus `load_sample` reads (bad records skipped)."""
    from .samples import load_sample

    s = load_sample(spec, unit="turn", on_error="skip")
    return s.turns, s.unit_groups


def thirds(authors: list[str], seed: int) -> list[np.ndarray]:
    """Item indices of three author-disjoint thirds (authors in a seeded order, each to the smallest third)."""
    names = sorted(set(authors))
    rng = numpy_rng(seed, 303)
    size = Counter(authors)
    where, load = {}, [0, 0, 0]
    for i in rng.permutation(len(names)):
        k = int(np.argmin(load))
        where[names[i]] = k
        load[k] += size[names[i]]
    part = np.array([where[a] for a in authors])
    return [np.flatnonzero(part == k) for k in range(3)]


@dataclass
class Corpus:
    """A calibration corpus: its user turns and each turn's author."""
    name: str
    texts: list[str]
    authors: list[str]

    def limited(self, max_turns: int, seed: int = 0) -> "Corpus":
        """Whole authors in a seeded order until `max_turns` turns are held (all when it is smaller): a large
        corpus's calibration then embeds and parses a few thousand turns, not the whole of it."""
        if len(self.texts) <= max_turns:
            return self
        names = sorted(set(self.authors))
        sizes = Counter(self.authors)
        keep, held = set(), 0
        for i in numpy_rng(seed, 505).permutation(len(names)):
            if held >= max_turns:
                break
            keep.add(names[i])
            held += sizes[names[i]]
        idx = [i for i, a in enumerate(self.authors) if a in keep]
        return Corpus(self.name, [self.texts[i] for i in idx], [self.authors[i] for i in idx])


# ---------------------------------------------------------------------------------------------
# Degradations of the synthetic third


def _kmeans(X: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(X)


def coherent_cluster(X: np.ndarray, labels: np.ndarray) -> int:
    """The most coherent cluster (longest mean unit vector: its members point one way) among those
    holding at least half their fair share of the items: a topic, neither the catch-all centre a
    corpus with weak structure puts in its largest k-means cluster (whose removal every topic feels
    alike: on ShareGPT no topic-mix change at all) nor a handful of one author's outliers."""
    k = int(labels.max()) + 1
    sizes = np.bincount(labels, minlength=k)
    unit = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    best, length = 0, -1.0
    for c in range(k):
        if sizes[c] < len(labels) / (2 * k):
            continue
        value = float(np.linalg.norm(unit[labels == c].mean(axis=0)))
        if value > length:
            best, length = c, value
    return best


def degrade(kind: str, texts: list[str], authors: list[str], embed: Callable, pool: Optional[np.ndarray],
            m: int, seed: int) -> tuple[list[str], list[str]]:
    """Texts and authors of the degraded third (at least m items where the degradation allows)."""
    rng = numpy_rng(seed, 909)
    idx = np.arange(len(texts))
    if kind == "collapse":
        labels = _kmeans(embed(texts), 20, seed)
        keep = rng.choice(20, 3, replace=False)
        idx = np.flatnonzero(np.isin(labels, keep))
    elif kind == "duplicates":
        base = rng.choice(len(texts), max(2, m // 5), replace=False)
        out_t, out_a = [], []
        for i in base:
            for j in range(5):
                out_t.append(texts[i] + ("" if j == 0 else " " + "..!?,"[j - 1]))
                out_a.append(authors[i])
        return out_t, out_a
    elif kind == "topic":
        idx = idx[pool != np.bincount(pool).argmax()]
    elif kind == "coherent_topic":  # pool: whether each item is in the corpus's most coherent cluster
        idx = idx[~np.asarray(pool, dtype=bool)]
    elif kind == "boilerplate":
        return [PREFIX + t + SUFFIX for t in texts], list(authors)
    elif kind == "shortened":
        return [" ".join(t.split()[:max(3, len(t.split()) // 3)]) for t in texts], list(authors)
    return [texts[i] for i in idx], [authors[i] for i in idx]


# ---------------------------------------------------------------------------------------------
# One comparison


def compare_once(corpus: Corpus, seed: int, m: int, config: CompareConfig, embedder, analyzer,
                 degradation: Optional[str] = None) -> dict:
    """Results of one real-vs-"synthetic" comparison on author thirds, degraded or not."""
    parts = thirds(corpus.authors, seed)
    real_idx = np.sort(np.concatenate(parts[:2]))
    syn_t = [corpus.texts[i] for i in parts[2]]
    syn_a = [corpus.authors[i] for i in parts[2]]
    if degradation:
        pool = None
        if degradation in ("topic", "coherent_topic"):
            X = embedder.embed(corpus.texts)
            labels = _kmeans(X, 8, 0)
            pool = labels[parts[2]] if degradation == "topic" else labels[parts[2]] == coherent_cluster(X, labels)
        syn_t, syn_a = degrade(degradation, syn_t, syn_a, embedder.embed, pool, m, seed)
    real = turn_sample("real", [corpus.texts[i] for i in real_idx], [corpus.authors[i] for i in real_idx])
    synthetic = turn_sample("synthetic", syn_t, syn_a)
    cfg = replace(config, seed=seed, sample=m)
    return Comparison(real, cfg, embedder, analyzer).measure([synthetic])


def rates(runs: list[dict]) -> dict:
    """Per metric: runs with a verdict, "beyond" count, how often the paired difference was below 0
    ("closer") and how often its whole 95% interval was ("closer_sig")."""
    out: dict = {}
    for res in runs:
        for mt in res["metrics"]:
            row = out.setdefault(mt["name"], {"runs": 0, "verdicts": 0, "beyond": 0, "closer": 0, "closer_sig": 0,
                                              "m": mt["m"], "status": mt["status"]})
            row["runs"] += 1
            if mt["beyond_baseline"] is not None:
                row["verdicts"] += 1
                row["beyond"] += bool(mt["beyond_baseline"])
            diff = mt.get("difference") or {}
            if diff.get("value") is not None and diff["value"] < 0:
                row["closer"] += 1
                row["closer_sig"] += bool(diff.get("ci95") and diff["ci95"][1] < 0)
    return out


def c2st_halves(corpus: Corpus, vectors: np.ndarray, seed: int, m: Optional[int] = None,
                splits: int = 5) -> tuple[float, float]:
    """Real-vs-real C2ST AUC between author halves of a whole corpus (`vectors`: one row per turn), as
    `compare` draws them with `seed` and sample `m`: (the first split's AUC, the mean over `splits`)."""
    from . import distances as D
    from .yardstick import make_plan, other_halves

    plan = make_plan(corpus.authors, len(corpus.texts), seed, m, match=False)
    authors = np.asarray(corpus.authors, dtype=object)
    halves = [(plan.real_a, plan.real_b)] + [other_halves(corpus.authors, plan.size, seed, k) for k in range(1, splits)]
    aucs = [D.c2st_fit(vectors[a], vectors[b], seed=seed, groups_x=authors[a], groups_y=authors[b]).auc
            for a, b in halves]
    return aucs[0], float(np.mean(aucs))


def c2st_null(runs: list[dict]) -> list[float]:
    """Every C2ST AUC between author-disjoint real parts seen in null runs (both comparisons)."""
    return [mt[key] for res in runs for mt in res["metrics"] if mt["name"] == "c2st_auc"
            for key in ("real_vs_real", "real_vs_synthetic")]


__all__ = ["Corpus", "DEGRADATIONS", "HEADLINE", "MemoAnalyzer", "MemoEmbedder", "c2st_halves", "c2st_null", "compare_once",
           "degrade", "load_turns", "rates", "thirds", "turn_sample"]
