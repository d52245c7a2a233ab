"""Corpus files behind URIs (`s3://`, `gs://`, `memory://`, `file://`, `http(s)://`, ...), read through fsspec.

A `RemotePath` offers the few `pathlib.Path` methods the readers use (name, suffixes, parent, stat,
iterdir, glob), so the containers and formats read a remote file exactly as a local one. fsspec is
imported on first use; a protocol that fsspec cannot load (s3 without s3fs) falls back to pyarrow.fs,
which has S3, GCS and HDFS built in. Messages name a file by the URI the user gave.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import IO, Any, Iterator, Optional

from .problems import CorpusError

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+)://")
_GLOB = re.compile(r"[*?\[]")
INSTALL = "pip install 'synthgap[ray]'"


def is_uri(source: Any) -> bool:
    """Is this source a URI with a scheme (`s3://...`), not a local path or built-in name?"""
    return isinstance(source, str) and _SCHEME.match(source) is not None


def has_glob(text: str) -> bool:
    return _GLOB.search(text) is not None


def is_glob_uri(uri: str) -> bool:
    """Does this URI hold wildcards? (Not for http(s), where '?' starts a query and nothing can be listed.)"""
    scheme, rest = uri.split("://", 1)
    return scheme.lower() not in ("http", "https") and has_glob(rest)


def require_fsspec(uri: str):
    """The fsspec module, or one line naming the package to install."""
    try:
        import fsspec
    except ImportError:
        raise CorpusError(f"{uri}: reading a URI needs the package fsspec, which is not installed: {INSTALL}") from None
    return fsspec


def filesystem(uri: str) -> tuple[Any, str]:
    """The fsspec filesystem of a URI and the path inside it (pyarrow.fs when fsspec lacks the protocol)."""
    fsspec = require_fsspec(uri)
    scheme = _SCHEME.match(uri).group(1).lower()
    try:
        return fsspec.core.url_to_fs(uri)
    except ImportError as exc:  # a known protocol whose package is missing (s3fs, gcsfs, aiohttp...)
        missing = _first_line(exc)
        arrow = _arrow_filesystem(uri, missing)
        if arrow is not None:
            return arrow
        raise CorpusError(f"{uri}: fsspec cannot open {scheme}:// paths here: {missing}") from None
    except ValueError as exc:
        arrow = _arrow_filesystem(uri, "")
        if arrow is not None:
            return arrow
        raise CorpusError(f"{uri}: no filesystem reads {scheme}:// paths ({_first_line(exc)})") from None


def _arrow_filesystem(uri: str, fsspec_said: str) -> Optional[tuple[Any, str]]:
    """pyarrow.fs's filesystem for a URI, wrapped for fsspec; None when pyarrow has none for its scheme.

    A scheme pyarrow knows but cannot reach (network, credentials, region) is that one-line error.
    """
    try:
        import pyarrow
        from fsspec.implementations.arrow import ArrowFSWrapper
        from pyarrow import fs as pafs
    except ImportError:
        return None
    try:
        arrow, path = pafs.FileSystem.from_uri(uri)
    except (pyarrow.ArrowInvalid, pyarrow.ArrowNotImplementedError, ValueError):
        return None  # a scheme pyarrow does not know, or was built without
    except (pyarrow.ArrowException, OSError) as exc:
        other = f" (or through fsspec: {fsspec_said})" if fsspec_said else ""
        raise CorpusError(f"{uri}: pyarrow.fs cannot open it: {_first_line(exc)}{other}") from None
    return ArrowFSWrapper(arrow), path


class _Stat:
    def __init__(self, size: int):
        self.st_size = size


class RemotePath:
    """A file or folder on an fsspec filesystem, named by its URI; the subset of `pathlib.Path` readers use."""

    def __init__(self, fs: Any, path: str, uri: str, size: Optional[int] = None):
        self.fs, self.path, self.uri, self._size = fs, path, uri, size

    @classmethod
    def from_uri(cls, uri: str) -> "RemotePath":
        fs, path = filesystem(uri)
        return cls(fs, path, uri)

    def __str__(self) -> str:
        return self.uri

    def __repr__(self) -> str:
        return f"RemotePath({self.uri!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemotePath) and other.uri == self.uri

    def __hash__(self) -> int:
        return hash(self.uri)

    def __lt__(self, other: "RemotePath") -> bool:  # component-wise, as pathlib sorts local paths
        return PurePosixPath(self.path).parts < PurePosixPath(other.path).parts

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.path).suffix

    @property
    def suffixes(self) -> list[str]:
        return PurePosixPath(self.path).suffixes

    @property
    def stem(self) -> str:
        return PurePosixPath(self.path).stem

    @property
    def parent(self) -> "RemotePath":
        parent = str(PurePosixPath(self.path).parent)
        base = self.uri.rstrip("/")
        uri = base[: base.rfind("/")] if base.count("/") > 2 else base
        return RemotePath(self.fs, parent, uri)

    def child(self, path: str, size: Optional[int] = None) -> "RemotePath":
        """The entry at `path` (as the filesystem lists it) below this folder, named by a URI under ours."""
        mine = self.fs._strip_protocol(self.path).rstrip("/")
        theirs = self.fs._strip_protocol(path)
        if theirs.startswith(mine + "/"):
            uri = f"{self.uri.rstrip('/')}/{theirs[len(mine) + 1:]}"
        else:
            uri = self.fs.unstrip_protocol(theirs)
        return RemotePath(self.fs, theirs, uri, size)

    def _info(self) -> Optional[dict]:
        """The filesystem's entry for this path (looked up once), None when there is none."""
        if not hasattr(self, "_entry"):
            try:
                self._entry = self.fs.info(self.path)
            except FileNotFoundError:
                self._entry = None
            except Exception as exc:  # network, permissions: one line, not a traceback
                raise CorpusError(f"{self.uri}: cannot look it up: {_first_line(exc)}") from None
        return self._entry

    def exists(self) -> bool:
        return self._info() is not None

    def is_file(self) -> bool:
        info = self._info()
        return info is not None and info.get("type") == "file"

    def is_dir(self) -> bool:
        info = self._info()
        return info is not None and info.get("type") == "directory"

    def stat(self) -> _Stat:
        if self._size is None:
            info = self._info()
            if info is None:
                raise CorpusError(f"{self.uri}: no such file")
            self._size = int(info.get("size") or 0)
        return _Stat(self._size)

    def iterdir(self) -> Iterator["RemotePath"]:
        """Entries of this folder; each file knows its size (no second look-up)."""
        try:
            entries = self.fs.ls(self.path, detail=True)
        except Exception as exc:
            raise CorpusError(f"{self.uri}: cannot list it: {_first_line(exc)}") from None
        for entry in entries:
            if self.fs._strip_protocol(entry["name"]).rstrip("/") == self.fs._strip_protocol(self.path).rstrip("/"):
                continue  # some stores list the folder itself
            size = entry.get("size") if entry.get("type") == "file" else None
            yield _Entry(self.child(entry["name"], size), entry.get("type"))

    def glob(self, pattern: str) -> Iterator["RemotePath"]:
        """Files below this folder matching `pattern` (fsspec glob syntax)."""
        for path in self.fs.glob(f"{self.path.rstrip('/')}/{pattern}"):
            yield self.child(path)

    def open_binary(self) -> IO[bytes]:
        """The file's bytes as a seekable stream (what a local `open(path, 'rb')` gives)."""
        try:
            return self.fs.open(self.path, "rb")
        except FileNotFoundError:
            raise CorpusError(f"{self.uri}: no such file") from None
        except Exception as exc:
            raise CorpusError(f"{self.uri}: cannot open it: {_first_line(exc)}") from None


