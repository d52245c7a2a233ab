"""Build a backend from its kind and options (BackendSpec), loading heavy engines lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from ..errors import SynthgapError

if TYPE_CHECKING:  # the CLI imports this module for its options: nothing heavy at import time
    from .backend import Backend

from .kinds import KINDS


class BackendSpec(BaseModel):
    """What selects and configures an engine; `describe()` is what a run's fingerprint keeps."""
    model_config = ConfigDict(extra="forbid")

    kind: Literal["llamacpp", "openai", "vllm"] = "llamacpp"
    model: str = "smollm2-135m"
    base_url: Optional[str] = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = Field(8, ge=1)
    timeout: float = Field(120.0, ge=1)
    n_ctx: int = Field(4096, ge=256)
    threads: Optional[int] = Field(None, ge=1)
    max_model_len: Optional[int] = Field(4096, ge=256)
    engine_args: dict = {}

    def describe(self) -> dict:
        """The parts that decide the answers (not the ones that only decide speed)."""
        out = {"kind": self.kind, "model": self.model}
        if self.kind == "openai":
            out["base_url"] = self.base_url
        return out


def make_backend(spec: BackendSpec, cache_folder=None) -> "Backend":
    """The engine for a spec; heavy imports happen here, with an error that names the extra to install."""
    if spec.kind == "llamacpp":
        from .llamacpp_backend import LlamaCppBackend

        return LlamaCppBackend(spec.model, n_ctx=spec.n_ctx, threads=spec.threads, cache_folder=cache_folder)
    if spec.kind == "openai":
        from .openai_backend import OpenAIBackend

        if not spec.base_url:
            raise SynthgapError("the openai backend needs --base-url (e.g. http://127.0.0.1:8000/v1 for `vllm serve`)")
        return OpenAIBackend(spec.model, base_url=spec.base_url, api_key_env=spec.api_key_env,
                             concurrency=spec.concurrency, timeout=spec.timeout)
    if spec.kind == "vllm":
        from .vllm_backend import VLLMBackend

        return VLLMBackend(spec.model, max_model_len=spec.max_model_len, cache_folder=cache_folder, **spec.engine_args)
    raise SynthgapError(f"unknown backend {spec.kind!r} (known: {', '.join(KINDS)})")


def model_identity(spec: BackendSpec, cache_folder=None) -> str:
    """The engine's `model_identity` without loading it (what a Ray driver keys its job and cache on; each
    worker checks that the engine it loads says the same)."""
    if spec.kind == "llamacpp":
        from .models import file_identity, resolve_gguf

        return f"gguf:{file_identity(resolve_gguf(spec.model, cache_folder), cache_folder)}"
    if spec.kind == "openai":
        if not spec.base_url:
            raise SynthgapError("the openai backend needs --base-url (e.g. http://127.0.0.1:8000/v1 for `vllm serve`)")
        return f"served:{spec.model}@{spec.base_url.rstrip('/')}"
    if spec.kind == "vllm":
        from pathlib import Path

        from ..cache import folder_identity

        local = Path(spec.model).expanduser()
        if not local.is_dir():
            from .hf_export import hf_model

            local = Path(hf_model(spec.model, cache_folder, "float32"))
        return f"hf:{folder_identity(local)}" if local.is_dir() else f"hub:{spec.model}"
    raise SynthgapError(f"unknown backend {spec.kind!r} (known: {', '.join(KINDS)})")


def spec_from_options(options: dict, prefix: str = "", base: Optional[BackendSpec] = None) -> Optional[BackendSpec]:
    """A BackendSpec from the parsed options; with a prefix, None when no prefixed option was given."""
    under = prefix.replace("-", "_")
    if prefix:
        kind, model, url = options.pop(f"{under}backend"), options.pop(f"{under}model"), options.pop(f"{under}base_url")
        if kind is None and model is None and url is None:
            return None
        if base is None:
            raise ValueError("a prefixed backend needs the main one as its base")
        return BackendSpec(kind=kind or base.kind, model=model or base.model, base_url=url or base.base_url,
                           api_key_env=base.api_key_env, concurrency=base.concurrency, timeout=base.timeout,
                           n_ctx=base.n_ctx, threads=base.threads, max_model_len=base.max_model_len,
                           engine_args=dict(base.engine_args))
    return BackendSpec(kind=options.pop("backend"), model=options.pop("model"), base_url=options.pop("base_url"),
                       api_key_env=options.pop("api_key_env"), concurrency=options.pop("concurrency"),
                       timeout=options.pop("timeout"), n_ctx=options.pop("n_ctx"), threads=options.pop("threads"),
                       max_model_len=options.pop("max_model_len"), engine_args=options.pop("engine_args"))


__all__ = ["BackendSpec", "KINDS", "make_backend", "model_identity", "spec_from_options"]
