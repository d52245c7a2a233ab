"""What every report format shows, computed once from results.json: rows per family, numbers
formatted one way, and a plain-words verdict per metric."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Optional

from ..comparators.base import authors_cell, p_cell

FAMILY_ORDER = ("embedding", "style", "topic", "extraction", "overgeneralization", "agreement")
FAMILY_TITLES = {"embedding": "Embedding distribution", "style": "Style", "topic": "Topic decomposition",
                 "extraction": "Attribute extraction", "overgeneralization": "Overgeneralization",
                 "agreement": "Agreement"}
YARDSTICK = ("Every gap is shown beside the same metric between two halves of the real corpus (split by author), "
             "with bootstrap 95% intervals, at m items per side from the given numbers of authors (real half A / "
             "real half B / synthetic). The verdict tests the paired difference: how much further from the ideal "
             "real-vs-synthetic is than real-vs-real, on the same bootstrap draws of half A; a gap is beyond "
             "real-vs-real variation when that difference is above zero at the 5% level after Holm's correction "
             "across every metric of the report. A metric whose estimator is unreliable at its m gives no verdict.")
SUMMARY_HEADER = ["synthetic", "family", "metric", "m", "authors", "real vs synthetic", "95% CI", "real vs real",
                  "95% CI", "difference", "p (Holm)", "verdict"]
FAMILY_HEADER = ["synthetic", "metric", "m", "authors", "real vs synthetic", "95% CI", "real vs real", "95% CI",
                 "difference", "p (Holm)", "verdict"]


def fmt(x, digits: int = 3) -> str:
    """One number format for every table: 3 decimals below 10, fewer above, a dash for missing."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    x = float(x)
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits}f}"


def fmt_ci(ci) -> str:
    return "–" if not ci else f"[{fmt(ci[0])}, {fmt(ci[1])}]"


def verdict(metric: dict) -> str:
    """The gap in plain words, from the paired difference and its Holm-adjusted verdict."""
    if metric.get("status"):
        return str(metric["status"])
    if metric.get("beyond_baseline"):
        return "beyond real-vs-real variation"
    diff = metric.get("difference") or {}
    if metric.get("beyond_baseline") is False and diff.get("value") is not None:
        if diff["value"] > 0 and (diff.get("p_value") if diff.get("p_value") is not None else 1.0) < 0.05:
            return "larger than real-vs-real, not significant after correction"
        return "within real-vs-real variation"
    value, base = metric.get("real_vs_synthetic"), metric.get("real_vs_real")
    if value is None or base is None:
        return "no baseline to compare"
    return "no verdict"


def family_of(metric: dict) -> str:
    """The report section of a metric (overgeneralization is its own section though computed with extraction)."""
    if metric["family"] == "extraction" and "overgeneralization" in metric["name"]:
        return "overgeneralization"
    return metric["family"]


@dataclass
class Row:
    synthetic: str
    family: str
    name: str
    value: str
    ci: str
    baseline: str
    baseline_ci: str
    ratio: str
    verdict: str
    beyond: Optional[bool]
    m: str = "–"
    authors: str = "–"
    difference: str = "–"
    p: str = "–"

    def summary_cells(self) -> list[str]:
        """This row under SUMMARY_HEADER."""
        return [self.synthetic, self.family, self.name, self.m, self.authors, self.value, self.ci, self.baseline,
                self.baseline_ci, self.difference, self.p, self.verdict]

    def family_cells(self) -> list[str]:
        """This row under FAMILY_HEADER (a family's own section)."""
        return [self.synthetic, self.name, self.m, self.authors, self.value, self.ci, self.baseline,
                self.baseline_ci, self.difference, self.p, self.verdict]


@dataclass
class Table:
    """A table as data: column names and rows of formatted cells."""
    header: list[str]
    body: list[list[str]]


def rows(results: dict) -> list[Row]:
    """Every metric of every synthetic corpus, in family order, as formatted rows."""
    out = []
    for m in results.get("metrics", []):
        ratio = m.get("ratio_to_baseline")
        diff = m.get("difference") or {}
        out.append(Row(m["synthetic"], family_of(m), m["name"], fmt(m["real_vs_synthetic"]), fmt_ci(m["ci95"]),
                       fmt(m["real_vs_real"]), fmt_ci(m["real_vs_real_ci95"]),
                       "–" if ratio is None else (">100" if ratio > 100 else fmt(ratio, 2)), verdict(m),
                       m.get("beyond_baseline"), m=str(m.get("m", m.get("n", "–"))), authors=authors_cell(m, "–"),
                       difference="–" if diff.get("value") is None else f"{fmt(diff['value'])} "
                                                                          f"{fmt_ci(diff.get('ci95'))}",
                       p=p_cell(m, "–")))
    order = {f: i for i, f in enumerate(FAMILY_ORDER)}
    return sorted(out, key=lambda r: (r.synthetic, order.get(r.family, len(order))))


def families(results: dict) -> list[str]:
    present = {family_of(m) for m in results.get("metrics", [])}
    if (results.get("extraction") or {}).get("corpora"):
        present |= {"extraction", "overgeneralization"}
    if results.get("agreement"):
        present.add("agreement")
    if results.get("topics"):
        present.add("topic")
    return [f for f in FAMILY_ORDER if f in present] + sorted(present - set(FAMILY_ORDER))


