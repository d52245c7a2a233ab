"""Readable terminal tables for an inspect report (rich)."""

from __future__ import annotations


# Formats whose conversations may come without speaker markers (turns inferred by alternation).
UNMARKED_FORMATS = {"synthetic-persona-chat"}


def shows_unmarked(report: dict) -> bool:
    """The 'unmarked conversations' row: for formats that can have them, or whenever there are some."""
    return bool(report.get("unmarked_conversations")) or bool(UNMARKED_FORMATS & set(report["formats"]))


def print_report(report: dict) -> None:
    from ..progress import stdout_console
    from rich.table import Table

    console = stdout_console()
    for source in report["sources"]:
        console.print(f"[bold]{', '.join(report['formats'])}[/]: {source}", highlight=False)
    overview = Table(title="overview", show_header=False)
    overview.add_column(style="bold")
    overview.add_column(justify="right")
    for key in ("records", "conversations", "users", "users_with_conversations", "attributes"):
        overview.add_row(key.replace("_", " "), f"{report[key]:,}")
    for role, n in report["turns"].items():
        overview.add_row(f"{role} turns", f"{n:,}")
    for kind, n in report["real_or_synthetic"].items():
        overview.add_row(f"{kind} conversations", f"{n:,}")
    if shows_unmarked(report):
        overview.add_row("unmarked conversations", f"{report['unmarked_conversations']:,}")
    console.print(overview)
    if report.get("unmarked_conversations"):
        console.print(f"unmarked conversations: {report['unmarked_conversations']:,} (no speaker markers: read as "
                      "alternating turns starting with user 1; meta.unmarked is true)", highlight=False)

    lengths = Table(title="distributions")
    lengths.add_column("")
    stats = ("count", "mean", "min", "p10", "p25", "median", "p75", "p90", "max")
    for stat in stats:
        lengths.add_column(stat, justify="right")
    for key in ("user_turn_words", "user_turn_chars", "turns_per_conversation"):
        dist = report[key]
        lengths.add_row(key.replace("_", " "), *(str(dist.get(s, "")) for s in stats))
    console.print(lengths)

    for key in ("scripts", "languages", "attribute_categories", "by_source", "dropped", "skipped"):
        if report.get(key):
            table = Table(title=key.replace("_", " "))
            table.add_column("")
            table.add_column("count", justify="right")
            for name, n in list(report[key].items())[:15]:
                table.add_row(str(name), f"{n:,}")
            console.print(table)
    for reason, examples in report.get("skipped_examples", {}).items():
        for example in examples:
            console.print(f"[yellow]skipped ({reason}):[/] {example}", highlight=False)
    for warning in report["warnings"]:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if report["truncated"]:
        console.print("[bold yellow]the corpus file is truncated[/]: every complete record before the cut was read")
