"""What every backend takes and gives back: a request (messages plus sampling) and a response."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class Request:
    """One chat completion: messages, sampling parameters, a seed, and an optional JSON schema."""
    messages: tuple  # of {"role": ..., "content": ...} dicts
    max_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 0.95
    seed: Optional[int] = None
    stop: tuple = ()
    json_schema: Optional[dict] = None

    def __post_init__(self):
        object.__setattr__(self, "messages", tuple(dict(m) for m in self.messages))
        object.__setattr__(self, "stop", tuple(self.stop))

    def key(self, backend: str, model: str) -> str:
        """A hash of everything that decides the answer: backend, model identity, messages, sampling, seed, schema."""
        payload = {"backend": backend, "model": model, **asdict(self)}
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=list)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Response:
    """A backend's answer; `cached` says it came from the request cache."""
    text: str
    finish_reason: Optional[str] = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    meta: dict = field(default_factory=dict)

    def to_json(self) -> str:
        data: dict[str, Any] = asdict(self)
        data.pop("cached")
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Response":
        return cls(**json.loads(text), cached=True)


__all__ = ["Request", "Response"]