def extractor(section: dict) -> str:
    return str(section.get("config", {}).get("extractor", "?"))


# ---- extraction and overgeneralization, real vs each synthetic corpus -------------------------------------------

MATCHED = "overgeneralization_rate_matched"
STAT_LABELS = {"supported_share": "supported share", "overgeneralization_rate": "overgeneralization rate",
               MATCHED: "overgeneralization rate, matched history", "unsupported_rate": "unsupported rate",
               "precision": "precision vs gold", "recall": "recall vs gold", "f1": "F1 vs gold",
               "recall_stated": "recall vs stated gold", "f1_stated": "F1 vs stated gold",
               "attributes_per_1k_tokens": "attributes per 1k user tokens",
               "single_turn_share": "single-turn evidence share", "hedged_share": "hedged share"}
KIND_LABELS = {"verifier": "verifier", "gold": "gold", "descriptor": "descriptor (not difficulty)"}
_GROUPS = (("verified", "verifier", ("supported_share", "overgeneralization_rate", "unsupported_rate")),
           ("gold", "gold", ("precision", "recall", "f1", "recall_stated", "f1_stated")),
           ("descriptors", "descriptor", ("attributes_per_1k_tokens", "single_turn_share", "hedged_share")))
CARD_KEYS = ("supported_share", "overgeneralization_rate", MATCHED, "recall", "f1", "recall_stated", "f1_stated")
PAIR_HEADER = ["statistic", "kind", "real", "synthetic", "real − synthetic", "95% CI", "real vs real", "95% CI",
               "difference", "p (Holm)", "verdict"]
VERIFIER_NOTE = ("The verifier reads each extracted attribute against the user's own turns and calls it supported, "
                 "overgeneralized (a lasting trait claimed from narrow evidence) or unsupported; it never sees which "
                 "extractor made a claim.")
EXTRACTION_TEXT = ("Per statistic: the real and the synthetic value (bootstrap 95% interval over users), real minus "
                   "synthetic beside real half A minus real half B, and the verdict on their paired difference. The "
                   "supported share is the verifier's estimate of precision where a corpus has no gold. Gold rows "
                   "need gold attributes: as the source gives them, and the stated gold (those the verifier finds "
                   "said in the users' turns), measured the same way on both sides. Descriptors describe what was "
                   "extracted; they are not a difficulty. n/a: no figure, with the reason.")
OVERGENERALIZATION_TEXT = ("The overgeneralization rate is the share of the verifier's answered attributes that it "
                           "judges overgeneralized. The matched-history rate compares the two corpora only within "
                           "the history-size bins both have, weighted by the real corpus's mix, so that users with "
                           "one short conversation are not judged against long histories.")


def na(why: Optional[str]) -> str:
    """A missing figure, with the reason it is missing."""
    return f"n/a — {why}" if why else "n/a"


def stat_cell(stat: Optional[dict]) -> str:
    """One corpus's statistic: value [95% CI], or n/a with its reason."""
    if not stat:
        return na("not measured")
    if stat.get("value") is None:
        return na(stat.get("why") or "no value")
    return f"{fmt(stat['value'])} {fmt_ci(stat.get('ci95'))}"


def extraction_family(key: str) -> str:
    """The report section of an extraction statistic (as `family_of` places its metric)."""
    return family_of({"family": "extraction", "name": f"extraction_{key}"})


def stat_keys(section: dict) -> list[tuple[str, str]]:
    """(statistic, kind) in report order: the corpora's groups (verifier, gold, descriptors), with the
    matched-history overgeneralization rate after the overgeneralization rate."""
    out: list[tuple[str, str]] = []
    corpora = list((section.get("corpora") or {}).values())
    for name, kind, default in _GROUPS:
        keys: list[str] = []
        for c in corpora:
            keys += [k for k in (c.get("groups") or {}).get(name, []) if k not in keys]
        for c in corpora:  # corpora written without groups: every statistic they have of the known ones
            keys += [k for k in default if k in (c.get("statistics") or {}) and k not in keys and not c.get("groups")]
        for k in keys:
            out.append((k, kind))
            if k == "overgeneralization_rate":
                out.append((MATCHED, "verifier"))
    seen = {k for k, _ in out}
    for c in corpora:  # a statistic of no known group is shown too
        for k in c.get("statistics") or {}:
            if k not in seen:
                out.append((k, "other"))
                seen.add(k)
    return out


@dataclass
class PairRow:
    """One statistic of real vs one synthetic corpus: each side's value, the gap, the yardstick and the verdict."""
    key: str
    kind: str
    real: str
    synthetic: str
    value: str
    ci: str
    baseline: str
    baseline_ci: str
    difference: str
    p: str
    verdict: str

    @property
    def label(self) -> str:
        return STAT_LABELS.get(self.key, self.key)

    @property
    def gap(self) -> str:
        """The gap with its interval in one cell."""
        return self.value if self.ci in ("–", "") else f"{self.value} {self.ci}"

    def cells(self) -> list[str]:
        """This row under PAIR_HEADER."""
        return [self.label, KIND_LABELS.get(self.kind, self.kind), self.real, self.synthetic, self.value, self.ci,
                self.baseline, self.baseline_ci, self.difference, self.p, self.verdict]


