"""booktabs tables a paper can \\input: one per family, with caption and label, special characters escaped."""

from __future__ import annotations

import re

from .summary import (FAMILY_TITLES, KIND_LABELS, TOPIC_MIX_TEXT, explained_cells, explained_entry, explained_metrics,
                      extraction_blocks, families, rows, topic_corpora, topic_method_text, topic_mix_table)

_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
            "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}", "–": "--",
            "—": "---", "−": "$-$", "<": r"\textless{}", ">": r"\textgreater{}"}
_PATTERN = re.compile("|".join(re.escape(k) for k in sorted(_SPECIAL, key=len, reverse=True)))


def escape(text: str) -> str:
    """Text safe inside a LaTeX table cell."""
    return _PATTERN.sub(lambda m: _SPECIAL[m.group()], str(text))


def family_table(results: dict, family: str) -> str:
    """One booktabs table (table environment) of a family's metrics for every synthetic corpus (the topic family's
    verdicts are corrected over that family only, and its caption says so)."""
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
              r"is beyond real-vs-real variation when it is above 0 after Holm's correction across all "
              + (r"topic metrics (the topic family only)" if family == "topic" else "metrics")
              + r" ($p_\mathrm{Holm} < 0.05$).}",
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


def topic_mix_latex(results: dict) -> str:
    """The topic mix as a booktabs table: topics (id, keywords) by their share in the real corpus and each corpus."""
    table = topic_mix_table(results)
    spec = "rp{3.8cm}" + "p{2.1cm}" * (len(table.header) - 2)  # shares under headers that name corpus and n
    out = [r"\begin{table}[t]", r"\centering", r"\footnotesize", r"\setlength{\tabcolsep}{3pt}",
           rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
           " & ".join(escape(h).replace(r"\_", r"\_\allowbreak{}") for h in table.header) + r" \\",  # long labels
           r"\midrule"]
    out += [" & ".join(escape(c) for c in row) + r" \\" for row in table.body]
    out += [r"\bottomrule", r"\end{tabular}",
            rf"\caption{{Topic mix. {escape(topic_method_text(results))} {escape(TOPIC_MIX_TEXT)}}}",
            r"\label{tab:synthgap-topic-mix}", r"\end{table}", ""]
    return "\n".join(out)


def explained_latex(results: dict) -> str:
    """The share of each metric's gap the topic mix explains: metric rows, one column group per corpus (the share
    with its 95% interval, or n/a with the reason; the raw and the within-topic gap)."""
    corpora = topic_corpora(results)
    metrics = explained_metrics(results)
    if not corpora or not metrics:
        return ""
    width = 1 + 2 * len(corpora)
    out = [r"\begin{table}[t]", r"\centering", r"\footnotesize", r"\setlength{\tabcolsep}{3pt}",
           r"\begin{tabular}{l" + "p{2.3cm}r" * len(corpora) + "}", r"\toprule",
           " & ".join([""] + [rf"\multicolumn{{2}}{{c}}{{{escape(c.title)}}}" for c in corpora]) + r" \\",
           " ".join(rf"\cmidrule(lr){{{2 + 2 * i}-{3 + 2 * i}}}" for i in range(len(corpora))),
           " & ".join(["Metric"] + [r"Share [95\% CI]", "Raw / within"] * len(corpora)) + r" \\"]
    family = None
    for metric, fam in metrics:  # the metrics under their family, as a row above each group
        if fam != family:
            family = fam
            out += [r"\midrule", rf"\multicolumn{{{width}}}{{l}}{{\emph{{{escape(fam)}}}}} \\"]
        cells = [metric]
        for c in corpora:
            share, raw, within = explained_cells(explained_entry(c, metric))
            cells += [share, f"{raw} / {within}"]
        out.append(" & ".join(escape(x) for x in cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}",
            r"\caption{Share of each metric's gap that the topic mix explains: $1 - g_\mathrm{within} / "
            r"g_\mathrm{raw}$, where the raw gap $g_\mathrm{raw}$ is the metric real vs corpus minus real vs real "
            r"and the within-topic gap $g_\mathrm{within}$ the same with every side drawn to the real topic "
            r"mix; bootstrap 95\% intervals. Near 1: the corpus differs mainly in what its users talk about; near 0: "
            r"in how they talk about the same topics. A cross-real corpus is a second real corpus. n/a: no share, "
            r"with the reason.}",
            r"\label{tab:synthgap-topic-explained}", r"\end{table}", ""]
    return "\n".join(out)


def topic_tables(results: dict) -> str:
    """topic.tex: the topic metrics' family table, the topic mix and the explained shares."""
    parts = [family_table(results, "topic")] if any(r.family == "topic" for r in rows(results)) else []
    if results.get("topics"):
        parts += [topic_mix_latex(results), explained_latex(results)]
    return "\n".join(p for p in parts if p)


def tables(results: dict) -> dict[str, str]:
    """File name -> table source, one per family present (extraction and overgeneralization: one table per
    synthetic corpus and per-corpus table, in one file)."""
    out = {}
    for family in families(results):
        if family == "topic":
            out["topic.tex"] = topic_tables(results)
        elif family != "agreement":
            out[f"{family}.tex"] = detail_tables(results, family) or family_table(results, family)
    return out


__all__ = ["detail_tables", "escape", "explained_latex", "family_table", "tables", "topic_mix_latex", "topic_tables"]
