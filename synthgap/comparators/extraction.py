"""Extraction difficulty: the same extractor on a real and a synthetic corpus, side by side.

Per corpus, over its users (every number is a ratio of sums over users, so the interval comes
from a bootstrap that draws whole users):

- precision, recall and F1 against gold attributes where the corpus has them (generated
  personas' disclosed attributes, surveys as in Persuasion For Good), by optimal one-to-one
  matching of statement embeddings (`extractors/matching.py`);
- attributes per 1,000 user tokens; the share of attributes whose evidence is a single turn;
  the hedged share ("may", "likely"); the evidence-support rate (the statement's embedding is
  close to one of its cited turns; an embedding proxy for entailment); the overgeneralization
  rate (`overgeneralization.py`).

Each statistic becomes a `Result` of family "extraction": real minus synthetic, beside real half
A minus real half B (users split in two), ideal 0.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from ..records import Attribute, Persona, UserHistory
from .base import Result
from .overgeneralization import Assessment, assess_histories
from .yardstick import Bootstrap, group_halves, percentile_interval
from ..seeds import numpy_rng

SUPPORT_AT = 0.3  # cosine of all-MiniLM-L6-v2: "The user is a nurse" vs "I'm a nurse, any tips for nights?" ~0.6
STATS = ("f1", "precision", "recall", "attributes_per_1k_tokens", "single_turn_share", "hedged_share",
         "support_rate", "overgeneralization_rate")
_WORD = re.compile(r"\w+")
# column order of the per-user rows
_COLS = ("tokens", "attributes", "single_turn", "hedged", "with_evidence", "supported", "flagged", "matched",
         "extracted", "gold")


@dataclass
class ExtractionConfig:
    extractor: str = "rules"
    sample_users: Optional[int] = None  # at most this many users per corpus (drawn with the seed)
    bootstrap: int = 200
    seed: int = 0
    support_threshold: float = SUPPORT_AT
    match_threshold: float = 0.6
    gold_categories: Optional[list] = None  # only gold attributes of these categories count


@dataclass
class CorpusExtraction:
    """One corpus after extraction: its histories, their attributes, gold and per-user rows."""
    label: str
    histories: list
    attributes: list
    gold: Optional[list]  # per history: list of matching Items, or None when the corpus has no gold
    rows: np.ndarray = field(default=None, repr=False)
    assessments: list = field(default_factory=list, repr=False)
    match: dict = field(default_factory=dict)  # user -> matched (extracted, gold, similarity) pairs
    match_report: dict = field(default_factory=dict)  # overall / by category / by style


def gold_items(history: UserHistory, personas: dict, categories: Optional[Sequence[str]]) -> Optional[list]:
    """Gold for one history: the persona attributes its conversations disclose (with their style), else
    the attributes the source carries (surveys); None when it has neither."""
    from ..extractors.matching import Item

    keep = (lambda a: True) if not categories else (lambda a: a.category in categories)
    disclosed: dict[str, str] = {}
    persona = None
    for conv in history.conversations:
        for d in conv.disclosures:
            disclosed.setdefault(d.attribute_id, d.style)
        if conv.persona_id and conv.persona_id in personas:
            persona = personas[conv.persona_id]
    if disclosed and persona is not None:
        by_id = {a.id: a for a in persona.attributes}
        return [Item(by_id[k].statement, by_id[k].category, style) for k, style in disclosed.items()
                if k in by_id and by_id[k].statement and keep(by_id[k])]
    if history.attributes:
        return [Item(a.statement, a.category) for a in history.attributes if a.statement and keep(a)]
    if any(conv.persona_id for conv in history.conversations) or disclosed:
        return []  # generated without disclosures (or persona file not given): gold is known to be empty
    return None


def user_tokens(history: UserHistory) -> int:
    return sum(len(_WORD.findall(t.content)) for c in history.conversations for t in c.turns if t.role == "user")


def support(histories: Sequence[UserHistory], attributes: Sequence[Sequence[Attribute]],
            embed: Callable[[list[str]], np.ndarray], threshold: float) -> list[list[Optional[bool]]]:
    """Per attribute: True when its statement is within `threshold` cosine of a cited turn (None: no evidence)."""
    texts: dict[tuple, str] = {}
    for h in histories:
        for conv in h.conversations:
            for t, turn in enumerate(conv.turns):
                texts[(h.user_id, conv.id, t)] = turn.content
    wanted = sorted({a.statement for attrs in attributes for a in attrs if a.evidence} |
                    {texts[(h.user_id, e.conversation_id, e.turn)] for h, attrs in zip(histories, attributes)
                     for a in attrs for e in a.evidence if (h.user_id, e.conversation_id, e.turn) in texts})
    vec = {}
    if wanted:
        m = np.asarray(embed(wanted), dtype=float)
        m = m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
        vec = dict(zip(wanted, m))
    out = []
    for h, attrs in zip(histories, attributes):
        row = []
        for a in attrs:
            cited = [texts.get((h.user_id, e.conversation_id, e.turn)) for e in a.evidence]
            cited = [c for c in cited if c is not None]
            if not cited:
                row.append(None)
                continue
            row.append(bool(max(float(vec[a.statement] @ vec[c]) for c in cited) >= threshold))
        out.append(row)
    return out


def user_rows(corpus: CorpusExtraction, supported: list, assessments: list[list[Assessment]]) -> np.ndarray:
    rows = []
    for h, (hist, attrs) in enumerate(zip(corpus.histories, corpus.attributes)):
        a = assessments[h]
        pairs = corpus.match.get(hist.user_id, [])
        gold = corpus.gold[h] if corpus.gold is not None and corpus.gold[h] is not None else None
        single = sum(1 for x in a if x.turns == 1)
        with_evidence = sum(s is not None for s in supported[h])
        rows.append([user_tokens(hist), len(attrs), single, sum(x.hedged for x in a), with_evidence,
                     sum(bool(s) for s in supported[h]), sum(x.flag for x in a), len(pairs),
                     len(attrs) if gold is not None else 0, len(gold) if gold is not None else 0])
    return np.asarray(rows, dtype=float).reshape(len(rows), len(_COLS))


def _ratio(num, den):
    return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def statistics(rows: np.ndarray, weights: Optional[np.ndarray] = None) -> dict[str, np.ndarray]:
    """Every statistic from per-user rows; weights (users x replicates) give one value per replicate."""
    w = np.ones((len(rows), 1)) if weights is None else weights
    s = {c: rows[:, i] @ w for i, c in enumerate(_COLS)}
    p, r = _ratio(s["matched"], s["extracted"]), _ratio(s["matched"], s["gold"])
    f1 = np.where(np.isfinite(p) & np.isfinite(r), _ratio(2 * p * r, p + r), np.nan)
    f1 = np.where(np.isfinite(p) & np.isfinite(r) & (p + r == 0), 0.0, f1)
    return {"f1": f1, "precision": p, "recall": r,
            "attributes_per_1k_tokens": _ratio(1000 * s["attributes"], s["tokens"]),
            "single_turn_share": _ratio(s["single_turn"], s["attributes"]),
            "hedged_share": _ratio(s["hedged"], s["attributes"]),
            "support_rate": _ratio(s["supported"], s["with_evidence"]),
            "overgeneralization_rate": _ratio(s["flagged"], s["attributes"])}


def _value(x) -> Optional[float]:
    v = float(np.asarray(x).ravel()[0])
    return v if np.isfinite(v) else None


class ExtractionComparison:
    """Runs one extractor over corpora and measures each against the real one (see module docstring)."""

    def __init__(self, extract: Callable[[list[UserHistory]], list[list[Attribute]]],
                 embed: Callable[[list[str]], np.ndarray], config: Optional[ExtractionConfig] = None,
                 personas: Optional[dict[str, Persona]] = None, rules=None,
                 log: Callable[[str], None] = lambda m: None):
        self.extract = extract
        self.embed = embed
        self.config = config or ExtractionConfig()
        self.personas = personas or {}
        self.rules = rules
        self.log = log

    def _sample(self, histories: list[UserHistory], label: str) -> list[UserHistory]:
        histories = [h for h in histories if any(t.role == "user" for c in h.conversations for t in c.turns)]
        n = self.config.sample_users
        if n is None or len(histories) <= n:
            return histories
        rng = numpy_rng(self.config.seed, label)
        return [histories[i] for i in sorted(rng.choice(len(histories), n, replace=False))]

    def prepare(self, label: str, histories: list[UserHistory]) -> CorpusExtraction:
        """Extract, match to gold, assess overgeneralization and build the per-user rows of one corpus."""
        from ..extractors.matching import Item, match_users
        from ..extractors.rules import RulesExtractor, findings_by_turn

        cfg = self.config
        histories = self._sample(histories, label)
        self.log(f"{label}: extracting attributes of {len(histories)} users ({cfg.extractor})")
        attributes = self.extract(histories)
        golds = [gold_items(h, self.personas, cfg.gold_categories) for h in histories]
        has_gold = any(g is not None for g in golds)
        corpus = CorpusExtraction(label, histories, attributes, golds if has_gold else None)
        if has_gold:
            extracted = {h.user_id: [Item(a.statement, a.category) for a in attrs]
                         for h, attrs, g in zip(histories, attributes, golds) if g is not None}
            gold = {h.user_id: g for h, g in zip(histories, golds) if g is not None}
            report = match_users(extracted, gold, self.embed, cfg.match_threshold)
            corpus.match = report.pairs
            corpus.match_report = report.to_json()
        self.rules = self.rules or RulesExtractor()
        corpus.assessments = assess_histories(histories, attributes, findings_by_turn(self.rules, histories))
        supported = support(histories, attributes, self.embed, cfg.support_threshold)
        corpus.rows = user_rows(corpus, supported, corpus.assessments)
        return corpus

    def _boot(self, n: int, tag: str) -> np.ndarray:
        rng = numpy_rng(self.config.seed, tag)
        return Bootstrap.draw(list(range(n)), self.config.bootstrap, rng).counts

    def describe(self, corpus: CorpusExtraction) -> dict:
        """Per-corpus values with 95% intervals, counts and the gold breakdown."""
        point = statistics(corpus.rows)
        reps = statistics(corpus.rows, self._boot(len(corpus.rows), f"extraction/{corpus.label}"))
        scopes: dict[str, int] = {}
        for a in (x for per in corpus.assessments for x in per):
            scopes[a.scope] = scopes.get(a.scope, 0) + 1
        out = {"users": len(corpus.rows), "attributes": int(corpus.rows[:, 1].sum()),
               "user_tokens": int(corpus.rows[:, 0].sum()), "gold": corpus.gold is not None,
               "claim_scope": dict(sorted(scopes.items())),
               "statistics": {k: {"value": _value(point[k]), "ci95": percentile_interval(reps[k])}
                              for k in STATS}}
        if corpus.gold is not None:
            out["match"] = corpus.match_report
        return out

    def difference(self, real: CorpusExtraction, synthetic: CorpusExtraction) -> list[Result]:
        """Real minus synthetic for each statistic both sides have, beside real half A minus half B."""
        rng = numpy_rng(self.config.seed, f"extraction-halves/{real.label}")
        a_idx, b_idx, _ = group_halves([h.user_id for h in real.histories], rng)
        B = self.config.bootstrap
        wr, ws = self._boot(len(real.rows), f"extraction/{real.label}"), self._boot(
            len(synthetic.rows), f"extraction/{synthetic.label}")
        wa, wb = self._boot(len(a_idx), f"extraction-a/{real.label}"), self._boot(len(b_idx),
                                                                                   f"extraction-b/{real.label}")
        pr, ps = statistics(real.rows), statistics(synthetic.rows)
        rr, rs = statistics(real.rows, wr), statistics(synthetic.rows, ws)
        pa, pb = statistics(real.rows[a_idx]), statistics(real.rows[b_idx])
        ra, rb = statistics(real.rows[a_idx], wa), statistics(real.rows[b_idx], wb)
        results = []
        for key in STATS:
            value = _value(pr[key] - ps[key]) if _value(pr[key]) is not None and _value(ps[key]) is not None else None
            if value is None:
                continue
            base = _value(pa[key] - pb[key])
            results.append(Result(
                name=f"extraction_{key}", family="extraction", goal="lower", range=(None, None), ideal=0.0,
                value=value, ci95=percentile_interval(rr[key] - rs[key]), baseline=base if base is not None else
                float("nan"), baseline_ci95=percentile_interval(ra[key] - rb[key]), n=len(real.rows),
                details={"real": _value(pr[key]), "synthetic": _value(ps[key]),
                         "difference": "real minus synthetic", "interval": "percentile", "replicates": B,
                         "extractor": self.config.extractor}))
        return results

    def measure(self, real: tuple[str, list[UserHistory]], synthetics: list[tuple[str, list[UserHistory]]]) -> tuple:
        """(results, section): Results per synthetic corpus, and the per-corpus section of results.json."""
        r = self.prepare(*real)
        section = {"config": asdict(self.config), "corpora": {r.label: self.describe(r)}}
        results = {}
        for label, histories in synthetics:
            s = self.prepare(label, histories)
            section["corpora"][s.label] = self.describe(s)
            results[s.label] = self.difference(r, s)
        return results, section


__all__ = ["CorpusExtraction", "ExtractionComparison", "ExtractionConfig", "STATS", "SUPPORT_AT", "gold_items",
           "statistics", "support", "user_rows", "user_tokens"]
