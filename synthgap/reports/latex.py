"""booktabs tables a paper can \\input: one per family, with caption and label, special characters escaped."""

from __future__ import annotations

import re

from .summary import FAMILY_TITLES, families, rows

_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
            "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}", "–": "--",
            "<": r"\textless{}", ">": r"\textgreater{}"}
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


def tables(results: dict) -> dict[str, str]:
    """File name -> table source, one per family present."""
    return {f"{family}.tex": family_table(results, family) for family in families(results) if family != "agreement"}


__all__ = ["escape", "family_table", "tables"]
