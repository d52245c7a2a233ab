"""Paper figures (PNG and PDF), drawn from results.json alone; a figure whose data is absent is left out.

matplotlib is imported inside the functions so that `synthgap --help` stays fast, and figures are plain
`Figure` objects on the Agg canvas (no pyplot, no GUI backend, nothing global to close)."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .summary import (FAMILY_ORDER, FAMILY_TITLES, explained_entry, family_of, fmt, mix_rows, per_topic_metrics,
                      real_shares, topic_corpora, topic_label, topic_order)

FIGURES = ("projection", "style", "ratios", "sensitivity", "extraction_f1", "overgeneralization")
TOPIC_FIGURES = ("topic_mix", "topic_gaps")  # drawn only from a comparison with --by-topic (results["topics"])
ORDER = FIGURES[:4] + TOPIC_FIGURES + FIGURES[4:]  # the order `draw` gives them in (topics after style, as the report)
GAP_SCALE = 2.0  # the within-topic gap figure's colours run from -2 to 2 times the metric's raw gap
DPI = 150
REAL_COLOUR = "#333333"
# Okabe-Ito, colour-blind safe; synthetic corpora take them in the order results.json lists them.
SYNTHETIC_COLOURS = ("#E69F00", "#0072B2", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442")
RATIO_CLIP = (0.01, 1000.0)  # ratios outside are drawn at the edge and labelled with their value
_RC = {"font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "legend.fontsize": 8, "xtick.labelsize": 7,
       "ytick.labelsize": 7, "svg.hashsalt": "synthgap", "pdf.fonttype": 42, "axes.spines.top": False,
       "axes.spines.right": False}
_PNG_META = {"Software": None}
_PDF_META = {"Creator": None, "Producer": None, "CreationDate": None}


@dataclass
class Drawn:
    name: str       # file stem, e.g. "projection"
    title: str
    caption: str    # what is plotted and how to read it, in words a paper can use
    figure: "matplotlib.figure.Figure"  # noqa: F821 (imported lazily)


def _rc():
    """Our style for one draw or save, without touching the caller's global rcParams."""
    import matplotlib
    return matplotlib.rc_context(_RC)


def _figure(width: float, height: float):
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _real_label(results: dict) -> str:
    return (results.get("real") or {}).get("label", "real")


def colours(results: dict) -> dict[str, str]:
    """One fixed colour per corpus: real always REAL_COLOUR, synthetic ones in results.json order."""
    labels = [s["label"] for s in results.get("synthetic", []) if "label" in s]
    for m in results.get("metrics", []):
        if m.get("synthetic") not in labels:
            labels.append(m["synthetic"])
    for section in ((results.get("distributions") or {}).get("projection") or {},
                    (results.get("distributions") or {}).get("style") or {},
                    (results.get("extraction") or {}).get("corpora") or {},
                    (results.get("topics") or {}).get("decomposition") or {}):
        labels += [x for x in section if x not in labels and x != _real_label(results)]
    out = {label: SYNTHETIC_COLOURS[i % len(SYNTHETIC_COLOURS)] for i, label in enumerate(labels)}
    out[_real_label(results)] = REAL_COLOUR
    return out


def best_value(metric: dict) -> Optional[float]:
    """The metric's best possible value, as `Result._reference`: ideal, else the end of the range the goal points to."""
    if metric.get("ideal") is not None:
        return metric["ideal"]
    lo, hi = metric.get("range") or (None, None)
    return lo if metric.get("goal") == "lower" else hi


def _relative(ci, best: float, base: float) -> tuple[float, float]:
    """An interval's nearest and farthest distance from the best value, in units of the baseline distance."""
    lo, hi = ci
    near = 0.0 if min(lo, hi) <= best <= max(lo, hi) else min(abs(lo - best), abs(hi - best))
    return near / base, max(abs(lo - best), abs(hi - best)) / base


def _base_distance(metric: dict) -> Optional[float]:
    best = best_value(metric)
    if best is None or metric.get("real_vs_real") is None:
        return None
    base = abs(metric["real_vs_real"] - best)
    return base if base > 1e-12 else None


