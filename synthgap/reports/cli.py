"""`synthgap report`: re-render a comparison's report from its results.json (and manifest.json beside it)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .files import FORMATS


def read_results(path) -> tuple[dict, dict | None]:
    """results.json and the manifest.json beside it (None when absent); one-line errors for bad files."""
    from ..errors import SynthgapError

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SynthgapError(f"{path}: not a readable results.json: {exc}") from None
    if not isinstance(data, dict) or "metrics" not in data:
        raise SynthgapError(f"{path}: no metrics: expected the results.json that `synthgap compare` writes")
    manifest_path = path.with_name("manifest.json")
    manifest = None
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise SynthgapError(f"{manifest_path}: not valid JSON: {exc}") from None
    return data, manifest


@click.command()
@click.argument("results", type=click.Path(dir_okay=False, exists=True))
@click.option("--format", "formats", multiple=True, type=click.Choice(FORMATS),
              help="what to write (repeatable; default: all): md = report.md, latex = tables/*.tex, "
                   "figures = figures/*.png and *.pdf, html = report.html with the figures embedded")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="folder for report.md, report.html, tables/ and figures/")
def report(results, formats, output):
    """Render RESULTS.json (from `synthgap compare`) as Markdown, booktabs LaTeX tables, figures and HTML."""
    from .files import write_report

    data, manifest = read_results(results)
    written = write_report(data, manifest, output, formats or FORMATS)
    click.echo(f"synthgap: wrote {len(written)} files to {output}", err=True)
