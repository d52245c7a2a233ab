"""The topic decomposition (`compare --by-topic`, results["topics"]) in every report format: the "Topic decomposition"
section (method, topic mix, topic metrics, explained shares, coverage, per-topic gaps), its LaTeX tables, the two
figures, and reports without it unchanged. Built on a hand-made results.json that follows the schema exactly."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess

import pytest

from synthgap.reports import figures, html, latex, markdown
from synthgap.reports.summary import FAMILY_ORDER, FAMILY_TITLES, families, fmt, topic_blocks

REAL, SYN, CROSS = "real_50%", "syn_a&b", "wild_chat"
NO_GAP = "no raw gap to explain: real vs synthetic is within real vs real"
FEW = "too few units on one side (4 < 20)"
# keywords with LaTeX specials: escaped in every table, the label used as it is everywhere else
TOPICS = [{"id": 0, "keywords": ["dog", "cat", "walk", "vet", "puppy", "leash", "park", "food"],
           "label": "dog, cat, walk"},
          {"id": 1, "keywords": ["c_sharp", "r&d", "100%", "code"], "label": "c_sharp, r&d, 100%"},
          {"id": 2, "keywords": ["recipe", "oven", "bake"], "label": "recipe, oven, bake"},
          {"id": 3, "keywords": ["tax", "refund", "irs"], "label": "tax, refund, irs"}]
REAL_SHARES = [0.4, 0.3, 0.2, 0.1]


def metric(name, family, synthetic, value, base, beyond, role="synthetic"):
    diff = value - base
    return {"name": name, "family": family, "synthetic": synthetic, "role": role, "goal": "lower",
            "range": [0, None], "ideal": None, "real_vs_synthetic": value, "ci95": [value - 0.01, value + 0.01],
            "real_vs_real": base, "real_vs_real_ci95": [max(0.0, base - 0.01), base + 0.01],
            "ratio_to_baseline": value / base if base else None, "beyond_baseline": beyond, "m": 200,
            "authors": {"real_a": 40, "real_b": 41, "synthetic": 30}, "status": None,
            "difference": {"value": diff, "ci95": [diff - 0.005, diff + 0.005], "p_value": 0.001 if beyond else 0.4,
                           "p_adjusted": 0.003 if beyond else 0.8}, "details": {}}


def mix(shares, n_syn, flags, cis):
    topics = []
    for t, real, syn, flag, ci in zip(TOPICS, REAL_SHARES, shares, flags, cis):
        topics.append({"id": t["id"], "label": t["label"], "real_share": real, "synthetic_share": syn,
                       "difference": round(syn - real, 6), "ci95": ci, "flag": flag})
    return {"n_real": 500, "n_synthetic": n_syn, "real": REAL_SHARES, "synthetic": shares, "topics": topics}


def explained(metric_, family, raw, within, share, ci, why=None):
    return {"metric": metric_, "family": family, "raw_gap": raw, "within_gap": within, "share": share, "ci95": ci,
            "why": why}


def per_topic(topic, n, gaps, why=None):
    sizes = dict(zip(("real_a", "real_b", "synthetic"), n))
    if why is None:
        sizes["per_side"] = min(n)  # the units per side the gaps are computed at
    return {"topic": topic, "label": TOPICS[topic]["label"], "n": sizes, "gaps": gaps, "why": why}


def make_results() -> dict:
    syn = {"role": "synthetic",
           # topic 3 absent on the synthetic side, topic 1 over-represented
           "mix": mix([0.2, 0.6, 0.2, 0.0], 400, [None, "over", None, "under"],
                      [[-0.3, -0.1], [0.2, 0.4], [-0.05, 0.05], [-0.13, -0.07]]),
           "coverage": 0.9,
           "matched": {"per_side": 120, "topics_used": 3, "residual_tv": 0.012, "why": None},
           "explained": [explained("kid", "embedding", 0.05, 0.02, 0.6, [0.4, 0.8]),
                         explained("c2st_auc", "embedding", 0.2, 0.15, 0.25, [0.1, 0.4]),
                         explained("length", "style", 0.0004, None, None, None, NO_GAP)],
           "per_topic": [per_topic(0, (80, 80, 40), {"kid": 0.03, "c2st_auc": 0.12, "length": 0.01}),
                         per_topic(1, (60, 60, 120), {"kid": 0.07, "c2st_auc": -0.02, "length": 0.0}),
                         per_topic(2, (40, 40, 4), {"kid": None, "c2st_auc": None, "length": None}, FEW)]}
    cross = {"role": "cross-real",
             "mix": mix([0.35, 0.3, 0.2, 0.15], 450, [None, None, None, None],
                        [[-0.1, 0.0], [-0.05, 0.05], [-0.05, 0.05], [0.0, 0.1]]),
             "coverage": 1.0,
             "matched": {"per_side": 150, "topics_used": 4, "residual_tv": 0.004, "why": None},
             "explained": [explained("kid", "embedding", 0.01, 0.008, 0.2, [-0.3, 0.6]),
                           explained("c2st_auc", "embedding", None, None, None, None, NO_GAP),
                           explained("length", "style", 0.02, 0.021, -0.05, [-0.4, 0.3])],
             "per_topic": [per_topic(0, (80, 80, 70), {"kid": 0.011, "c2st_auc": 0.01, "length": 0.02}),
                           per_topic(3, (20, 20, 30), {"kid": 0.009, "c2st_auc": None, "length": 0.03})]}
    metrics = []
    for label, role, k in ((SYN, "synthetic", 1.0), (CROSS, "cross-real", 0.3)):
        metrics += [metric("kid", "embedding", label, 0.06 * k, 0.01, True, role),
                    metric("length_tokens", "style", label, 0.2 * k, 0.05, False, role),
                    metric("topic_mix_jsd", "topic", label, 0.15 * k, 0.01, k == 1.0, role),
                    metric("kid_within_topic", "topic", label, 0.03 * k, 0.01, k == 1.0, role),
                    metric("c2st_auc_within_topic", "topic", label, 0.65, 0.52, False, role)]
    assignments = {REAL: [0] * 200 + [1] * 150 + [2] * 100 + [3] * 48 + [-1] * 2, SYN: [0] * 80 + [1] * 240 + [2] * 80,
                   CROSS: [0] * 150 + [1] * 130 + [2] * 90 + [3] * 80}
    return {"schema": "synthgap/compare-results/1",
            "real": {"label": REAL, "source": "r.jsonl", "units": 500, "unit": "turn"},
            "synthetic": [{"label": SYN, "source": "s.jsonl", "units": 400, "role": "synthetic"},
                          {"label": CROSS, "source": "w.jsonl", "units": 450, "role": "cross-real"}],
            "metrics": metrics,
            "verdicts": {"correction": "holm", "alpha": 0.05, "tests": 10, "beyond": 4},
            "topics": {"method": {"representation": "sentence embeddings (all-MiniLM-L6-v2)", "clustering": "k-means",
                                  "k": 4, "k_rule": "sqrt(n / 2), capped at 30", "keywords": "c-TF-IDF", "seed": 0,
                                  "fitted_on": 1350, "frames": {REAL: 0, SYN: 3, CROSS: 0}},
                       "topics": TOPICS, "assignments": assignments,
                       "verdicts": {"correction": "holm", "alpha": 0.05, "tests": 6, "beyond": 2},
                       "decomposition": {SYN: syn, CROSS: cross}},
            "notes": []}


def section(text: str, title: str = "Topic decomposition") -> str:
    return text.split(f"\n## {title}\n")[1].split("\n## ")[0]


def table_after(text: str, heading: str) -> list[list[str]]:
    """The rows (cells) of the first Markdown table after `heading`."""
    part = text.split(heading, 1)[1]
    lines = [x for x in part.split("\n\n") if x.startswith("| ")][0].splitlines()
    return [[c.strip() for c in line.strip().strip("|").split(" | ")] for line in lines if not line.startswith("| ---")]


# ---- the section ------------------------------------------------------------------------------------------------


def test_family_order_and_title():
    assert FAMILY_ORDER.index("style") < FAMILY_ORDER.index("topic") < FAMILY_ORDER.index("extraction")
    assert FAMILY_TITLES["topic"] == "Topic decomposition"
    assert families(make_results()) == ["embedding", "style", "topic"]
    results = make_results()
    results["metrics"] = [m for m in results["metrics"] if m["family"] != "topic"]
    assert "topic" in families(results)  # the decomposition alone makes the section


def test_markdown_section_in_order_with_method_and_topic_mix():
    text = markdown.render(make_results())
    assert text.index("## Style") < text.index("## Topic decomposition")
    topic = section(text)
    assert ("Topics: k-means with k = 4 (sqrt(n / 2), capped at 30) on sentence embeddings (all-MiniLM-L6-v2), "
            "fitted on 1350 units (seed 0); keywords by c-TF-IDF.") in topic
    assert ("Units with a topic (those the decomposition draws from): real_50% 498 of 500, syn_a&b 400 of 400, "
            "wild_chat 450 of 450.") in topic
    assert "Recurring frames (a corpus's stock openings) removed before the units were embedded: syn_a&b 3." in topic
    assert "Holm's correction over the topic family only (6 tests, alpha 0.05)" in topic
    rows = table_after(topic, "### Topic mix")
    assert rows[0] == ["topic", "keywords", "real_50% (real, n = 500)", "syn_a&b (synthetic, n = 400)",
                       "wild_chat (cross-real, n = 450)"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "3"]  # most frequent in the real corpus first
    assert rows[2] == ["1", "c_sharp, r&d, 100%", "0.300", "0.600 (over)", "0.300"]
    assert rows[4] == ["3", "tax, refund, irs", "0.100", "0.000 (under)", "0.150"]  # absent on the synthetic side


def test_topic_metrics_use_the_family_table():
    topic = section(markdown.render(make_results()))
    rows = table_after(topic, "### Topic-mix and within-topic metrics")
    assert rows[0][:3] == ["synthetic", "metric", "m"]
    names = [(r[0], r[1]) for r in rows[1:]]
    assert names == [(s, n) for s in (SYN, CROSS) for n in ("topic_mix_jsd", "kid_within_topic",
                                                               "c2st_auc_within_topic")]
    jsd = rows[1]
    assert jsd[4:6] == ["0.150", "[0.140, 0.160]"] and jsd[-1] == "beyond real-vs-real variation"
    summary = markdown.render(make_results()).split("## Summary")[1].split("\n## ")[0]
    assert summary.count("| topic |") == 6  # in the summary too, under their family


def test_explained_shares_side_by_side_with_reasons():
    topic = section(markdown.render(make_results()))
    rows = table_after(topic, "### Share of the gap the topic mix explains")
    assert rows[0] == ["metric", "family", "syn_a&b (synthetic): share explained [95% CI]", "syn_a&b: raw gap",
                       "syn_a&b: within-topic gap", "wild_chat (cross-real): share explained [95% CI]",
                       "wild_chat: raw gap", "wild_chat: within-topic gap"]
    body = {r[0]: r for r in rows[1:]}
    assert list(body) == ["kid", "c2st_auc", "length"]
    assert body["kid"] == ["kid", "embedding", "0.600 [0.400, 0.800]", "0.050", "0.020", "0.200 [-0.300, 0.600]",
                           "0.010", "0.008"]
    assert body["c2st_auc"][5:] == [f"n/a — {NO_GAP}", "n/a", "n/a"]
    assert body["length"][2:5] == [f"n/a — {NO_GAP}", "0.000", "n/a"]  # a raw gap too small to explain
    assert body["length"][5] == "-0.050 [-0.400, 0.300]"


def test_real_mix_of_the_fitted_units_is_the_real_column():
    results = make_results()
    results["topics"]["real_mix"] = [0.1, 0.2, 0.3, 0.4]  # what compare --by-topic writes beside the schema
    rows = table_after(section(markdown.render(results)), "### Topic mix")
    assert rows[0][2] == "real_50% (real, n = 498)"  # the real units with a topic
    assert [(r[0], r[2]) for r in rows[1:]] == [("3", "0.400"), ("2", "0.300"), ("1", "0.200"), ("0", "0.100")]


def test_coverage_and_residual_mix_in_words():
    topic = section(markdown.render(make_results()))
    assert ("syn_a&b (synthetic): 90.0% of real_50%'s units are in topics syn_a&b has at all; the matched "
            "comparison uses 120 units per side from 3 of 4 topics, leaving a topic-mix difference (total variation) "
            "of 0.012.") in topic
    assert "wild_chat (cross-real): 100.0% of real_50%'s units" in topic
    results = make_results()
    results["topics"]["decomposition"][CROSS]["matched"] = {"per_side": 0, "topics_used": 0, "residual_tv": None,
                                                             "why": "no topic has 20 units on every side"}
    topic = section(markdown.render(results))
    assert "matched comparison: n/a — no topic has 20 units on every side." in topic


def test_per_topic_gaps_per_corpus_or_why_absent():
    topic = section(markdown.render(make_results()))
    rows = table_after(topic, "### Per-topic gaps: real_50% (real) vs syn_a&b (synthetic)")
    assert rows[0] == ["topic", "keywords", "n (real A / real B / syn_a&b)", "m", "kid", "c2st_auc", "length",
                       "note"]
    assert rows[1] == ["0", "dog, cat, walk", "80/80/40", "40", "0.030", "0.120", "0.010", ""]
    assert rows[3] == ["2", "recipe, oven, bake", "40/40/4", "–", "n/a", "n/a", "n/a", f"n/a — {FEW}"]
    assert rows[4] == ["all", "all topics (raw gap)", "", "", "0.050", "0.200", "0.000", ""]
    cross = table_after(topic, "### Per-topic gaps: real_50% (real) vs wild_chat (cross-real)")
    assert cross[2] == ["3", "tax, refund, irs", "20/20/30", "20", "0.009", "n/a", "0.030",
                        "n/a — no value for c2st_auc (too few units for the metric, or no estimate)"]
    assert cross[3][4:7] == ["0.010", "n/a", "0.020"]
    results = make_results()
    results["topics"]["decomposition"][CROSS]["per_topic"] = []
    topic = section(markdown.render(results))
    assert ("Per-topic gaps: real_50% (real) vs wild_chat (cross-real): n/a — no topic has enough units on every "
            "side.") in topic
    del results["topics"]["decomposition"][CROSS]["per_topic"]
    assert "vs wild_chat (cross-real): n/a — not computed." in section(markdown.render(results))


def test_every_number_is_formatted_one_way():
    topic = section(markdown.render(make_results()))
    cells = [c for line in topic.splitlines() if line.startswith("| ") and "---" not in line
             for c in line.strip("|").split(" | ")]
    for cell in cells:
        for number in re.findall(r"-?\d+\.\d+", cell):
            assert number == fmt(float(number)), (cell, number)


def test_without_a_decomposition_nothing_changes():
    results = make_results()
    del results["topics"]
    results["metrics"] = [m for m in results["metrics"] if m["family"] != "topic"]
    assert topic_blocks(results) == []
    text = markdown.render(results)
    assert "Topic decomposition" not in text and "topic" not in text.lower().replace("topics", "")
    assert set(latex.tables(results)) == {"embedding.tex", "style.tex"}
    assert [d.name for d in figures.draw(results)] == ["ratios"]
    assert "Topic" not in html.render(results, None, [])


def test_topic_metrics_without_a_decomposition_section_still_render():
    results = make_results()
    del results["topics"]
    topic = section(markdown.render(results))
    assert "| syn_a&b | topic_mix_jsd |" in topic and "Topic mix" not in topic
    assert "topic.tex" in latex.tables(results)
    assert not {"topic_mix", "topic_gaps"} & {d.name for d in figures.draw(results)}


# ---- LaTeX --------------------------------------------------------------------------------------------------------


def test_latex_topic_tables_are_booktabs_and_escaped():
    tex = latex.tables(make_results())["topic.tex"]
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}") == 3
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") == 3
    assert tex.count(r"\toprule") == tex.count(r"\bottomrule") == 3
    assert tex.count(r"\midrule") == 1 + 1 + 2  # the explained shares: one rule above each family's rows
    for label in ("tab:synthgap-topic}", "tab:synthgap-topic-mix}", "tab:synthgap-topic-explained}"):
        assert label in tex
    assert r"c\_sharp, r\&d, 100\%" in tex and "c_sharp" not in tex.replace(r"c\_sharp", "")
    assert r"real\_50\%" in tex and r"syn\_a\&b" in tex
    assert r"the topic family only" in tex  # the family table's caption names its own correction
    explained = tex.split(r"\label{tab:synthgap-topic-mix}")[1]
    assert r"\multicolumn{2}{c}{syn\_a\&b (synthetic)} & \multicolumn{2}{c}{wild\_chat (cross-real)}" in explained
    assert r"\cmidrule(lr){2-3} \cmidrule(lr){4-5}" in explained
    assert "\\midrule\n\\multicolumn{5}{l}{\\emph{embedding}} \\\\\nkid & 0.600 [0.400, 0.800] & 0.050 / 0.020 & " \
        "0.200 [-0.300, 0.600] & 0.010 / 0.008 \\\\\n" in explained
    assert r"c2st\_auc & 0.250 [0.100, 0.400] & 0.200 / 0.150 & n/a --- no raw gap" in explained
    assert "\\multicolumn{5}{l}{\\emph{style}} \\\\\nlength & n/a --- no raw gap" in explained
    for line in tex.splitlines():  # every row has as many cells as its tabular has columns
        if line.endswith(r"\\") and "multicolumn" not in line:
            spec = [t for t in re.findall(r"p\{[^}]*\}|[lrc]", _spec_for(tex, line))]
            assert len(re.split(r"(?<!\\)&", line)) == len(spec), line


def _spec_for(tex: str, line: str) -> str:
    before = tex[:tex.index(line)]
    return re.findall(r"\\begin\{tabular\}\{(.*)\}", before)[-1]


def test_latex_topic_tables_compile(tmp_path):
    engine = shutil.which("pdflatex") or shutil.which("lualatex") or shutil.which("xelatex")
    if engine is None:
        pytest.skip("no LaTeX engine (pdflatex, lualatex or xelatex) on this machine")
    tables = latex.tables(make_results())
    for name, text in tables.items():
        (tmp_path / name).write_text(text)
    doc = tmp_path / "doc.tex"
    doc.write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage[T1]{fontenc}\n"
                   "\\usepackage[utf8]{inputenc}\n\\begin{document}\n" +
                   "".join(f"\\input{{{n}}}\n\\clearpage\n" for n in tables) + "\\end{document}\n")
    done = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]


# ---- figures -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def drawn():
    return {d.name: d for d in figures.draw(make_results())}


def test_both_figures_drawn_in_order(drawn):
    assert list(drawn) == ["ratios", "topic_mix", "topic_gaps"]
    assert all(len(d.caption) > 80 for d in drawn.values())
    assert "raw gap" in drawn["topic_gaps"].caption


def test_topic_mix_bars_are_the_shares(drawn):
    ax = drawn["topic_mix"].figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0: dog, cat, walk", "1: c_sharp, r&d, 100%",
                                                            "2: recipe, oven, bake", "3: tax, refund, irs"]
    widths = {c.get_label(): [p.get_width() for p in c.patches] for c in ax.containers}
    assert widths == {"real_50% (real)": pytest.approx(REAL_SHARES),
                      "syn_a&b (synthetic)": pytest.approx([0.2, 0.6, 0.2, 0.0]),
                      "wild_chat (cross-real)": pytest.approx([0.35, 0.3, 0.2, 0.15])}
    colours = figures.colours(make_results())
    facecolours = {c.get_label(): c.patches[0].get_facecolor() for c in ax.containers}
    from matplotlib.colors import to_rgba
    assert facecolours["syn_a&b (synthetic)"] == to_rgba(colours[SYN])
    assert facecolours["real_50% (real)"] == to_rgba(figures.REAL_COLOUR)
    flags = sorted(line.get_gid() for line in ax.lines if (line.get_gid() or "").startswith("flag-"))
    assert flags == ["flag-over", "flag-under"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "over-represented" in legend and "under-represented" in legend


def test_topic_gaps_heatmap_scaled_by_raw_gap(drawn):
    fig = drawn["topic_gaps"].figure
    syn_ax, cross_ax, colourbar = fig.axes
    assert syn_ax.get_title() == "real_50% (real) vs syn_a&b (synthetic)"
    assert cross_ax.get_title() == "real_50% (real) vs wild_chat (cross-real)"
    # the same columns in both panels; each panel hatches the metric it has no raw gap to explain for
    assert [t.get_text() for t in syn_ax.get_xticklabels()] == ["kid\nraw 0.050", "c2st_auc\nraw 0.200",
                                                                "length\nraw 0.000"]
    assert [t.get_text() for t in cross_ax.get_xticklabels()] == ["kid\nraw 0.010", "c2st_auc\nraw n/a",
                                                                  "length\nraw 0.020"]
    values = syn_ax.collections[0].get_array()
    assert float(values[0, 0]) == pytest.approx(0.03 / 0.05) and float(values[1, 0]) == pytest.approx(1.4)
    assert float(values[0, 1]) == pytest.approx(0.6) and float(values[1, 1]) == pytest.approx(-0.1)
    assert bool(values.mask[2, 0]) and bool(values.mask[2, 1])  # the topic with too few units: no colour
    assert bool(values.mask[0, 2])  # length: no gap beyond real vs real to scale by for syn_a&b
    assert [t.get_text() for t in syn_ax.texts] == ["0.030", "0.120", "0.010", "0.070", "-0.020", "0.000"]
    assert len([p for p in syn_ax.patches if p.get_gid() == "n/a"]) == 3 + 2  # topic 2's row, length on 0 and 1
    assert "raw gap" in colourbar.get_ylabel()
    cross = cross_ax.collections[0].get_array()
    assert float(cross[1, 2]) == pytest.approx(min(0.03 / 0.02, figures.GAP_SCALE))
    assert len([p for p in cross_ax.patches if p.get_gid() == "n/a"]) == 2  # c2st_auc: no raw gap to scale by
    # a metric no corpus has a raw gap to explain for is left out
    results = make_results()
    for e in results["topics"]["decomposition"][SYN]["explained"]:
        if e["metric"] == "c2st_auc":
            e.update(share=None, ci95=None, why=NO_GAP)
    (d,) = [d for d in figures.draw(results) if d.name == "topic_gaps"]
    assert [t.get_text().split("\n")[0] for t in d.figure.axes[0].get_xticklabels()] == ["kid", "length"]
    # no raw gap to explain anywhere: every metric, hatched, the numbers kept
    for c in results["topics"]["decomposition"].values():
        for e in c["explained"]:
            e.update(share=None, ci95=None, why=NO_GAP)
    (d,) = [d for d in figures.draw(results) if d.name == "topic_gaps"]
    cross_ax = d.figure.axes[1]
    assert len(cross_ax.get_xticklabels()) == 3 and len([p for p in cross_ax.patches if p.get_gid() == "n/a"]) == 6
    assert [t.get_text() for t in cross_ax.texts] == ["0.011", "0.010", "0.020", "0.009", "0.030"]


def test_figures_have_deterministic_bytes(tmp_path, drawn):
    again = {d.name: d for d in figures.draw(copy.deepcopy(make_results()))}
    for name in figures.TOPIC_FIGURES:
        first = figures.png(drawn[name])
        assert first == figures.png(again[name]) and first.startswith(b"\x89PNG")
    one = figures.write(make_results(), tmp_path / "one")
    two = figures.write(make_results(), tmp_path / "two")
    assert [p.name for p in one] == [f"{n}.{k}" for n in ("ratios", "topic_mix", "topic_gaps") for k in ("png", "pdf")]
    for a, b in zip(one, two):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_no_topic_figures_without_the_decomposition_or_its_gaps():
    results = make_results()
    for c in results["topics"]["decomposition"].values():
        c["per_topic"] = []
    assert [d.name for d in figures.draw(results)] == ["ratios", "topic_mix"]
    results["topics"]["topics"], results["topics"]["decomposition"] = [], {}
    results["topics"]["assignments"] = {}
    assert [d.name for d in figures.draw(results)] == ["ratios"]


# ---- html and the card ----------------------------------------------------------------------------------------------


def test_html_section_and_figures():
    results = make_results()
    images = [(d.name, d.title, d.caption, figures.png(d)) for d in figures.draw(results)]
    page = html.render(results, None, images)
    assert '<a href="#family-topic">Topic decomposition</a>' in page
    body = page.split('<section id="family-topic"')[1].split("</section>")[0]
    assert body.count("<table") == 5  # mix, topic metrics, explained, two per-topic tables
    assert "c_sharp, r&amp;d, 100%" in body and f"n/a — {NO_GAP}" in body
    assert '<td class="num">0.600 (over)</td>' in body
    assert 'id="fig-topic-mix"' in page and 'id="fig-topic-gaps"' in page
    assert page.index('<section id="family-style"') < page.index('<section id="family-topic"')


def test_card_mentions_the_decomposition(tmp_path):
    from synthgap.reports.card import render_card

    (tmp_path / "personas.jsonl").write_text("{}\n")
    (tmp_path / "results.json").write_text(json.dumps(make_results()))
    card = render_card(tmp_path, {"seed": 0}, [])
    assert "### Topic decomposition" in card
    part = card.split("### Topic decomposition")[1].split("\n## ")[0]
    assert "k = 4" in part and "topic_mix" in part
    assert ("- syn_a&b (synthetic): share of the gap the topic mix explains: kid 0.600 [0.400, 0.800], c2st_auc "
            f"0.250 [0.100, 0.400], length n/a — {NO_GAP}; 90.0% of real_50%'s units") in part
    assert "| syn_a&b | topic_mix_jsd |" in card  # a headline metric
    results = make_results()
    del results["topics"]
    (tmp_path / "results.json").write_text(json.dumps(results))
    assert "Topic decomposition" not in render_card(tmp_path, {"seed": 0}, [])
