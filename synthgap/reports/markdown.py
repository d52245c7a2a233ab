"""report.md: the summary table, then one section per family; rendered from results.json alone."""

from __future__ import annotations

from .summary import FAMILY_TITLES, families, fmt, fmt_ci, rows


def _table(header: list[str], body: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in body]
    return out


def render(results: dict, manifest: dict | None = None) -> str:
    real = results.get("real", {})
    synthetic = results.get("synthetic", [])
    lines = ["# synthgap report", ""]
    lines.append(f"Real corpus: **{real.get('label', '?')}** ({real.get('source', '?')}, {real.get('units', '?')} "
                 f"{real.get('unit', '')} units). Synthetic: " +
                 ", ".join(f"**{s['label']}** ({s.get('source', '?')}, {s.get('units', '?')} units)" for s in synthetic)
                 + ".")
    lines += ["", "Every gap is shown beside the same metric between two halves of the real corpus (split by "
                  "author), with bootstrap 95% intervals. A verdict says the gap is beyond real-vs-real variation "
                  "only when its whole interval lies further from the ideal than the baseline's.", ""]
    all_rows = rows(results)
    lines += ["## Summary", ""]
    lines += _table(["synthetic", "family", "metric", "real vs synthetic", "95% CI", "real vs real", "95% CI",
                     "ratio", "verdict"],
                    [[r.synthetic, r.family, r.name, r.value, r.ci, r.baseline, r.baseline_ci, r.ratio, r.verdict]
                     for r in all_rows])
    for family in families(results):
        lines += ["", f"## {FAMILY_TITLES.get(family, family.title())}", ""]
        if family == "agreement":
            lines += _agreement(results["agreement"])
            continue
        mine = [r for r in all_rows if r.family == family]
        lines += _table(["synthetic", "metric", "real vs synthetic", "95% CI", "real vs real", "95% CI", "verdict"],
                        [[r.synthetic, r.name, r.value, r.ci, r.baseline, r.baseline_ci, r.verdict] for r in mine])
        if family == "extraction" and results.get("extraction"):
            lines += ["", "Per corpus:", ""] + _extraction(results["extraction"])
    if results.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in results["notes"]]
    if manifest:
        lines += ["", "## Provenance", "", f"- command: `{' '.join(map(str, manifest.get('argv', [])))}`",
                  f"- created: {manifest.get('created', '?')}",
                  f"- synthgap {manifest.get('versions', {}).get('synthgap', '?')}, config fingerprint "
                  f"`{manifest.get('fingerprint', '?')}`"]
    return "\n".join(lines) + "\n"


def _extraction(section: dict) -> list[str]:
    corpora = section.get("corpora", {})
    names = list(next(iter(corpora.values()))["statistics"]) if corpora else []
    header = ["statistic"] + [f"{label} ({c['users']} users)" for label, c in corpora.items()]
    body = [[n] + [f"{fmt(c['statistics'][n]['value'])} {fmt_ci(c['statistics'][n]['ci95'])}"
                   for c in corpora.values()] for n in names]
    return [f"Extractor: {section.get('config', {}).get('extractor', '?')}", ""] + _table(header, body)


def _agreement(data: dict) -> list[str]:
    lines = _table(["group", "mean pairwise kappa"], [[g, fmt(v)] for g, v in data.get("groups", {}).items()])
    rates = data.get("selection_rate", {})
    lines += [""] + _table(["rater", "selection rate"], [[r, fmt(v)] for r, v in rates.items()])
    return lines


__all__ = ["render"]