def ratio_interval(metric: dict) -> Optional[tuple[float, float]]:
    """The gap's 95% interval on the ratio scale: its distances to the best value over the baseline's point
    distance (0 at the low end when the interval contains the best value); None without interval or baseline."""
    base = _base_distance(metric)
    if base is None or not metric.get("ci95"):
        return None
    return _relative(metric["ci95"], best_value(metric), base)


def baseline_band(metric: dict) -> Optional[tuple[float, float]]:
    """The baseline's own 95% interval on the same scale (its point is 1 by construction)."""
    base = _base_distance(metric)
    if base is None or not metric.get("real_vs_real_ci95"):
        return None
    return _relative(metric["real_vs_real_ci95"], best_value(metric), base)


# ---- the figures -------------------------------------------------------------------------------------------------


def _projection(results: dict, colour: dict) -> Optional[Drawn]:
    """One PCA scatter per synthetic corpus: does it cover the region of embedding space the real one does?"""
    data = (results.get("distributions") or {}).get("projection") or {}
    data = {k: v for k, v in data.items() if v.get("real") and v.get("synthetic")}
    if not data:
        return None
    real = _real_label(results)
    fig = _figure(3.3 * len(data), 3.4)
    axes = fig.subplots(1, len(data), squeeze=False)[0]
    for ax, (label, p) in zip(axes, data.items()):
        for name, points, c in ((f"{real} (real, half A)", p["real"], colour[real]),
                                (label, p["synthetic"], colour.get(label, SYNTHETIC_COLOURS[0]))):
            xs, ys = zip(*points)
            ax.scatter(xs, ys, s=7, alpha=0.55, color=c, linewidths=0, label=name)
        evr = p.get("explained_variance_ratio") or []
        stem = "PC" if p.get("method", "pca") == "pca" else "component "
        for i, setter in enumerate((ax.set_xlabel, ax.set_ylabel)):
            setter(f"{stem}{i + 1}" + (f" ({100 * evr[i]:.1f}% of variance)" if len(evr) > i else ""))
        ax.set_title(f"{real} vs {label}")
        ax.legend(loc="best", markerscale=1.8, frameon=True, framealpha=0.8, handletextpad=0.2)
    return Drawn("projection", "Embedding projection",
                 f"Sentence embeddings of real ({real}, one author-split half) and synthetic units on the first two "
                 "principal components of each pair, with the share of variance each component explains; "
                 "separate clouds mean the synthetic corpus occupies a different region of embedding space.", fig)


def _log_scale(curves: list[list[float]]) -> bool:
    """Log x for a feature that is positive and spans two orders of magnitude or more (e.g. length in tokens)."""
    values = [v for q in curves for v in q]
    return bool(values) and min(values) > 0 and max(values) / min(values) >= 100


