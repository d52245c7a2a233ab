"""Terminal tables (rich) for `synthgap compare` results."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

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
        for col in ("family", "metric", "goal", "real vs synthetic", "95% CI", "real vs real", "95% CI ",
                    "x baseline", "beyond"):
            table.add_column(col, justify="left" if col in ("family", "metric", "goal") else "right")
        for m in rows:
            ratio = m["ratio_to_baseline"]
            verdict = {True: "[red]yes[/red]", False: "no", None: "-"}[m["beyond_baseline"]]
            goal = m["goal"] if m.get("ideal") is None else f"{m['goal']} (ideal {m['ideal']:g})"
            table.add_row(m["family"], m["name"], goal, _num(m["real_vs_synthetic"]), _ci(m["ci95"]),
                          _num(m["real_vs_real"]), _ci(m["real_vs_real_ci95"]),
                          "-" if ratio is None else (">100" if ratio > 100 else f"{ratio:.1f}"), verdict)
        console.print(table)
        beyond = sum(1 for m in rows if m["beyond_baseline"])
        console.print(f"{beyond} of {len(rows)} metrics put {label} beyond the real-vs-real yardstick "
                      f"(the gap's 95% interval lies wholly on the worse side of the baseline's).")
    for note in results.get("notes", []):
        console.print(f"note: {note}")
