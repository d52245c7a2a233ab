"""What every report format shows, computed once from results.json: rows per family, numbers
formatted one way, and a plain-words verdict per metric."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

FAMILY_ORDER = ("embedding", "style", "extraction", "overgeneralization", "agreement")
FAMILY_TITLES = {"embedding": "Embedding distribution", "style": "Style", "extraction": "Attribute extraction",
                 "overgeneralization": "Overgeneralization", "agreement": "Agreement"}
YARDSTICK = ("Every gap is shown beside the same metric between two halves of the real corpus (split by author), "
             "with bootstrap 95% intervals. A verdict says the gap is beyond real-vs-real variation only when its "
             "whole interval lies further from the ideal than the baseline's.")
SUMMARY_HEADER = ["synthetic", "family", "metric", "real vs synthetic", "95% CI", "real vs real", "95% CI", "ratio",
                  "verdict"]
FAMILY_HEADER = ["synthetic", "metric", "real vs synthetic", "95% CI", "real vs real", "95% CI", "verdict"]


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
    """The gap in plain words, from the yardstick comparison."""
    ratio = metric.get("ratio_to_baseline")
    if metric.get("beyond_baseline"):
        return "beyond real-vs-real variation"
    if ratio is None:
        value, base = metric.get("real_vs_synthetic"), metric.get("real_vs_real")
        if value is None or base is None:
            return "no baseline to compare"
        if value == base:
            return "no difference"
        # the real halves sit exactly at the ideal (no ratio), the gap does not, but its interval reaches it
        return "larger than real-vs-real, within its uncertainty"
    if ratio <= 1.5:
        return "within real-vs-real variation"
    return "larger than real-vs-real, within its uncertainty"


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

    def summary_cells(self) -> list[str]:
        """This row under SUMMARY_HEADER."""
        return [self.synthetic, self.family, self.name, self.value, self.ci, self.baseline, self.baseline_ci,
                self.ratio, self.verdict]

    def family_cells(self) -> list[str]:
        """This row under FAMILY_HEADER (a family's own section)."""
        return [self.synthetic, self.name, self.value, self.ci, self.baseline, self.baseline_ci, self.verdict]


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
        out.append(Row(m["synthetic"], family_of(m), m["name"], fmt(m["real_vs_synthetic"]), fmt_ci(m["ci95"]),
                       fmt(m["real_vs_real"]), fmt_ci(m["real_vs_real_ci95"]),
                       "–" if ratio is None else (">100" if ratio > 100 else fmt(ratio, 2)), verdict(m),
                       m.get("beyond_baseline")))
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
    """results["agreement"]: mean pairwise kappa per group, then each rater's selection rate."""
    return [Table(["group", "mean pairwise kappa"], [[g, fmt(v)] for g, v in data.get("groups", {}).items()]),
            Table(["rater", "selection rate"], [[r, fmt(v)] for r, v in data.get("selection_rate", {}).items()])]


def provenance(manifest: dict) -> dict:
    """What the reports say of a manifest.json: the command line, when, which synthgap, the config fingerprint."""
    return {"command": " ".join(map(str, manifest.get("argv", []))), "created": str(manifest.get("created", "?")),
            "synthgap": str(manifest.get("versions", {}).get("synthgap", "?")),
            "fingerprint": str(manifest.get("fingerprint", "?"))}


__all__ = ["FAMILY_HEADER", "FAMILY_ORDER", "FAMILY_TITLES", "Row", "SUMMARY_HEADER", "Table", "YARDSTICK",
           "agreement_tables", "extraction_table", "extractor", "families", "family_of", "fmt", "fmt_ci",
           "provenance", "rows", "verdict"]
