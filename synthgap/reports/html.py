"""report.html: the content of report.md (summary, one section per family, notes, provenance) plus the figures and
the full manifest, in one self-contained page: inline CSS, images embedded as data: URIs, no external resource."""

from __future__ import annotations

import base64
import json
import re
import struct
from collections import Counter

from .summary import (FAMILY_HEADER, FAMILY_TITLES, SUMMARY_HEADER, YARDSTICK, Table, agreement_tables,
                      detail_blocks, families, provenance, rows)

TEMPLATE = "report.html.j2"
# summary.verdict's words -> the CSS class that colours them (anything else gets "other").
VERDICT_CLASSES = {"beyond real-vs-real variation": "beyond",
                   "larger than real-vs-real, not significant after correction": "larger",
                   "within real-vs-real variation": "within",
                   "no difference": "same",
                   "no baseline to compare": "nobaseline"}
_NUMERIC = {"real vs synthetic", "real − synthetic", "real vs real", "gold", "stated", "stated share", "ratio",
            "mean pairwise kappa", "selection rate", "m", "authors",
            "difference", "p (Holm)", "own items", "n own"}
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCREEN_PX_PER_INCH = 120.0


def verdict_class(text: str) -> str:
    if text.startswith("too few items"):
        return "fewitems"
    if text.startswith("n/a"):
        return "nobaseline"
    return VERDICT_CLASSES.get(text, "other")


