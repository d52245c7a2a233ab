"""Embeddings with the real packaged MiniLM: shape, cache, duplicates, resume after a crash, pooling."""

from __future__ import annotations

import numpy as np
import pytest

from synthgap.embedding import Embedder, model_identity, pool_units, resolve_model
from synthgap.errors import SynthgapError

TEXTS = ["How do I bake sourdough bread?", "my cat keeps scratching the couch", "Explain quantum entanglement simply",
         "How do I bake sourdough bread?", "what should I cook tonight", "fix this python error: KeyError 'id'"]


def test_real_model_embeds_normalized_384d(embedder):
    v = embedder.embed(TEXTS)
    assert v.shape == (6, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert np.array_equal(v[0], v[3])
    sims = v @ v.T
    assert sims[0, 4] > sims[0, 2]  # cooking is nearer to baking than physics is


def test_cache_embeds_nothing_twice(tmp_path):
    first = Embedder(cache_path=tmp_path)
    a = first.embed(TEXTS)
    assert first.stats.unique == 5 and first.stats.embedded == 5
    second = Embedder(cache_path=tmp_path)
    b = second.embed(TEXTS)
    assert second.stats.embedded == 0 and second.stats.cached == 5 and second._st is None  # model never loaded
    assert np.array_equal(a, b)
    assert np.allclose(a, first.encode(TEXTS), atol=1e-5)  # the cache holds what the model gives


def test_no_cache_writes_nothing(tmp_path):
    e = Embedder(cache=False, cache_path=tmp_path)
    e.embed(TEXTS[:2])
    assert not any(tmp_path.iterdir())


def test_resume_after_a_crash_keeps_finished_chunks(tmp_path, monkeypatch):
    e = Embedder(cache_path=tmp_path, chunk=2)
    real_encode = e.encode
    calls = []

    def crash_on_third(texts):
        calls.append(len(texts))
        if len(calls) == 3:
            raise RuntimeError("killed")
        return real_encode(texts)

    monkeypatch.setattr(e, "encode", crash_on_third)
    with pytest.raises(RuntimeError):
        e.embed(TEXTS)
    again = Embedder(cache_path=tmp_path, chunk=2)
    again.embed(TEXTS)
    assert again.stats.cached == 4 and again.stats.embedded == 1


def test_model_identity_and_paths(tmp_path):
    path = resolve_model(None)
    assert resolve_model("all-MiniLM-L6-v2") == path
    assert model_identity(path) == model_identity(path) and len(model_identity(path)) == 32
    with pytest.raises(SynthgapError, match="not a folder"):
        resolve_model(tmp_path / "nope")


def test_pool_units_is_a_normalized_mean():
    v = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    pooled = pool_units(v, np.array([0, 0, 1]), 2)
    assert np.allclose(pooled, [[np.sqrt(0.5), np.sqrt(0.5)], [1.0, 0.0]])
