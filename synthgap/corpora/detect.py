"""Which format and container a path holds, and which files a folder or built-in name stands for."""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Optional

from .base import Format
from .containers import csv_header, head_text, iter_json_array, load_json_document, logical_suffix, open_binary
from .formats import CSV_FORMATS, JSON_FORMATS, USER_LEVEL, FORMATS
from .formats.native import Native
from .formats.persuasion import is_dialog_header, is_info_header, sibling
from .formats.synthetic_persona_chat import is_spc_header
from .problems import BadRecord, CorpusError, LoadSummary

DOC_SUFFIXES = {".md", ".txt", ".rst", ".py", ".sh", ".html", ".pdf", ".yaml", ".yml", ".toml", ".cfg"}
DOC_NAMES = ("license", "readme", "notice", "copying", "changelog")
SAMPLE_RECORDS = 5


@dataclass
class Sniffed:
    """A file ready to read: its format, container and natural unit ('conversation' or 'user')."""

    path: Path
    format: Format
    container: str  # "json-array", "jsonl", "json" or "csv"
    unit: str


def _first_lines(path: Path, count: int = 5, limit: int = 1 << 26) -> list[str]:
    """The first `count` non-blank lines (each read up to `limit` bytes), decoded leniently."""
    lines = []
    with open_binary(path) as fh:
        while len(lines) < count:
            raw = fh.readline(limit)
            if not raw:
                break
            if raw.strip():
                lines.append(raw.decode("utf-8", errors="replace").lstrip("\ufeff").strip())
    return lines


def _is_object_line(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


def _container(path: Path, head: str) -> str:
    suffix = logical_suffix(path)
    stripped = head.lstrip()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if stripped.startswith("["):
        return "json-array"
    if stripped.startswith("{"):
        lines = _first_lines(path)
        # JSON Lines when a line holds a whole object; a lone "{" opens a pretty-printed document.
        if lines and lines[0] != "{" and any(_is_object_line(line) for line in lines):
            return "jsonl"
        return "jsonl" if suffix in (".jsonl", ".ndjson") else "json"
    if "," in stripped.split("\n", 1)[0] and csv_header(path):
        return "csv"
    snippet = stripped[:30].replace("\n", " ")
    raise CorpusError(f"{path}: cannot tell the format: the file starts with {snippet!r}; "
                      f"expected JSON, JSON Lines or CSV")


def _samples(path: Path, container: str) -> list[Any]:
    """The first few decodable records, for format detection."""
    scratch = LoadSummary()
    if container == "json-array":
        units = islice(iter_json_array(path, scratch, chunk_size=1 << 20), SAMPLE_RECORDS)
        return [u.value for u in units if not isinstance(u.value, BadRecord)]
    if container == "jsonl":
        found = []
        with open_binary(path) as fh:
            for raw in islice(fh, 50):
                try:
                    found.append(json.loads(raw.decode("utf-8-sig")))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    continue
                if len(found) >= SAMPLE_RECORDS:
                    break
        return found
    doc = load_json_document(path)
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
        return [doc] + (lists[0][:SAMPLE_RECORDS] if len(lists) == 1 else [])
    return doc[:SAMPLE_RECORDS] if isinstance(doc, list) else [doc]


def _csv_format(path: Path) -> Optional[Format]:
    header = csv_header(path)
    if is_dialog_header(header) or is_info_header(header):
        return FORMATS["persuasionforgood"]
    if is_spc_header(header):
        return FORMATS["synthetic-persona-chat"]
    return None


def sniff(path: Path, forced: Optional[Format] = None) -> Sniffed:
    """Detect (or check) the format of one file."""
    head = head_text(path)
    if not head.strip():
        compressed = logical_suffix(path) != path.suffix.lower()
        raise CorpusError(f"{path}: no data could be decompressed (an empty or cut-off compressed file)"
                          if compressed and path.stat().st_size else f"{path}: file is empty")
    if forced is not None and forced.container == "csv":
        return _pfg_dialog(Sniffed(path, forced, "csv", "user"))
    container = _container(path, head)
    if container == "csv":
        fmt = _csv_format(path)
        if forced is not None and fmt is not forced:
            raise CorpusError(f"{path}: a CSV file, but {forced.name} is not a CSV format")
        if fmt is None:
            header = ", ".join(csv_header(path)[:8])
            raise CorpusError(f"{path}: cannot tell the format of this CSV (columns: {header}); expected the "
                              f"columns of {' or '.join(f.name for f in CSV_FORMATS)}")
        return _pfg_dialog(Sniffed(path, fmt, "csv", "user"))
    samples = [s for s in _samples(path, container) if isinstance(s, dict)]
    if forced is not None:
        fmt = forced
    else:
        fmt = next((f for s in samples for f in JSON_FORMATS if f.detect(s)), None)
        if fmt is None and not samples:
            raise CorpusError(f"{path}: cannot tell the format: no record is a JSON object (pass --format)")
        if fmt is None:
            keys = ", ".join(sorted(samples[0])[:8])
            raise CorpusError(f"{path}: cannot tell the format: first record has keys [{keys}]; "
                              f"known formats: {', '.join(FORMATS)} (pass --format)")
    unit = "user" if fmt.name in USER_LEVEL else "conversation"
    if isinstance(fmt, Native) and samples:
        unit = Native.natural_unit(samples[0])
    return Sniffed(path, fmt, container, unit)


def _pfg_dialog(found: Sniffed) -> Sniffed:
    """Persuasion For Good is read from its dialogue file; given the survey file, find the pair."""
    if found.format.name == "persuasionforgood" and is_info_header(csv_header(found.path)):
        dialog = sibling(found.path, is_dialog_header, "dialog")
        if dialog is None:
            raise CorpusError(f"{found.path}: a Persuasion For Good survey file, but no dialogue CSV "
                              f"(full_dialog.csv) beside it")
        return Sniffed(dialog, found.format, "csv", "user")
    return found


def is_document(path: Path) -> bool:
    name = path.name.lower()
    return path.suffix.lower() in DOC_SUFFIXES or name.startswith(DOC_NAMES) or name.startswith(".")


def expand(path: Path, forced: Optional[Format] = None) -> list[Sniffed]:
    """The readable files a path stands for: itself, or every corpus file in a folder."""
    if not path.exists():
        raise CorpusError(f"{path}: no such file or directory")
    if path.is_file():
        return [sniff(path, forced)]
    if not path.is_dir():
        raise CorpusError(f"{path}: not a regular file or directory")
    files = sorted(p for p in path.iterdir() if p.is_file() and not is_document(p))
    if not files:
        raise CorpusError(f"{path}: directory holds no corpus files")
    found: list[Sniffed] = []
    for file in files:
        item = sniff(file, forced)
        if all(item.path != other.path for other in found):  # a survey file maps to its dialogue file
            found.append(item)
    return found
