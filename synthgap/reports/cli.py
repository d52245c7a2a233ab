"""`synthgap report`: re-render a comparison's report from its results.json (and manifest.json beside it);
a thin layer over `synthgap.reports.jobs.report`."""

from __future__ import annotations

import click

from .files import FORMATS


@click.command()
@click.argument("results", type=click.Path(dir_okay=False, exists=True))
@click.option("--format", "formats", multiple=True, type=click.Choice(FORMATS),
              help="what to write (repeatable; default: all): md = report.md, latex = tables/*.tex, "
                   "figures = figures/*.png and *.pdf, html = report.html with the figures embedded")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="folder for report.md, report.html, tables/ and figures/")
def report(results, formats, output):
    """Render RESULTS.json (from `synthgap compare`) as Markdown, booktabs LaTeX tables, figures and HTML."""
    from .jobs import ReportJobConfig, report as render

    config = ReportJobConfig(formats=list(formats or FORMATS))
    render(config, results, output, log=lambda msg: click.echo(f"synthgap: {msg}", err=True))
