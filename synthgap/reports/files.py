"""Write a report folder from results.json data: report.md, tables/*.tex, figures/*.png|pdf, report.html.

One function so that `synthgap report` and `synthgap run` write the same files the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

FORMATS = ("md", "latex", "figures", "html")


def write_report(results: dict, manifest: Optional[dict], outdir, formats: Iterable[str] = FORMATS) -> list[Path]:
    """Render the chosen formats into `outdir`; returns the files written (html embeds the figures)."""
    from ..records import AtomicWriter
    from . import latex, markdown

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    formats = set(formats)
    written: list[Path] = []

    def put(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with AtomicWriter(path) as fh:
            fh.write(text)
        written.append(path)

    if "md" in formats:
        put(out / "report.md", markdown.render(results, manifest))
    if "latex" in formats:
        for name, text in latex.tables(results).items():
            put(out / "tables" / name, text)
    if formats & {"figures", "html"}:
        from . import figures

        drawn = figures.draw(results)  # drawn once: the html embeds the same PNG bytes as figures/
        images = [(d.name, d.title, d.caption, figures.png(d)) for d in drawn] if "html" in formats else []
        if "figures" in formats:
            written += figures.write(results, out / "figures", drawn)
        for d in drawn:
            d.figure.clear()
        if "html" in formats:
            from . import html

            put(out / "report.html", html.render(results, manifest, images))
    return written


__all__ = ["FORMATS", "write_report"]
