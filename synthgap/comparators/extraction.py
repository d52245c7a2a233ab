"""Extraction difficulty: the same extractor on a real and a synthetic corpus, its attributes judged by an
independent verifier (`synthgap.verifiers`), side by side.

Per corpus, over its users (every number is a ratio of sums over users, so intervals come from a
bootstrap that draws whole users):

- from the verifier, on any corpus: the supported share (an estimate of precision where no gold exists),
  the overgeneralization rate and the unsupported rate; and the overgeneralization rate compared on
  matched history sizes (`overgeneralization_rate_matched`, a difference only: within the
  conversations x user-turns bins both corpora have, weighted by the real corpus's mix), so that a
  corpus of one-conversation users is not judged against one of long histories;
- against gold, only where a corpus has it: precision, recall and F1 against the gold as the source
  gives it (synthetic: the disclosed attributes; real: a persona profile or a survey, named by its
  provenance), and recall and F1 against the *stated* gold, the gold attributes the same verifier finds
  supported in the user's turns. The stated gold is measured the same way on both sides, so real and
  synthetic recall mean the same thing: a survey's Big Five scores nobody says in a chat do not cap
  the real side's recall;
- descriptors, not difficulty: attributes per 1,000 user tokens, the share resting on one cited turn
  (evidence breadth) and the hedged share ("may", "likely").

Each statistic both sides have becomes a `Result` of family "extraction": real minus synthetic, beside
real half A minus real half B (users split in two), ideal 0, with the bootstrap replicates of both so
the verdict comes from their paired difference like every other metric's. A statistic a corpus lacks
is kept in the per-corpus section with the reason (no gold, no stated gold), never dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from ..records import Attribute, Persona, UserHistory
from ..seeds import numpy_rng
from .base import Result
from .yardstick import Bootstrap, group_halves, percentile_interval

HEDGES = re.compile(r"\b(may|might|could|likely|probably|possibly|perhaps|seems?|appears?|suggests?|potentially|"
                    r"presumably|apparently|maybe)\b", re.I)
VERIFIED = ("supported_share", "overgeneralization_rate", "unsupported_rate")
GOLD = ("precision", "recall", "f1", "recall_stated", "f1_stated")
DESCRIPTORS = ("attributes_per_1k_tokens", "single_turn_share", "hedged_share")
STATS = VERIFIED + GOLD + DESCRIPTORS
MATCHED = "overgeneralization_rate_matched"
_WORD = re.compile(r"\w+")
# column order of the per-user rows
_COLS = ("tokens", "attributes", "single_turn", "hedged", "answered", "supported", "overgeneralized", "unsupported",
         "extracted", "matched", "gold", "matched_stated", "gold_stated")
_PERSONA_LINE = re.compile(r"^The user's persona says: \"(.*)\"$")


@dataclass
class ExtractionConfig:
    extractor: str = "rules"
    sample_users: Optional[int] = None  # at most this many users per corpus (drawn with the seed)
    bootstrap: int = 200
    seed: int = 0
    match_threshold: float = 0.6
    gold_categories: Optional[list] = None  # only gold attributes of these categories count
    verifier: str = "trained"


@dataclass
class GoldItem:
    """One gold attribute: its statement (a quoted persona line restated as "The user ..."), category,
    disclosure style where known, and how it was obtained."""
    statement: str
    category: Optional[str]
    style: Optional[str]
    provenance: str  # "disclosed" (synthetic) or the source's own account (a persona profile, a survey)


@dataclass
class CorpusExtraction:
    """One corpus after extraction: its histories, their attributes, the verifier's readings, gold and
    per-user rows."""
    label: str
    histories: list
    attributes: list
    gold: Optional[list]  # per history: list of GoldItems, or None when the corpus has no gold
    rows: np.ndarray = field(default=None, repr=False)
    readings: list = field(default_factory=list, repr=False)
    stated: Optional[list] = None  # per history: a bool per gold item (the verifier finds it supported)
    match: dict = field(default_factory=dict)  # user -> matched (extracted, gold, similarity) pairs
    match_report: dict = field(default_factory=dict)  # overall / by category / by style
    bins: list = field(default_factory=list)  # each user's history-size bin


def gold_items(history: UserHistory, personas: dict, categories: Optional[Sequence[str]]) -> Optional[list]:
    """Gold for one history: the persona attributes its conversations disclose (with their style), else
    the attributes the source carries (a profile, a survey); None when it has neither."""
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
        return [GoldItem(by_id[k].statement, by_id[k].category, style, "disclosed") for k, style in disclosed.items()
                if k in by_id and by_id[k].statement and keep(by_id[k])]
    if history.attributes:
        return [GoldItem(a.statement, a.category, None, a.reason or a.category or "source attributes")
                for a in history.attributes if a.statement and keep(a)]
    if any(conv.persona_id for conv in history.conversations) or disclosed:
        return []  # generated without disclosures (or persona file not given): gold is known to be empty
    return None


def restate(golds: list) -> None:
    """Quoted first-person persona lines ('The user's persona says: "i like to ski"') restated in the third
    person where the rules extractor's patterns read them, in place (matching and verifying need a claim)."""
    from ..extractors.rules import RulesExtractor

    quoted = [(g, m.group(1)) for items in golds if items for g in items
              for m in [_PERSONA_LINE.match(g.statement)] if m]
    if not quoted:
        return
    found = RulesExtractor().extract_texts([line for _, line in quoted], "restating persona lines")
    for (g, _), f in zip(quoted, found):
        if f:
            g.statement = f[0].statement


def user_tokens(history: UserHistory) -> int:
    return sum(len(_WORD.findall(t.content)) for c in history.conversations for t in c.turns if t.role == "user")


def user_rows(corpus: CorpusExtraction, stated_match: dict) -> np.ndarray:
    from ..verifiers.reading import reading_counts

    rows = []
    for h, (hist, attrs) in enumerate(zip(corpus.histories, corpus.attributes)):
        c = reading_counts(corpus.readings[h])
        gold = corpus.gold[h] if corpus.gold is not None and corpus.gold[h] is not None else None
        stated = sum(corpus.stated[h]) if gold is not None else 0
        single = sum(1 for a in attrs if len({(e.conversation_id, e.turn) for e in a.evidence}) == 1)
        rows.append([user_tokens(hist), len(attrs), single, sum(bool(HEDGES.search(a.statement)) for a in attrs),
                     c["answered"], c["supported"], c["overgeneralized"], c["unsupported"],
                     len(attrs) if gold is not None else 0, len(corpus.match.get(hist.user_id, [])),
                     len(gold) if gold is not None else 0, len(stated_match.get(hist.user_id, [])), stated])
    return np.asarray(rows, dtype=float).reshape(len(rows), len(_COLS))


def _ratio(num, den):
    return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _f1(p, r):
    f1 = np.where(np.isfinite(p) & np.isfinite(r), _ratio(2 * p * r, p + r), np.nan)
    return np.where(np.isfinite(p) & np.isfinite(r) & (p + r == 0), 0.0, f1)


def statistics(rows: np.ndarray, weights: Optional[np.ndarray] = None) -> dict[str, np.ndarray]:
    """Every statistic from per-user rows; weights (users x replicates) give one value per replicate."""
    w = np.ones((len(rows), 1)) if weights is None else weights
    s = {c: rows[:, i] @ w for i, c in enumerate(_COLS)}
    p, r = _ratio(s["matched"], s["extracted"]), _ratio(s["matched"], s["gold"])
    ps, rs = _ratio(s["matched_stated"], s["extracted"]), _ratio(s["matched_stated"], s["gold_stated"])
    return {"supported_share": _ratio(s["supported"], s["answered"]),
            "overgeneralization_rate": _ratio(s["overgeneralized"], s["answered"]),
            "unsupported_rate": _ratio(s["unsupported"], s["answered"]),
            "precision": p, "recall": r, "f1": _f1(p, r), "recall_stated": rs, "f1_stated": _f1(ps, rs),
            "attributes_per_1k_tokens": _ratio(1000 * s["attributes"], s["tokens"]),
            "single_turn_share": _ratio(s["single_turn"], s["attributes"]),
            "hedged_share": _ratio(s["hedged"], s["attributes"])}


def matched_rate_difference(a_rows: np.ndarray, a_bins: list, b_rows: np.ndarray, b_bins: list,
                            wa: np.ndarray, wb: np.ndarray) -> tuple[np.ndarray, list]:
    """Overgeneralization rate of A minus B within the history-size bins both have answered attributes in,
    weighted by A's share of answered attributes over those bins (per replicate column of wa/wb); and the
    common bins."""
    from ..verifiers.reading import matched_shares, standardized

    answered, over = _COLS.index("answered"), _COLS.index("overgeneralized")
    counts_a, counts_b = a_rows[:, [answered, over]], b_rows[:, [answered, over]]

    def has(rows, bins, b):
        return rows[[i for i, x in enumerate(bins) if x == b], 0].sum() > 0

    common = sorted(b for b in set(a_bins) & set(b_bins) if has(counts_a, a_bins, b) and has(counts_b, b_bins, b))
    if not common:
        return np.full(wa.shape[1], np.nan), []
    shares = matched_shares(counts_a, a_bins, common, wa)
    return (standardized(counts_a, a_bins, shares, 1, wa) - standardized(counts_b, b_bins, shares, 1, wb)), common


def _value(x) -> Optional[float]:
    v = float(np.asarray(x).ravel()[0])
    return v if np.isfinite(v) else None


def why_missing(key: str, corpus: CorpusExtraction) -> Optional[str]:
    """Why a statistic has no value on a corpus (shown in its place, so nothing disappears unexplained)."""
    s = corpus.rows.sum(axis=0) if len(corpus.rows) else np.zeros(len(_COLS))
    col = dict(zip(_COLS, s))
    if key in VERIFIED and not col["answered"]:
        return "no attribute the verifier answered"
    if key in GOLD and corpus.gold is None:
        return "no gold in this corpus"
    if key in ("recall_stated", "f1_stated") and not col["gold_stated"]:
        return "no gold attribute is stated in the users' turns"
    if key in GOLD and not col["gold"]:
        return "gold is empty"
    if key in GOLD and not col["extracted"]:
        return "nothing extracted from users with gold"
    if key in DESCRIPTORS and not col["attributes"] and key != "attributes_per_1k_tokens":
        return "nothing extracted"
    return None


class ExtractionComparison:
    """Runs one extractor over corpora, has the verifier judge what it extracted, and measures each corpus
    against the real one (see module docstring)."""

    def __init__(self, extract: Callable[[list[UserHistory]], list[list[Attribute]]],
                 embed: Callable[[list[str]], np.ndarray], verify: Callable,
                 config: Optional[ExtractionConfig] = None, personas: Optional[dict[str, Persona]] = None,
                 log: Callable[[str], None] = lambda m: None):
        self.extract = extract
        self.embed = embed
        self.verify = verify
        self.config = config or ExtractionConfig()
        self.personas = personas or {}
        self.log = log
        self.unmatched: dict = {}

    def _sample(self, histories: list[UserHistory], label: str) -> list[UserHistory]:
        histories = [h for h in histories if any(t.role == "user" for c in h.conversations for t in c.turns)]
        n = self.config.sample_users
        if n is None or len(histories) <= n:
            return histories
        rng = numpy_rng(self.config.seed, label)
        return [histories[i] for i in sorted(rng.choice(len(histories), n, replace=False))]

    def _stated(self, histories: list[UserHistory], golds: list) -> list:
        """Per history, per gold item: whether the verifier finds it supported by the user's turns."""
        from ..verifiers.claims import Claim

        claims = [Claim(user_id=h.user_id, statement=g.statement) for h, items in zip(histories, golds)
                  for g in (items or [])]
        verdicts = iter(self.verify(claims, {h.user_id: h for h in histories}) if claims else [])
        return [[bool(v is not None and v.label == "supported") for v in (next(verdicts) for _ in (items or []))]
                for items in golds]

    def _match(self, histories, attributes, golds, keep=None) -> object:
        from ..extractors.matching import Item, match_users

        extracted = {h.user_id: [Item(a.statement, a.category) for a in attrs]
                     for h, attrs, g in zip(histories, attributes, golds) if g is not None}
        gold = {}
        for i, (h, g) in enumerate(zip(histories, golds)):
            if g is not None:
                gold[h.user_id] = [Item(x.statement, x.category, x.style) for k, x in enumerate(g)
                                   if keep is None or keep[i][k]]
        return match_users(extracted, gold, self.embed, self.config.match_threshold)

    def prepare(self, label: str, histories: list[UserHistory]) -> CorpusExtraction:
        """Extract, judge with the verifier, match to gold (as given and as stated) and build the per-user rows."""
        from ..verifiers.reading import joint_bins, read_attributes

        cfg = self.config
        histories = self._sample(histories, label)
        self.log(f"{label}: extracting attributes of {len(histories)} users ({cfg.extractor})")
        attributes = self.extract(histories)
        self.log(f"{label}: judging {sum(map(len, attributes))} attributes ({cfg.verifier} verifier)")
        readings = read_attributes(self.verify, histories, attributes)
        golds = [gold_items(h, self.personas, cfg.gold_categories) for h in histories]
        has_gold = any(g is not None for g in golds)
        corpus = CorpusExtraction(label, histories, attributes, golds if has_gold else None, readings=readings,
                                  bins=joint_bins(histories))
        stated_pairs: dict = {}
        if has_gold:
            restate(golds)
            corpus.stated = self._stated(histories, golds)
            report = self._match(histories, attributes, golds)
            corpus.match, corpus.match_report = report.pairs, report.to_json()
            stated_pairs = self._match(histories, attributes, golds, keep=corpus.stated).pairs
        corpus.rows = user_rows(corpus, stated_pairs)
        return corpus

    def _boot(self, n: int, tag: str) -> np.ndarray:
        rng = numpy_rng(self.config.seed, tag)
        return Bootstrap.draw(list(range(n)), self.config.bootstrap, rng).counts

    def describe(self, corpus: CorpusExtraction) -> dict:
        """Per-corpus values with 95% intervals (or the reason there is none), counts, the verifier's
        reading by history size, and the gold's provenance and stated share."""
        from ..verifiers.reading import summarize

        point = statistics(corpus.rows)
        reps = statistics(corpus.rows, self._boot(len(corpus.rows), f"extraction/{corpus.label}"))
        stats = {}
        for k in STATS:
            value = _value(point[k])
            stats[k] = {"value": value, "ci95": percentile_interval(reps[k]) if value is not None else None}
            if value is None:
                stats[k]["why"] = why_missing(k, corpus)
        verifier = summarize(corpus.readings, corpus.histories, replicates=self.config.bootstrap,
                             seed=self.config.seed, tag=corpus.label)
        out = {"users": len(corpus.rows), "attributes": int(corpus.rows[:, 1].sum()),
               "user_tokens": int(corpus.rows[:, 0].sum()), "gold": corpus.gold is not None,
               "statistics": stats, "verifier": {k: verifier[k] for k in ("answered", "unanswered",
                                                                          "overgeneralized_scope", "by_history")},
               "groups": {"verified": list(VERIFIED), "gold": list(GOLD), "descriptors": list(DESCRIPTORS)}}
        if corpus.gold is not None:
            provenance: dict = {}
            for items, stated in zip(corpus.gold, corpus.stated):
                for g, s in zip(items or [], stated):
                    entry = provenance.setdefault(g.provenance, {"gold": 0, "stated": 0})
                    entry["gold"] += 1
                    entry["stated"] += int(s)
            out["gold_provenance"] = dict(sorted(provenance.items()))
            out["match"] = corpus.match_report
        return out

    def _result(self, key, value, reps, base, base_reps, real: CorpusExtraction, synthetic: CorpusExtraction,
                a_n: int, b_n: int, details: dict) -> Result:
        return Result(name=f"extraction_{key}", family="extraction", goal="lower", range=(None, None), ideal=0.0,
                      value=value, ci95=percentile_interval(reps), baseline=base if base is not None else float("nan"),
                      baseline_ci95=percentile_interval(base_reps), n=len(real.rows),
                      authors={"real": len(real.rows), "synthetic": len(synthetic.rows), "real_a": a_n, "real_b": b_n},
                      replicates=np.asarray(reps, dtype=np.float64),
                      baseline_replicates=np.asarray(base_reps, dtype=np.float64),
                      details={"difference": "real minus synthetic", "interval": "percentile",
                               "replicates": self.config.bootstrap, "extractor": self.config.extractor,
                               "verifier": self.config.verifier, **details})

    def difference(self, real: CorpusExtraction, synthetic: CorpusExtraction) -> list[Result]:
        """Real minus synthetic for each statistic both sides have, beside real half A minus half B, each
        with its bootstrap replicates (users drawn whole); and the overgeneralization rate on matched
        history sizes."""
        rng = numpy_rng(self.config.seed, f"extraction-halves/{real.label}")
        a_idx, b_idx, _ = group_halves([h.user_id for h in real.histories], rng)
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
            if _value(pr[key]) is None or _value(ps[key]) is None:
                continue
            kind = "verifier" if key in VERIFIED else "gold" if key in GOLD else "descriptor"
            results.append(self._result(key, _value(pr[key] - ps[key]), rr[key] - rs[key], _value(pa[key] - pb[key]),
                                        ra[key] - rb[key], real, synthetic, len(a_idx), len(b_idx),
                                        {"real": _value(pr[key]), "synthetic": _value(ps[key]), "kind": kind}))
        one = lambda rows: np.ones((len(rows), 1))  # noqa: E731  (the point estimate: every user once)
        match = self.matched_bins(real, synthetic)
        if match["bins"] is not None:
            rb, sb = match["bins"]
            value, common = matched_rate_difference(real.rows, rb, synthetic.rows, sb, one(real.rows),
                                                    one(synthetic.rows))
            reps, _ = matched_rate_difference(real.rows, rb, synthetic.rows, sb, wr, ws)
            a_bins, b_bins = [rb[i] for i in a_idx], [rb[i] for i in b_idx]
            base, base_common = matched_rate_difference(real.rows[a_idx], a_bins, real.rows[b_idx], b_bins,
                                                        one(a_idx), one(b_idx))
            base_reps, _ = matched_rate_difference(real.rows[a_idx], a_bins, real.rows[b_idx], b_bins, wa, wb)
            answered = _COLS.index("answered")
            covered = sum(real.rows[i, answered] for i, b in enumerate(rb) if b in common)
            results.append(self._result(MATCHED, _value(value), reps, _value(base), base_reps, real, synthetic,
                                        len(a_idx), len(b_idx),
                                        {"kind": "verifier", "matched_on": match["on"], "bins": common,
                                         "baseline_bins": base_common,
                                         "real_share_in_common_bins": round(float(covered / max(
                                             real.rows[:, answered].sum(), 1)), 6),
                                         "standardized_to": "the real corpus's mix of answered attributes over "
                                                            "the common history-size bins"}))
        self.unmatched[synthetic.label] = match["why"]
        return results

    def matched_bins(self, real: CorpusExtraction, synthetic: CorpusExtraction) -> dict:
        """The history-size bins the matched comparison uses: conversations x user turns where the two corpora
        share a bin with answered attributes, else conversations alone, else user turns alone; with `why`
        when none is shared (the matched rate is then reported missing, with that reason)."""
        from ..verifiers.reading import CONVERSATION_BINS, TURN_BINS, history_size, size_bin

        def bins_of(corpus, how):
            if how == "conversations x user turns":
                return corpus.bins
            index, table = (0, CONVERSATION_BINS) if how == "conversations" else (1, TURN_BINS)
            return [size_bin(history_size(h)[index], table) for h in corpus.histories]

        answered = _COLS.index("answered")
        for how in ("conversations x user turns", "conversations", "user turns"):
            rb, sb = bins_of(real, how), bins_of(synthetic, how)
            live = lambda corpus, bins: {b for i, b in enumerate(bins) if corpus.rows[i, answered] > 0}  # noqa: E731
            if live(real, rb) & live(synthetic, sb):
                return {"on": how, "bins": (rb, sb), "why": None}
        return {"on": None, "bins": None,
                "why": "the two corpora share no history size (conversations or user turns) with answered attributes"}

    def measure(self, real: tuple[str, list[UserHistory]], synthetics: list[tuple[str, list[UserHistory]]]) -> tuple:
        """(results, section): Results per synthetic corpus, and the per-corpus section of results.json (with
        the reason wherever the matched-history comparison could not be made)."""
        self.unmatched = {}
        r = self.prepare(*real)
        section = {"config": asdict(self.config), "corpora": {r.label: self.describe(r)}}
        results = {}
        for label, histories in synthetics:
            s = self.prepare(label, histories)
            section["corpora"][s.label] = self.describe(s)
            results[s.label] = self.difference(r, s)
        section["matched_history"] = {label: {"why": why} if why else {"matched": True}
                                      for label, why in self.unmatched.items()}
        return results, section


__all__ = ["CorpusExtraction", "DESCRIPTORS", "ExtractionComparison", "ExtractionConfig", "GOLD", "GoldItem",
           "HEDGES", "MATCHED", "STATS", "VERIFIED", "gold_items", "matched_rate_difference", "restate", "statistics",
           "user_rows", "user_tokens", "why_missing"]
