"""booktabs tables a paper can \\input: one per family, with caption and label, special characters escaped."""

from __future__ import annotations

import re

from .summary import FAMILY_TITLES, KIND_LABELS, extraction_blocks, families, rows

_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
            "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}", "–": "--",
            "—": "---", "−": "$-$", "<": r"\textless{}", ">": r"\textgreater{}"}
_PATTERN = re.compile("|".join(re.escape(k) for k in sorted(_SPECIAL, key=len, reverse=True)))


def escape(text: str) -> str:
    """Text safe inside a LaTeX table cell."""
    return _PATTERN.sub(lambda m: _SPECIAL[m.group()], str(text))


def family_table(results: dict, family: str) -> str:
    """One booktabs table (table environment) of a family's metrics for every synthetic corpus."""
    real = results.get("real", {}).get("label", "real")
    body = [r for r in rows(results) if r.family == family]
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{llrrrlrlllp{3.2cm}}", r"\toprule",
             r"Synthetic & Metric & $m$ & Authors & Real vs synth. & 95\% CI & Real vs real & 95\% CI & "
             r"Difference [95\% CI] & $p_\mathrm{Holm}$ & Verdict \\",
             r"\midrule"]
    for r in body:
        cells = [r.synthetic, r.name, r.m, r.authors, r.value, r.ci, r.baseline, r.baseline_ci, r.difference, r.p,
                 r.verdict]
        lines.append(" & ".join(escape(c) for c in cells) + r" \\")
    title = FAMILY_TITLES.get(family, family.title())
    lines += [r"\bottomrule", r"\end{tabular}",
              rf"\caption{{{escape(title)}: each metric between {escape(real)} and the synthetic corpus, beside the "
              r"same metric between two halves of the real corpus (split by author), with bootstrap 95\% "
              r"intervals; $m$ items per side from the given authors (real half A / half B / synthetic). Difference: "
              r"distance from the ideal, real vs synthetic minus real vs real, on the same bootstrap draws; a gap "
              r"is beyond real-vs-real variation when it is above 0 after Holm's correction across all metrics "
              r"($p_\mathrm{Holm} < 0.05$).}",
              rf"\label{{tab:synthgap-{escape(family).replace(chr(92), '')}}}", r"\end{table}", ""]
    return "\n".join(lines)


def _spec(header: list[str], body: list[list[str]]) -> str:
    """Column types: the verdict and any long text wrap in a paragraph column, numbers align right."""
    out = []
    for i, name in enumerate(header):
        cells = [str(r[i]) for r in body]
        if name == "verdict":
            out.append("p{3.2cm}")
        elif max([len(name)] + [len(c) for c in cells]) > 24:
            out.append("p{2.6cm}")
        elif cells and all(re.fullmatch(r"[-<0-9.,%]+", c) for c in cells):
            out.append("r")
        else:
            out.append("l")
    return "".join(out)


def _tabular(header: list[str], body: list[list[str]]) -> list[str]:
    head = [rf"\begin{{tabular}}{{{_spec(header, body)}}}", r"\toprule",
            " & ".join(escape(h) for h in header) + r" \\", r"\midrule"]
    return head + [" & ".join(escape(c) for c in row) + r" \\" for row in body]


PAIR_COLUMNS = r"p{2.3cm}p{1.9cm}p{1.9cm}p{1.6cm}p{1.6cm}p{1.6cm}rp{2.4cm}"


def _pair_tabular(pair) -> list[str]:
    """Real vs one synthetic corpus, compact for a page: values with their intervals in one cell, the kind of
    statistic (verifier, gold, descriptor) as a row above its group."""
    head = [escape(h) for h in ("Statistic", pair.header[2], pair.header[3])] + [
        r"Real $-$ synth. [95\% CI]", r"Real vs real [95\% CI]", r"Difference [95\% CI]", r"$p_\mathrm{Holm}$",
        "Verdict"]
    out = [rf"\begin{{tabular}}{{{PAIR_COLUMNS}}}", r"\toprule", " & ".join(head) + r" \\"]
    kind = None
    for r in pair.rows:
        if r.kind != kind:
            kind = r.kind
            out += [r"\midrule", rf"\multicolumn{{8}}{{l}}{{\emph{{{escape(KIND_LABELS.get(kind, kind))}}}}} \\"]
        baseline = r.baseline if r.baseline_ci in ("–", "") else f"{r.baseline} {r.baseline_ci}"
        out.append(" & ".join(escape(c) for c in (r.label, r.real, r.synthetic, r.gap, baseline, r.difference, r.p,
                                                  r.verdict)) + r" \\")
    return out


def detail_tables(results: dict, family: str) -> str:
    """The extraction or overgeneralization section as booktabs tables: real vs each synthetic corpus, statistic by
    statistic, then per corpus (gold provenance, the rate by history size); "" when results.json has no
    per-corpus extraction section."""
    out = []
    tables_ = [b for b in extraction_blocks(results, family) if b.kind == "table" and b.table is not None]
    for n, b in enumerate(tables_, 1):
        out += [r"\begin{table}[t]", r"\centering", r"\footnotesize", r"\setlength{\tabcolsep}{3pt}"]
        out += _pair_tabular(b.pair) if b.pair is not None else _tabular(b.table.header, b.table.body)
        title = FAMILY_TITLES.get(family, family.title())
        label = re.sub(r"[^a-z0-9]+", "-", family.lower()).strip("-")
        out += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{escape(title)}. {escape(b.caption)}}}",
                rf"\label{{tab:synthgap-{label}-{n}}}", r"\end{table}", ""]
    return "\n".join(out)


def tables(results: dict) -> dict[str, str]:
    """File name -> table source, one per family present (extraction and overgeneralization: one table per
    synthetic corpus and per-corpus table, in one file)."""
    out = {}
    for family in families(results):
        if family != "agreement":
            out[f"{family}.tex"] = detail_tables(results, family) or family_table(results, family)
    return out


__all__ = ["detail_tables", "escape", "family_table", "tables"]