def _style(results: dict, colour: dict) -> Optional[Drawn]:
    """ECDFs of numeric style features and rates of binary ones, real against every synthetic corpus."""
    dist = results.get("distributions") or {}
    style = {k: v for k, v in (dist.get("style") or {}).items() if v.get("real") and v.get("synthetic")}
    if not style:
        return None
    real_label = _real_label(results)
    real = next(iter(style.values()))["real"]
    sides = [(real_label, real)] + [(label, v["synthetic"]) for label, v in style.items()]
    numeric = [f for f, d in real.items() if d.get("kind") == "numeric" and d.get("quantiles")]
    binary = [f for f, d in real.items() if d.get("kind") == "binary" and d.get("mean") is not None]
    cols = min(4, max(1, len(numeric)))
    rows = math.ceil(len(numeric) / cols)
    fig = _figure(1.9 * cols + 0.4 if numeric else 7.0, 1.75 * rows + (2.4 if binary else 0) + 0.35)
    grid = fig.add_gridspec(rows + bool(binary), cols, height_ratios=[1] * rows + ([1.35] if binary else []))
    for i, feature in enumerate(numeric):
        ax = fig.add_subplot(grid[i // cols, i % cols])
        curves = []
        for label, side in sides:
            q = (side.get(feature) or {}).get("quantiles")
            if not q:
                continue
            levels = dist.get("quantile_levels") or [j / (len(q) - 1) for j in range(len(q))]
            ax.plot(q, levels, color=colour.get(label, REAL_COLOUR), lw=1.8 if label == real_label else 1.2,
                    label=label)
            curves.append(q)
        if _log_scale(curves):
            ax.set_xscale("log")
        ax.set_title(feature.replace("_", " "), fontsize=8)
        ax.set_ylim(0, 1.02)
        if i % cols == 0:
            ax.set_ylabel("share ≤ x")
        else:
            ax.tick_params(labelleft=False)
    if binary:
        ax = fig.add_subplot(grid[rows, :])
        width = 0.8 / len(sides)
        for k, (label, side) in enumerate(sides):
            xs = [j + (k - (len(sides) - 1) / 2) * width for j in range(len(binary))]
            rates = [(side.get(f) or {}).get("mean") or 0.0 for f in binary]
            ax.bar(xs, rates, width, color=colour.get(label, REAL_COLOUR), label=label)
        ax.set_xticks(range(len(binary)), [f.replace("_", " ") for f in binary])
        ax.set_ylabel("share of turns")
        ax.set_ylim(0, 1)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncol=len(sides), frameon=False)
    return Drawn("style", "Style feature distributions",
                 "Per-turn style features of the real corpus and each synthetic corpus: for numeric features the "
                 "empirical cumulative distribution (read from 51 quantiles; a curve further right means larger "
                 "values), for binary features the share of turns that have them"
                 + (" (bottom)." if numeric and binary else "."), fig)


def _ratio_rows(results: dict) -> list[tuple[str, str, list[dict]]]:
    """(family, metric name, its results per synthetic corpus) for metrics with a ratio, in report order."""
    order = {f: i for i, f in enumerate(FAMILY_ORDER)}
    names: dict[str, tuple[str, list[dict]]] = {}
    for m in results.get("metrics", []):
        if m.get("ratio_to_baseline") is not None:
            names.setdefault(m["name"], (family_of(m), []))[1].append(m)
    rows = [(family, name, ms) for name, (family, ms) in names.items()]
    return sorted(rows, key=lambda r: order.get(r[0], len(order)))


def _ratios(results: dict, colour: dict) -> Optional[Drawn]:
    """Every gap as a multiple of the real-vs-real baseline, with intervals, on one log axis."""
    rows = _ratio_rows(results)
    if not rows:
        return None
    from matplotlib.patches import Patch
    low, high = RATIO_CLIP
    synthetic = [s for s in colour if s != _real_label(results) and any(m["synthetic"] == s for *_, ms in rows
                                                                      for m in ms)]
    slot = 0.8 / len(synthetic)
    fig = _figure(6.8, 0.9 + 0.19 * len(rows) * max(1.0, len(synthetic) / 1.6))
    ax = fig.add_subplot()
    points = {s: ([], []) for s in synthetic}
    for y, (_, _, ms) in enumerate(rows):
        for m in ms:
            k = synthetic.index(m["synthetic"])
            yy = y + (k - (len(synthetic) - 1) / 2) * slot
            c = colour[m["synthetic"]]
            band = baseline_band(m)
            if band:
                ax.fill_betweenx([yy - slot / 2, yy + slot / 2], max(band[0], low), min(band[1], high),
                                 color="#BBBBBB", alpha=0.45, lw=0, zorder=1)
            interval = ratio_interval(m)
            if interval:
                ax.plot([min(max(interval[0], low), high), max(min(interval[1], high), low)], [yy, yy], color=c,
                        lw=1.3, solid_capstyle="butt", zorder=2, gid="interval")
            r = m["ratio_to_baseline"]
            x = min(max(r, low), high)
            points[m["synthetic"]][0].append(x)
            points[m["synthetic"]][1].append(yy)
            if x != r:
                ax.annotate("0" if r == 0 else fmt(r, 2), (x, yy), xytext=(-4 if r > high else 4, 0),
                            textcoords="offset points", ha="right" if r > high else "left", va="center",
                            fontsize=6, color=c)
    for s, (xs, ys) in points.items():
        ax.plot(xs, ys, ls="none", marker="o", ms=3.8, color=colour[s], label=s, zorder=3)
    ax.axvline(1.0, color="black", lw=0.8, ls="--", zorder=0)
    ax.set_xscale("log")
    ax.set_xlim(low / 1.5, high * 1.5)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_yticks(range(len(rows)), [name for _, name, _ in rows])
    ax.set_xlabel("distance from best value, as a multiple of real vs real (log scale)")
    for y, (family, _, _) in enumerate(rows):
        if y == 0 or rows[y - 1][0] != family:
            if y:
                ax.axhline(y - 0.5, color="#888888", lw=0.6)
            ax.text(1.01, y - 0.4, FAMILY_TITLES.get(family, family), transform=ax.get_yaxis_transform(),
                    ha="left", va="top", fontsize=7, style="italic")
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Patch(color="#BBBBBB", alpha=0.45, label="real vs real 95% CI"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0),
              ncol=len(handles), frameon=False)
    return Drawn("ratios", "Gaps relative to the real-vs-real baseline",
                 "Each metric's real-vs-synthetic distance from its best value divided by the same distance between "
                 "two author-split halves of the real corpus (log scale; dashed line at 1 = as far as real vs real). "
                 "Lines are the gap's 95% bootstrap interval divided by the baseline's point value (0 at the low end "
                 "when it contains the best value); grey bands are the baseline's own 95% interval on that scale; "
                 f"values outside [{fmt(low, 2)}, {fmt(high, 0)}] sit at the edge, labelled.", fig)


