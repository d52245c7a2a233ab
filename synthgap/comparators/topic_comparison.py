"""`compare --by-topic`: the topic model fitted once over every corpus of a report, then for each
compared corpus the topic mix, the within-topic metrics, the per-topic gaps and the share of each
gap the topic mix explains (the estimators are in `decomposition.py`, the topics in `topics.py`).

Which units: each real half's units up to POOL_FACTOR x m (author-balanced; all of them when the
half is smaller) and synthetic units up to SYNTHETIC_POOL_FACTOR x m (a template corpus holds 5% code
where the real one holds 31%: the draw to the real mix needs its every code unit), topic texts cut at
their first 64 words (see topics.py), so the within-topic draw can find the real mix's
topics on every side; every unit of those pools and of the size-matched comparison keeps its topic
(results["topics"]["assignments"], -1 for units never embedded).
"""

from __future__ import annotations

import time
from typing import Optional

import numpy as np

from .base import Result, adjust_verdicts, side_authors
from .decomposition import (TopicMixMetric, explained, gate_flags, matched_counts, matched_pick, paired_difference, represented,
                            residual_tv, shares, within_results)
from .samples import Sample
from .style import TURN_FEATURES, StyleMetric
from .topics import TopicModel, choose_k, find_frames, fit_topics, topic_text
from .yardstick import Bootstrap, MIN_ITEMS, Side, balanced_pick, group_halves, _codes
from ..embedding import pool_units
from ..seeds import numpy_rng

POOL_FACTOR = 2  # real units per half, times m
SYNTHETIC_POOL_FACTOR = 8  # synthetic units, times m: a synthetic corpus is often thin in the real mix's topics
PER_TOPIC_MIN = 20  # units per side below which a topic gets no per-topic gaps
RAW_AGAIN = 0.9  # a within-topic draw below this share of m gets the raw comparison again at its size


def _no_boot(n: int) -> Bootstrap:
    return Bootstrap(np.zeros((n, 0), np.int32))


