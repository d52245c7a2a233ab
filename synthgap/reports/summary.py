"""What every report format shows, computed once from results.json: rows per family, numbers
formatted one way, and a plain-words verdict per metric."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Optional

from ..comparators.base import authors_cell, p_cell

FAMILY_ORDER = ("embedding", "style", "extraction", "overgeneralization", "agreement")
FAMILY_TITLES = {"embedding": "Embedding distribution", "style": "Style", "extraction": "Attribute extraction",
                 "overgeneralization": "Overgeneralization", "agreement": "Agreement"}
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
           "PAIR_HEADER", "Pair", "PairRow", "Row", "STAT_LABELS", "SUMMARY_HEADER", "Table", "VERIFIER_NOTE",
           "YARDSTICK", "agreement_tables", "authors_cell", "by_history", "extraction_blocks", "extraction_family",
           "extractor", "families", "family_of", "fmt", "fmt_ci", "gold_provenance", "matched_text", "na", "p_cell",
           "pairs", "provenance", "rows", "scope_text", "stat_cell", "stat_keys", "verdict", "verifier_text"]
