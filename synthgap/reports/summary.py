"""What every report format shows, computed once from results.json: rows per family, numbers
formatted one way, and a plain-words verdict per metric."""

from __future__ import annotations

import math
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
    if results.get("agreement"):
        present.add("agreement")
    return [f for f in FAMILY_ORDER if f in present] + sorted(present - set(FAMILY_ORDER))


def extraction_table(section: dict) -> Table:
    """Per corpus statistics of results["extraction"]: one row per statistic, one column per corpus."""
    corpora = section.get("corpora", {})
    names = list(next(iter(corpora.values()))["statistics"]) if corpora else []
    header = ["statistic"] + [f"{label} ({c['users']} users)" for label, c in corpora.items()]
    body = [[n] + [f"{fmt(c['statistics'][n]['value'])} {fmt_ci(c['statistics'][n]['ci95'])}"
                   for c in corpora.values()] for n in names]
    return Table(header, body)


def extractor(section: dict) -> str:
    return str(section.get("config", {}).get("extractor", "?"))


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


__all__ = ["FAMILY_HEADER", "FAMILY_ORDER", "FAMILY_TITLES", "Row", "SUMMARY_HEADER", "Table", "YARDSTICK",
           "agreement_tables", "authors_cell", "extraction_table", "extractor", "families", "family_of", "fmt", "fmt_ci",
           "p_cell", "provenance", "rows", "verdict"]