@dataclass
class Pair:
    """Real vs one synthetic corpus: a title with both sample sizes, and its rows."""
    real: str
    synthetic: str
    title: str
    header: list[str]
    rows: list[PairRow]

    def table(self) -> Table:
        return Table(self.header, [r.cells() for r in self.rows])


def _size(label: str, corpus: Optional[dict]) -> str:
    if not corpus:
        return f"{label} (not measured)"
    return f"{label} ({corpus.get('users', '?')} users, {corpus.get('attributes', '?')} attributes)"


def _metric_cells(m: dict) -> dict:
    diff = m.get("difference") or {}
    return {"value": fmt(m.get("real_vs_synthetic")), "ci": fmt_ci(m.get("ci95")),
            "baseline": fmt(m.get("real_vs_real")),
            "baseline_ci": fmt_ci(m.get("real_vs_real_ci95")),
            "difference": "–" if diff.get("value") is None else f"{fmt(diff['value'])} {fmt_ci(diff.get('ci95'))}",
            "p": p_cell(m, "–"), "verdict": verdict(m)}


def _missing(why: str) -> dict:
    return {"value": "n/a", "ci": "–", "baseline": "n/a", "baseline_ci": "–", "difference": "n/a", "p": "–",
            "verdict": na(why)}


def _matched_row(section: dict, synthetic: str, m: Optional[dict]) -> PairRow:
    why = ((section.get("matched_history") or {}).get(synthetic) or {}).get("why")
    if why:
        return PairRow(MATCHED, "verifier", na(why), na(why), **_missing(why))
    if m is None:
        why = "not computed"
        return PairRow(MATCHED, "verifier", na(why), na(why), **_missing(why))
    d = m.get("details") or {}
    share = d.get("real_share_in_common_bins")
    real = "difference only" if share is None else f"common bins hold {100 * share:.1f}% of its answered attributes"
    bins = ", ".join(map(str, d.get("bins") or [])) or "?"
    return PairRow(MATCHED, "verifier", real, f"on {d.get('matched_on') or 'history size'}: {bins}",
                   **_metric_cells(m))


def pairs(results: dict, family: Optional[str] = None, keys: Optional[tuple] = None) -> list[Pair]:
    """Real vs each synthetic corpus, one row per extraction statistic (of `family`'s report section, or of
    `keys`): a statistic a side lacks is kept, with its reason, never dropped; extraction metrics of no known
    statistic are appended so that every one is shown."""
    section = results.get("extraction") or {}
    corpora = section.get("corpora") or {}
    real = (results.get("real") or {}).get("label")
    if real not in corpora:
        return []
    metrics = {(m.get("synthetic"), m["name"]): m for m in results.get("metrics", [])
               if m.get("family") == "extraction"}
    labels = [label for label in corpora if label != real]
    labels += [s for s, _ in metrics if s not in labels]
    order = stat_keys(section)
    known = {k for k, _ in order}
    out = []
    for label in labels:
        r, s = corpora[real], corpora.get(label) or {}
        rows = []
        for key, kind in order:
            if (keys is not None and key not in keys) or (keys is None and family and extraction_family(key) != family):
                continue
            m = metrics.get((label, f"extraction_{key}"))
            if key == MATCHED:
                rows.append(_matched_row(section, label, m))
                continue
            rs, ss = (r.get("statistics") or {}).get(key), (s.get("statistics") or {}).get(key)
            cells = [stat_cell(rs), stat_cell(ss)]
            if m is not None:
                rows.append(PairRow(key, kind, *cells, **_metric_cells(m)))
                continue
            whys = [f"{name}: {(st or {}).get('why') or 'not measured'}" for name, st in ((real, rs), (label, ss))
                    if not st or st.get("value") is None]
            rows.append(PairRow(key, kind, *cells, **_missing("; ".join(whys) or "no paired comparison")))
        for (syn, name), m in metrics.items():
            key = name[len("extraction_"):]
            if syn != label or key in known or (keys is not None and key not in keys) or \
                    (keys is None and family and family_of(m) != family):
                continue
            d = m.get("details") or {}
            rows.append(PairRow(key, str(d.get("kind", "?")), fmt(d.get("real")), fmt(d.get("synthetic")),
                                **_metric_cells(m)))
        if rows:
            header = ["statistic", "kind", _size(real, r), _size(label, corpora.get(label))] + PAIR_HEADER[4:]
            out.append(Pair(real, label, f"{real} (real) vs {label} (synthetic)", header, rows))
    return out


def verifier_text(section: dict) -> str:
    """Which verifier judged the attributes and what it was trained on, in one phrase."""
    v = section.get("verifier") or {}
    name = str(v.get("verifier") or (section.get("config") or {}).get("verifier") or "?")
    trained = v.get("trained_on") or {}
    if trained:
        labels = ", ".join(f"{n} {k}" for k, n in (trained.get("labels") or {}).items())
        text = f"trained on {trained.get('claims', '?')} claims" + (f": {labels}" if labels else "")
        if trained.get("source"):
            text += f"; {trained['source']}"
        return f"{name} verifier ({text})"
    engine = ((v.get("engine") or {}).get("main") or {}) if isinstance(v.get("engine"), dict) else {}
    model = engine.get("model") or engine.get("model_name")
    kind = engine.get("kind") or engine.get("backend") or "model"
    return f"{name} verifier ({kind} {model})" if model else f"{name} verifier"


