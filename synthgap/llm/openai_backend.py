"""Any OpenAI-compatible chat server: `vllm serve`, llama.cpp's server, hosted APIs.

Requests run concurrently (bounded), each with a timeout; 429, 5xx and connection errors are
retried with exponential backoff (honouring Retry-After); structured output goes through
`response_format` with a JSON schema; seeds are passed through.
"""

from __future__ import annotations

import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

from ..errors import SynthgapError
from .backend import Backend
from .requests import Request, Response
from .structured import grammar_schema

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(self, model: str, base_url: str = "http://127.0.0.1:8000/v1", api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 8, timeout: float = 120.0, retries: int = 5, backoff: float = 1.0,
                 schema_format: str = "json_schema"):
        """schema_format: "json_schema" (OpenAI, vLLM) or "json_object" with a "schema" key (llama.cpp's
        server); a server that rejects the first is switched to the second automatically."""
        import httpx

        self.schema_format = schema_format
        self.model, self.base_url = model, base_url.rstrip("/")
        self.concurrency, self.retries, self.backoff = max(1, concurrency), retries, backoff
        key = os.environ.get(api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout,
                                   limits=httpx.Limits(max_connections=self.concurrency))
        self.retried = 0

    @property
    def model_identity(self) -> str:
        # The server is part of it: two local servers may serve different weights under one name.
        return f"served:{self.model}@{self.base_url}"

    def payload(self, req: Request) -> dict:
        body = {"model": self.model, "messages": list(req.messages), "max_tokens": req.max_tokens,
                "temperature": req.temperature, "top_p": req.top_p}
        if req.seed is not None:
            body["seed"] = req.seed
        if req.stop:
            body["stop"] = list(req.stop)
        if req.json_schema is not None and self.schema_format == "json_object":
            # the json_object form is llama.cpp's server, whose grammar cannot take long string bounds
            body["response_format"] = {"type": "json_object", "schema": grammar_schema(req.json_schema)}
        elif req.json_schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "output", "schema": req.json_schema, "strict": True}}
        return body

    def _rejects_json_schema(self, req: Request, status: int, text: str) -> bool:
        """A server that only knows {"type": "json_object", "schema": ...} (llama.cpp) says so in its error."""
        return (req.json_schema is not None and self.schema_format == "json_schema" and status in (400, 422, 500)
                and "response_format" in text and "json_object" in text)

    def _wait(self, attempt: int, retry_after: Optional[str]) -> None:
        delay = self.backoff * (2 ** attempt) * (0.5 + random.random() / 2)  # jitter: retries do not march in step
        if retry_after:
            try:
                delay = max(delay, float(retry_after))
            except ValueError:
                pass
        time.sleep(delay)

    def one(self, req: Request) -> Response:
        """POST one chat completion, retrying what can be retried."""
        import httpx

        last = ""
        for attempt in range(self.retries + 1):
            retry_after = None
            try:
                r = self.client.post("/chat/completions", json=self.payload(req))
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if r.status_code == 200:
                    return _response(r.json(), self.base_url)
                if self._rejects_json_schema(req, r.status_code, r.text):
                    self.schema_format = "json_object"
                    return self.one(req)
                last = f"HTTP {r.status_code}: {r.text[:200]}"
                if r.status_code not in RETRY_STATUS:
                    raise SynthgapError(f"{self.base_url}: {last}")
                retry_after = r.headers.get("retry-after")
            if attempt < self.retries:
                self.retried += 1
                self._wait(attempt, retry_after)
        raise SynthgapError(f"{self.base_url}: gave up after {self.retries + 1} attempts ({last})")

    def generate(self, requests: list[Request]) -> list[Response]:
        if not requests:
            return []
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests))) as pool:
            return list(pool.map(self.one, requests))

    def close(self) -> None:
        self.client.close()


def _response(data: dict, where: str) -> Response:
    try:
        choice = data["choices"][0]
        text = choice["message"]["content"] or ""
    except (KeyError, IndexError, TypeError) as exc:
        raise SynthgapError(f"{where}: the answer is not a chat completion ({str(data)[:200]})") from exc
    usage = data.get("usage") or {}
    return Response(text, choice.get("finish_reason"), int(usage.get("prompt_tokens") or 0),
                    int(usage.get("completion_tokens") or 0))


__all__ = ["OpenAIBackend"]
