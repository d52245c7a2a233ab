"""Style features: definitions on crafted text, the real spaCy pipeline, the cache, the comparison statistics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp

from synthgap.comparators import style as S

NAMES = [f.name for f in S.TURN_FEATURES]


def test_text_features():
    q, low, emo, polite, greet = S.text_features("hey, could you please help? 😀")
    assert (q, low, emo, polite, greet) == (1.0, 1.0, 1.0, 1.0, 1.0)
    assert S.text_features("Write a poem.") == [0.0, 0.0, 0.0, 0.0, 0.0]
    assert S.text_features("123 ok")[1] == 1.0  # the first letter decides, not the first character
    assert S.text_features("Thanks, that helped")[3] == 1.0 and S.text_features("Hi there")[4] == 1.0
    assert S.text_features("this is high")[4] == 0.0  # "hi" must be a word at the start


def test_mtld_by_hand():
    assert S.mtld(["a", "b", "c", "d"]) == 4.0  # never falls to the threshold: one partial factor of 0
    # "a a a a": TTR hits 0.5 <= 0.72 at the second token, twice each way -> 2 factors -> 4 / 2
    assert S.mtld(["a"] * 4) == pytest.approx(2.0)
    assert np.isnan(S.mtld([]))


def test_block_features_on_crafted_turns():
    same = S.block_features(["i like red apples"] * 4)
    varied = S.block_features(["i like red apples", "the cat sat down", "we went home early", "birds can fly high"])
    d1, d2, mtld, compression, overlap = same
    assert d1 == pytest.approx(4 / 16) and overlap == 1.0
    assert varied[0] == 1.0 and varied[4] == 0.0
    assert compression > varied[3]  # repeated text compresses better


def test_weighted_ks_equals_scipy_with_unit_weights():
    rng = np.random.default_rng(0)
    x, y = np.round(rng.normal(0, 1, 300), 1), np.round(rng.normal(0.3, 1, 250), 1)  # with ties
    got = S.weighted_ks(x, y, np.ones(300), np.ones(250))[0]
    assert got == pytest.approx(ks_2samp(x, y).statistic, abs=1e-12)
    w = rng.integers(0, 3, 300)
    expanded = S.weighted_ks(np.repeat(x, w), y, np.ones(w.sum()), np.ones(250))[0]
    assert S.weighted_ks(x, y, w, np.ones(250))[0] == pytest.approx(expanded, abs=1e-12)


def test_jsd_and_effect_sizes():
    assert S.bernoulli_jsd(0.0, 1.0) == pytest.approx(1.0)
    assert S.bernoulli_jsd(0.3, 0.3) == pytest.approx(0.0)
    assert S.cohens_h(0.5, 0.5) == 0.0 and S.cohens_h(0.0, 1.0) == pytest.approx(np.pi)
    assert S.cohens_d(np.array([0.0, 2.0]), np.array([2.0, 4.0])) == pytest.approx(2 / np.sqrt(2))


def test_spacy_turn_features(analyzer):
    texts = ["I'm a nurse from Ohio and my wife works at Google. what do u think?? lol",
             "Write a function that sorts a list.",
             "teh recieve definately wierd"]
    rows = analyzer.turn_features(texts)
    f = dict(zip(NAMES, rows[0]))
    assert f["self_disclosure"] == 1.0 and f["question"] == 1.0
    assert f["sentences"] in (2, 3) and f["first_person_rate"] > 0.1 and f["entity_rate"] > 0
    assert f["oov_rate"] > 0  # "lol" is slang, not in the spelling dictionary
    g = dict(zip(NAMES, rows[1]))
    assert g["self_disclosure"] == 0.0 and g["first_person_rate"] == 0.0 and g["oov_rate"] == 0.0
    assert g["length_tokens"] == 8 and g["punctuation_rate"] == pytest.approx(1 / 8)
    assert dict(zip(NAMES, rows[2]))["oov_rate"] == 1.0


def test_style_rows_are_cached(tmp_path):
    analyzer = S.StyleAnalyzer(cache_path=tmp_path)
    texts = ["my dog is called Rex", "I live in Berlin", "my dog is called Rex"]
    first = analyzer.turn_features(texts)
    assert analyzer.stats["parsed"] == 2  # the repeated text is parsed once
    again = S.StyleAnalyzer(cache_path=tmp_path)
    second = again.turn_features(texts)
    assert again.stats["parsed"] == 0 and again.stats["cached"] == 2 and again._nlp is None
    assert np.array_equal(first, second, equal_nan=True)


def test_long_turns_are_read_in_part_but_counted_whole(analyzer):
    long = "This is a sentence. " * 400  # 8,000 characters, 2,000 tokens
    row = dict(zip(NAMES, analyzer.turn_features([long])[0]))
    assert row["length_tokens"] == 2000
    assert row["sentences"] == pytest.approx(400, rel=0.05)  # extrapolated from the part read