def _f1(results: dict, colour: dict) -> Optional[Drawn]:
    """Extraction F1 against gold personas, per attribute category, for corpora that have gold."""
    corpora = {label: c["match"]["by_category"] for label, c in ((results.get("extraction") or {}).get("corpora")
                                                                 or {}).items()
               if (c.get("match") or {}).get("by_category")}
    if not corpora:
        return None
    categories = []
    for cats in corpora.values():
        categories += [c for c in cats if c not in categories]
    fig = _figure(max(4.5, 0.32 * len(categories) * len(corpora) + 1.2), 3.3)
    ax = fig.add_subplot()
    width = 0.8 / len(corpora)
    for k, (label, cats) in enumerate(corpora.items()):
        xs = [j + (k - (len(corpora) - 1) / 2) * width for j in range(len(categories))]
        f1 = [(cats.get(c) or {}).get("f1") for c in categories]
        ax.bar(xs, [v if v is not None else 0.0 for v in f1], width, color=colour.get(label), label=label)
    ax.set_xticks(range(len(categories)), [c.replace("_", " ") for c in categories], rotation=35, ha="right",
                  rotation_mode="anchor")
    ax.set_ylabel("F1 against gold")
    ax.set_ylim(0, 1)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(corpora), frameon=False)
    return Drawn("extraction_f1", "Extraction F1 per attribute category",
                 "F1 of the attributes the extractor finds against the gold persona attributes, per attribute "
                 "category, for each synthetic corpus generated from personas.", fig)


VERIFIER_PANELS = (("supported_share", "supported share"), ("overgeneralization_rate", "overgeneralization rate"))


def _overgeneralization(results: dict, colour: dict) -> Optional[Drawn]:
    """The verifier's supported share and overgeneralization rate of every corpus, real first, each with its
    bootstrap interval; a corpus without a value keeps its place, marked n/a."""
    section = results.get("extraction") or {}
    corpora = section.get("corpora") or {}
    real = _real_label(results)
    labels = sorted(corpora, key=lambda label: label != real)
    stats = {label: (corpora[label].get("statistics") or {}) for label in labels}
    if not any((stats[label].get(key) or {}).get("value") is not None
               for label in labels for key, _ in VERIFIER_PANELS):
        return None
    fig = _figure(max(4.6, 2 * (0.7 * len(labels) + 0.9)), 3.0)
    axes = fig.subplots(1, len(VERIFIER_PANELS), squeeze=False)[0]
    for ax, (key, name) in zip(axes, VERIFIER_PANELS):
        cells = [stats[label].get(key) or {} for label in labels]
        values = [c.get("value") for c in cells]
        drawn = [0.0 if v is None else v for v in values]
        cis = [c.get("ci95") or (v, v) for c, v in zip(cells, drawn)]
        errors = [[max(0.0, v - ci[0]) for v, ci in zip(drawn, cis)],
                  [max(0.0, ci[1] - v) for v, ci in zip(drawn, cis)]]
        tops = [v + e for v, e in zip(drawn, errors[1])]
        top = 1.12 if key == "supported_share" else max(0.05, max(tops) * 1.18)
        ax.bar(range(len(labels)), drawn, 0.6, yerr=errors, capsize=3, color=[colour.get(label) for label in labels],
               alpha=0.6, edgecolor=[colour.get(label) for label in labels], linewidth=1.2, error_kw={"lw": 1})
        for x, (v, t) in enumerate(zip(values, tops)):  # the value, readable even for a zero-height bar
            ax.text(x, t + top * 0.015, "n/a" if v is None else fmt(v), ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(labels)), labels)
        ax.set_title(name)
        ax.set_ylim(0, top)
    axes[0].set_ylabel("share of the verifier's answered attributes")
    return Drawn("overgeneralization", "Verifier: supported share and overgeneralization rate",
                 "Share of the extracted attributes the verifier judges supported by the user's own turns (left; its "
                 "estimate of precision where a corpus has no gold) and overgeneralized, a lasting trait claimed from "
                 "narrow evidence (right), per corpus with 95% bootstrap intervals over users; n/a marks a corpus "
                 "with no answered attribute. The verifier never sees which extractor made a claim.", fig)


