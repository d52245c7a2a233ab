"""The library job of the reports: `report` renders a comparison's results.json as Markdown, LaTeX
tables, figures and HTML, the work behind `synthgap report`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Union

from ..outputs import JobConfig, JobResult, Log, quiet
from .files import FORMATS

Format = Literal["md", "latex", "figures", "html"]


class ReportJobConfig(JobConfig):
    """Which formats to write: md = report.md, latex = tables/*.tex, figures = figures/*.png and *.pdf,
    html = report.html with the figures embedded."""
    formats: list[Format] = list(FORMATS)


class ReportResult(JobResult):
    """The files `report` wrote (also in `outputs`)."""
    written: list[Path] = []


def report(config: ReportJobConfig, results: Union[str, Path], output: Union[str, Path], *,
           log: Log = quiet) -> ReportResult:
    """Render `results` (a results.json from `compare`, with the manifest.json beside it) into the folder `output`."""
    import time

    from .files import read_results, write_report

    started = time.perf_counter()
    data, manifest = read_results(results)
    written = write_report(data, manifest, output, config.formats)
    log(f"wrote {len(written)} files to {output}")
    return ReportResult(outputs=written, written=written, counts={"files": len(written)},
                        seconds=time.perf_counter() - started)


__all__ = ["ReportJobConfig", "ReportResult", "report"]
