"""`synthgap corpus ...`: inspect and convert corpora (a thin layer over synthgap.corpora)."""

from __future__ import annotations

import json

import click

from .options import echo_notices, open_corpus, read_options


@click.group()
def corpus() -> None:
    """Read real and synthetic corpora: inspect them, convert between formats."""


@corpus.command()
@click.argument("source")
@read_options
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of tables")
def inspect(source, fmt, skip_bad, empty_turns, user_speaker, synthetic, label, as_json):
    """Describe SOURCE (a file, a folder, or a built-in name such as 'sharegpt').

    Counts conversations, users and turns, the user-turn length distribution, writing
    systems, gold attributes, skipped records with reasons, and how the file ended.
    """
    from ..progress import byte_progress
    from .stats import corpus_stats

    reader = open_corpus(source, fmt, skip_bad, empty_turns, user_speaker, synthetic, label)
    with byte_progress(reader.total_bytes, "reading") as progress:
        reader.progress = progress
        report = corpus_stats(reader)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        from .render import print_report

        print_report(report)


@corpus.command()
@click.argument("source")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="file to write")
@click.option("--to", "to", type=click.Choice(["native", "sharegpt", "openai"]), default="native", show_default=True)
@click.option("--unit", type=click.Choice(["conversation", "user"]),
              help="write conversations or user histories (native only; default: what the source holds)")
@read_options
def convert(source, output, to, unit, fmt, skip_bad, empty_turns, user_speaker, synthetic, label):
    """Convert SOURCE to native JSONL, ShareGPT or OpenAI messages (written atomically)."""
    from ..progress import byte_progress
    from .export import write_records

    reader = open_corpus(source, fmt, skip_bad, empty_turns, user_speaker, synthetic, label)
    reader.unit = unit or (reader.natural_unit if to == "native" else "conversation")
    with byte_progress(reader.total_bytes, "converting") as progress:
        reader.progress = progress
        count = write_records(output, reader, to)
    echo_notices(reader.summary)
    what = "user histories" if reader.unit == "user" else "conversations"
    click.echo(f"wrote {count} {what} to {output}", err=True)


@corpus.command()
def formats():
    """List the corpus formats synthgap reads, in the order detection tries them."""
    from .formats import FORMATS

    for fmt in FORMATS.values():
        speakers = f"  [--user-speaker {'|'.join(fmt.speakers)}]" if fmt.speakers else ""
        click.echo(f"{fmt.name:24} {fmt.description}{speakers}")