def gold_provenance(section: dict, real: Optional[str] = None) -> Table:
    """Per corpus (real first): gold attributes by provenance, how many of them the verifier finds stated in the
    users' turns; a corpus without gold says so, with the reason."""
    corpora = section.get("corpora") or {}
    labels = sorted(corpora, key=lambda x: x != real)
    body = []
    for label in labels:
        c = corpora[label]
        prov = c.get("gold_provenance") or {}
        if not prov:
            why = ((c.get("statistics") or {}).get("recall") or {}).get("why")
            why = why or ("gold is empty" if c.get("gold") else "no gold in this corpus")
            body.append([label, na(why), "n/a", "n/a", "n/a"])
            continue
        for source, n in prov.items():
            gold, stated = n.get("gold", 0), n.get("stated", 0)
            body.append([label, str(source), str(gold), str(stated),
                         f"{100 * stated / gold:.1f}%" if gold else na("no gold")])
    return Table(["corpus", "gold provenance", "gold", "stated", "stated share"], body)


def _bin_order(name: str) -> tuple:
    digits = re.match(r"\d+", name)
    return (int(digits.group()) if digits else 10 ** 9, name)


def by_history(section: dict, real: Optional[str] = None, by: str = "conversations") -> Table:
    """The overgeneralization rate per history-size bin (number of conversations) for every corpus, with the
    users and attributes behind it; a bin a corpus has no user in is shown as n/a."""
    corpora = section.get("corpora") or {}
    labels = sorted(corpora, key=lambda x: x != real)
    tables = {label: ((corpora[label].get("verifier") or {}).get("by_history") or {}).get(by) or {} for label in labels}
    bins = sorted({b for t in tables.values() for b in t}, key=_bin_order)
    body = []
    for b in bins:
        row = [b]
        for label in labels:
            cell = tables[label].get(b)
            if cell is None:
                row.append(na("no user with this history"))
            elif cell.get("overgeneralization_rate") is None:
                row.append(na(f"no attribute answered ({cell.get('users', '?')} users)"))
            else:
                row.append(f"{fmt(cell['overgeneralization_rate'])} ({cell.get('attributes', '?')} attributes, "
                           f"{cell.get('users', '?')} users)")
        body.append(row)
    return Table([by] + labels, body)


def scope_text(section: dict, real: Optional[str] = None) -> str:
    """What the overgeneralized attributes rested on (one-off, third party, ...), per corpus."""
    corpora = section.get("corpora") or {}
    parts = []
    for label in sorted(corpora, key=lambda x: x != real):
        scope = (corpora[label].get("verifier") or {}).get("overgeneralized_scope")
        if scope is None:
            continue
        parts.append(f"{label}: " + (", ".join(f"{k} {n}" for k, n in scope.items()) or "none"))
    return "; ".join(parts)


def matched_text(results: dict, synthetic: str) -> str:
    """How the matched-history comparison with `synthetic` was made, or why it could not be."""
    section = results.get("extraction") or {}
    why = ((section.get("matched_history") or {}).get(synthetic) or {}).get("why")
    real = (results.get("real") or {}).get("label", "real")
    if why:
        return f"Matched history ({real} vs {synthetic}): {na(why)}."
    m = next((m for m in results.get("metrics", []) if m.get("synthetic") == synthetic
              and m["name"] == f"extraction_{MATCHED}"), None)
    if m is None:
        return f"Matched history ({real} vs {synthetic}): {na('not computed')}."
    d = m.get("details") or {}
    share = d.get("real_share_in_common_bins")
    text = (f"Matched history ({real} vs {synthetic}): on {d.get('matched_on') or 'history size'}, common bins "
            f"{', '.join(map(str, d.get('bins') or [])) or '?'}")
    if share is not None:
        text += f", which hold {100 * share:.1f}% of {real}'s answered attributes"
    return text + "."


@dataclass
class Block:
    """A piece of a report section: a heading, a paragraph, or a table (with a verdict per row where it has one)."""
    kind: str  # "heading" | "text" | "table"
    text: str = ""
    table: Optional[Table] = None
    verdicts: Optional[list[str]] = None
    caption: str = ""  # a table's caption where it stands alone (LaTeX)
    pair: Optional[Pair] = None  # the rows behind a real-vs-synthetic table


PAIR_CAPTION = ("each statistic on the real and on the synthetic corpus with its bootstrap 95% interval over users "
                "(users and attributes in the column heads), real minus synthetic beside real half A minus real half "
                "B, and the verdict on their paired difference, Holm-corrected across all metrics of the report; "
                "n/a: no figure, with the reason.")


def _pair_blocks(found: list[Pair], note: str = "") -> list[Block]:
    out = []
    for p in found:
        out += [Block("heading", p.title),
                Block("table", table=p.table(), verdicts=[r.verdict for r in p.rows],
                      caption=f"{p.title}: {PAIR_CAPTION}" + (f" {note}" if note else ""), pair=p)]
    return out


