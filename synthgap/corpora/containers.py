"""Low-level streaming of records out of files: JSON arrays, JSON Lines, JSON documents, CSV, Parquet.

Each reader yields `Unit(location, value)`; `value` is the decoded object, or a BadRecord when
that record cannot be decoded. Locations are human-readable ("line 12", "record 7 (line 300)").
"""

from __future__ import annotations

import bz2
import codecs
import csv
import datetime
import decimal
import io
import json
import lzma
import re
import sys
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Optional

from .problems import BadRecord, CorpusError, LoadSummary

Progress = Optional[Callable[[int], None]]

_WS = re.compile(r"[ \t\r\n]*")
_SURROGATE = re.compile("[\udc80-\udcff]")
# A syntax error this close to the end of the buffer may just be a record cut by the chunk edge.
_EDGE = 64
_DECODER = json.JSONDecoder()

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass
class Unit:
    location: str
    value: Any


def open_binary(path: Path, summary: Optional[LoadSummary] = None) -> IO[bytes]:
    """Open a file for reading bytes, decompressing .gz/.bz2/.xz transparently.

    A compressed file cut off mid-stream yields everything before the cut and, when a summary
    is given, marks it truncated; a corrupt stream raises a one-line CorpusError.
    """
    factory = _DECOMPRESSORS.get(path.suffix.lower())
    if factory is None:
        return open_raw(path)
    return io.BufferedReader(_Inflate(path, factory, summary), buffer_size=1 << 20)


def open_raw(path: Path) -> IO[bytes]:
    """The file's bytes as stored: a local file, or a URI's file through its filesystem (`remote.RemotePath`)."""
    opener = getattr(path, "open_binary", None)
    return opener() if opener is not None else open(path, "rb")


def open_text(path: Path, summary: Optional[LoadSummary] = None) -> IO[str]:
    """Open a (possibly compressed) file as UTF-8 text; undecodable bytes become surrogate escapes."""
    return io.TextIOWrapper(open_binary(path, summary), encoding="utf-8-sig", errors="surrogateescape", newline="")


_DECOMPRESSORS: dict[str, Callable[[], Any]] = {
    ".gz": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    ".bz2": bz2.BZ2Decompressor,
    ".xz": lzma.LZMADecompressor,
}


