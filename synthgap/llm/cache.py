"""The request cache: a response stored under the hash of its request, so a re-run asks nothing twice."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from ..cache import BlobStore, cache_dir
from .requests import Request, Response


class RequestCache:
    """Responses in `<cache dir>/llm.sqlite`, keyed by `Request.key(backend, model)`; counts hits and misses."""

    def __init__(self, folder: Union[str, Path, None] = None):
        self.store = BlobStore(cache_dir(folder) / "llm.sqlite", "responses")
        self.hits = 0
        self.misses = 0

    def get_many(self, keys: list[str]) -> dict[str, Response]:
        found = self.store.get_many("v1", [k.encode() for k in keys])
        out = {k.decode(): Response.from_json(v.decode("utf-8")) for k, v in found.items()}
        self.hits += len(out)
        self.misses += len(keys) - len(out)
        return out

    def put_many(self, items: list[tuple[str, Response]]) -> None:
        self.store.put_many("v1", ((k.encode(), r.to_json().encode("utf-8")) for k, r in items))

    def stats(self) -> dict:
        return {"hits": self.hits, "misses": self.misses}

    def close(self) -> None:
        self.store.close()


def split_cached(cache: Optional[RequestCache], requests: list[Request], backend: str, model: str):
    """(keys, responses found in the cache by position, positions still to ask)."""
    keys = [r.key(backend, model) for r in requests]
    found = cache.get_many(keys) if cache else {}
    done = {i: found[k] for i, k in enumerate(keys) if k in found}
    return keys, done, [i for i in range(len(requests)) if i not in done]


__all__ = ["RequestCache", "split_cached"]