def extraction_blocks(results: dict, family: str) -> list[Block]:
    """The "extraction" or "overgeneralization" section from results["extraction"]: real vs each synthetic corpus
    statistic by statistic, and per corpus the gold provenance (extraction) or the rate by history size
    (overgeneralization); empty when results.json has no per-corpus extraction section."""
    section = results.get("extraction") or {}
    real = (results.get("real") or {}).get("label")
    if real not in (section.get("corpora") or {}):
        return []
    found = pairs(results, family)
    if family == "extraction":
        answered = "; ".join(f"{label} {(c.get('verifier') or {}).get('answered', '?')} of "
                             f"{c.get('attributes', '?')}" for label, c in section["corpora"].items()
                             if (c.get("verifier") or {}).get("answered") is not None)
        intro = (f"Extractor: {extractor(section)}. Each extracted attribute is judged by the "
                 f"{verifier_text(section)}. {VERIFIER_NOTE}")
        if answered:
            intro += f" Attributes the verifier answered: {answered}."
        note = (f"Extractor {extractor(section)}; attributes judged by the {verifier_text(section)}, which never "
                "sees which extractor made a claim. Supported share: the verifier's estimate of precision; gold rows "
                "against the gold as given and as the verifier finds it stated in the users' turns; descriptors are "
                "not a difficulty.")
        provenance_text = ("Gold attributes per corpus by where they come from, and how many of them the verifier "
                           "finds stated in the users' turns (the stated gold behind recall and F1 vs stated gold).")
        return ([Block("text", intro), Block("text", EXTRACTION_TEXT)] + _pair_blocks(found, note) +
                [Block("heading", "Gold provenance"), Block("text", provenance_text),
                 Block("table", table=gold_provenance(section, real), caption=f"Gold provenance. {provenance_text}")])
    if family == "overgeneralization":
        out = [Block("text", OVERGENERALIZATION_TEXT)]
        for p in found:
            matched = matched_text(results, p.synthetic)
            out += _pair_blocks([p], f"{OVERGENERALIZATION_TEXT} {matched}") + [Block("text", matched)]
        history = by_history(section, real)
        if history.body:
            text = ("Per corpus and number of conversations in a user's history: the verifier's overgeneralization "
                    "rate, with the attributes and users behind it.")
            out += [Block("heading", "Overgeneralization rate by history size"), Block("text", text),
                    Block("table", table=history, caption=f"Overgeneralization rate by history size. {text}")]
        scope = scope_text(section, real)
        if scope:
            out.append(Block("text", f"Overgeneralized attributes by the scope of their evidence: {scope}."))
        return out
    return []


# ---- the topic decomposition (compare --by-topic) ---------------------------------------------------------------

TOPIC_TEXT = ("The units of every corpus are assigned to topics (k-means on the units' representation, fitted once "
              "on all corpora; keywords by c-TF-IDF). topic_mix_jsd compares the topic distributions, real vs "
              "synthetic beside real half A vs half B. A metric named …_within_topic is that metric "
              "(kid_within_topic is kid) on sides drawn to the real topic mix, real vs synthetic beside real vs real. "
              "A gap is real vs synthetic minus real vs real; the share of the gap the topic mix explains is "
              "1 − within-topic gap / raw gap: near 1, the corpus differs from the real one mainly in what its users "
              "talk about; near 0, in how they talk about the same topics. A cross-real corpus (a second real "
              "corpus) shows what the decomposition gives between two real corpora.")
TOPIC_MIX_TEXT = ("Share of each corpus's units per topic (topics by their c-TF-IDF keywords, most frequent in the "
                  "real corpus first): the real corpus's units the topics were fitted on, and each corpus's units in "
                  "its comparison. over/under: the topic is over- or under-represented in that corpus against real "
                  "half A of the same comparison, the simultaneous 95% interval (Bonferroni over the topics) of the "
                  "difference in shares lying above or below 0; n/a: no figure, with the reason.")
EXPLAINED_TEXT = ("Per metric and corpus: the share of the raw gap (real vs synthetic minus real vs real) that the "
                  "topic mix explains, 1 − within-topic gap / raw gap, with its bootstrap 95% interval, and the raw "
                  "and within-topic gaps it is computed from; n/a with the reason where there is no gap to explain.")
PER_TOPIC_TEXT = ("Per topic: each metric's gap (real half A vs the corpus minus real half A vs half B, point "
                  "estimates) computed on that topic's units alone, with the units each side has in the topic (real "
                  "half A / real half B / the corpus) and m, the units per side the gaps are computed at; the last "
                  "row is the metric's raw gap over all topics. n/a: no figure, with the reason.")


@dataclass
class TopicCorpus:
    """One corpus of results["topics"]["decomposition"]: its label, role (synthetic or cross-real) and data."""
    label: str
    role: str
    data: dict

    @property
    def title(self) -> str:
        return f"{self.label} ({self.role})"


def topic_corpora(results: dict) -> list[TopicCorpus]:
    """The decomposed corpora in results.json's order of corpora (synthetic and cross-real side by side)."""
    dec = (results.get("topics") or {}).get("decomposition") or {}
    order = [s.get("label") for s in results.get("synthetic", [])]
    labels = [x for x in order if x in dec] + [x for x in dec if x not in order]
    return [TopicCorpus(str(x), str((dec[x] or {}).get("role") or "synthetic"), dec[x] or {}) for x in labels]


