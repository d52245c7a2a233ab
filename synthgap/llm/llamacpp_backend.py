"""llama.cpp in process (llama-cpp-python) with a GGUF file or a built-in model name.

llama-cpp-python's chat API takes one conversation per call, so `generate` walks the list
itself; schema-constrained output uses its JSON-schema grammar (`response_format`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

from ..errors import SynthgapError
from .backend import Backend
from .models import file_identity, resolve_gguf
from .requests import Request, Response
from .structured import grammar_schema


class LlamaCppBackend(Backend):
    name = "llamacpp"

    def __init__(self, model: str = "smollm2-135m", n_ctx: int = 4096, threads: Optional[int] = None,
                 cache_folder: Union[str, Path, None] = None):
        from .preflight import require_llamacpp

        self.path = resolve_gguf(model, cache_folder)
        require_llamacpp(self.path, cache_folder)  # a build this CPU cannot run is one line here, not a SIGILL later
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise SynthgapError("the llamacpp backend needs llama-cpp-python (pip install 'synthgap[llm]')") from exc
        self._identity = file_identity(self.path, cache_folder)
        self.llm = Llama(model_path=str(self.path), n_ctx=n_ctx, n_threads=threads or os.cpu_count() or 1,
                         verbose=False)

    @property
    def model_identity(self) -> str:
        return f"gguf:{self._identity}"

    def _one(self, req: Request) -> Response:
        kwargs = {"messages": list(req.messages), "max_tokens": req.max_tokens, "temperature": req.temperature,
                  "top_p": req.top_p, "stop": list(req.stop) or None}
        if req.seed is not None:
            kwargs["seed"] = req.seed
        if req.json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": grammar_schema(req.json_schema)}
        out = self.llm.create_chat_completion(**kwargs)
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Response(choice["message"].get("content") or "", choice.get("finish_reason"),
                        int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))

    def generate(self, requests: list[Request]) -> list[Response]:
        return [self._one(r) for r in requests]

    def close(self) -> None:
        close = getattr(self.llm, "close", None)
        if close:
            close()


__all__ = ["LlamaCppBackend"]