class _Entry(RemotePath):
    """A listed entry, whose type the listing already told (is_file/is_dir need no look-up)."""

    def __init__(self, path: RemotePath, kind: Optional[str]):
        super().__init__(path.fs, path.path, path.uri, path._size)
        self.kind = kind

    def is_file(self) -> bool:
        return self.kind == "file" if self.kind else super().is_file()

    def is_dir(self) -> bool:
        return self.kind == "directory" if self.kind else super().is_dir()


def glob_files(uri: str) -> list[RemotePath]:
    """The files a glob URI matches ('memory://corpus/part-*.jsonl'), in sorted path order."""
    root, pattern = _split_glob(uri)
    base = RemotePath.from_uri(root)
    try:
        found = base.fs.glob(f"{base.path.rstrip('/')}/{pattern}", detail=True)
    except Exception as exc:
        raise CorpusError(f"{uri}: cannot list it: {_first_line(exc)}") from None
    return sorted(base.child(p, info.get("size")) for p, info in found.items() if info.get("type") == "file")


def _split_glob(uri: str) -> tuple[str, str]:
    """'memory://c/part-*.jsonl' -> ('memory://c', 'part-*.jsonl'): the folder before the first wildcard."""
    scheme, rest = uri.split("://", 1)
    head = rest[: _GLOB.search(rest).start()]
    cut = head.rfind("/")
    return f"{scheme}://{rest[:cut] if cut >= 0 else ''}", rest[cut + 1:]


def location(text: str):
    """A path string as handed between processes back into a readable path (URI or local)."""
    from pathlib import Path

    return RemotePath.from_uri(text) if is_uri(text) else Path(text)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = ["RemotePath", "filesystem", "glob_files", "has_glob", "is_glob_uri", "is_uri", "location",
           "require_fsspec"]
