"""Reports rendered from results.json: Markdown summary and sections, booktabs tables, the report CLI."""

from __future__ import annotations

import copy
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


def stat(value, lo=None, hi=None, why=None):
    if value is None:
        return {"value": None, "ci95": None, "why": why}
    return {"value": value, "ci95": [lo, hi]}


GROUPS = {"verified": ["supported_share", "overgeneralization_rate", "unsupported_rate"],
          "gold": ["precision", "recall", "f1", "recall_stated", "f1_stated"],
          "descriptors": ["attributes_per_1k_tokens", "single_turn_share", "hedged_share"]}
NO_GOLD = "no gold in this corpus"


def corpus(users, attributes, gold, supported, overgen, f1=None, rates=None):
    """One corpus of results["extraction"]["corpora"] in the schema `compare --extraction` writes."""
    stats = {"supported_share": stat(supported, supported - 0.1, min(1.0, supported + 0.1)),
             "overgeneralization_rate": stat(overgen, 0.0, overgen + 0.05),
             "unsupported_rate": stat(round(1 - supported - overgen, 3), 0.0, 0.2),
             "attributes_per_1k_tokens": stat(3.0, 2.0, 4.0), "single_turn_share": stat(1.0, 1.0, 1.0),
             "hedged_share": stat(0.05, 0.0, 0.1)}
    for key in GROUPS["gold"]:
        stats[key] = stat(f1, f1 - 0.1, f1 + 0.1) if gold else stat(None, why=NO_GOLD)
    out = {"users": users, "attributes": attributes, "user_tokens": 1000 * users, "gold": gold, "statistics": stats,
           "groups": GROUPS,
           "verifier": {"answered": attributes, "unanswered": 0, "overgeneralized_scope": {"one-off": 2},
                        "by_history": {"conversations": {
                            b: {"users": 5, "attributes": 7, "supported_share": 0.8, "overgeneralization_rate": r,
                                "unsupported_rate": 0.0} for b, r in (rates or {"1": overgen}).items()}}}}
    if gold:
        out["gold_provenance"] = {"disclosed": {"gold": 50, "stated": 20}}
    return out


def extraction_metric(key, value, base, beyond, kind, label="syn_1&co", **details):
    m = metric(f"extraction_{key}", "extraction", value, base, [value - 0.05, value + 0.05], [base - 0.05, base + 0.05],
               3.0, beyond, label)
    m["ideal"], m["range"] = 0.0, [None, None]
    m["details"] = {"kind": kind, **details}
    return m


