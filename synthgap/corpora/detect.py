"""Which format and container a path holds, and which files a folder, glob, URI or built-in name stands for."""

from __future__ import annotations

import glob
import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Optional, Union

from .base import Format
from .containers import (csv_header, head_text, is_parquet, iter_json_array, iter_parquet, load_json_document,
                         logical_suffix, open_binary)
from .formats import CSV_FORMATS, JSON_FORMATS, USER_LEVEL, FORMATS
from .formats.native import Native
from .formats.persuasion import is_dialog_header, is_info_header, sibling
from .formats.synthetic_persona_chat import is_spc_header
from .problems import BadRecord, CorpusError, LoadSummary
from .remote import RemotePath, glob_files, has_glob, is_glob_uri, is_uri

DOC_SUFFIXES = {".md", ".txt", ".rst", ".py", ".sh", ".html", ".pdf", ".yaml", ".yml", ".toml", ".cfg"}
DOC_NAMES = ("license", "readme", "notice", "copying", "changelog")
# Hidden files and the markers data tools leave beside their shards (Spark's _SUCCESS, Parquet's _metadata).
SKIPPED_PREFIXES = (".", "_")
SAMPLE_RECORDS = 5
# Remote files are sniffed this many at a time (each sniff is a few small reads over the network).
SNIFF_THREADS = 16


@dataclass
class Sniffed:
    """A file ready to read: its format, container and natural unit ('conversation' or 'user')."""

    path: Union[Path, RemotePath]
    format: Format
    container: str  # "json-array", "jsonl", "json", "csv" or "parquet"
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
    if container == "parquet":
        with closing(iter_parquet(path, scratch, batch_size=SAMPLE_RECORDS)) as units:
            return [u.value for u in islice(units, SAMPLE_RECORDS) if not isinstance(u.value, BadRecord)]
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
    parquet = is_parquet(path, head)
    if parquet and forced is not None and forced.container == "csv":
        raise CorpusError(f"{path}: a Parquet file, but {forced.name} is read from CSV files")
    if forced is not None and forced.container == "csv":
        return _pfg_dialog(Sniffed(path, forced, "csv", "user"))
    container = "parquet" if parquet else _container(path, head)
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


def is_document(path: Union[Path, RemotePath]) -> bool:
    """Not corpus data: documentation, licences, hidden files, data tools' marker files."""
    name = path.name.lower()
    return path.suffix.lower() in DOC_SUFFIXES or name.startswith(DOC_NAMES) or name.startswith(SKIPPED_PREFIXES)


def corpus_files(source: Union[Path, str]) -> list[Union[Path, RemotePath]]:
    """The files a source stands for, in read order: itself, a folder's data files or a glob's (sorted by path).

    A URI (`s3://`, `memory://`, `file://`...) is listed through its filesystem, exactly as a local path.
    """
    if isinstance(source, str) and is_uri(source):
        if is_glob_uri(source):
            return _matches(source, glob_files(source))
        path: Union[Path, RemotePath] = RemotePath.from_uri(source)
    else:
        path = Path(source)
        if not path.exists() and has_glob(str(path)):
            found = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
            return _matches(str(path), [p for p in found if p.is_file()])
    if not path.exists():
        raise CorpusError(f"{path}: no such file or directory")
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise CorpusError(f"{path}: not a regular file or directory")
    files = sorted(p for p in path.iterdir() if p.is_file() and not is_document(p))
    if not files:
        raise CorpusError(f"{path}: directory holds no corpus files")
    return files


def _matches(pattern: str, files: list) -> list:
    files = [p for p in files if not is_document(p)]
    if not files:
        raise CorpusError(f"{pattern}: no corpus files match")
    return files


def expand(source: Union[Path, str], forced: Optional[Format] = None) -> list[Sniffed]:
    """The readable files a path, folder, glob or URI stands for (`corpus_files`), each sniffed."""
    files = corpus_files(source)
    if len(files) > 1 and isinstance(files[0], RemotePath):
        with ThreadPoolExecutor(min(SNIFF_THREADS, len(files))) as pool:
            sniffed = list(pool.map(lambda file: sniff(file, forced), files))  # the first failure in file order
    else:
        sniffed = [sniff(file, forced) for file in files]
    found: list[Sniffed] = []
    for item in sniffed:
        if all(item.path != other.path for other in found):  # a survey file maps to its dialogue file
            found.append(item)
    return found
