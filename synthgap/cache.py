"""On-disk caches: where they live, and a small SQLite key -> blob store that they share.

SQLite (one file, WAL journal) because a run that crashes halfway keeps every committed batch,
two processes may read while one writes, and lookups by key need no index of our own.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence, Union

import numpy as np


def cache_dir(override: Union[str, Path, None] = None) -> Path:
    """The cache folder: `override`, else $SYNTHGAP_CACHE_DIR, else $XDG_CACHE_HOME/synthgap, else ~/.cache/synthgap."""
    if override:
        return Path(override)
    if os.environ.get("SYNTHGAP_CACHE_DIR"):
        return Path(os.environ["SYNTHGAP_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "synthgap"


def text_key(text: str) -> bytes:
    """A 16-byte key for a text (BLAKE2b of its UTF-8 bytes)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class BlobStore:
    """Values (bytes) under (namespace, key) in one SQLite file; `namespace` names what made them."""

    CHUNK = 900  # keys per query, under SQLite's default limit of host parameters

    def __init__(self, path: Union[str, Path], table: str):
        if not table.isidentifier():
            raise ValueError(f"bad table name {table!r}")
        self.path, self.table = Path(path), table
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(f"CREATE TABLE IF NOT EXISTS {table} (namespace TEXT NOT NULL, key BLOB NOT NULL, "
                        f"value BLOB NOT NULL, PRIMARY KEY (namespace, key)) WITHOUT ROWID")
        self.db.commit()

    def get_many(self, namespace: str, keys: list[bytes]) -> dict[bytes, bytes]:
        """Stored values for the keys that have one."""
        found: dict[bytes, bytes] = {}
        for i in range(0, len(keys), self.CHUNK):
            part = keys[i:i + self.CHUNK]
            marks = ",".join("?" * len(part))
            rows = self.db.execute(f"SELECT key, value FROM {self.table} WHERE namespace = ? AND key IN ({marks})",
                                   [namespace, *part])
            found.update(rows)
        return found

    def put_many(self, namespace: str, items: Iterable[tuple[bytes, bytes]]) -> None:
        """Store values and commit (so a crash later keeps them)."""
        with self.db:
            self.db.executemany(f"INSERT OR REPLACE INTO {self.table} (namespace, key, value) VALUES (?, ?, ?)",
                                ((namespace, k, v) for k, v in items))

    def count(self, namespace: Optional[str] = None) -> int:
        if namespace is None:
            return self.db.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0]
        return self.db.execute(f"SELECT COUNT(*) FROM {self.table} WHERE namespace = ?", [namespace]).fetchone()[0]

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "BlobStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def cached_rows(store: Optional[BlobStore], namespace: str, texts: Sequence[str],
                compute: Callable[[list[str]], Sequence], dtype, chunk: int, description: str,
                order: Optional[Callable[[str], object]] = None) -> tuple[list[np.ndarray], int, int]:
    """One array row per text: distinct texts are read from the store, the rest computed chunk by
    chunk (each chunk committed, so a crash keeps it) with a progress bar.

    order: sort key for the texts to compute (e.g. longest first). Returns (rows, cached, computed)
    counted over distinct texts.
    """
    from .progress import count_progress

    keys = [text_key(t) for t in texts]
    first: dict[bytes, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    found = store.get_many(namespace, list(first)) if store else {}
    rows = {k: np.frombuffer(v, dtype=dtype) for k, v in found.items()}
    missing = [k for k in first if k not in rows]
    if order is not None:
        missing.sort(key=lambda k: order(texts[first[k]]))
    with count_progress(len(first), description, done=len(first) - len(missing)) as advance:
        for i in range(0, len(missing), chunk):
            part = missing[i:i + chunk]
            values = [np.asarray(v, dtype) for v in compute([texts[first[k]] for k in part])]
            if store:
                store.put_many(namespace, ((k, v.tobytes()) for k, v in zip(part, values)))
            rows.update(zip(part, values))
            advance(len(part))
    return [rows[k] for k in keys], len(found), len(missing)




@lru_cache(maxsize=8)
def _identity(path: str, stamp: tuple) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in Path(path).rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:32]


def folder_identity(path: Union[str, Path]) -> str:
    """A hash of every file (name and bytes) in a model folder; re-hashed only when a file's size or mtime changes."""
    path = Path(path)
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(path.rglob("*")) if p.is_file())
    return _identity(str(path), stamp)


__all__ = ["BlobStore", "cache_dir", "cached_rows", "folder_identity", "text_key"]