def _sensitivity(results: dict, colour: dict) -> Optional[Drawn]:
    """Each headline metric at m/4, m/2 and m: the gap (one line per synthetic corpus, solid) beside the
    real-vs-real baseline (dashed, grey), so a reader sees how far a number still moves with the sample."""
    curves = (results.get("distributions") or {}).get("sensitivity") or {}
    names = []
    for curve in curves.values():
        names += [n for n in curve.get("metrics", {}) if n not in names]
    if not names:
        return None
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    fig = _figure(2.1 * cols + 0.4, 1.9 * rows + 0.5)
    grid = fig.add_gridspec(rows, cols)
    for i, name in enumerate(names):
        ax = fig.add_subplot(grid[i // cols, i % cols])
        for label, curve in curves.items():
            row = curve.get("metrics", {}).get(name)
            if not row:
                continue
            sizes = curve["sizes"]
            ax.plot(sizes, row["gap"], "o-", color=colour.get(label), lw=1.2, ms=3, label=label)
            ax.plot(sizes, row["baseline"], "s--", color=REAL_COLOUR, lw=0.9, ms=2.5, alpha=0.6,
                    label="real vs real" if i == 0 and label == next(iter(curves)) else None)
        ax.set_title(name)
        ax.set_xlabel("m (items per side)")
        ax.set_xscale("log", base=2)
    handles, labels = [], []
    for ax in fig.axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(labels)), frameon=False)
    return Drawn("sensitivity", "Headline metrics by sample size",
                 "Each headline metric at a quarter, half and all of the items per side (m), real vs synthetic "
                 "(solid, per corpus) and real vs real (dashed). A metric still moving between m/2 and m is "
                 "not yet at its large-sample value: compare gaps at the same m only.", fig)


def _short(text: str, width: int = 40) -> str:
    text = str(text)
    return text if len(text) <= width else text[:width - 1].rstrip(", ") + "…"


def _topic_tick(topic: dict) -> str:
    return f"{topic['id']}: {_short(topic_label(topic))}"