class TopicDecomposition:
    """Runs the decomposition for one `Comparison` (its embedder, analyzer, config and metric loops)."""

    def __init__(self, comparison, mauve_clusters: Optional[int] = None):
        self.c, self.cfg, self.clusters = comparison, comparison.config, mauve_clusters
        self.frames: dict[str, set] = {}
        self.labels: dict[str, dict[int, int]] = {}
        self.model: Optional[TopicModel] = None
        self._within: dict[str, list[Result]] = {}
        self._raw_small: dict[str, list[Result]] = {}  # the raw comparison at the within-topic size, when smaller

    # -- units and their topics ----------------------------------------------------------------------

    def _pool(self, idx: np.ndarray, codes: np.ndarray, cap: int, tag: str) -> np.ndarray:
        if len(idx) <= cap:
            return np.asarray(idx)
        return np.sort(balanced_pick(np.asarray(idx), codes[idx], cap, numpy_rng(self.cfg.seed, "topic-pool", tag)))

    def _unit_turns(self, sample: Sample, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        position = np.full(len(sample.unit_ids), -1)
        position[units] = np.arange(len(units))
        turns = np.flatnonzero(position[sample.turn_unit] >= 0)
        return turns, position[sample.turn_unit[turns]]

    def _vectors(self, sample: Sample, units: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Embeddings (mean over turns) and texts of units, each turn without its corpus's frame."""
        turns, owner = self._unit_turns(sample, units)
        frames = self.frames[sample.label]
        texts = [topic_text(sample.turns[i], frames) for i in turns]
        start = time.perf_counter()
        vectors = self.c.embedder.embed(texts, f"topics {sample.label}")
        self.c._time("topics_embedding", start)
        joined = [[] for _ in units]
        for text, u in zip(texts, owner):
            joined[u].append(text)
        return pool_units(vectors, owner, len(units)), [" ".join(j) for j in joined]

    def _frame(self, sample: Sample, units: np.ndarray) -> None:
        turns, _ = self._unit_turns(sample, units)
        self.frames[sample.label] = find_frames([sample.turns[i] for i in turns])

    def topics_of(self, sample: Sample, units: np.ndarray) -> np.ndarray:
        """Topic ids of `units` of a sample (embedded once, remembered)."""
        known = self.labels.setdefault(sample.label, {})
        missing = np.array([u for u in np.asarray(units).tolist() if u not in known], dtype=np.int64)
        if len(missing):
            vectors, _ = self._vectors(sample, missing)
            for u, t in zip(missing.tolist(), self.model.assign(vectors).tolist()):
                known[u] = t
        return np.array([known[u] for u in np.asarray(units).tolist()], dtype=np.int64)

    # -- the run ---------------------------------------------------------------------------------------

    def run(self, synthetics: list[Sample], roles: list[str], raw: dict[str, list[Result]],
            raw_json: list[dict]) -> dict:
        """results["topics"] for every compared corpus, and the topic family's metrics (as JSON items)."""
        cfg, real = self.cfg, self.c.real
        start = time.perf_counter()
        plans = {s.label: self.c._plan(s) for s in synthetics}
        m_max = max(p.size for p in plans.values())
        codes = _codes(real.unit_groups)
        half_a, half_b, _ = group_halves(real.unit_groups, numpy_rng(cfg.seed, 7001))
        cap = POOL_FACTOR * m_max
        pool_a = np.union1d(self._pool(half_a, codes, cap, "a"), np.concatenate([p.real_a for p in plans.values()]))
        pool_b = np.union1d(self._pool(half_b, codes, cap, "b"), np.concatenate([p.real_b for p in plans.values()]))
        pools_s = {}
        for s in synthetics:
            s_codes = _codes(s.unit_groups)
            pools_s[s.label] = np.union1d(self._pool(np.arange(len(s)), s_codes, SYNTHETIC_POOL_FACTOR * m_max,
                                                     f"s/{s.label}"),
                                          plans[s.label].synthetic)
        real_pool = np.union1d(pool_a, pool_b)
        self._frame(real, real_pool)
        for s in synthetics:
            self._frame(s, pools_s[s.label])
        k = cfg.topics or choose_k(m_max)
        fit_vectors, fit_texts = [], []
        for sample, units in [(real, real_pool)] + [(s, pools_s[s.label]) for s in synthetics]:
            v, t = self._vectors(sample, units)
            fit_vectors.append(v)
            fit_texts.append(t)
        self.model = fit_topics(fit_vectors, fit_texts, k, cfg.seed)
        self.model.method["k_rule"] = (f"--topics {cfg.topics}" if cfg.topics else
                                       "one topic per 60 units of a side at the largest m, between 2 and 20")
        for (sample, units), v in zip([(real, real_pool)] + [(s, pools_s[s.label]) for s in synthetics], fit_vectors):
            self.labels[sample.label] = dict(zip(units.tolist(), self.model.assign(v).tolist()))
        self.c._time("topics_fit", start)
        topics = self.model.describe()
        real_mix = shares(self.topics_of(real, real_pool), self.model.k)
        decomposition, items = {}, []
        for s, role in zip(synthetics, roles):
            part, results = self.decompose(s, role, plans[s.label], pool_a, pool_b, pools_s[s.label], real_mix, topics)
            decomposition[s.label] = part
            for r in results:
                item = r.to_json(s.label)
                item["role"] = role
                items.append(item)
        verdicts = adjust_verdicts(items)
        for item in items:
            if item["name"] == TopicMixMetric.name:
                gate_flags(decomposition[item["synthetic"]]["mix"], item.get("beyond_baseline"))
        beyond = {(m["synthetic"], m["name"]): m.get("beyond_baseline") for m in raw_json}
        for s in synthetics:
            within = {r.details["decomposition"]["metric"]: r for r in self._within[s.label]}
            small = {r.name: r for r in self._raw_small.get(s.label, [])}
            decomposition[s.label]["explained"] = [
                explained(small.get(r.name, r), within.get(r.name), beyond.get((s.label, r.name)))
                for r in raw.get(s.label, []) if r.family in ("embedding", "style")]
        assignments = {sample.label: [self.labels.get(sample.label, {}).get(u, -1) for u in range(len(sample))]
                       for sample in [real] + list(synthetics)}
        method = dict(self.model.method, frames={label: len(f) for label, f in self.frames.items()})
        self.c._time("topics_total", start)
        return {"method": method, "topics": topics, "real_mix": real_mix.tolist(), "verdicts": verdicts,
                "decomposition": decomposition, "assignments": assignments}, items

    def decompose(self, synthetic: Sample, role: str, plan, pool_a, pool_b, pool_s, real_mix: np.ndarray,
                  topics: list[dict]) -> tuple[dict, list[Result]]:
        cfg, real, k = self.cfg, self.c.real, self.model.k
        label = synthetic.label
        groups_r = np.asarray(real.unit_groups, dtype=object)
        groups_s = np.asarray(synthetic.unit_groups, dtype=object)
        # the topic mix on the size-matched comparison's own rows and bootstrap draws
        from .comparison import _boot

        rows = [(real, plan.real_a, groups_r, f"real-a/{plan.size}"), (real, plan.real_b, groups_r, f"real-b/{plan.size}"),
                (synthetic, plan.synthetic, groups_s, f"synthetic/{label}")]
        a, b, s = (Side(self.topics_of(smp, idx), list(g[idx]), _boot(g[idx], cfg.bootstrap, cfg.seed, tag))
                   for smp, idx, g, tag in rows)
        mix_metric = TopicMixMetric(k)
        mix = mix_metric.results(mix_metric.estimate(a, s, cfg.seed), mix_metric.estimate(a, b, cfg.seed),
                                 plan.size, side_authors(a, b, s))
        labels_s = self.topics_of(synthetic, pool_s)
        present = np.bincount(labels_s, minlength=k) > 0
        part = {"role": role,
                "mix": {"n_real": int(plan.size), "n_synthetic": int(len(plan.synthetic)),
                        "real": shares(a.data, k).tolist(), "synthetic": shares(s.data, k).tolist(),
                        "topics": represented(a, s, k, topics)},
                "coverage": float(real_mix[present].sum())}
        # within topic: every side drawn to the real mix
        la, lb = self.topics_of(real, pool_a), self.topics_of(real, pool_b)
        counts = matched_counts([la, lb, labels_s], real_mix, plan.size)
        rng = numpy_rng(cfg.seed, "topic-match", label)
        codes_r, codes_s = _codes(real.unit_groups), _codes(synthetic.unit_groups)
        ma = matched_pick(pool_a, la, codes_r[pool_a], counts, rng)
        mb = matched_pick(pool_b, lb, codes_r[pool_b], counts, rng)
        ms = matched_pick(pool_s, labels_s, codes_s[pool_s], counts, rng)
        n = int(counts.sum())
        part["matched"] = {"per_side": n, "topics_used": int((counts > 0).sum()),
                           "residual_tv": residual_tv(counts, real_mix), "why": None}
        results = list(mix)
        within: list[Result] = []
        if n < MIN_ITEMS:
            part["matched"]["why"] = f"too few units in the topics every side has ({n})"
        else:
            within = within_results(self._metrics(synthetic, (ma, mb, ms), n, label, "within"))
            results.extend(within)
            if n < RAW_AGAIN * plan.size:
                self._raw_small[label] = self._raw_at(synthetic, plan, n)
                part["matched"]["raw_gap_at"] = n
        self._within[label] = within
        part["per_topic"] = self._per_topic(synthetic, pool_a, pool_b, pool_s, la, lb, labels_s, topics)
        return part, results

    def _sides(self, synthetic: Sample, picks: tuple, tag: str, boot: bool = True) -> tuple[Side, Side, Side]:
        from .comparison import _boot

        real, cfg = self.c.real, self.cfg
        out = []
        for sample, idx, who in ((real, picks[0], "a"), (real, picks[1], "b"), (synthetic, picks[2], "s")):
            groups = np.asarray(sample.unit_groups, dtype=object)[idx]
            vectors = self.c._unit_vectors(sample, np.asarray(idx), "real" if who != "s" else "synthetic")
            counts = _boot(groups, cfg.bootstrap, cfg.seed, f"topic-{who}/{tag}") if boot else _no_boot(len(idx))
            out.append(Side(vectors, list(groups), counts))
        return tuple(out)

    def _turn_rows(self, synthetic: Sample, picks: tuple) -> tuple[tuple, tuple, tuple]:
        """Texts, style rows and authors of the user turns of the picked units (real A, real B, synthetic)."""
        texts, feats, authors = [], [], []
        for sample, idx in ((self.c.real, picks[0]), (self.c.real, picks[1]), (synthetic, picks[2])):
            turns, _ = self._unit_turns(sample, np.asarray(idx))
            t = [sample.turns[i] for i in turns]
            texts.append(t)
            feats.append(self.c.analyzer.turn_features(t, f"style {sample.label} (topics)"))
            groups = sample.turn_groups
            authors.append([groups[i] for i in turns])
        return tuple(texts), tuple(feats), tuple(authors)

    def _metrics(self, synthetic: Sample, picks: tuple, n: int, label: str, part: str) -> list[Result]:
        """Every embedding and style metric on the picked units (real A, real B, synthetic), with its own
        bootstrap draws and baseline cache key (`part`: "within" or "raw")."""
        cfg, out = self.cfg, []
        tag = f"{part}/{label}/{n}"
        metrics = cfg.embedding_metrics(self.clusters)
        if metrics:
            a, b, s = self._sides(synthetic, picks, tag)
            out.extend(self.c.embedding_results(metrics, a, b, s, f"{label} {part} topic", ("topic", tag),
                                                other_splits=False))
        if "style" in cfg.metrics and self.c.analyzer is not None:
            texts, feats, authors = self._turn_rows(synthetic, picks)
            results, _ = self.c.style_results(texts, feats, authors, label, ("topic-style", tag), f"topic/{tag}",
                                              f"topic/{part}/{label}")
            out.extend(results)
        return out

    def _raw_at(self, synthetic: Sample, plan, n: int) -> list[Result]:
        """The raw comparison again at the within-topic draw's size n (author-balanced subsamples of the
        plan's own rows), so that a share explained never mixes a gap at m with one at a smaller n
        (PRDC, MAUVE and C2ST's spread move with the sample size)."""
        codes_r, codes_s = _codes(self.c.real.unit_groups), _codes(synthetic.unit_groups)
        rng = numpy_rng(self.cfg.seed, "topic-raw", synthetic.label)
        picks = tuple(np.sort(balanced_pick(idx, codes[idx], n, rng))
                      for idx, codes in ((plan.real_a, codes_r), (plan.real_b, codes_r), (plan.synthetic, codes_s)))
        return self._metrics(synthetic, picks, n, synthetic.label, "raw")

    def _per_topic(self, synthetic: Sample, pool_a, pool_b, pool_s, la, lb, ls, topics: list[dict]) -> list[dict]:
        """Per topic that every side has at least PER_TOPIC_MIN units of: each metric's paired gap (point
        estimates, no bootstrap) at that topic's common size."""
        cfg, out = self.cfg, []
        codes_r, codes_s = _codes(self.c.real.unit_groups), _codes(synthetic.unit_groups)
        for t, topic in enumerate(topics):
            where = [pool[lab == t] for pool, lab in ((pool_a, la), (pool_b, lb), (pool_s, ls))]
            sizes = [len(w) for w in where]
            row = {"topic": t, "label": topic["label"],
                   "n": {"real_a": sizes[0], "real_b": sizes[1], "synthetic": sizes[2]}, "gaps": {}, "why": None}
            m_t = min(sizes)
            if m_t < PER_TOPIC_MIN:
                row["why"] = f"too few units on a side ({m_t}; needs >= {PER_TOPIC_MIN})"
                out.append(row)
                continue
            rng = numpy_rng(cfg.seed, "topic-cell", synthetic.label, t)
            picks = tuple(np.sort(balanced_pick(w, codes[w], m_t, rng))
                          for w, codes in zip(where, (codes_r, codes_r, codes_s)))
            row["n"]["per_side"] = m_t
            results: list[Result] = []
            metrics = [mt for mt in cfg.embedding_metrics(None) if mt.name != "mauve"]
            if metrics:
                a, b, s = self._sides(synthetic, picks, f"{synthetic.label}/{t}", boot=False)
                for metric in metrics:
                    metric.prepare(a, b, s)
                    results.extend(metric.results(metric.estimate(a, s, cfg.seed), metric.estimate(a, b, cfg.seed), m_t))
            if "style" in cfg.metrics and self.c.analyzer is not None:
                texts, feats, authors = self._turn_rows(synthetic, picks)
                for j, feature in enumerate(TURN_FEATURES):
                    if feature.name == "entity_rate" and not self.c.analyzer.has_ner:
                        continue
                    metric = StyleMetric(feature)
                    a, b, s = (Side(f[:, j], g, _no_boot(len(g))) for f, g in zip(feats, authors))
                    results.extend(metric.results(metric.estimate(a, s, cfg.seed), metric.estimate(a, b, cfg.seed),
                                                  len(texts[0])))
            for r in results:
                needs = r.min_items if cfg.size_rule else None
                d, _ = paired_difference(r)
                row["gaps"][r.name] = None if (needs is not None and m_t < needs) else d
            out.append(row)
        return out


__all__ = ["POOL_FACTOR", "PER_TOPIC_MIN", "SYNTHETIC_POOL_FACTOR", "TopicDecomposition"]
