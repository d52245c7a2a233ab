"""Terminal tables (rich) for `synthgap compare` results."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .base import authors_cell, p_cell

from ..progress import stdout_console


def _num(value) -> str:
    if value is None:
        return "-"
    if value == 0 or 0.001 <= abs(value) < 10000:
        return f"{value:.3f}"
    return f"{value:.2e}"


def _ci(ci) -> str:
    return "-" if not ci else f"[{_num(ci[0])}, {_num(ci[1])}]"


def print_results(results: dict, console: Console | None = None) -> None:
    """One table per synthetic source: each metric's gap, interval, real-vs-real yardstick and verdict."""
    console = console or stdout_console()
    real = results["real"]
    for syn in results["synthetic"]:
        label = syn["label"]
        rows = [m for m in results["metrics"] if m["synthetic"] == label]
        if not rows:
            continue
        info = results["samples"][label]
        sizes = ", ".join(f"{fam}: {v['per_side']} {v['what']} per side" for fam, v in info.items()
                          if isinstance(v, dict) and v)
        title = (f"{real['label']} (real) vs {label} ({syn['role']}) - {sizes}")
        table = Table(title=title, title_justify="left")
        for col in ("family", "metric", "goal", "m", "authors", "real vs synthetic", "95% CI", "real vs real",
                    "95% CI ", "difference", "p (Holm)", "beyond"):
            table.add_column(col, justify="left" if col in ("family", "metric", "goal") else "right",
                             no_wrap=col != "beyond")
        for m in rows:
            verdict = {True: "[red]yes[/red]", False: "no", None: "-"}[m["beyond_baseline"]]
            if m.get("status"):
                verdict = m["status"]
            goal = m["goal"] if m.get("ideal") is None else f"{m['goal']} (ideal {m['ideal']:g})"
            diff = m.get("difference") or {}
            table.add_row(m["family"], m["name"], goal, str(m.get("m", "-")), authors_cell(m),
                          _num(m["real_vs_synthetic"]), _ci(m["ci95"]), _num(m["real_vs_real"]),
                          _ci(m["real_vs_real_ci95"]), _num(diff.get("value")), p_cell(m), verdict)
        console.print(table)
        beyond = sum(1 for m in rows if m["beyond_baseline"])
        tested = sum(1 for m in rows if m["beyond_baseline"] is not None)
        v = results.get("verdicts") or {}
        console.print(f"{beyond} of {tested} tested metrics put {label} beyond the real-vs-real yardstick "
                      f"(paired difference, {v.get('correction', 'holm')} correction over {v.get('tests', '?')} "
                      f"tests); m: items per side, authors: real half A / half B / synthetic.")
    if results.get("extraction"):
        print_extraction(results["extraction"], console)
    for note in results.get("notes", []):
        console.print(f"note: {note}")


def print_extraction(section: dict, console: Console | None = None) -> None:
    """Per corpus: every extraction statistic with its 95% interval, or why it has none."""
    console = console or stdout_console()
    cfg = section["config"]
    table = Table(title=f"attribute extraction ({cfg['extractor']} extractor, {cfg.get('verifier', 'trained')} "
                        f"verifier) per corpus", title_justify="left")
    table.add_column("statistic")
    corpora = section["corpora"]
    for label, c in corpora.items():
        table.add_column(f"{label} ({c['users']} users)", justify="right")
    names = list(next(iter(corpora.values()))["statistics"]) if corpora else []
    for name in names:
        cells = []
        for c in corpora.values():
            st = c["statistics"][name]
            cells.append(f"n/a ({st.get('why') or 'no value'})" if st["value"] is None
                         else f"{_num(st['value'])} {_ci(st['ci95'])}")
        table.add_row(name, *cells)
    console.print(table)


def print_agreement(data: dict, console: Console | None = None) -> None:
    """Tables for `synthgap agreement`: pairs, raters, group means, overall coefficients."""
    console = console or stdout_console()
    pairs = Table(title=f"Pairwise agreement ({data['n_items']} items labeled by two or more raters)",
                  title_justify="left")
    for col in ("a", "b", "kind", "n", "Cohen's kappa", "Spearman"):
        pairs.add_column(col, justify="right" if col in ("n", "Cohen's kappa", "Spearman") else "left")
    for p in data["pairwise"]:
        pairs.add_row(p["a"], p["b"], p["kind"], str(p["n"]), _num(p["kappa"]), _num(p["spearman"]))
    console.print(pairs)
    raters = Table(title="Raters", title_justify="left")
    for col in ("rater", "group", "selection rate", "labels", "excluded or skipped"):
        raters.add_column(col, justify="left" if col in ("rater", "group", "excluded or skipped") else "right")
    for name, group in data["raters"].items():
        counts = dict(data["counts"].get(name, {}))
        n = counts.pop("labels", 0)
        raters.add_row(name, group, _num(data["selection_rate"][name]), str(n),
                       ", ".join(f"{k}: {v}" for k, v in counts.items()) or "-")
    console.print(raters)
    groups = Table(title="Mean pairwise kappa by group (95% bootstrap interval)", title_justify="left")
    for col in ("pairs of", "mean kappa", "95% CI", "pairs"):
        groups.add_column(col, justify="left" if col == "pairs of" else "right")
    for name, g in data["groups_detail"].items():
        groups.add_row(name, _num(g["mean_kappa"]), _ci(g["ci95"]), str(g["pairs"]))
    console.print(groups)
    o = data["overall"]
    console.print(f"Fleiss' kappa {_num(o['fleiss_kappa'])} ({o['fleiss_items']} items labeled by all); "
                  f"Krippendorff's alpha nominal {_num(o['krippendorff_alpha_nominal'])}, ordinal "
                  f"{_num(o['krippendorff_alpha_ordinal'])}; selection rate humans {_num(o['human_selection_rate'])}, "
                  f"models {_num(o['model_selection_rate'])} (ratio {_num(o['model_to_human_selection_ratio'])})")
