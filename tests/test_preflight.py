"""The engine preflight: a llama.cpp build that cannot run here, or a vLLM that cannot import, is one
line before anything starts, not a crash in the middle of a run.

The failure is built on purpose: a stand-in `llama_cpp` package whose model load kills its own
process with SIGILL (what a library compiled for another CPU does), put first on PYTHONPATH for
real `synthgap` processes. The real build is checked too (it must pass, and be cached).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from synthgap.errors import SynthgapError
from synthgap.llm import preflight
from synthgap.pipeline.config import RunConfig
from synthgap.pipeline.runner import engines

REPO = Path(__file__).resolve().parents[1]

FAKE_LLAMA = textwrap.dedent('''
    """A stand-in for llama-cpp-python: FAKE_LLAMA=sigill makes loading a model die like a library
    built for another CPU; every load is counted in FAKE_LLAMA_COUNT."""
    import os, signal
    __version__ = "0.0-fake"

    class Llama:
        def __init__(self, model_path, **kwargs):
            count = os.environ.get("FAKE_LLAMA_COUNT")
            if count:
                with open(count, "a") as fh:
                    fh.write("load\\n")
            if os.environ.get("FAKE_LLAMA") == "sigill":
                os.kill(os.getpid(), signal.SIGILL)

        def create_completion(self, prompt, max_tokens=16, **kwargs):
            return {"usage": {"completion_tokens": max_tokens}}
''')


@pytest.fixture
def fake_llama(tmp_path, monkeypatch):
    """A folder with the stand-in llama_cpp package (and its 'built library')."""
    root = tmp_path / "fake"
    package = root / "llama_cpp"
    (package / "lib").mkdir(parents=True)
    (package / "__init__.py").write_text(FAKE_LLAMA)
    (package / "lib" / "libllama.so").write_bytes(b"\x7fELF not really")
    count = tmp_path / "loads.txt"
    monkeypatch.setenv("FAKE_LLAMA_COUNT", str(count))
    monkeypatch.setattr(preflight, "_PASSED", {})
    real = preflight.package_folder
    monkeypatch.setattr(preflight, "package_folder", lambda name: package if name == "llama_cpp" else real(name))
    return {"root": root, "package": package, "count": count}


def loads(fake) -> int:
    return len(fake["count"].read_text().splitlines()) if fake["count"].exists() else 0


def test_a_child_killed_by_sigill_is_described_in_words():
    ok, detail = preflight.run_probe("import os, signal; os.kill(os.getpid(), signal.SIGILL)", [])
    assert not ok and detail.startswith("it died with SIGILL (illegal instruction)")
    assert "\n" not in detail
    assert preflight.describe_exit(-signal.SIGSEGV, "") == "it died with SIGSEGV"
    assert preflight.describe_exit(132, "").startswith("it died with SIGILL")
    assert preflight.describe_exit(1, "Traceback...\n  File x\nImportError: libfoo.so: cannot open\n") == \
        "ImportError: libfoo.so: cannot open"
    ok, detail = preflight.run_probe("import time; time.sleep(5)", [], timeout=0.5)
    assert not ok and detail.startswith("it did not finish within")


def test_failed_check_is_one_line_with_the_rebuild_command(fake_llama, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_LLAMA", "sigill")
    with pytest.raises(SynthgapError) as info:
        preflight.require_llamacpp(cache_folder=tmp_path / "cache")
    message = str(info.value)
    assert "\n" not in message and "SIGILL" in message and str(fake_llama["package"] / "lib") in message
    assert "make llama-rebuild" in message and "nothing was started" in message
    # a failure is not remembered: the next call checks again (the fix may not change the library)
    with pytest.raises(SynthgapError):
        preflight.require_llamacpp(cache_folder=tmp_path / "cache")
    assert loads(fake_llama) == 2


def test_a_pass_is_cached_per_built_library(fake_llama, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = preflight.check_llamacpp(cache_folder=cache)
    assert first.ok and not first.cached and first.detail == "generated 4 tokens"
    assert loads(fake_llama) == 1
    monkeypatch.setattr(preflight, "_PASSED", {})  # as a new process would: from the cache file
    again = preflight.check_llamacpp(cache_folder=cache)
    assert again.ok and again.cached and again.key == first.key and loads(fake_llama) == 1
    assert json.loads(next((cache / "engines").glob("llamacpp-*.json")).read_text())["ok"] is True
    # a rebuilt library (new size and time) is checked again
    lib = fake_llama["package"] / "lib" / "libllama.so"
    lib.write_bytes(b"\x7fELF rebuilt, longer")
    os.utime(lib, ns=(1, 1))
    monkeypatch.setattr(preflight, "_PASSED", {})
    third = preflight.check_llamacpp(cache_folder=cache)
    assert third.ok and not third.cached and third.key != first.key and loads(fake_llama) == 2


def test_the_key_covers_this_cpu(monkeypatch):
    key = preflight._key("llamacpp", ["lib 1 2"])
    monkeypatch.setattr(preflight, "cpu_signature", lambda: "x86_64|flags=avx2 avx512f amx_tile")
    assert preflight._key("llamacpp", ["lib 1 2"]) != key
    assert "flags=" in preflight.cpu_signature() or sys.platform != "linux"


def test_vllm_that_cannot_import_is_one_line(tmp_path, monkeypatch):
    package = tmp_path / "fakevllm" / "vllm"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "raise ImportError('libcudart.so.12: cannot open shared object file: No such file or directory')\n")
    monkeypatch.setattr(preflight, "_PASSED", {})
    real = preflight.package_folder
    monkeypatch.setattr(preflight, "package_folder", lambda name: package if name == "vllm" else real(name))
    with pytest.raises(SynthgapError) as info:
        preflight.require_vllm(cache_folder=tmp_path / "cache")
    message = str(info.value)
    assert "\n" not in message and "libcudart.so.12" in message and "make vllm-env" in message
    assert sys.executable in message
    monkeypatch.setattr(preflight, "package_folder", lambda name: None if name == "vllm" else real(name))
    with pytest.raises(SynthgapError, match="not installed"):
        preflight.require_vllm(cache_folder=tmp_path / "cache")


def test_run_config_names_every_engine_it_loads():
    assert engines(RunConfig()) == [("llamacpp", "smollm2-135m")]
    config = RunConfig.model_validate({"llm": {"enabled": False}, "compare": {"extraction": "llm"}})
    assert engines(config) == [("llamacpp", None)]
    config = RunConfig.model_validate({"llm": {"backend": "vllm", "assistant": {"kind": "openai"}},
                                       "compare": {"extraction": "llm",
                                                   "extractor": {"engine": {"kind": "vllm", "model": "q"}}}})
    assert engines(config) == [("vllm", "smollm2-135m"), ("openai", "smollm2-135m"), ("vllm", "q")]
    assert engines(RunConfig.model_validate({"llm": {"enabled": False}, "compare": {"extraction": "rules"}})) == []


# --- real synthgap processes -------------------------------------------------------------------

def synthgap(args, cwd, env_extra=None, timeout=300):
    env = {**os.environ, "CI": "true", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "synthgap.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


def fake_env(fake, tmp_path, mode="sigill"):
    return {"PYTHONPATH": os.pathsep.join([str(fake["root"]), str(REPO)]), "FAKE_LLAMA": mode,
            "FAKE_LLAMA_COUNT": str(fake["count"]), "SYNTHGAP_CACHE_DIR": str(tmp_path / "cache")}


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_generate_llm_on_a_build_that_cannot_run_is_one_line_and_writes_nothing(fake_llama, tmp_path):
    people = tmp_path / "p.jsonl"
    made = synthgap(["personas", "sample", "-n", "2", "--seed", "1", "-o", people], tmp_path)
    assert made.returncode == 0, made.stderr
    out = synthgap(["generate", "llm", "--personas", people, "--backend", "llamacpp", "--model", "smollm2-135m",
                    "-o", tmp_path / "llm.jsonl"], tmp_path, fake_env(fake_llama, tmp_path))
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("synthgap: error: llama.cpp cannot run here"), out.stderr
    assert "SIGILL" in lines[0] and "make llama-rebuild" in lines[0]
    assert not list(tmp_path.glob("llm.jsonl*"))


def test_synthgap_run_stops_before_its_first_stage_and_loses_nothing(fake_llama, tmp_path):
    run_dir = tmp_path / "runs" / "mine"
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text('{"from": "an earlier run"}\n')
    (run_dir / "personas.jsonl").write_text('{"id": "kept"}\n')
    before = snapshot(run_dir)
    config = tmp_path / "run.yaml"
    config.write_text("personas:\n  n: 4\nllm:\n  personas: 2\ncompare:\n  sample: 20\n")
    out = synthgap(["run", config, "-o", run_dir], tmp_path, fake_env(fake_llama, tmp_path))
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "llama.cpp cannot run here" in lines[0] and "SIGILL" in lines[0], out.stderr
    assert "stage" not in out.stderr and snapshot(run_dir) == before
    assert loads(fake_llama) == 1  # checked once, before everything


def test_synthgap_run_with_a_vllm_that_cannot_import_stops_first(tmp_path):
    package = tmp_path / "fake" / "vllm"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('No module named torch._C')\n")
    config = tmp_path / "run.yaml"
    config.write_text("llm:\n  backend: vllm\n")
    out = synthgap(["run", config, "-o", tmp_path / "run"], tmp_path,
                   {"PYTHONPATH": os.pathsep.join([str(tmp_path / "fake"), str(REPO)]),
                    "SYNTHGAP_CACHE_DIR": str(tmp_path / "cache")})
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "vLLM cannot be imported" in lines[0] and "torch._C" in lines[0], out.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(preflight.package_folder("llama_cpp") is None, reason="llama-cpp-python is not installed")
def test_the_real_build_passes_the_check_once(tmp_path, monkeypatch):
    monkeypatch.setattr(preflight, "_PASSED", {})
    check = preflight.check_llamacpp(cache_folder=tmp_path)
    assert check.ok, check.detail
    assert check.detail == "generated 4 tokens" and not check.cached
    assert preflight.check_llamacpp(cache_folder=tmp_path).cached


def test_only_the_engines_of_stages_that_will_run_are_checked():
    config = RunConfig.model_validate({"compare": {"extraction": "llm"}})
    assert engines(config, stages=["personas", "llm", "compare"]) == [("llamacpp", "smollm2-135m"), ("llamacpp", None)]
    assert engines(config, stages=["compare", "report"]) == [("llamacpp", None)]
    assert engines(config, stages=["report", "card"]) == []


def test_a_run_whose_llm_stage_is_reused_needs_no_engine(fake_llama, tmp_path):
    """Every stage finished earlier with the same settings: a second run reuses them all and is not
    stopped by an engine it will not load (a broken build only matters to a stage that runs)."""
    from synthgap.pipeline.config import load_config
    from synthgap.pipeline.runner import plan
    from synthgap.pipeline.stages import RunState, fingerprints, pending

    config_file = tmp_path / "run.yaml"
    config_file.write_text("personas:\n  n: 4\nllm:\n  personas: 2\n")
    run_dir = tmp_path / "run"
    stages = plan(load_config(config_file), run_dir)
    state = RunState(run_dir)
    assert pending(stages, state) == [s.name for s in stages]  # nothing done yet
    for stage, fp in zip(stages, fingerprints(stages).values()):
        for output in stage.outputs:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text('{"metrics": []}\n' if output.name == "results.json" else "done\n")
        state.set(stage.name, fingerprint=fp, status="done", seconds=0.0, commands=[])
    assert pending(stages, RunState(run_dir)) == []
    out = synthgap(["run", config_file, "-o", run_dir], tmp_path, fake_env(fake_llama, tmp_path))
    assert out.returncode == 0, out.stderr
    assert "6 of 6 stages reused" in out.stderr and loads(fake_llama) == 0