def mix_rows(corpus: dict) -> dict[int, dict]:
    """Topic id -> that topic's row of the corpus's mix (real and synthetic share, difference, ci95, flag), from
    mix.topics, completed from the per-id share lists."""
    mix = corpus.get("mix") or {}
    out: dict[int, dict] = {}
    for t in mix.get("topics") or []:
        if t.get("id") is not None:
            out[int(t["id"])] = dict(t)
    for side, key in (("real", "real_share"), ("synthetic", "synthetic_share")):
        for i, v in enumerate(mix.get(side) or []):
            out.setdefault(i, {"id": i})
            if out[i].get(key) is None:
                out[i][key] = v
    return out


def topic_label(topic: dict) -> str:
    """A topic's name in a table or figure: its keywords label, else its first keywords, else its id."""
    if topic.get("label"):
        return str(topic["label"])
    keywords = topic.get("keywords") or []
    return ", ".join(map(str, keywords[:3])) if keywords else f"topic {topic.get('id', '?')}"


def real_shares(results: dict) -> dict[int, float]:
    """Topic id -> the real corpus's share: its mix over the units the topics were fitted on (results["topics"]
    ["real_mix"]), else real half A's in the first corpus's comparison, else from its assignments."""
    real_mix = (results.get("topics") or {}).get("real_mix")
    if real_mix:
        return {i: v for i, v in enumerate(real_mix) if v is not None}
    for c in topic_corpora(results):
        shares = {i: r["real_share"] for i, r in mix_rows(c.data).items() if r.get("real_share") is not None}
        if shares:
            return shares
    real = (results.get("real") or {}).get("label")
    assigned = [t for t in ((results.get("topics") or {}).get("assignments") or {}).get(real) or [] if t >= 0]
    return {t: assigned.count(t) / len(assigned) for t in sorted(set(assigned))} if assigned else {}


def topic_order(results: dict) -> list[dict]:
    """Every topic (id, label, keywords), most frequent in the real corpus first (ties by id); topics only a mix
    names are added with their id as label."""
    section = results.get("topics") or {}
    topics = {int(t["id"]): dict(t) for t in section.get("topics") or [] if t.get("id") is not None}
    for c in topic_corpora(results):
        for i, r in mix_rows(c.data).items():
            topics.setdefault(i, {"id": i, "label": r.get("label") or f"topic {i}", "keywords": []})
    shares = real_shares(results)
    return sorted(topics.values(), key=lambda t: (-(shares.get(t["id"]) or 0.0), t["id"]))


def topic_method_text(results: dict) -> str:
    """How the topics were made, in one line, with the topic family's own correction and any unassigned units."""
    section = results.get("topics") or {}
    m = section.get("method") or {}
    text = (f"Topics: {m.get('clustering', 'k-means')} with k = {m.get('k', len(section.get('topics') or []))} "
            f"({m.get('k_rule') or 'rule not recorded'}) on {m.get('representation') or 'the units'}, fitted on "
            f"{m.get('fitted_on', '?')} units (seed {m.get('seed', '?')}); keywords by {m.get('keywords', '?')}.")
    assigned = {label: (sum(1 for t in ids if t >= 0), len(ids))
                for label, ids in (section.get("assignments") or {}).items()}
    if any(n < total for n, total in assigned.values()):
        text += (" Units with a topic (those the decomposition draws from): " +
                 ", ".join(f"{label} {n:,} of {total:,}" for label, (n, total) in assigned.items()) + ".")
    frames = {label: n for label, n in (m.get("frames") or {}).items() if n}
    if frames:
        text += (" Recurring frames (a corpus's stock openings) removed before the units were embedded: " +
                 ", ".join(f"{label} {n}" for label, n in frames.items()) + ".")
    v = section.get("verdicts") or {}
    if v:
        text += (f" The topic metrics' verdicts use {str(v.get('correction', 'holm')).title()}'s correction over the "
                 f"topic family only ({v.get('tests', '?')} tests, alpha {v.get('alpha', 0.05)}), not over every "
                 "metric of the report.")
    return text


def _share_cell(row: Optional[dict]) -> str:
    if row is None:
        return na("not in this corpus's topic mix")
    if row.get("synthetic_share") is None:
        return na(row.get("why") or "not measured")
    flag = row.get("flag")
    return fmt(row["synthetic_share"]) + (f" ({flag})" if flag else "")


def topic_mix_table(results: dict) -> Table:
    """Topics (id, keywords) by their share in the real corpus and in each corpus, with over/under flags."""
    real = (results.get("real") or {}).get("label", "real")
    corpora = topic_corpora(results)
    shares = real_shares(results)
    n_real = next(((c.data.get("mix") or {}).get("n_real") for c in corpora
                   if (c.data.get("mix") or {}).get("n_real") is not None), None)
    assigned = ((results.get("topics") or {}).get("assignments") or {}).get(real)
    if (results.get("topics") or {}).get("real_mix") and assigned:
        n_real = sum(1 for t in assigned if t >= 0)
    header = ["topic", "keywords", f"{real} (real" + (f", n = {n_real})" if n_real is not None else ")")]
    for c in corpora:
        n = (c.data.get("mix") or {}).get("n_synthetic")
        header.append(f"{c.label} ({c.role}" + (f", n = {n})" if n is not None else ")"))
    mixes = [mix_rows(c.data) for c in corpora]
    body = []
    for t in topic_order(results):
        body.append([str(t["id"]), topic_label(t),
                     fmt(shares[t["id"]]) if shares.get(t["id"]) is not None else na("not in the real mix")]
                    + [_share_cell(m.get(t["id"])) for m in mixes])
    return Table(header, body)


