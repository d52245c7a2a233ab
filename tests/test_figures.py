"""Figures drawn from a small hand-made results.json: which are drawn, that the files are right and
reproducible, and that the plotted numbers are the results' numbers."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest

from synthgap.reports import figures

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LEVELS = [i / 50 for i in range(51)]


def _metric(name, family, synthetic, value, ci, baseline, baseline_ci, ratio, goal="lower", rng=(0.0, 1.0),
            ideal=None):
    return {"name": name, "family": family, "synthetic": synthetic, "goal": goal, "range": list(rng),
            "ideal": ideal, "real_vs_synthetic": value, "ci95": ci, "real_vs_real": baseline,
            "real_vs_real_ci95": baseline_ci, "ratio_to_baseline": ratio, "beyond_baseline": None}


def _numeric(lo, hi, mean):
    return {"kind": "numeric", "description": "x", "mean": mean,
            "quantiles": [lo + (hi - lo) * p ** 2 for p in LEVELS]}


def _binary(rate):
    return {"kind": "binary", "description": "x", "mean": rate}


def make_results() -> dict:
    """Two synthetic corpora (a, b) against real corpus "real", every section present."""
    metrics = []
    for s, k in (("a", 1.0), ("b", 2.0)):
        metrics += [
            _metric("c2st_auc", "embedding", s, 0.5 + 0.2 * k, [0.55, 0.95], 0.55, [0.45, 0.65], 4.0 * k,
                    ideal=0.5),
            _metric("prdc_recall", "embedding", s, 0.6, [0.5, 0.7], 0.9, [0.85, 0.95], 4.0, goal="higher"),
            _metric("length_tokens", "style", s, 0.3 * k, [0.2, 0.4], 0.1, [0.0, 0.2], 3.0 * k),
            _metric("politeness", "style", s, 0.0, [0.0, 0.01], 0.0, [0.0, 0.01], None),
            _metric("extraction_overgeneralization_rate", "extraction", s, 0.02, [-0.01, 0.05], 0.04, [0.0, 0.1],
                    0.5, rng=(None, None), ideal=0.0),
            _metric("extraction_supported_share", "extraction", s, 0.4, [0.3, 0.5], -0.05, [-0.1, 0.0], 8.0,
                    rng=(None, None), ideal=0.0),
        ]
    real_style = {"length_tokens": _numeric(1, 600, 40), "oov_rate": _numeric(0, 0.5, 0.03),
                  "question": _binary(0.25), "greeting": _binary(0.02)}
    style = {s: {"real": real_style, "synthetic": {"length_tokens": _numeric(5, 50 * k, 16),
                                                   "oov_rate": _numeric(0, 0.3, 0.05),
                                                   "question": _binary(0.4 * k), "greeting": _binary(0.05)}}
             for s, k in (("a", 1), ("b", 2))}
    projection = {s: {"method": "pca", "explained_variance_ratio": [0.04, 0.03],
                      "real": [[0.1 * i, -0.05 * i] for i in range(10)],
                      "synthetic": [[k - 0.1 * i, 0.02 * i] for i in range(10)]} for s, k in (("a", 1), ("b", 2))}

    def corpus(rate, ci, by_category=None, supported=0.9):
        out = {"users": 20, "attributes": 30,
               "statistics": {"overgeneralization_rate": {"value": rate, "ci95": ci},
                              "supported_share": {"value": supported,
                                                  "ci95": [supported - 0.1, min(1.0, supported + 0.1)]},
                              "f1": {"value": None, "ci95": None, "why": "no gold in this corpus"}}}
        if by_category is not None:
            out["match"] = {"overall": {"f1": 0.6}, "by_category": by_category}
        return out

    extraction = {"config": {"extractor": "rules"}, "corpora": {
        "a": corpus(0.01, [0.0, 0.03], {"demographics": {"precision": 1.0, "recall": 0.5, "f1": 0.667},
                                        "constraints": {"precision": 0.5, "recall": 0.5, "f1": 0.5}}),
        "real": corpus(0.03, [0.0, 0.09], supported=0.7),
        "b": corpus(0.0, [0.0, 0.0], {"demographics": {"precision": 0.8, "recall": 0.6, "f1": 0.686},
                                      "health_body": {"precision": 0.2, "recall": 0.4, "f1": 0.267}}),
    }}
    return {"schema": "synthgap/compare-results/1", "real": {"label": "real"},
            "synthetic": [{"label": "a"}, {"label": "b"}], "metrics": metrics,
            "distributions": {"quantile_levels": LEVELS, "projection": projection, "style": style,
                              "sensitivity": {s: {"sizes": [25, 50, 100], "metrics": {
                                  "kid": {"gap": [0.03 * k, 0.025 * k, 0.02 * k], "baseline": [0.001, 0.0, -0.001]},
                                  "c2st_auc": {"gap": [0.7, 0.75, 0.8], "baseline": [0.5, 0.49, 0.5]}}}
                                  for s, k in (("a", 1), ("b", 2))}},
            "extraction": extraction}


@pytest.fixture(scope="module")
def drawn():
    return {d.name: d for d in figures.draw(make_results())}


def test_draw_gives_every_figure_in_order_with_title_and_caption(drawn):
    assert list(drawn) == list(figures.FIGURES)
    assert all(d.title and len(d.caption) > 40 for d in drawn.values())


@pytest.mark.parametrize("drop, expected", [
    (("distributions", "extraction"), ["ratios"]),
    (("metrics", "extraction"), ["projection", "style", "sensitivity"]),
    (("metrics", "distributions"), ["extraction_f1", "overgeneralization"]),
    (("metrics", "distributions", "extraction"), []),
])
def test_figures_without_data_are_left_out(drop, expected):
    results = make_results()
    for key in drop:
        del results[key]
    assert [d.name for d in figures.draw(results)] == expected


def test_partial_sections_are_left_out():
    results = make_results()
    del results["distributions"]["style"]
    for c in results["extraction"]["corpora"].values():
        c.pop("match", None)
    del results["distributions"]["sensitivity"]
    for m in results["metrics"]:
        m["ratio_to_baseline"] = None
    assert [d.name for d in figures.draw(results)] == ["projection", "overgeneralization"]


def test_write_png_and_pdf_reproducibly(tmp_path, drawn):
    from matplotlib.image import imread

    results = make_results()
    first = figures.write(results, tmp_path / "one" / "figs")
    second = figures.write(copy.deepcopy(results), tmp_path / "two")
    assert [p.name for p in first] == [f"{n}.{k}" for n in figures.FIGURES for k in ("png", "pdf")]
    for path, again in zip(first, second):
        data = path.read_bytes()
        assert data == again.read_bytes(), path.name
        if path.suffix == ".png":
            assert data.startswith(PNG_SIGNATURE) and b"Software" not in data
            width, height = drawn[path.stem].figure.get_size_inches() * figures.DPI
            assert imread(path).shape[:2] == (round(height), round(width))
            assert figures.png(drawn[path.stem]) == data
        else:
            assert data.startswith(b"%PDF") and b"CreationDate" not in data and b"Matplotlib" not in data


def test_ratio_interval_hand_cases():
    lower = _metric("m", "style", "a", 0.3, [0.2, 0.4], 0.1, [0.0, 0.2], 3.0)
    assert figures.ratio_interval(lower) == pytest.approx((2.0, 4.0))
    assert figures.baseline_band(lower) == pytest.approx((0.0, 2.0))
    straddle = _metric("c2st_auc", "embedding", "a", 0.55, [0.45, 0.7], 0.6, [0.55, 0.65], 0.5, ideal=0.5)
    assert figures.ratio_interval(straddle) == pytest.approx((0.0, 2.0))
    assert figures.baseline_band(straddle) == pytest.approx((0.5, 1.5))
    higher = _metric("prdc_recall", "embedding", "a", 0.6, [0.5, 0.7], 0.9, [0.85, 0.95], 4.0, goal="higher")
    assert figures.ratio_interval(higher) == pytest.approx((3.0, 5.0))
    assert figures.baseline_band(higher) == pytest.approx((0.5, 1.5))
    negative = _metric("extraction_x", "extraction", "a", -30.0, [-34.0, -25.0], -0.5, [-1.0, 0.5], 60.0,
                       rng=(None, None), ideal=0.0)
    assert figures.ratio_interval(negative) == pytest.approx((50.0, 68.0))
    assert figures.baseline_band(negative) == pytest.approx((0.0, 2.0))
    assert figures.ratio_interval(dict(lower, ci95=None)) is None
    assert figures.ratio_interval(dict(lower, real_vs_real=0.0)) is None  # baseline at the best value
    assert figures.ratio_interval(_metric("f", "embedding", "a", 1.0, [0.9, 1.1], 0.5, None, 2.0,
                                          rng=(0.0, None))) == pytest.approx((1.8, 2.2))


def _ratio_axes(results):
    (d,) = [d for d in figures.draw(results) if d.name == "ratios"]
    return d.figure.axes[0]


def test_ratio_points_are_the_ratios_on_their_rows():
    results = make_results()
    results["metrics"][0]["ratio_to_baseline"] = 5000.0  # a's c2st_auc: clipped and labelled
    ax = _ratio_axes(results)
    rows = [t.get_text() for t in ax.get_yticklabels()]
    # family order, metrics without a ratio left out, overgeneralization in its own family after extraction
    assert rows == ["c2st_auc", "prdc_recall", "length_tokens", "extraction_supported_share",
                    "extraction_overgeneralization_rate"]
    assert ax.get_xscale() == "log"
    expected = {(m["synthetic"], m["name"]): m["ratio_to_baseline"] for m in results["metrics"]
                if m["ratio_to_baseline"] is not None}
    seen = {}
    for line in ax.lines:
        if line.get_label() in ("a", "b"):
            for x, y in zip(line.get_xdata(), line.get_ydata()):
                seen[(line.get_label(), rows[round(y)])] = x
    assert seen.keys() == expected.keys()
    for key, x in seen.items():
        assert x == pytest.approx(min(expected[key], figures.RATIO_CLIP[1])), key
    assert "5,000" in [t.get_text() for t in ax.texts]
    assert any(line.get_xdata()[0] == 1.0 == line.get_xdata()[1] for line in ax.lines)  # the line at 1


def test_ratio_interval_lines_match_ratio_interval():
    results = make_results()
    ax = _ratio_axes(results)
    segments = sorted(tuple(line.get_xdata()) for line in ax.lines if line.get_gid() == "interval")
    low, high = figures.RATIO_CLIP
    expected = sorted(tuple(min(max(v, low), high) for v in figures.ratio_interval(m)) for m in results["metrics"]
                      if m["ratio_to_baseline"] is not None)
    assert len(segments) == len(expected) == 10
    assert [v for seg in segments for v in seg] == pytest.approx([v for seg in expected for v in seg])


def test_extraction_f1_bars_are_the_f1_values(drawn):
    ax = drawn["extraction_f1"].figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["demographics", "constraints", "health body"]
    heights = {c.get_label(): [p.get_height() for p in c.patches] for c in ax.containers}
    assert heights == {"a": pytest.approx([0.667, 0.5, 0.0]), "b": pytest.approx([0.686, 0.0, 0.267])}


def test_overgeneralization_real_first_with_intervals(drawn):
    supported, overgen = drawn["overgeneralization"].figure.axes
    assert [ax.get_title() for ax in (supported, overgen)] == ["supported share", "overgeneralization rate"]
    for ax, heights, caps in ((supported, [0.7, 0.9, 0.9], [0.6, 0.8, 0.8, 1.0, 0.8, 1.0]),
                              (overgen, [0.03, 0.01, 0.0], [0.0, 0.09, 0.0, 0.03, 0.0, 0.0])):
        assert [t.get_text() for t in ax.get_xticklabels()] == ["real", "a", "b"]
        assert [p.get_height() for p in ax.patches] == pytest.approx(heights)
        assert len({p.get_facecolor() for p in ax.patches}) == 3
        (bars,) = [c for c in ax.containers if type(c).__name__ == "BarContainer"]
        segments = bars.errorbar.lines[2][0].get_segments()
        assert [y for s in segments for y in (s[0][1], s[1][1])] == pytest.approx(caps)
        assert [t.get_text() for t in ax.texts] == [figures.fmt(h) for h in heights]


def test_overgeneralization_marks_a_corpus_without_a_value():
    results = make_results()
    results["extraction"]["corpora"]["b"]["statistics"]["overgeneralization_rate"] = {
        "value": None, "ci95": None, "why": "no attribute the verifier answered"}
    (d,) = [d for d in figures.draw(results) if d.name == "overgeneralization"]
    ax = d.figure.axes[1]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["real", "a", "b"]  # kept in its place
    assert [t.get_text() for t in ax.texts] == ["0.030", "0.010", "n/a"]


def test_style_uses_log_x_only_for_features_spanning_magnitudes(drawn):
    axes = {ax.get_title(): ax for ax in drawn["style"].figure.axes}
    assert axes["length tokens"].get_xscale() == "log"
    assert axes["oov rate"].get_xscale() == "linear"
    real, a, b = axes["length tokens"].lines
    assert list(real.get_ydata()) == LEVELS and real.get_xdata()[-1] == 600
    assert real.get_color() == figures.REAL_COLOUR and a.get_color() != b.get_color()
    bars = {c.get_label(): [p.get_height() for p in c.patches] for c in axes[""].containers}
    assert bars == {"real": pytest.approx([0.25, 0.02]), "a": pytest.approx([0.4, 0.05]),
                    "b": pytest.approx([0.8, 0.05])}


def test_importing_figures_does_not_import_matplotlib():
    code = "import sys, synthgap.reports.figures; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
