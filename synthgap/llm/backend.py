"""The backend protocol: `generate(requests) -> responses`, batch-first, behind the request cache."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Optional

from .cache import RequestCache, split_cached
from .requests import Request, Response


class Backend(ABC):
    """An engine that answers chat requests. `generate` receives the whole list at once, so that
    engines with batching (vLLM, a server under concurrency) can use it."""

    name: str = ""

    @property
    @abstractmethod
    def model_identity(self) -> str:
        """What the cache keys on: a file hash for local weights, the served name for a server."""

    @abstractmethod
    def generate(self, requests: list[Request]) -> list[Response]:
        """One response per request, in order."""

    def info(self) -> dict:
        return {"backend": self.name, "model": self.model_identity}

    def close(self) -> None:
        """Release the engine (servers, threads, GPU memory)."""


class Cached:
    """A backend behind the request cache: cached requests skip the engine, the rest go to it in one call."""

    def __init__(self, backend: Backend, cache: Optional[RequestCache]):
        self.backend, self.cache = backend, cache
        self.engine = {"requests": 0, "calls": 0, "seconds": 0.0, "prompt_tokens": 0, "completion_tokens": 0}

    def generate(self, requests: list[Request]) -> list[Response]:
        keys, done, todo = split_cached(self.cache, requests, self.backend.name, self.backend.model_identity)
        if todo:
            started = time.perf_counter()
            fresh = self.backend.generate([requests[i] for i in todo])
            self.engine["seconds"] += time.perf_counter() - started
            self.engine["calls"] += 1
            self.engine["requests"] += len(todo)
            self.engine["prompt_tokens"] += sum(r.prompt_tokens for r in fresh)
            self.engine["completion_tokens"] += sum(r.completion_tokens for r in fresh)
            if len(fresh) != len(todo):
                raise RuntimeError(f"{self.backend.name} returned {len(fresh)} responses for {len(todo)} requests")
            done.update(zip(todo, fresh))
            if self.cache:
                self.cache.put_many([(keys[i], r) for i, r in zip(todo, fresh)])
        return [done[i] for i in range(len(requests))]

    def stats(self) -> dict:
        return self.cache.stats() if self.cache else {"hits": 0, "misses": 0, "disabled": True}


__all__ = ["Backend", "Cached"]