def explained_metrics(results: dict) -> list[tuple[str, str]]:
    """(metric, family) of every explained share, in the order the corpora list them."""
    out: list[tuple[str, str]] = []
    for c in topic_corpora(results):
        for e in c.data.get("explained") or []:
            if e.get("metric") is not None and e["metric"] not in [m for m, _ in out]:
                out.append((str(e["metric"]), str(e.get("family") or "?")))
    return out


def explained_entry(corpus: TopicCorpus, metric: str) -> Optional[dict]:
    return next((e for e in corpus.data.get("explained") or [] if e.get("metric") == metric), None)


def explained_cells(entry: Optional[dict]) -> tuple[str, str, str]:
    """The share the topic mix explains (value [95% CI], or n/a with the reason), the raw and the within-topic gap."""
    if entry is None:
        why = na("not measured for this corpus")
        return why, "n/a", "n/a"
    why = entry.get("why")
    if entry.get("share") is None:
        share = na(why or "no value")
    else:
        share = fmt(entry["share"]) + (f" {fmt_ci(entry['ci95'])}" if entry.get("ci95") else "")
    gaps = tuple("n/a" if entry.get(k) is None and why else na("not reported") if entry.get(k) is None
                 else fmt(entry[k]) for k in ("raw_gap", "within_gap"))
    return share, gaps[0], gaps[1]


def explained_table(results: dict) -> Table:
    """Per metric: for each corpus side by side, the share of the gap the topic mix explains, the raw and the
    within-topic gap."""
    corpora = topic_corpora(results)
    header = ["metric", "family"]
    for c in corpora:
        header += [f"{c.title}: share explained [95% CI]", f"{c.label}: raw gap", f"{c.label}: within-topic gap"]
    body = []
    for metric, family in explained_metrics(results):
        row = [metric, family]
        for c in corpora:
            row += list(explained_cells(explained_entry(c, metric)))
        body.append(row)
    return Table(header, body)


def coverage_text(results: dict, corpus: TopicCorpus, named: bool = True) -> str:
    """Coverage of the real corpus's topics and what is left of the mix difference after matching, in words (after
    the corpus's name and role unless not `named`)."""
    real = (results.get("real") or {}).get("label", "real")
    k = (results.get("topics") or {}).get("method", {}).get("k") or len((results.get("topics") or {}).get("topics")
                                                                         or [])
    cov = corpus.data.get("coverage")
    text = f"{corpus.title}: " if named else ""
    text += (na("coverage not reported") if cov is None else
             f"{100 * cov:.1f}% of {real}'s units are in topics {corpus.label} has at all")
    matched = corpus.data.get("matched") or {}
    if matched.get("why"):
        return text + f"; matched comparison: {na(matched['why'])}."
    if not matched:
        return text + f"; matched comparison: {na('not reported')}."
    text += (f"; the matched comparison uses {matched.get('per_side', '?')} units per side from "
             f"{matched.get('topics_used', '?')} of {k or '?'} topics, leaving a topic-mix difference (total "
             f"variation) of {fmt(matched.get('residual_tv'))}")
    return text + "."


def per_topic_metrics(results: dict, corpus: TopicCorpus) -> list[str]:
    """The metrics of a corpus's per-topic gaps: the explained metrics' order first, then any other."""
    found: list[str] = []
    for row in corpus.data.get("per_topic") or []:
        found += [k for k in row.get("gaps") or {} if k not in found]
    order = [m for m, _ in explained_metrics(results)]
    return [m for m in order if m in found] + [m for m in found if m not in order]


def per_topic_table(results: dict, corpus: TopicCorpus) -> tuple[Optional[Table], str]:
    """Topics × metrics of one corpus's per-topic gaps (with the units behind each row and the raw gap as the last
    row), or None and why there is none."""
    per_topic = corpus.data.get("per_topic")
    if not per_topic:
        why = corpus.data.get("per_topic_why") or (corpus.data.get("matched") or {}).get("why") or \
              ("no topic has enough units on every side" if per_topic == [] else "not computed")
        return None, why
    metrics = per_topic_metrics(results, corpus)
    header = ["topic", "keywords", f"n (real A / real B / {corpus.label})", "m"] + metrics + ["note"]
    order = {t["id"]: i for i, t in enumerate(topic_order(results))}
    labels = {t["id"]: topic_label(t) for t in topic_order(results)}
    body = []
    for row in sorted(per_topic, key=lambda r: (order.get(r.get("topic"), len(order)), r.get("topic", 0))):
        n = row.get("n") or {}
        why = row.get("why")
        gaps = row.get("gaps") or {}
        cells = ["n/a" if gaps.get(m) is None else fmt(gaps[m]) for m in metrics]
        missing = [m for m in metrics if gaps.get(m) is None]
        note = na(why) if why else (na(f"no value for {', '.join(missing)} (too few units for the metric, or no "
                                       "estimate)") if missing else "")
        body.append([str(row.get("topic", "?")), str(row.get("label") or labels.get(row.get("topic"), "?")),
                     "/".join(str(n.get(k, "?")) for k in ("real_a", "real_b", "synthetic")),
                     str(n["per_side"]) if n.get("per_side") is not None else "–"] + cells + [note])
    raw = [explained_entry(corpus, m) for m in metrics]
    body.append(["all", "all topics (raw gap)", "", ""] +
                [fmt(e["raw_gap"]) if e and e.get("raw_gap") is not None else "n/a" for e in raw] + [""])
    return Table(header, body), ""