RESULTS = {
    "schema": "synthgap/compare-results/1", "real": {"label": "real_50%", "source": "r.jsonl", "units": 100,
                                                     "unit": "turn"},
    "synthetic": [{"label": "syn_1&co", "source": "s.jsonl", "units": 90}],
    "metrics": [metric("frechet", "embedding", 0.25, 0.05, [0.2, 0.3], [0.03, 0.07], 5.0, True),
                metric("question", "style", 0.02, 0.019, [0.0, 0.05], [0.0, 0.04], 1.05, False),
                extraction_metric("supported_share", 0.21, 0.01, True, "verifier", real=0.88, synthetic=0.67),
                dict(extraction_metric("overgeneralization_rate", 0.3, 0.1, False, "verifier", real=0.4,
                                       synthetic=0.1),
                     difference={"value": 0.2, "ci95": [0.01, 0.39], "p_value": 0.02, "p_adjusted": 0.08}),
                extraction_metric("unsupported_rate", -0.18, 0.02, True, "verifier"),
                extraction_metric("attributes_per_1k_tokens", 1.3, -4.7, False, "descriptor"),
                extraction_metric("overgeneralization_rate_matched", -0.13, 0.05, False, "verifier",
                                  matched_on="conversations x user turns", bins=["2-3 conv / 6-10 turns"],
                                  real_share_in_common_bins=0.04)],
    "extraction": {"config": {"extractor": "rules", "verifier": "trained"},
                   "verifier": {"verifier": "trained", "trained_on": {
                       "claims": 701, "labels": {"supported": 351, "overgeneralized": 230, "unsupported": 120},
                       "source": "constructed claims of 60 template personas (seed 0)"}},
                   "corpora": {"real_50%": corpus(10, 43, False, 0.88, 0.4, rates={"1": 0.15, "4+": 0.0}),
                               "syn_1&co": corpus(12, 164, True, 0.67, 0.1, f1=0.41, rates={"2-3": 0.1})},
                   "matched_history": {"syn_1&co": {"matched": True}}},
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
    assert fams == ["embedding", "style", "extraction", "extraction", "extraction", "overgeneralization",
                    "overgeneralization"]  # family order, overgeneralization its own section


def test_markdown_has_the_summary_and_one_section_per_family():
    text = markdown.render(RESULTS, {"argv": ["compare", "--real", "r.jsonl"], "created": "now",
                                     "versions": {"synthgap": "0.1.0"}, "fingerprint": "abc"})
    summary = text.split("## Summary")[1].split("\n## ")[0]
    assert summary.count("| syn_1&co |") == len(RESULTS["metrics"])
    for title in ("## Embedding distribution", "## Style", "## Attribute extraction", "## Overgeneralization",
                  "## Notes", "## Provenance"):
        assert title in text
    assert "0.410 [0.310, 0.510]" in text and "`compare --real r.jsonl`" in text


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


# --- extraction judged by the verifier: every statistic shown, n/a with its reason --------------------------------

ALL_STATS = ["supported share", "unsupported rate", "precision vs gold", "recall vs gold", "F1 vs gold",
             "recall vs stated gold", "F1 vs stated gold", "attributes per 1k user tokens",
             "single-turn evidence share",
             "hedged share"]


def _section(text, title):
    return text.split(f"\n## {title}\n")[1].split("\n## ")[0]


def _row(text, label):
    (line,) = [x for x in text.splitlines() if x.startswith(f"| {label} |")]
    return [c.strip() for c in line.strip("|").split(" | ")]


def test_extraction_section_shows_every_statistic_real_vs_synthetic():
    text = markdown.render(RESULTS)
    extraction = _section(text, "Attribute extraction")
    assert "### real_50% (real) vs syn_1&co (synthetic)" in extraction
    assert "real_50% (10 users, 43 attributes) | syn_1&co (12 users, 164 attributes)" in extraction
    assert "never sees which extractor made a claim" in extraction and "trained on 701 claims" in extraction
    for label in ALL_STATS:  # the real corpus has no gold: its gold rows are kept, as n/a with the reason
        assert len([x for x in extraction.splitlines() if x.startswith(f"| {label} |")]) == 1, label
    f1 = _row(extraction, "F1 vs gold")
    assert f1[1] == "gold" and f1[2] == "n/a — no gold in this corpus" and f1[3] == "0.410 [0.310, 0.510]"
    assert f1[-1] == "n/a — real_50%: no gold in this corpus"
    supported = _row(extraction, "supported share")
    assert supported[2:4] == ["0.880 [0.780, 0.980]", "0.670 [0.570, 0.770]"]
    assert supported[4:6] == ["0.210", "[0.160, 0.260]"]
    assert supported[-2:] == ["0.004", "beyond real-vs-real variation"]
    assert _row(extraction, "attributes per 1k user tokens")[1] == "descriptor (not difficulty)"
    # gold provenance per corpus, a corpus without gold says so
    assert "| real_50% | n/a — no gold in this corpus | n/a | n/a | n/a |" in extraction
    assert "| syn_1&co | disclosed | 50 | 20 | 40.0% |" in extraction
    assert not [x for x in extraction.splitlines() if x.startswith("| overgeneralization")]  # its own section


def test_overgeneralization_section_with_matched_history_and_history_bins():
    text = markdown.render(RESULTS)
    over = _section(text, "Overgeneralization")
    rate = _row(over, "overgeneralization rate")
    assert rate[2:4] == ["0.400 [0.000, 0.450]", "0.100 [0.000, 0.150]"]
    assert rate[-1] == "larger than real-vs-real, not significant after correction"
    matched = _row(over, "overgeneralization rate, matched history")
    assert matched[3] == "on conversations x user turns: 2-3 conv / 6-10 turns" and "4.0%" in matched[2]
    assert "| conversations | real_50% | syn_1&co |" in over
    assert "| 1 | 0.150 (7 attributes, 5 users) | n/a — no user with this history |" in over
    assert "| 2-3 | n/a — no user with this history | 0.100 (7 attributes, 5 users) |" in over
    assert "real_50%: one-off 2; syn_1&co: one-off 2" in over
    # the matched comparison could not be made: the row stays, with the reason, in the table and the text
    results = copy.deepcopy(RESULTS)
    why = "the two corpora share no history size (conversations or user turns) with answered attributes"
    results["extraction"]["matched_history"]["syn_1&co"] = {"why": why}
    results["metrics"] = [m for m in results["metrics"] if not m["name"].endswith("_matched")]
    over = _section(markdown.render(results), "Overgeneralization")
    matched = _row(over, "overgeneralization rate, matched history")
    assert matched[2] == matched[3] == matched[-1] == f"n/a — {why}"
    assert f"Matched history (real_50% vs syn_1&co): n/a — {why}." in over


def test_an_unmeasured_statistic_is_shown_not_dropped():
    results = copy.deepcopy(RESULTS)
    del results["extraction"]["corpora"]["syn_1&co"]["statistics"]["hedged_share"]
    results["extraction"]["corpora"]["syn_1&co"]["statistics"]["recall_stated"] = stat(
        None, why="no gold attribute is stated in the users' turns")
    extraction = _section(markdown.render(results), "Attribute extraction")
    assert _row(extraction, "hedged share")[3] == "n/a — not measured"
    row = _row(extraction, "recall vs stated gold")
    assert row[3] == "n/a — no gold attribute is stated in the users' turns"
    assert row[-1] == ("n/a — real_50%: no gold in this corpus; syn_1&co: no gold attribute is stated in the "
                       "users' turns")


def test_latex_extraction_tables_keep_missing_rows():
    tables = latex.tables(RESULTS)
    tex = tables["extraction.tex"]
    assert tex.count(r"\begin{table}") == 2  # real vs syn_1&co, gold provenance
    assert r"F1 vs gold & n/a --- no gold in this corpus & 0.410 [0.310, 0.510]" in tex
    assert r"\emph{descriptor (not difficulty)}" in tex and r"syn\_1\&co (12 users, 164 attributes)" in tex
    over = tables["overgeneralization.tex"]
    assert "overgeneralization rate, matched history" in over and r"n/a --- no user with this history" in over


def test_card_shows_supported_share_overgeneralization_and_gold_rows(tmp_path):
    from synthgap.reports.card import render_card

    (tmp_path / "personas.jsonl").write_text("{}\n")
    (tmp_path / "results.json").write_text(json.dumps(RESULTS))
    card = render_card(tmp_path, {"seed": 0}, [])
    assert "near zero" not in card
    assert "### Attribute extraction, judged by a verifier" in card
    assert ("| statistic | real_50% (10 users, 43 attributes) | syn_1&co (12 users, 164 attributes) | "
            "real − synthetic [95% CI] | p (Holm) | verdict |") in card
    assert ("| supported share | 0.880 [0.780, 0.980] | 0.670 [0.570, 0.770] | 0.210 [0.160, 0.260] | 0.004 | "
            "beyond real-vs-real variation |") in card
    assert ("| overgeneralization rate | 0.400 [0.000, 0.450] | 0.100 [0.000, 0.150] | 0.300 [0.250, 0.350] | 0.080 | "
            "larger than real-vs-real, not significant after correction |") in card
    assert "| overgeneralization rate, matched history | common bins hold 4.0%" in card
    for label in ("recall vs gold", "F1 vs gold", "recall vs stated gold", "F1 vs stated gold"):
        assert (f"| {label} | n/a — no gold in this corpus | 0.410 [0.310, 0.510] | n/a | – | "
                "n/a — real_50%: no gold in this corpus |") in card, label
    assert "real_50%: n/a — no gold in this corpus; syn_1&co: disclosed: 50 gold, 20 stated (40.0%)" in card
    limitation = [x for x in card.splitlines() if x.startswith("- Extraction figures")]
    assert len(limitation) == 1 and "never sees which extractor made a claim" in limitation[0]
    assert "trained verifier (trained on 701 claims" in limitation[0]
