"""report.md: the summary table, then one section per family; rendered from results.json alone."""

from __future__ import annotations

from .summary import (FAMILY_HEADER, FAMILY_TITLES, SUMMARY_HEADER, YARDSTICK, Block, Table, agreement_tables,
                      detail_blocks, families, provenance, rows)


def _table(table: Table) -> list[str]:
    out = ["| " + " | ".join(table.header) + " |", "| " + " | ".join("---" for _ in table.header) + " |"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in table.body]
    return out


def blocks(items: list[Block], level: int = 3) -> list[str]:
    """Headings, paragraphs and tables of a section, separated by blank lines."""
    out: list[str] = []
    for b in items:
        if b.kind == "heading":
            out += ["#" * level + " " + b.text, ""]
        elif b.kind == "text":
            out += [b.text, ""]
        elif b.table is not None:
            out += _table(b.table) + [""]
    return out[:-1] if out and out[-1] == "" else out


def render(results: dict, manifest: dict | None = None) -> str:
    real = results.get("real", {})
    synthetic = results.get("synthetic", [])
    lines = ["# synthgap report", ""]
    lines.append(f"Real corpus: **{real.get('label', '?')}** ({real.get('source', '?')}, {real.get('units', '?')} "
                 f"{real.get('unit', '')} units). Synthetic: " +
                 ", ".join(f"**{s['label']}** ({s.get('source', '?')}, {s.get('units', '?')} units)" for s in synthetic)
                 + ".")
    lines += ["", YARDSTICK, ""]
    all_rows = rows(results)
    lines += ["## Summary", ""]
    lines += _table(Table(SUMMARY_HEADER, [r.summary_cells() for r in all_rows]))
    for family in families(results):
        lines += ["", f"## {FAMILY_TITLES.get(family, family.title())}", ""]
        if family == "agreement":
            groups, rates = agreement_tables(results["agreement"])
            lines += _table(groups) + [""] + _table(rates)
            continue
        detailed = detail_blocks(results, family)
        if detailed:  # extraction and overgeneralization (real vs each synthetic corpus), the topic decomposition
            lines += blocks(detailed)
            continue
        lines += _table(Table(FAMILY_HEADER, [r.family_cells() for r in all_rows if r.family == family]))
    if results.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in results["notes"]]
    if manifest:
        p = provenance(manifest)
        lines += ["", "## Provenance", "", f"- command: `{p['command']}`", f"- created: {p['created']}",
                  f"- synthgap {p['synthgap']}, config fingerprint `{p['fingerprint']}`"]
    return "\n".join(lines) + "\n"


__all__ = ["blocks", "render"]
