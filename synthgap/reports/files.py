"""Read a comparison's results.json (and the manifest.json beside it), and write a report folder from
its data: report.md, tables/*.tex, figures/*.png|pdf, report.html.

One function each so that `synthgap report` and `synthgap run` read and write the same files the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Optional

FORMATS = ("md", "latex", "figures", "html")


def read_results(path) -> tuple[dict, Optional[dict]]:
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


__all__ = ["FORMATS", "read_results", "write_report"]
