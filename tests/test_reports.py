"""Reports rendered from results.json: Markdown summary and sections, booktabs tables, the report CLI."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from synthgap.reports import latex, markdown
from synthgap.reports.summary import fmt, rows, verdict


def metric(name, family, value, base, ci, base_ci, ratio, beyond, synthetic="syn_1&co"):
    diff = value - base
    return {"name": name, "family": family, "synthetic": synthetic, "goal": "lower", "range": [0, None],
            "ideal": None, "real_vs_synthetic": value, "ci95": ci, "real_vs_real": base,
            "real_vs_real_ci95": base_ci, "ratio_to_baseline": ratio, "beyond_baseline": beyond, "m": 100,
            "authors": {"real_a": 40, "real_b": 41, "synthetic": 12}, "status": None,
            "difference": {"value": diff, "ci95": [diff - 0.01, diff + 0.01], "p_value": 0.001 if beyond else 0.4,
                           "p_adjusted": 0.004 if beyond else 0.8}, "details": {}}


RESULTS = {
    "schema": "synthgap/compare-results/1", "real": {"label": "real_50%", "source": "r.jsonl", "units": 100,
                                                     "unit": "turn"},
    "synthetic": [{"label": "syn_1&co", "source": "s.jsonl", "units": 90}],
    "metrics": [metric("frechet", "embedding", 0.25, 0.05, [0.2, 0.3], [0.03, 0.07], 5.0, True),
                metric("question", "style", 0.02, 0.019, [0.0, 0.05], [0.0, 0.04], 1.05, False),
                metric("extraction_f1", "extraction", -0.4, -0.01, [-0.5, -0.3], [-0.05, 0.02], 40.0, True),
                dict(metric("extraction_overgeneralization_rate", "extraction", 0.3, 0.1, [-0.1, 0.6], [-0.2, 0.3],
                            3.0, False), difference={"value": 0.2, "ci95": [0.01, 0.39], "p_value": 0.02,
                                                     "p_adjusted": 0.08})],
    "extraction": {"config": {"extractor": "rules"}, "corpora": {
        "real_50%": {"users": 10, "statistics": {"f1": {"value": 0.01, "ci95": [0, 0.02]}}},
        "syn_1&co": {"users": 12, "statistics": {"f1": {"value": 0.41, "ci95": [0.3, 0.5]}}}}},
    "notes": ["a note"],
}


def test_numbers_and_verdicts():
    assert fmt(0.12345) == "0.123" and fmt(12.345) == "12.3" and fmt(1234.5) == "1,234" and fmt(None) == "–"
    assert verdict(RESULTS["metrics"][0]) == "beyond real-vs-real variation"
    assert verdict(RESULTS["metrics"][1]) == "within real-vs-real variation"
    assert verdict(RESULTS["metrics"][3]) == "larger than real-vs-real, not significant after correction"
    negative = dict(RESULTS["metrics"][1], difference={"value": -0.01, "p_adjusted": 1.0})
    assert verdict(negative) == "within real-vs-real variation"
    few = dict(RESULTS["metrics"][0], status="too few items (m = 40; needs >= 100)", beyond_baseline=None)
    assert verdict(few) == "too few items (m = 40; needs >= 100)"
    assert verdict({"real_vs_synthetic": 0.1, "real_vs_real": None, "beyond_baseline": None}) == \
        "no baseline to compare"
    row = rows(RESULTS)[0]
    assert row.m == "100" and row.authors == "40/41/12" and row.p == "0.004" and row.difference.startswith("0.200")
    fams = [r.family for r in rows(RESULTS)]
    assert fams == ["embedding", "style", "extraction", "overgeneralization"]  # family order, overgen its own


def test_markdown_has_the_summary_and_one_section_per_family():
    text = markdown.render(RESULTS, {"argv": ["compare", "--real", "r.jsonl"], "created": "now",
                                     "versions": {"synthgap": "0.1.0"}, "fingerprint": "abc"})
    summary = text.split("## Summary")[1].split("\n## ")[0]
    assert summary.count("| syn_1&co |") == 4
    for title in ("## Embedding distribution", "## Style", "## Attribute extraction", "## Overgeneralization",
                  "## Notes", "## Provenance"):
        assert title in text
    assert "0.410 [0.300, 0.500]" in text and "`compare --real r.jsonl`" in text


def test_latex_tables_escape_and_are_booktabs():
    tables = latex.tables(RESULTS)
    assert set(tables) == {"embedding.tex", "style.tex", "extraction.tex", "overgeneralization.tex"}
    tex = tables["embedding.tex"]
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"syn\_1\&co" in tex and r"real\_50\%" in tex and "&co" not in tex.replace(r"\&co", "")
    assert r"\label{tab:synthgap-embedding}" in tex and r"\caption{" in tex
    assert latex.escape("a_b%c$d#e{f}g~h^i\\j") == \
        r"a\_b\%c\$d\#e\{f\}g\textasciitilde{}h\textasciicircum{}i\textbackslash{}j"


def test_latex_tables_compile(tmp_path):
    engine = shutil.which("pdflatex") or shutil.which("lualatex") or shutil.which("xelatex")
    if engine is None:
        pytest.skip("no LaTeX engine (pdflatex, lualatex or xelatex) on this machine")
    for name, text in latex.tables(RESULTS).items():
        (tmp_path / name).write_text(text)
    doc = tmp_path / "doc.tex"
    doc.write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage[T1]{fontenc}\n"
                   "\\begin{document}\n" + "".join(f"\\input{{{n}}}\n" for n in latex.tables(RESULTS)) +
                   "\\end{document}\n")
    done = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]


def test_report_cli_from_a_real_comparison(tmp_path, corpora):
    from synthgap.cli import cli

    runner = CliRunner()
    out = tmp_path / "cmp"
    result = runner.invoke(cli, ["compare", "--real", str(corpora / "convai2_wild_intermediate.json"),
                                 "--synthetic", str(corpora / "synthetic_persona_chat_valid.csv"), "--metrics",
                                 "style", "--sample", "60", "--bootstrap", "30", "--cache-dir", str(tmp_path / "c"),
                                 "-o", str(out), "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["report", str(out / "results.json"), "-o", str(tmp_path / "rep")],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = (tmp_path / "rep" / "report.md").read_text()
    n = len(json.loads((out / "results.json").read_text())["metrics"])
    assert text.split("## Summary")[1].split("\n## ")[0].count("\n| ") == n + 2  # header, rule, one row per metric
    assert (tmp_path / "rep" / "tables" / "style.tex").exists() and "## Provenance" in text
    bad = tmp_path / "x.json"
    bad.write_text("[1, 2]")
    result = runner.invoke(cli, ["report", str(bad), "-o", str(tmp_path / "r2")])
    assert result.exit_code == 1 and "x.json" in result.output and "no metrics" in result.output
