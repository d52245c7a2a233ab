"""`synthgap report`: re-render a comparison's report from its results.json (and manifest.json beside it)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("results", type=click.Path(dir_okay=False, exists=True))
@click.option("--format", "formats", multiple=True, type=click.Choice(["md", "latex"]),
              help="what to write (repeatable; default: all)")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="folder for report.md and tables/*.tex")
def report(results, formats, output):
    """Render RESULTS.json (from `synthgap compare`) as Markdown and booktabs LaTeX tables."""
    from ..errors import SynthgapError
    from ..records import AtomicWriter
    from . import latex, markdown

    path = Path(results)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SynthgapError(f"{path}: not a readable results.json: {exc}") from None
    if not isinstance(data, dict) or "metrics" not in data:
        raise SynthgapError(f"{path}: no metrics: expected the results.json that `synthgap compare` writes")
    manifest_path = path.with_name("manifest.json")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else None
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    formats = formats or ("md", "latex")
    written = []
    if "md" in formats:
        with AtomicWriter(out / "report.md") as fh:
            fh.write(markdown.render(data, manifest))
        written.append(out / "report.md")
    if "latex" in formats:
        (out / "tables").mkdir(exist_ok=True)
        for name, text in latex.tables(data).items():
            with AtomicWriter(out / "tables" / name) as fh:
                fh.write(text)
            written.append(out / "tables" / name)
    click.echo(f"synthgap: wrote {', '.join(str(w) for w in written)}", err=True)
