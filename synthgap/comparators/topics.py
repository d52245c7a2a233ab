"""Topics over the pooled real and synthetic units: k-means clusters of their embeddings, named by
c-TF-IDF keywords, so that a gap can be split into "about other things" and "written otherwise".

Why k-means on the sentence embeddings and a hand-written c-TF-IDF rather than BERTopic: BERTopic
pulls UMAP, HDBSCAN and numba, and its topics change with UMAP's threads and HDBSCAN's outliers
(units left without a topic cannot be reweighted); k-means (scikit-learn) assigns every unit,
is deterministic in its seed, and c-TF-IDF is a dozen lines of numpy over scikit-learn's counts.

A corpus's *frame* is not a topic: word sequences that a fifth or more of one corpus's turns share
verbatim (a template's or a generator's boilerplate such as "Quick question for you." added to every
turn) are left out of the text the topics are fitted and assigned on (never out of any metric). In
a measurement on ConvAI2 a boilerplate prefix and suffix on every turn moved the topic mix of an
author third from real (JSD 0.035, real-vs-real 0.042) to JSD 0.71 with clusters fitted on the
full text; without the frame the mix is the real one again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from ..seeds import derive_seed, numpy_rng

FRAME_WORDS = 4  # a frame is a run of at least this many words ...
FRAME_SHARE = 0.2  # ... shared verbatim by at least this share of a corpus's turns
FRAME_MIN_TURNS = 5  # (and by at least this many turns, so tiny corpora keep their words)
KEYWORDS = 8
MIN_K, MAX_K, UNITS_PER_TOPIC = 2, 20, 60
TOPIC_WORDS = 64  # what a text is about shows in its first words: the topic text is cut there (cheap to embed)
FIT_MAX = 6000  # pooled units k-means is fitted on (then every unit is assigned to its nearest centroid)


def choose_k(m: int) -> int:
    """The documented rule: one topic per 60 units of a side at the report's largest size m, between 2
    and 20, so that a topic holds on average 60 units per side (enough for its per-topic metrics)."""
    return int(min(MAX_K, max(MIN_K, m // UNITS_PER_TOPIC)))


def _ngrams(words: list[str], n: int) -> list[tuple]:
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def find_frames(texts: Sequence[str], words: int = FRAME_WORDS, share: float = FRAME_SHARE,
                min_turns: int = FRAME_MIN_TURNS) -> set:
    """The word runs (`words` words, lower-cased) that at least `share` of `texts`, and at least
    `min_turns` of them, contain verbatim: the corpus's frame."""
    df: Counter = Counter()
    for t in texts:
        df.update(set(_ngrams(t.lower().split(), words)))
    limit = max(min_turns, share * len(texts))
    return {g for g, c in df.items() if c >= limit}


def strip_frame(text: str, frames: set, words: int = FRAME_WORDS) -> str:
    """The text without the words any frame run covers (the whole text when nothing would be left)."""
    if not frames:
        return text
    t = text.split()
    drop = np.zeros(len(t), dtype=bool)
    for i, gram in enumerate(_ngrams([w.lower() for w in t], words)):
        if gram in frames:
            drop[i:i + words] = True
    if not drop.any() or drop.all():
        return text
    return " ".join(w for w, d in zip(t, drop) if not d)


def topic_text(text: str, frames: set, words: int = TOPIC_WORDS) -> str:
    """The text topics read: without its corpus's frame, cut to its first `words` words."""
    kept = strip_frame(text, frames)
    cut = kept.split()
    return kept if len(cut) <= words else " ".join(cut[:words])


def strip_frames(texts: Sequence[str], words: int = FRAME_WORDS, share: float = FRAME_SHARE,
                 min_turns: int = FRAME_MIN_TURNS) -> tuple[list[str], dict]:
    """Each text without its corpus's frame (`find_frames` over `texts`), and what was found."""
    frames = find_frames(texts, words, share, min_turns)
    out = [strip_frame(t, frames, words) for t in texts]
    return out, {"frame_ngrams": len(frames), "texts_changed": sum(a != b for a, b in zip(out, texts))}


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float64)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


