"""Canonical embeddings (issue 16): a text's vector has the same bytes whatever is embedded with it
and whatever the cache held before. Real packaged MiniLM; the old batched path is shown to fail
the same check, so the check can fail."""

from __future__ import annotations

import numpy as np
import pytest

from synthgap.cache import BlobStore, cache_dir, text_key
from synthgap.embedding import (BATCH_TOKENS, SCHEME, Embedder, model_identity, padded_length,
                                            plan_batches)

TARGETS = ["hi", "How do I bake sourdough bread?", "my cat keeps scratching the couch, what can I do",
           "Explain quantum entanglement simply", "translate 'where is the train station' into German",
           "fix this python error: KeyError 'id' when I read a dict that came from a json file",
           "Can you summarize the plot of Pride and Prejudice in three sentences for my book club?",
           "What's the difference between a Roth IRA and a traditional IRA? I'm 34, just started a job with a "
           "401k match, and I'm not sure where extra savings should go.",
           "I need a packing list for a week of hiking in the Scottish Highlands in October. I'll sleep in "
           "bothies, carry everything myself, and I get cold easily, so warm layers matter most.",
           "Write a short cover letter for a junior data analyst role. I have a statistics degree, two "
           "internships (one at a hospital, one at a logistics firm), and I know SQL, Python and Tableau."]

_LONG = ("My landlord says the deposit covers 'wear and tear' but the lease lists cleaning fees separately, and "
         "I moved out three weeks ago after four years in the flat. ")
COMPANIONS_A = ["ok thanks", "what is 17 * 23", "Recommend a sci-fi novel like Dune but shorter.",
                "Give me a 3-day itinerary for Lisbon with kids, no museums.", _LONG * 5 + "What should I write?"]
COMPANIONS_B = ["yes", "why is the sky blue", "List five easy vegetarian dinners that use chickpeas.",
                _LONG + "Is that legal?", "Rewrite this politely: send me the report by friday or else",
                _LONG * 8 + "Summarize my situation in two lines."]


@pytest.fixture()
def fresh(embedder, tmp_path):
    """New Embedders with their own cache folders, sharing the session's loaded model."""
    made = []

    def make(name: str, **kw) -> Embedder:
        e = Embedder(cache_path=tmp_path / name, **kw)
        e._st = embedder.encoder
        made.append(e)
        return e

    yield make
    for e in made:
        e.close()


def _targets_three_ways(fresh) -> list[np.ndarray]:
    """The targets' vectors from three histories: one call among companions A; a cold cache that first
    held some targets, then the rest with companions B in reverse order; and a short and a long
    target each alone."""
    one = fresh("one")
    mixed = COMPANIONS_A[:3] + TARGETS + COMPANIONS_A[3:]
    first = one.embed(mixed)[3:3 + len(TARGETS)]

    two = fresh("two")
    two.embed(TARGETS[::3] + COMPANIONS_B[2:4])
    second = two.embed(COMPANIONS_B + TARGETS[::-1])[len(COMPANIONS_B):][::-1]
    assert two.stats.cached == len(TARGETS[::3]) + 2  # the cache really held part of it

    alone = fresh("alone", cache=False)
    third = np.stack([alone.embed([t])[0] for t in (TARGETS[1], TARGETS[-1])])
    return [first, second, third]


def test_vectors_are_byte_identical_whatever_the_cache_or_companions(fresh):
    first, second, third = _targets_three_ways(fresh)
    assert first.dtype == np.float32 and first.shape == (len(TARGETS), 384)
    assert first.tobytes() == second.tobytes() and first[[1, -1]].tobytes() == third.tobytes()
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)


def test_old_batched_path_fails_the_same_check(fresh, monkeypatch):
    """Plain sentence-transformers batching (what synthgap did before) through the same histories:
    padding to the batch's longest text changes the last bits, so the check above can fail."""
    def batched(self, texts):
        return np.asarray(self.encoder.encode(list(texts), batch_size=16, convert_to_numpy=True,
                                              show_progress_bar=False), dtype=np.float32)

    monkeypatch.setattr(Embedder, "encode", batched)
    first, second, third = _targets_three_ways(fresh)
    assert np.allclose(first, second, atol=1e-5) and np.allclose(first[[1, -1]], third, atol=1e-5)
    assert first.tobytes() != second.tobytes() or first[[1, -1]].tobytes() != third.tobytes()


def test_position_and_row_filler_do_not_matter(fresh):
    """Same bucket, different neighbours and positions inside one batch, and a batch of one (filled up)."""
    e = fresh("rows", cache=False)
    same = ["How do I bake sourdough bread?", "what should I cook tonight", "is 7 a prime number",
            "Explain quantum entanglement simply", "best way to learn touch typing"]
    assert len({padded_length(n, 256) for n in e.encoder.preprocess(same)["attention_mask"].sum(1).tolist()}) == 1
    forward = e.encode(same)
    backward = e.encode(same[::-1])[::-1]
    alone = np.stack([e.encode([t])[0] for t in same[1::2]])
    assert forward.tobytes() == backward.tobytes() and forward[1::2].tobytes() == alone.tobytes()


def test_old_scheme_vectors_are_not_read(tmp_path, embedder):
    path = embedder.path
    assert embedder.identity == f"{model_identity(path)}+{SCHEME}"
    text = "a text whose vector an older synthgap cached"
    with BlobStore(cache_dir(tmp_path) / "embeddings.sqlite", "vectors") as store:
        store.put_many(model_identity(path), [(text_key(text), np.ones(384, np.float32).tobytes())])
    e = Embedder(cache_path=tmp_path)
    e._st = embedder.encoder
    v = e.embed([text])
    e.close()
    assert e.stats.embedded == 1 and e.stats.cached == 0 and not np.allclose(v[0], 1.0)


def test_batch_shapes_depend_on_length_alone():
    assert [padded_length(n, 256) for n in (1, 16, 17, 25, 33, 49, 65, 97, 129, 193, 256, 900)] == \
        [16, 16, 24, 32, 48, 64, 96, 128, 192, 256, 256, 256]
    assert padded_length(300, 384) == 384 and padded_length(300, None) == 384 and padded_length(20, 20) == 20
    a = plan_batches([3, 40, 300, 5, 41], 256)
    b = plan_batches([40] + [7] * 50 + [255] * 3, 256)
    shapes = {}
    for length, rows, members in a + b:
        assert rows == max(1, BATCH_TOKENS // length) and 0 < len(members) <= rows
        assert shapes.setdefault(length, rows) == rows
    assert sorted(i for _, _, m in a for i in m) == [0, 1, 2, 3, 4]
    assert [length for length, _, _ in a] == sorted((length for length, _, _ in a), reverse=True)