def topic_blocks(results: dict) -> list[Block]:
    """The "topic" section from results["topics"]: the method, the topic mix, the topic metrics' family table, the
    share of each gap the topic mix explains, coverage and the residual mix, and the per-topic gaps per corpus;
    empty when results.json has no topic decomposition."""
    if not results.get("topics"):
        return []
    real = (results.get("real") or {}).get("label", "real")
    out = [Block("text", topic_method_text(results)), Block("text", TOPIC_TEXT),
           Block("heading", "Topic mix"), Block("text", TOPIC_MIX_TEXT),
           Block("table", table=topic_mix_table(results), caption=f"Topic mix of {real} and each corpus. "
                                                                    f"{TOPIC_MIX_TEXT}")]
    mine = [r for r in rows(results) if r.family == "topic"]
    out.append(Block("heading", "Topic-mix and within-topic metrics"))
    if mine:
        out.append(Block("table", table=Table(FAMILY_HEADER, [r.family_cells() for r in mine]),
                         verdicts=[r.verdict for r in mine], caption="topic metrics"))
    else:
        out.append(Block("text", f"Topic metrics: {na('results.json has no metric of the topic family')}."))
    corpora = topic_corpora(results)
    out.append(Block("heading", "Share of the gap the topic mix explains"))
    explained = explained_table(results)
    if explained.body:
        out += [Block("text", EXPLAINED_TEXT),
                Block("table", table=explained, caption=f"Share of the gap the topic mix explains. {EXPLAINED_TEXT}")]
    else:
        out.append(Block("text", f"Explained shares: {na('no corpus has an explained share')}."))
    if corpora:
        out.append(Block("text", "Coverage and residual mix. " + " ".join(coverage_text(results, c)
                                                                          for c in corpora)))
    out += [Block("heading", "Per-topic gaps"), Block("text", PER_TOPIC_TEXT)]
    for c in corpora:
        table, why = per_topic_table(results, c)
        title = f"Per-topic gaps: {real} (real) vs {c.title}"
        if table is None:
            out.append(Block("text", f"{title}: {na(why)}."))
        else:
            out += [Block("heading", title), Block("table", table=table, caption=f"{title}. {PER_TOPIC_TEXT}")]
    out.append(Block("text", "Figures: topic_mix (each topic's share, real beside each corpus) and topic_gaps "
                             "(the per-topic gaps, each metric scaled by its raw gap)."))
    return out


def detail_blocks(results: dict, family: str) -> list[Block]:
    """A section drawn from more than the family's metrics (extraction, overgeneralization, topic), else []."""
    return topic_blocks(results) if family == "topic" else extraction_blocks(results, family)


def agreement_tables(data: dict) -> list[Table]:
    """results["agreement"]: mean pairwise kappa per group, then each rater's selection rate on the items
    every rater labeled (with their number) and on the rater's own items."""
    common = data.get("selection_items", data.get("overall", {}).get("selection_items"))
    own = data.get("selection_rate_own", {})
    own_n = data.get("selection_items_own", {})
    head = "selection rate" + (f" (n = {common} common items)" if common is not None else "")
    return [Table(["group", "mean pairwise kappa"], [[g, fmt(v)] for g, v in data.get("groups", {}).items()]),
            Table(["rater", head, "own items", "n own"],
                  [[r, fmt(v), fmt(own.get(r)), str(own_n.get(r, "–"))]
                   for r, v in data.get("selection_rate", {}).items()])]


def provenance(manifest: dict) -> dict:
    """What the reports say of a manifest.json: the command line, when, which synthgap, the config fingerprint."""
    argv = manifest.get("argv")
    return {"command": "(Python API)" if argv is None else " ".join(map(str, argv)), "created": str(manifest.get("created", "?")),
            "synthgap": str(manifest.get("versions", {}).get("synthgap", "?")),
            "fingerprint": str(manifest.get("fingerprint", "?"))}


__all__ = ["Block", "CARD_KEYS", "FAMILY_HEADER", "FAMILY_ORDER", "FAMILY_TITLES", "KIND_LABELS", "MATCHED",
           "PAIR_HEADER", "Pair", "PairRow", "Row", "STAT_LABELS", "SUMMARY_HEADER", "Table", "TopicCorpus",
           "VERIFIER_NOTE", "YARDSTICK", "agreement_tables", "authors_cell", "by_history", "coverage_text",
           "detail_blocks", "explained_cells", "explained_entry", "explained_metrics", "explained_table",
           "extraction_blocks", "extraction_family", "extractor", "families", "family_of", "fmt", "fmt_ci",
           "gold_provenance", "matched_text", "mix_rows", "na", "p_cell", "pairs", "per_topic_metrics",
           "per_topic_table", "provenance", "real_shares", "rows", "scope_text", "stat_cell", "stat_keys",
           "topic_blocks", "topic_corpora", "topic_label", "topic_method_text", "topic_mix_table", "topic_order",
           "verdict", "verifier_text"]