# The stdlib gzip/bz2/lzma file objects raise EOFError on a cut-off stream and lose the data
# decoded in that call; a raw decompressor hands over every byte it could decode.
class _Inflate(io.RawIOBase):
    """Raw reader that decompresses a file, concatenated members included."""

    def __init__(self, path: Path, factory: Callable[[], Any], summary: Optional[LoadSummary]):
        self.path, self.factory, self.summary = path, factory, summary
        self.fh = open_raw(path)
        self.decoder = factory()
        self.pending, self.offset, self.done = b"", 0, False

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        while self.offset >= len(self.pending) and not self.done:
            data = self.fh.read(1 << 16)
            if not data:
                self.done = True
                if not self.decoder.eof and self.summary is not None:
                    self.summary.mark_truncated(
                        f"{self.path}: the compressed stream ends before its end marker (the file is cut off);"
                        " everything before the cut was read")
                return
            if self.decoder.eof:  # another member follows (concatenated gzip), or zero padding
                data = data.lstrip(b"\0")
                if not data:
                    continue
                self.decoder = self.factory()
            try:
                out = self.decoder.decompress(data)
                while self.decoder.eof and self.decoder.unused_data.strip(b"\0"):
                    rest, self.decoder = self.decoder.unused_data, self.factory()
                    out += self.decoder.decompress(rest)
            except (OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
                raise CorpusError(f"{self.path}: cannot decompress: {exc}") from None
            self.pending, self.offset = out, 0

    def readinto(self, buffer) -> int:
        self._fill()
        n = min(len(buffer), len(self.pending) - self.offset)
        buffer[:n] = self.pending[self.offset:self.offset + n]
        self.offset += n
        return n

    def close(self) -> None:
        self.fh.close()
        super().close()


def logical_suffix(path: Path) -> str:
    """The suffix that names the format: 'data.jsonl.gz' -> '.jsonl'."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _DECOMPRESSORS:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def head_text(path: Path, size: int = 1 << 16) -> str:
    """The first `size` bytes decoded leniently (for sniffing only), without a BOM."""
    with open_binary(path) as fh:
        data = fh.read(size)
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")


def _has_bad_bytes(text: str, start: int = 0, end: Optional[int] = None) -> bool:
    return _SURROGATE.search(text, start, len(text) if end is None else end) is not None


def _incomplete(exc: json.JSONDecodeError, buffer_len: int) -> bool:
    """Could this decode error go away with more text (the record runs past the buffer)?"""
    return exc.msg.startswith("Unterminated string") or exc.pos >= buffer_len - _EDGE


# The unfinished token a cut leaves where the decoder stops: a \u escape, a literal, a number's tail.
_CUT_TOKEN = re.compile(r"(?<=\\)u[0-9a-fA-F]{0,4}|t(r(ue?)?)?|f(a(l(se?)?)?)?|n(u(ll?)?)?|-"
                        r"|(?<=[0-9])[.eE]|(?<=[0-9])[eE][-+]")


def _cut_off(exc: json.JSONDecodeError, text: str) -> bool:
    """Is this decode error just the text ending inside a value (a cut-off file), not a malformed one?

    When text is cut, the decoder stops at the very end, or at the start of the unfinished token:
    a literal ('tru'), a number's tail ('1.', '1e+', '-') or a '\\u' escape ('\\u00').
    """
    if exc.msg.startswith("Unterminated string"):
        return True
    end = len(text.rstrip())
    return exc.pos >= end or _CUT_TOKEN.fullmatch(text, exc.pos, end) is not None


# Stdlib's C decoder (raw_decode) over a growing text buffer, rather than an event parser
# such as ijson: it is faster here, and it lets us recover every complete record before a cut
# and pin undecodable bytes to the one record that holds them.
def iter_json_array(path: Path, summary: LoadSummary, progress: Progress = None,
                    chunk_size: int = 1 << 22) -> Iterator[Unit]:
    """Stream the elements of a top-level JSON array, never holding the whole file.

    A file cut off mid-record yields every complete record and marks the summary truncated.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    state = {"buf": "", "pos": 0, "line": 1, "eof": False}

    with open_binary(path, summary) as fh:

        def read_more(size: int = chunk_size) -> bool:
            if state["eof"]:
                return False
            data = fh.read(size)
            if progress and data:
                progress(len(data))
            if not data:
                state["eof"] = True
                state["buf"] += decoder.decode(b"", final=True)
                return True
            state["buf"] += decoder.decode(data)
            return True

        def advance(to: int) -> None:
            state["line"] += state["buf"].count("\n", state["pos"], to)
            state["pos"] = to

        def skip_ws() -> bool:
            """Move past whitespace; False when the file has ended."""
            while True:
                advance(_WS.match(state["buf"], state["pos"]).end())
                if state["pos"] < len(state["buf"]):
                    return True
                if not read_more():
                    return False

        read_more()
        if state["buf"].startswith("\ufeff"):
            state["buf"] = state["buf"][1:]
        if not skip_ws() or state["buf"][state["pos"]] != "[":
            raise CorpusError(f"{path}: line {state['line']}: expected a JSON array starting with '['")
        advance(state["pos"] + 1)
        index = 0
        expect_comma = False
        while True:
            if state["pos"] > chunk_size:  # drop consumed text so memory stays bounded
                state["buf"], state["pos"] = state["buf"][state["pos"]:], 0
            if not skip_ws():
                summary.mark_truncated(
                    f"{path}: file ends after record {index} (line {state['line']}) without the closing ']';"
                    f" all {index} records before the end were read")
                return
            char = state["buf"][state["pos"]]
            if char == "]":
                advance(state["pos"] + 1)
                if skip_ws():  # e.g. two arrays in one file: the rest must not vanish silently
                    yield Unit(f"line {state['line']}", BadRecord("malformed JSON", "text after the closing ']'"))
                return
            if expect_comma:
                if char == ",":
                    advance(state["pos"] + 1)
                    expect_comma = False
                    continue
                # A missing comma between records: report it on the next record, then go on.
            index += 1
            start_line = state["line"]
            location = f"record {index} (line {start_line})"
            want = chunk_size
            while True:
                buf, pos = state["buf"], state["pos"]
                try:
                    obj, end = _DECODER.raw_decode(buf, pos)
                except json.JSONDecodeError as exc:
                    if _incomplete(exc, len(buf)) and not state["eof"]:
                        read_more(want)
                        want *= 2  # geometric growth: a huge record is re-scanned O(log n) times
                        continue
                    # Complete but malformed, or cut off by the end of the file: brackets tell.
                    end = _skip_value(state, read_more)
                    if end is None:
                        how = "in the middle of a string" if exc.msg.startswith("Unterminated") else \
                            f"before the record is closed ({exc.msg.lower()})"
                        summary.mark_truncated(
                            f"{path}: file ends inside record {index} (which starts at line {start_line}), {how};"
                            f" the {index - 1} records before it were read")
                        return
                    yield Unit(location, BadRecord("malformed JSON", f"{exc.msg} (line {exc.lineno})"))
                    advance(end)
                    break
                if expect_comma:
                    yield Unit(location, BadRecord("malformed JSON", "missing ',' before this record"))
                elif _has_bad_bytes(buf, pos, end):
                    yield Unit(location, BadRecord("non-UTF-8 bytes", "record text is not valid UTF-8"))
                else:
                    yield Unit(location, obj)
                advance(end)
                break
            expect_comma = True


_STRUCT = re.compile(r'["\\{}\[\]]')


def _skip_value(state: dict, read_more: Callable[..., bool]) -> Optional[int]:
    """End offset of the malformed value at state['pos'], by bracket matching (None at EOF)."""
    depth, in_string = 0, False
    escaped_at = -1  # offset of the character a backslash escapes
    scan = state["pos"]
    while True:
        buf = state["buf"]
        for match in _STRUCT.finditer(buf, scan):
            ch = match.group()
            if match.start() == escaped_at:
                continue
            if ch == "\\":
                if in_string:
                    escaped_at = match.end()
            elif ch == '"':
                in_string = not in_string
            elif not in_string:
                depth += 1 if ch in "{[" else -1
                if depth <= 0:
                    return match.end()
        scan = max(len(buf), escaped_at)
        if not read_more():
            return None


def iter_jsonl(path: Path, summary: LoadSummary, progress: Progress = None) -> Iterator[Unit]:
    """Stream one JSON value per line; a last line cut off mid-record is reported as truncation."""
    with open_binary(path, summary) as fh:
        number = 0
        for raw in fh:
            number += 1
            if progress:
                progress(len(raw))
            if not raw.strip():
                continue
            location = f"line {number}"
            try:
                # utf-8-sig: a BOM opens the file, or a shard that was concatenated onto another.
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                yield Unit(location, BadRecord("non-UTF-8 bytes", f"invalid UTF-8 at byte {exc.start} of the line"))
                continue
            try:
                yield Unit(location, json.loads(text))
            except json.JSONDecodeError as exc:
                last = not raw.endswith(b"\n")  # only the final line can lack its newline
                if last and _cut_off(exc, text):
                    summary.mark_truncated(
                        f"{path}: file ends inside line {number} ({exc.msg}); the lines before it were read")
                    return
                yield Unit(location, BadRecord("malformed JSON", f"{exc.msg} at column {exc.colno}"))


def load_json_document(path: Path) -> Any:
    """Decode a whole (small) JSON document; errors name the file and line."""
    with open_binary(path) as fh:
        data = fh.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CorpusError(f"{path}: line {line}: non-UTF-8 bytes (expected UTF-8 text)") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{path}: line {exc.lineno}: malformed JSON: {exc.msg}") from None


def iter_json_document(path: Path, summary: LoadSummary, progress: Progress = None) -> Iterator[Unit]:
    """Records from a JSON document that is an object: itself one record, or lists under a key."""
    doc = load_json_document(path)
    if progress:
        progress(path.stat().st_size)
    if isinstance(doc, list):
        for i, obj in enumerate(doc, start=1):
            yield Unit(f"record {i}", obj)
        return
    lists = [k for k, v in doc.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
    if len(lists) == 1 and not _looks_like_record(doc):
        for i, obj in enumerate(doc[lists[0]], start=1):
            yield Unit(f"record {i} of '{lists[0]}'", obj)
    else:
        yield Unit("record 1", doc)


def _looks_like_record(doc: dict) -> bool:
    keys = set(doc)
    return bool(keys & {"messages", "conversation", "conversations", "dialog", "turns"}) and len(keys) > 1


def iter_csv(path: Path, summary: LoadSummary, progress: Progress = None) -> Iterator[Unit]:
    """Rows of a CSV file with a header, as dicts; 'row N (line L)' locations."""
    with open_text(path, summary) as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CorpusError(f"{path}: line 1: malformed CSV header: {exc}") from None
        header = [h.strip() for h in header]
        row_number = 0
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                row_number += 1
                yield Unit(f"row {row_number} (line {line})", BadRecord("malformed CSV", str(exc)))
                continue
            if not any(cell.strip() for cell in row):
                continue
            row_number += 1
            location = f"row {row_number} (line {line})"
            row = _fit_row(row, len(header))
            if any(_has_bad_bytes(cell) for cell in row):
                yield Unit(location, BadRecord("non-UTF-8 bytes", "row text is not valid UTF-8"))
            elif len(row) != len(header):
                yield Unit(location, BadRecord("wrong number of columns",
                                               f"expected {len(header)} columns, got {len(row)}"))
            else:
                yield Unit(location, dict(zip(header, row)))
        if progress:
            progress(path.stat().st_size)


def _fit_row(row: list[str], width: int) -> list[str]:
    """A row without the empty cells a trailing delimiter leaves beyond the header (spreadsheet exports)."""
    if len(row) > width and not any(cell.strip() for cell in row[width:]):
        return row[:width]
    return row


def csv_header(path: Path) -> list[str]:
    """The header row of a CSV file, stripped (empty list when there is none)."""
    text = head_text(path)
    try:
        row = next(csv.reader(text.splitlines()[:1]))
    except (StopIteration, csv.Error):
        return []
    return [h.strip() for h in row]


# Parquet: rows read by record batches (never the whole file), each row the dict a JSON line would give.
PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
PARQUET_MAGIC = "PAR1"
PARQUET_BATCH = 1024


def require_parquet(path: Path):
    """The pyarrow.parquet module, or one line naming the file and what to install."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise CorpusError(f"{path}: reading Parquet needs the package pyarrow, which is not installed: "
                          "pip install 'synthgap[ray]'") from None
    return pq


def is_parquet(path: Path, head: str) -> bool:
    """A Parquet file: named so, or starting with Parquet's magic bytes (`head`: its first bytes as text)."""
    return logical_suffix(path) in PARQUET_SUFFIXES or head.startswith(PARQUET_MAGIC)


def iter_parquet(path: Path, summary: LoadSummary, progress: Progress = None,
                 batch_size: Optional[int] = None) -> Iterator[Unit]:
    """Stream the rows of a Parquet file as JSON-like dicts, 'row N' locations (1-based, whole file).

    Nested lists and structs become lists and dicts; a null field is an absent key (Parquet writes
    the keys some records lack as nulls); timestamps become ISO 8601 text; a binary value that is
    not UTF-8 makes its row a bad record. A file pyarrow cannot open (cut off, not Parquet) is one line.
    """
    pq = require_parquet(path)
    import pyarrow

    with open_raw(path) as fh:
        try:
            parquet = pq.ParquetFile(fh)
            total_rows = parquet.metadata.num_rows
        except (pyarrow.ArrowException, OSError, ValueError) as exc:
            raise CorpusError(f"{path}: not a readable Parquet file (cut off or corrupt?): {_one_line(exc)}") from None
        size = path.stat().st_size if progress else 0
        row, reported = 0, 0
        batches = parquet.iter_batches(batch_size=batch_size or PARQUET_BATCH, use_threads=False)
        while True:
            try:
                batch = next(batches, None)
                if batch is None:
                    break
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # a map with a repeated key keeps the last value, as JSON does
                    rows = batch.to_pylist(maps_as_pydicts="lossy")
            except (pyarrow.ArrowException, OSError, ValueError) as exc:
                raise CorpusError(f"{path}: row {row + 1}: cannot decode the Parquet data from here on: "
                                  f"{_one_line(exc)}") from None
            for obj in rows:
                row += 1
                try:
                    value = _plain(obj)
                except _NotText as exc:
                    value = BadRecord("non-UTF-8 bytes", f"field '{exc.where()}' is not valid UTF-8 text")
                yield Unit(f"row {row}", value)
            if progress and total_rows:
                done = size * row // total_rows
                progress(done - reported)
                reported = done


class _NotText(Exception):
    """A binary value that is not UTF-8; `path` is filled in as the error travels up the nesting."""

    def __init__(self) -> None:
        self.path: list[str] = []

    def where(self) -> str:
        text = ""
        for part in reversed(self.path):
            text += part if part.startswith("[") or not text else f".{part}"
        return text


_JSON_TYPES = (str, int, float, bool)


def _plain(value: Any) -> Any:
    """A value from pyarrow as JSON would hold it (see `iter_parquet`)."""
    if value is None or type(value) in _JSON_TYPES:
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if item is None:
                continue
            try:
                out[str(key)] = _plain(item)
            except _NotText as exc:
                exc.path.append(str(key))
                raise
        return out
    if isinstance(value, (list, tuple)):
        out_list = []
        for index, item in enumerate(value):
            try:
                out_list.append(_plain(item))
            except _NotText as exc:
                exc.path.append(f"[{index}]")
                raise
        return out_list
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise _NotText() from None
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (str, int, float, bool)):  # subclasses (numpy scalars are not; see below)
        return value
    item = getattr(value, "item", None)  # numpy scalars (half floats)
    return item() if callable(item) else str(value)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