def _topic_mix(results: dict, colour: dict) -> Optional[Drawn]:
    """Each topic's share of the real corpus beside its share of every decomposed corpus, over/under marked."""
    if not results.get("topics"):
        return None
    topics = topic_order(results)
    if not topics:
        return None
    from matplotlib.lines import Line2D

    real = _real_label(results)
    shares = real_shares(results)
    sides = [(f"{real} (real)", colour.get(real, REAL_COLOUR), {i: (v, None) for i, v in shares.items()})]
    for c in topic_corpora(results):
        sides.append((c.title, colour.get(c.label, SYNTHETIC_COLOURS[0]),
                      {i: (r.get("synthetic_share"), r.get("flag")) for i, r in mix_rows(c.data).items()}))
    n, slot = len(topics), 0.8 / len(sides)
    top = max([v for _, _, values in sides for v, _ in values.values() if v is not None] + [0.01])
    fig = _figure(6.8, 0.9 + n * (0.11 * len(sides) + 0.1))
    ax = fig.add_subplot()
    flags = set()
    for k, (name, c, values) in enumerate(sides):
        ys = [i + (k - (len(sides) - 1) / 2) * slot for i in range(n)]
        cells = [values.get(t["id"], (None, None)) for t in topics]
        ax.barh(ys, [v or 0.0 for v, _ in cells], slot, color=c, label=name)
        for y, (v, flag) in zip(ys, cells):
            if v is None:
                ax.text(top * 0.01, y, "n/a", va="center", ha="left", fontsize=5.5, color=c)
            elif flag in ("over", "under"):
                flags.add(flag)
                ax.plot([v + top * 0.025], [y], ls="none", marker=">" if flag == "over" else "<", ms=4.2, color=c,
                        markeredgewidth=0, gid=f"flag-{flag}")
    ax.set_yticks(range(n), [_topic_tick(t) for t in topics])
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlim(0, top * 1.12)
    ax.set_xlabel("share of the corpus's units")
    handles, _ = ax.get_legend_handles_labels()
    for flag, marker in (("over", ">"), ("under", "<")):
        if flag in flags:
            handles.append(Line2D([], [], ls="none", marker=marker, ms=4, color="#555555",
                                  label=f"{flag}-represented"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(len(handles), 3),
              frameon=False)
    return Drawn("topic_mix", "Topic mix",
                 f"Share of each corpus's units per topic (k-means topics named by their c-TF-IDF keywords, most "
                 f"frequent in {real} first): the real corpus beside each synthetic and cross-real corpus. Arrows "
                 "mark a topic over- (▸) or under-represented (◂) in that corpus, the 95% interval of its share "
                 "minus the real share lying above or below 0; n/a: the topic is not in that corpus's mix.", fig)


def _topic_gaps(results: dict, colour: dict) -> Optional[Drawn]:
    """Per corpus, a heatmap topics × metrics of the per-topic gap, each metric's column scaled by its raw gap."""
    if not results.get("topics"):
        return None
    corpora = [c for c in topic_corpora(results) if c.data.get("per_topic") and per_topic_metrics(results, c)]
    if not corpora:
        return None
    import matplotlib
    import numpy as np
    from matplotlib.patches import Rectangle

    real = _real_label(results)
    order = {t["id"]: (i, t) for i, t in enumerate(topic_order(results))}

    def scale_of(c, metric: str) -> Optional[float]:
        """The raw gap to scale by, where there is one to explain (no share with a reason: none beyond real vs
        real)."""
        e = explained_entry(c, metric) or {}
        if e.get("raw_gap") is None or abs(e["raw_gap"]) <= 1e-12 or (e.get("share") is None and e.get("why")):
            return None
        return e["raw_gap"]

    # one set of columns for every panel: the metrics some corpus has a raw gap to explain for (else all of them)
    every: list[str] = []
    for c in corpora:
        every += [m for m in per_topic_metrics(results, c) if m not in every]
    metrics = [m for m in every if any(scale_of(c, m) is not None for c in corpora)] or every
    panels = []
    for c in corpora:
        rows = sorted(c.data["per_topic"], key=lambda r: (order.get(r.get("topic"), (len(order), None))[0],
                                                          r.get("topic", 0)))
        scale = [scale_of(c, m) for m in metrics]
        raw = [(explained_entry(c, m) or {}).get("raw_gap") for m in metrics]
        gaps = [[(r.get("gaps") or {}).get(m) for m in metrics] for r in rows]
        scaled = np.array([[g / abs(s) if g is not None and s is not None else np.nan for g, s in zip(line, scale)]
                           for line in gaps], dtype=float)
        panels.append((c, metrics, rows, raw, gaps, scaled))
    width = 2.7 + 0.5 * max(len(p[1]) for p in panels) + 1.1
    heights = [0.24 * len(p[2]) + 1.1 for p in panels]  # rows, then the title and the metrics' names below
    fig = _figure(max(5.0, width), 0.2 + sum(heights))
    grid = fig.add_gridspec(len(panels), 1, height_ratios=heights)
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="white")
    mesh = None
    for k, (c, metrics, rows, raw, gaps, scaled) in enumerate(panels):
        ax = fig.add_subplot(grid[k, 0])
        mesh = ax.pcolormesh(np.ma.masked_invalid(np.clip(scaled, -GAP_SCALE, GAP_SCALE)), cmap=cmap,
                             vmin=-GAP_SCALE, vmax=GAP_SCALE, edgecolors="white", linewidth=0.5)
        for i, line in enumerate(gaps):
            for j, g in enumerate(line):
                if np.isnan(scaled[i, j]):
                    ax.add_patch(Rectangle((j, i), 1, 1, facecolor="#F4F4F4", edgecolor="#BBBBBB", hatch="////",
                                           lw=0, gid="n/a"))
                if g is not None:
                    dark = not np.isnan(scaled[i, j]) and abs(scaled[i, j]) > 0.6 * GAP_SCALE
                    ax.text(j + 0.5, i + 0.5, fmt(g), ha="center", va="center", fontsize=5.5,
                            color="white" if dark else "black")
        labels = [_topic_tick(order[r["topic"]][1]) if r.get("topic") in order else f"{r.get('topic')}: "
                  f"{_short(r.get('label') or '?')}" for r in rows]
        ax.set_yticks([i + 0.5 for i in range(len(rows))], labels)
        ax.set_xticks([j + 0.5 for j in range(len(metrics))],
                      [f"{m}\nraw {fmt(s) if s is not None else 'n/a'}" for m, s in zip(metrics, raw)],
                      rotation=35, ha="right", rotation_mode="anchor")
        ax.set_xlim(0, len(metrics))
        ax.set_ylim(len(rows), 0)
        ax.tick_params(length=0)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.set_title(f"{real} (real) vs {c.title}")
    fig.colorbar(mesh, ax=fig.axes, shrink=0.8, aspect=30, pad=0.02,
                 label=f"per-topic gap ÷ |raw gap|\n(clipped at ±{fmt(GAP_SCALE, 0)})")
    return Drawn("topic_gaps", "Within-topic gaps",
                 "Per corpus and topic, each metric's gap (real half A vs the corpus minus real half A vs half B) on "
                 "that topic's units alone, annotated with its value. Colour: the gap divided by the size of the "
                 "metric's raw gap over all topics (given under the metric's name), so that metrics on different "
                 f"scales share one colour scale: ±1 is as large as the whole gap, clipped at ±{fmt(GAP_SCALE, 0)}. "
                 "Shown: the metrics some corpus has a raw gap beyond real vs real to explain for (all of them when "
                 "none has; the report's per-topic tables have every metric), the same columns in every panel. "
                 "Hatched: no colour, because the topic has no gap (too few units; blank) or the metric no raw gap "
                 "beyond real vs real to scale by in that corpus (the gap still annotated).", fig)