@dataclass
class TopicModel:
    """k centroids on the unit sphere (ids in order of pooled size, largest first) and their keywords."""
    centroids: np.ndarray
    keywords: list[list[str]]
    method: dict = field(default_factory=dict)

    @property
    def k(self) -> int:
        return len(self.centroids)

    def assign(self, vectors: np.ndarray) -> np.ndarray:
        """Each row's topic: its nearest centroid by cosine."""
        if len(vectors) == 0:
            return np.zeros(0, dtype=np.int64)
        return np.argmax(_unit_rows(vectors) @ self.centroids.T, axis=1).astype(np.int64)

    def describe(self) -> list[dict]:
        return [{"id": t, "keywords": kw, "label": ", ".join(kw[:3]) if kw else f"topic {t}"}
                for t, kw in enumerate(self.keywords)]


def fit_topics(vectors: Sequence[np.ndarray], texts: Sequence[Sequence[str]], k: int, seed: int,
               fit_max: int = FIT_MAX) -> TopicModel:
    """k-means (cosine: rows on the unit sphere) over the pooled units of every corpus, each corpus
    contributing an equal share of at most `fit_max` rows (seeded), so a large real corpus does not
    decide the topics alone; keywords by c-TF-IDF over each topic's texts (all units given)."""
    from sklearn.cluster import KMeans

    per = max(1, fit_max // max(1, len(vectors)))
    fit_rows = []
    for c, v in enumerate(vectors):
        rng = numpy_rng(seed, "topics-fit", c)
        take = np.sort(rng.choice(len(v), per, replace=False)) if len(v) > per else np.arange(len(v))
        fit_rows.append(_unit_rows(v[take]))
    pooled = np.concatenate(fit_rows)
    k = int(min(k, len(pooled)))
    km = KMeans(n_clusters=k, n_init=4, random_state=derive_seed(seed, "topics", bits=31)).fit(pooled)
    centroids = _unit_rows(km.cluster_centers_)
    all_rows = np.concatenate([_unit_rows(v) for v in vectors])
    labels = np.argmax(all_rows @ centroids.T, axis=1)
    sizes = np.bincount(labels, minlength=k)
    order = sorted(range(k), key=lambda t: (-sizes[t], tuple(np.round(centroids[t][:4], 6))))
    centroids = centroids[order]
    remap = np.empty(k, dtype=np.int64)
    remap[order] = np.arange(k)
    labels = remap[labels]
    all_texts = [t for group in texts for t in group]
    keywords = ctfidf_keywords(all_texts, labels, k)
    method = {"representation": "sentence embeddings of the units without their corpus's frame",
              "clustering": "k-means (cosine)", "k": k, "keywords": "c-TF-IDF", "seed": seed,
              "fitted_on": int(len(pooled))}
    return TopicModel(centroids, keywords, method)


def ctfidf_keywords(texts: Sequence[str], labels: np.ndarray, k: int, top: int = KEYWORDS) -> list[list[str]]:
    """Class-based TF-IDF: a word's frequency within a topic (normalized by the topic's word count)
    times log(1 + mean words per topic / the word's frequency over all topics), English stop words out;
    the `top` words of each topic."""
    from sklearn.feature_extraction.text import CountVectorizer

    docs = [" ".join(texts[i] for i in np.flatnonzero(labels == t)) for t in range(k)]
    try:
        counts = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_][^\W\d_]+\b",
                                 lowercase=True).fit(docs)
    except ValueError:  # no word left (empty or stop words only)
        return [[] for _ in range(k)]
    X = counts.transform(docs).toarray().astype(np.float64)
    vocab = np.asarray(counts.get_feature_names_out())
    tf = X / np.maximum(X.sum(axis=1, keepdims=True), 1.0)
    idf = np.log(1.0 + X.sum() / max(k, 1) / np.maximum(X.sum(axis=0), 1.0))
    score = tf * idf
    out = []
    for t in range(k):
        best = np.lexsort((vocab, -score[t]))[:top]
        out.append([str(vocab[j]) for j in best if score[t, j] > 0])
    return out


__all__ = ["TopicModel", "choose_k", "ctfidf_keywords", "find_frames", "fit_topics", "strip_frame", "strip_frames",
           "topic_text"]
