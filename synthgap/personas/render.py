"""Terminal tables (rich) for the persona audit and the taxonomy."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..progress import stdout_console


def _f(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_audit(report: dict, console: Console | None = None) -> None:
    console = console or stdout_console()
    ref, summ = report["reference"], report["summary"]
    console.print(f"[bold]Persona audit[/bold]: {report['personas']['n']} personas vs {ref['name']} "
                  f"({ref['n']} people, mapping {ref['mapping'] or 'none: same taxonomy'})")
    table = Table(title="Marginals (TV for categories, KS for numbers; noise floor = same distance between two "
                        "reference samples of these sizes)", title_justify="left")
    for col in ("attribute", "metric", "distance", "95% CI", "noise floor", "beyond noise", "n"):
        table.add_column(col, justify="right" if col not in ("attribute", "metric") else "left")
    for m in report["marginals"]:
        table.add_row(m["attribute"], m["metric"], _f(m["value"]), f"{_f(m['ci95'][0])}-{_f(m['ci95'][1])}",
                      _f(m["noise_floor"]), "yes" if m["beyond_noise"] else "no",
                      f"{m['n_personas']}/{m['n_reference']}")
    console.print(table)
    if report["pairs"]:
        pairs = Table(title="Pairs (joint TV, and Cramér's V in personas vs reference)", title_justify="left")
        for col in ("pair", "joint TV", "noise floor", "V personas", "V reference", "|ΔV|"):
            pairs.add_column(col, justify="left" if col == "pair" else "right")
        for p in sorted(report["pairs"], key=lambda p: -p["joint_tv"])[:15]:
            pairs.add_row(" × ".join(p["attributes"]), _f(p["joint_tv"]), _f(p["joint_noise_floor"]),
                          _f(p["cramers_v_personas"]), _f(p["cramers_v_reference"]), _f(p["abs_delta_v"]))
        console.print(pairs)
    console.print(f"mean marginal distance {_f(summ['mean_marginal_distance'])} "
                  f"({summ['marginals_beyond_noise']}/{summ['attributes_compared']} beyond noise); "
                  f"mean joint TV {_f(summ['mean_joint_tv'])}; mean |ΔV| {_f(summ['mean_abs_delta_cramers_v'])} "
                  f"over {summ['pairs_compared']} pairs")
    dup = report["duplicates"]
    own, mine, theirs = (dup["personas_all_attributes"], dup["personas_shared_attributes"],
                         dup["reference_shared_attributes"])
    console.print(f"duplicates: {own['exact_duplicate_share']:.1%} exact and {own['near_duplicate_share']:.1%} near "
                  f"(<= {own['max_diff']} of {own['attributes']} attributes differ) among the personas; "
                  f"on the shared attributes {mine['near_duplicate_share']:.1%} near vs "
                  f"{theirs['near_duplicate_share']:.1%} in the reference")
    vio = report["violations"]
    console.print(f"consistency: {vio['personas_with_violations']} of {vio['personas']} personas break a rule "
                  f"({vio['violations']} violations)")
    for rule, count in list(vio["by_rule"].items())[:5]:
        console.print(f"  {count} x {rule}")
    for side in ("personas", "reference"):
        unmapped = report[side].get("unmapped_values")
        if unmapped:
            console.print(f"note: {side} values outside the mapping: "
                          + ", ".join(f"{k}: {v}" for k, v in unmapped.items()))


def print_taxonomy(taxonomy, rows: list[dict], console: Console | None = None) -> None:
    console = console or stdout_console()
    table = Table(title=f"Taxonomy: {len(rows)} attributes in {len(taxonomy.categories)} categories, "
                        f"{len(taxonomy.locales)} locales", title_justify="left")
    for col in ("attribute", "category", "stability", "sensitive", "kind", "values", "explicit", "cues", "depends on"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["attribute"], r["category"], r["stability"], "yes" if r["sensitive"] else "",
                      r["kind"], str(r["values"] or ""), str(r["explicit"]), str(r["cues"]),
                      ", ".join(r["depends_on"]))
    console.print(table)