_DRAW = {"projection": _projection, "style": _style, "ratios": _ratios, "sensitivity": _sensitivity,
         "topic_mix": _topic_mix, "topic_gaps": _topic_gaps, "extraction_f1": _f1,
         "overgeneralization": _overgeneralization}


def draw(results: dict) -> list[Drawn]:
    """Every figure the results have data for, in ORDER (FIGURES, with TOPIC_FIGURES after the style ones)."""
    colour = colours(results)
    with _rc():
        return [d for d in (_DRAW[name](results, colour) for name in ORDER) if d is not None]


def _save(drawn: Drawn, fh, kind: str) -> None:
    with _rc():
        drawn.figure.savefig(fh, format=kind, dpi=DPI, metadata=_PNG_META if kind == "png" else _PDF_META)


def png(drawn: Drawn) -> bytes:
    """The figure as PNG bytes (dpi 150, no timestamp or version in them, so the same figure gives the same bytes)."""
    buf = io.BytesIO()
    _save(drawn, buf, "png")
    return buf.getvalue()


def write(results: dict, outdir, drawn: Optional[list[Drawn]] = None) -> list[Path]:
    """outdir/<name>.png and .pdf for every figure the results have data for (or for `drawn`, figures
    already drawn from them); the same results give the same bytes. The figures are freed afterwards."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for item in draw(results) if drawn is None else drawn:
        for kind in ("png", "pdf"):
            path = outdir / f"{item.name}.{kind}"
            with open(path, "wb") as fh:
                _save(item, fh, kind)
            written.append(path)
        item.figure.clear()  # free it now: figures are not registered with pyplot, nothing else holds them
    return written


__all__ = ["Drawn", "FIGURES", "GAP_SCALE", "ORDER", "TOPIC_FIGURES", "baseline_band",
           "best_value", "colours", "draw", "png", "ratio_interval", "write"]
