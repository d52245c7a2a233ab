"""Style realism: how user turns read, real vs synthetic, feature by feature.

Per user turn (spaCy `en_core_web_sm`, cached per text): length, sentences, type-token ratio,
first-person rate, explicit self-disclosure, named-entity rate, out-of-vocabulary rate,
punctuation rate; from the raw text: questions, lowercase starts, emoji, politeness, greetings.
Per block of turns (diversity only exists over many turns): distinct-1/2, MTLD, compression
ratio, and n-gram overlap between turns (homogenization). Each feature's real and synthetic
distributions are compared by the KS statistic (numbers) or Jensen-Shannon divergence (yes/no
features), with an effect size and the same divergence between two real halves.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..cache import BlobStore, cache_dir, cached_rows
from ..lexicon import BE_PRESENT, CORE_RELATIONS, FIRST_PERSON
from ..nlp import load_spacy, spacy_identity, spacy_model_version
from .base import Estimate, Metric
from .yardstick import Side
from ..seeds import numpy_rng

FEATURE_VERSION = 1  # bump when a turn feature's definition changes: it keys the cache


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str  # "numeric" (KS, Cohen's d) or "binary" (JSD, Cohen's h)
    level: str  # "turn" or "block"
    description: str


# spaCy features first: their order is the order of the cached vectors
SPACY_FEATURES = (
    Feature("length_tokens", "numeric", "turn", "tokens per user turn"),
    Feature("sentences", "numeric", "turn", "sentences per user turn"),
    Feature("type_token_ratio", "numeric", "turn", "distinct words / words in the turn"),
    Feature("first_person_rate", "numeric", "turn", "share of words that are I / me / my / mine / myself"),
    Feature("self_disclosure", "binary", "turn",
            "turns with an explicit self-disclosure (I am a.., my wife.., I work as..)"),
    Feature("entity_rate", "numeric", "turn", "named entities per word"),
    Feature("oov_rate", "numeric", "turn",
            "share of lowercase words not in an English spelling dictionary (typos, slang)"),
    Feature("punctuation_rate", "numeric", "turn", "punctuation tokens per token"),
)
TEXT_FEATURES = (
    Feature("question", "binary", "turn", "turns with a question mark"),
    Feature("lowercase_start", "binary", "turn", "turns whose first letter is lowercase"),
    Feature("emoji", "binary", "turn", "turns with an emoji"),
    Feature("politeness", "binary", "turn", "turns with please / thanks / sorry / would you mind"),
    Feature("greeting", "binary", "turn", "turns opening with hi / hello / hey / good morning"),
)
BLOCK_FEATURES = (
    Feature("distinct_1", "numeric", "block", "distinct words / words, per block of turns"),
    Feature("distinct_2", "numeric", "block", "distinct word bigrams / bigrams, per block"),
    Feature("mtld", "numeric", "block", "measure of textual lexical diversity (MTLD), per block"),
    Feature("compression_ratio", "numeric", "block",
            "raw bytes / zlib-compressed bytes, per block (higher = more repetitive)"),
    Feature("ngram_overlap", "numeric", "block", "share of word trigrams that also occur in another turn of the block"),
)
FEATURES = SPACY_FEATURES + TEXT_FEATURES + BLOCK_FEATURES
TURN_FEATURES = SPACY_FEATURES + TEXT_FEATURES

_WORD = re.compile(r"\w+(?:['’]\w+)*")
_POLITE = re.compile(r"\b(please|pls|plz|thanks?|thank you|thx|sorry|appreciate|would you mind|kindly)\b", re.I)
_GREETING = re.compile(r"^\W*(hi|hello|hey|hiya|howdy|greetings|good (morning|afternoon|evening)|yo|sup)\b", re.I)
_LETTER = re.compile(r"[^\W\d_]")

# token patterns of explicit self-disclosure (lowercased token texts; spaCy splits "I'm" into I + 'm)
_BE = sorted(BE_PRESENT)
_DISCLOSURE_PATTERNS = [
    [{"LOWER": "i"}, {"LOWER": {"IN": _BE}}, {"LOWER": {"IN": ["a", "an"]}}],
    [{"LOWER": "i"}, {"LOWER": {"IN": _BE}}, {"LIKE_NUM": True}, {"LOWER": {"IN": ["years", "yrs", "yo"]}}],
    [{"LOWER": "i"}, {"LOWER": {"IN": ["work", "worked", "study", "studied", "teach"]}},
     {"LOWER": {"IN": ["as", "at", "for", "in"]}}],
    [{"LOWER": "i"}, {"LOWER": {"IN": ["live", "lived", "grew"]}}, {"LOWER": {"IN": ["in", "up", "near"]}}],
    [{"LOWER": "my"}, {"LOWER": {"IN": sorted(CORE_RELATIONS)}}],
    [{"LOWER": "as"}, {"LOWER": {"IN": ["a", "an"]}}, {"IS_ALPHA": True}, {"IS_PUNCT": True, "OP": "?"},
     {"LOWER": "i"}],
]


def _emoji_count(text: str) -> int:
    if text.isascii():
        return 0
    import emoji

    return emoji.emoji_count(text)


def text_features(text: str) -> list[float]:
    """The features that need no parse, in TEXT_FEATURES order."""
    letter = _LETTER.search(text)
    return [float("?" in text), float(bool(letter) and letter.group().islower()), float(_emoji_count(text) > 0),
            float(bool(_POLITE.search(text))), float(bool(_GREETING.match(text)))]


def mtld(tokens: Sequence[str], threshold: float = 0.72) -> float:
    """MTLD (McCarthy & Jarvis 2010), mean of the forward and backward passes.

    Written out: the definition is a dozen lines and the packages that carry it pull in far
    more than they add.
    """
    def one_way(seq) -> float:
        factors, types, count = 0.0, set(), 0
        for tok in seq:
            types.add(tok)
            count += 1
            if len(types) / count <= threshold:
                factors += 1
                types, count = set(), 0
        if count:
            factors += (1 - len(types) / count) / (1 - threshold)
        return len(seq) / factors if factors > 0 else float(len(seq))

    if not tokens:
        return float("nan")
    return (one_way(tokens) + one_way(tokens[::-1])) / 2.0


def block_features(texts: Sequence[str]) -> list[float]:
    """Diversity features of one block of turns, in BLOCK_FEATURES order (regex word tokens, lowercased)."""
    turns = [[w.lower() for w in _WORD.findall(t)] for t in texts]
    words = [w for t in turns for w in t]
    bigrams = [b for t in turns for b in zip(t, t[1:])]
    raw = "\n".join(texts).encode("utf-8")
    trigram_turns: dict = {}
    occurrences = []
    for i, t in enumerate(turns):
        grams = list(zip(t, t[1:], t[2:]))
        occurrences.append(grams)
        for g in set(grams):
            trigram_turns[g] = trigram_turns.get(g, 0) + 1
    total = sum(len(g) for g in occurrences)
    shared = sum(1 for grams in occurrences for g in grams if trigram_turns[g] > 1)
    return [len(set(words)) / len(words) if words else float("nan"),
            len(set(bigrams)) / len(bigrams) if bigrams else float("nan"),
            mtld(words),
            len(raw) / len(zlib.compress(raw, 9)) if raw else float("nan"),
            shared / total if total else float("nan")]


def default_block_size(n: int) -> int:
    """Turns per block: 50, smaller for small samples so that each side has at least 10 blocks."""
    return max(5, min(50, n // 10))


def block_values(texts: Sequence[str], block_size: int, seed: int = 0) -> np.ndarray:
    """Block features over the texts in a seeded random order (file order would put one
    conversation's turns together); the last partial block is left out."""
    order = numpy_rng(seed, 11).permutation(len(texts))
    blocks = len(texts) // block_size
    return np.array([block_features([texts[i] for i in order[b * block_size:(b + 1) * block_size]])
                     for b in range(blocks)]).reshape(blocks, len(BLOCK_FEATURES))


class StyleAnalyzer:
    """Turn features from spaCy, cached per text under the pipeline's name, version and feature version."""

    def __init__(self, cache: bool = True, cache_path=None, max_chars: int = 3000, batch_size: int = 128):
        self.use_cache, self.cache_path, self.max_chars, self.batch_size = cache, cache_path, max_chars, batch_size
        self._nlp = None
        self._store = None
        self.stats = {"turns": 0, "cached": 0, "parsed": 0, "truncated": 0}

    @property
    def nlp(self):
        if self._nlp is None:
            self._nlp = self._load()
        return self._nlp

    def _load(self):
        from spacy.matcher import Matcher

        nlp = load_spacy(exclude=("tagger", "parser", "attribute_ruler", "lemmatizer"))
        self.matcher = Matcher(nlp.vocab)
        self.matcher.add("self_disclosure", _DISCLOSURE_PATTERNS)
        self.vocabulary = _spelling_vocabulary()
        return nlp

    @property
    def has_ner(self) -> bool:
        return spacy_model_version() is not None

    @property
    def identity(self) -> str:
        """What the cached rows depend on, known without loading the model (so a warm run never loads it)."""
        return f"{spacy_identity()}:v{FEATURE_VERSION}:{self.max_chars}"

    @property
    def store(self) -> Optional[BlobStore]:
        if self.use_cache and self._store is None:
            self._store = BlobStore(cache_dir(self.cache_path) / "style.sqlite", "features")
        return self._store if self.use_cache else None

    def _doc_features(self, doc, full_tokens: int) -> list[float]:
        tokens = [t for t in doc if not t.is_space]
        words = [t for t in tokens if not t.is_punct]
        n_words = len(words)
        sentences = sum(1 for _ in doc.sents) if tokens else 0
        if full_tokens > len(tokens) and tokens:  # truncated: extrapolate the sentence count by length
            sentences = sentences * full_tokens / len(tokens)
        lower = [t.lower_ for t in words]
        in_entity = {t.i for e in doc.ents for t in e}
        checkable = [t.lower_ for t in words if t.is_alpha and t.i not in in_entity and not t.like_url
                     and not t.like_email and (t.is_lower or t.is_title)]
        oov = sum(1 for w in checkable if w not in self.vocabulary)
        nan = float("nan")
        return [float(full_tokens), float(sentences),
                len(set(lower)) / n_words if n_words else nan,
                sum(1 for w in lower if w in FIRST_PERSON) / n_words if n_words else nan,
                float(bool(self.matcher(doc))),
                (len(doc.ents) / n_words if n_words else nan) if self.has_ner else nan,
                oov / len(checkable) if checkable else nan,
                sum(1 for t in tokens if t.is_punct) / len(tokens) if tokens else nan]

    def _parse(self, texts: list[str]) -> list[list[float]]:
        nlp = self.nlp
        full = [len([t for t in nlp.tokenizer(t) if not t.is_space]) if len(t) > self.max_chars else -1 for t in texts]
        clipped = [t[: self.max_chars] for t in texts]
        out = []
        for doc, n in zip(nlp.pipe(clipped, batch_size=self.batch_size), full):
            out.append(self._doc_features(doc, n if n >= 0 else len([t for t in doc if not t.is_space])))
        return out

    def turn_features(self, texts: Sequence[str], description: str = "style features") -> np.ndarray:
        """One row per text, columns in TURN_FEATURES order (NaN where a rate has no denominator)."""
        rows, cached, parsed = cached_rows(self.store, self.identity, texts, self._parse, np.float64, 1000,
                                           description)
        self.stats["turns"] += len(texts)
        self.stats["truncated"] += sum(1 for t in texts if len(t) > self.max_chars)
        self.stats["cached"] += cached
        self.stats["parsed"] += parsed
        spacy_part = np.stack(rows) if texts else np.zeros((0, len(SPACY_FEATURES)))
        text_part = np.array([text_features(t) for t in texts]).reshape(len(texts), len(TEXT_FEATURES))
        return np.hstack([spacy_part, text_part])

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def _spelling_vocabulary() -> frozenset:
    """Lowercase English words from pyspellchecker's dictionary (misspellings and slang are not in it)."""
    import gzip
    import json
    from importlib.resources import files

    with gzip.open(files("spellchecker") / "resources" / "en.json.gz", "rt", encoding="utf-8") as fh:
        return frozenset(json.load(fh))


# ---------------------------------------------------------------------------------------------
# comparing one feature


def weighted_ks(x: np.ndarray, y: np.ndarray, wx: np.ndarray, wy: np.ndarray) -> np.ndarray:
    """Two-sample KS statistic for each column of weights (rows weighted by bootstrap counts)."""
    wx = np.asarray(wx, np.float64).reshape(len(x), -1)
    wy = np.asarray(wy, np.float64).reshape(len(y), -1)
    v = np.concatenate([x, y])
    order = np.argsort(v, kind="mergesort")
    steps = np.concatenate([wx / np.maximum(wx.sum(0), 1e-300), -wy / np.maximum(wy.sum(0), 1e-300)])[order]
    cdf_gap = np.cumsum(steps, axis=0)
    ends = np.r_[np.flatnonzero(np.diff(v[order])), len(v) - 1]  # evaluate after each run of tied values
    return np.abs(cdf_gap[ends]).max(axis=0)


def bernoulli_jsd(p, q) -> np.ndarray:
    """Jensen-Shannon divergence (base 2, in [0, 1]) between Bernoulli(p) and Bernoulli(q)."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    m = (p + q) / 2.0

    def h(a):  # binary entropy in bits
        with np.errstate(divide="ignore", invalid="ignore"):
            out = -(a * np.log2(a) + (1 - a) * np.log2(1 - a))
        return np.nan_to_num(out)

    return np.clip(h(m) - (h(p) + h(q)) / 2.0, 0.0, 1.0)


def cohens_d(x: np.ndarray, y: np.ndarray) -> float:
    """(mean y - mean x) / pooled standard deviation."""
    nx, ny = len(x), len(y)
    if nx < 2 or ny < 2:
        return float("nan")
    pooled = math.sqrt(((nx - 1) * x.var(ddof=1) + (ny - 1) * y.var(ddof=1)) / (nx + ny - 2))
    return float((y.mean() - x.mean()) / pooled) if pooled > 0 else 0.0


def cohens_h(p: float, q: float) -> float:
    """2 asin(sqrt(q)) - 2 asin(sqrt(p)): the effect size of a difference in proportions."""
    return float(2 * math.asin(math.sqrt(q)) - 2 * math.asin(math.sqrt(p)))


_QUANTILES = np.linspace(0, 100, 21)


class StyleMetric(Metric):
    """One style feature compared: KS or JSD (lower is better) with its effect size."""
    family, goal, range, interval = "style", "lower", (0.0, 1.0), "normal"

    def __init__(self, feature: Feature):
        self.feature, self.name = feature, feature.name

    def estimate(self, x: Side, y: Side, seed: int) -> dict:
        fx, fy = np.isfinite(x.data), np.isfinite(y.data)
        xv, yv = x.data[fx], y.data[fy]
        cx, cy = x.boot.counts[fx], y.boot.counts[fy]
        details = {"statistic": "ks" if self.feature.kind == "numeric" else "jsd",
                   "description": self.feature.description, "level": self.feature.level,
                   "missing": {"real": int((~fx).sum()), "synthetic": int((~fy).sum())}}
        if len(xv) < 2 or len(yv) < 2:
            details["note"] = "too few values with this feature defined"
            return {self.name: Estimate(float("nan"), None, details)}
        if self.feature.kind == "numeric":
            value = float(weighted_ks(xv, yv, np.ones(len(xv)), np.ones(len(yv)))[0])
            reps = weighted_ks(xv, yv, cx, cy)
            details.update(effect_size=cohens_d(xv, yv), effect="cohens_d",
                           real_mean=float(xv.mean()), synthetic_mean=float(yv.mean()),
                           real_quantiles=np.percentile(xv, _QUANTILES).tolist(),
                           synthetic_quantiles=np.percentile(yv, _QUANTILES).tolist())
        else:
            p, q = float(xv.mean()), float(yv.mean())
            value = float(bernoulli_jsd(p, q))
            reps = bernoulli_jsd((xv @ cx) / np.maximum(cx.sum(0), 1), (yv @ cy) / np.maximum(cy.sum(0), 1))
            details.update(effect_size=cohens_h(p, q), effect="cohens_h", real_mean=p, synthetic_mean=q)
        return {self.name: Estimate(value, reps, details)}


__all__ = ["BLOCK_FEATURES", "FEATURES", "FEATURE_VERSION", "Feature", "SPACY_FEATURES", "StyleAnalyzer", "StyleMetric",
           "TEXT_FEATURES", "TURN_FEATURES", "bernoulli_jsd", "block_features", "block_values", "cohens_d", "cohens_h",
           "default_block_size", "mtld", "text_features", "weighted_ks"]