def _environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("synthgap", "templates/reports"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def _column_class(name: str) -> str:
    if name in _NUMERIC:
        return "num"
    if name == "95% CI":
        return "ci"
    if name == "note":
        return "note-col"
    return "verdict-col" if name == "verdict" else ""


_NUMBER = re.compile(r"(?:[-−]?[0-9][0-9.,]*(?: \(over\)| \(under\))?|–|n/a|[0-9?]+(?:/[0-9?]+)+|all|)")


def _numeric_columns(table: Table) -> list[bool]:
    """Columns whose cells are all numbers (a dash, a bare n/a, units as a/b/c and an over/under flag allowed)."""
    return [bool(table.body) and all(_NUMBER.fullmatch(str(row[i])) for row in table.body)
            and any(str(row[i]) not in ("", "–", "n/a", "all") for row in table.body)
            for i in range(len(table.header))]


def _table(table: Table, verdicts: list[str] | None = None, groups: list[bool] | None = None,
           detect_numbers: bool = False) -> dict:
    """A Table for the template: cells with their column classes, rows with a verdict class and a group start;
    with `detect_numbers`, columns of numbers align right whatever their name."""
    classes = [_column_class(h) for h in table.header]
    if detect_numbers:
        classes = ["num" if numeric and not k else k for k, numeric in zip(classes, _numeric_columns(table))]
    body = []
    for i, cells in enumerate(table.body):
        v = verdicts[i] if verdicts else None
        body.append({"cells": [{"text": str(c), "cls": k} for c, k in zip(cells, classes)],
                     "verdict": verdict_class(v) if v is not None else None,
                     "group_start": bool(groups and groups[i])})
    return {"header": [{"text": h, "cls": k} for h, k in zip(table.header, classes)], "body": body}


def _group_starts(keys: list[str]) -> list[bool]:
    """True where a row starts a new synthetic corpus (not the first row): a visual rule between corpora."""
    return [i > 0 and k != keys[i - 1] for i, k in enumerate(keys)]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "x"


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height in pixels from a PNG's IHDR chunk, None for anything that is not a PNG."""
    if len(data) < 24 or not data.startswith(_PNG_MAGIC) or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def png_dpi(data: bytes) -> float | None:
    """The resolution a PNG declares in its pHYs chunk (matplotlib writes its savefig dpi there), else None."""
    pos = len(_PNG_MAGIC)
    while pos + 8 <= len(data) and data.startswith(_PNG_MAGIC):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"pHYs" and length == 9 and pos + 17 <= len(data):
            x, _, unit = struct.unpack(">IIB", data[pos + 8:pos + 17])
            return x * 0.0254 if unit == 1 and x else None
        if kind in (b"IDAT", b"IEND"):
            return None
        pos += 12 + length
    return None


def display_size(data: bytes) -> tuple[int, int] | None:
    """CSS pixels for an image: a figure that declares its dpi shows at SCREEN_PX_PER_INCH (paper-sized figures with
    8 pt text read well), one without at its pixel size; the stylesheet caps both at the column width."""
    size = png_size(data)
    if size is None:
        return None
    dpi = png_dpi(data)
    scale = SCREEN_PX_PER_INCH / dpi if dpi and dpi > SCREEN_PX_PER_INCH else 1.0
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _figures(images: list[tuple[str, str, str, bytes]]) -> list[dict]:
    out, seen = [], set()
    for name, title, caption, data in images:
        ident = base = "fig-" + _slug(name)
        n = 2
        while ident in seen:
            ident, n = f"{base}-{n}", n + 1
        seen.add(ident)
        size = display_size(data)
        out.append({"id": ident, "name": str(name), "title": str(title), "caption": str(caption),
                    "src": "data:image/png;base64," + base64.b64encode(data).decode("ascii"),
                    "width": size[0] if size else None, "height": size[1] if size else None})
    return out


def _overview(all_rows) -> list[dict]:
    """Per synthetic corpus: how many metrics got each verdict, in the order of VERDICT_CLASSES."""
    order = list(VERDICT_CLASSES) + ["other"]
    out = []
    for label in dict.fromkeys(r.synthetic for r in all_rows):
        counts = Counter(r.verdict if r.verdict in VERDICT_CLASSES else "other" for r in all_rows
                         if r.synthetic == label)
        out.append({"label": label, "total": sum(counts.values()),
                    "counts": [{"verdict": v, "cls": verdict_class(v), "n": counts[v]} for v in order if counts[v]]})
    return out


def context(results: dict, manifest: dict | None, images: list[tuple[str, str, str, bytes]]) -> dict:
    """Everything the template shows, as plain data (all formatting comes from summary.py)."""
    all_rows = rows(results)
    sections = []
    for family in families(results):
        section = {"id": "family-" + _slug(family), "family": family,
                   "title": FAMILY_TITLES.get(family, family.title()), "table": None, "blocks": [],
                   "agreement": []}
        detailed = detail_blocks(results, family) if family != "agreement" else []
        if family == "agreement":
            groups, rates = agreement_tables(results["agreement"])
            section["agreement"] = [_table(groups), _table(rates)]
        elif detailed:  # extraction and overgeneralization (real vs each synthetic corpus), the topic decomposition
            topic = family == "topic"
            section["blocks"] = [{"kind": b.kind, "text": b.text, "cls": "detail topic" if topic else "detail",
                                  "table": _table(b.table, b.verdicts, detect_numbers=topic)
                                  if b.table is not None else None}
                                 for b in detailed]
        else:
            mine = [r for r in all_rows if r.family == family]
            section["table"] = _table(Table(FAMILY_HEADER, [r.family_cells() for r in mine]),
                                      [r.verdict for r in mine], _group_starts([r.synthetic for r in mine]))
        sections.append(section)
    real = results.get("real", {})
    return {
        "real": {"label": str(real.get("label", "?")), "source": str(real.get("source", "?")),
                 "units": str(real.get("units", "?")), "unit": str(real.get("unit", ""))},
        "synthetic": [{"label": str(s["label"]), "source": str(s.get("source", "?")), "units": str(s.get("units", "?"))}
                      for s in results.get("synthetic", [])],
        "yardstick": YARDSTICK,
        "legend": [{"verdict": v, "cls": c} for v, c in VERDICT_CLASSES.items()],
        "overview": _overview(all_rows),
        "summary": _table(Table(SUMMARY_HEADER, [r.summary_cells() for r in all_rows]), [r.verdict for r in all_rows],
                          _group_starts([r.synthetic for r in all_rows])),
        "sections": sections,
        "figures": _figures(images),
        "notes": [str(n) for n in results.get("notes", [])],
        "provenance": provenance(manifest) if manifest else None,
        "manifest_json": json.dumps(manifest, indent=2, ensure_ascii=False, default=str) if manifest else None,
    }


def render(results: dict, manifest: dict | None = None, images: list[tuple[str, str, str, bytes]] = ()) -> str:
    """The page as a string; each image is (name, title, caption, png bytes). Same input, same string."""
    return _environment().get_template(TEMPLATE).render(**context(results, manifest, list(images)))


__all__ = ["VERDICT_CLASSES", "context", "display_size", "png_dpi", "png_size", "render", "verdict_class"]
