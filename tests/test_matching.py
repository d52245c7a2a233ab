"""Matching extracted attributes to gold: optimal one-to-one assignment and the scores it gives."""

from __future__ import annotations

import numpy as np
import pytest

from synthgap.extractors.matching import Counts, Item, assign, match_users


def test_assignment_beats_greedy_and_respects_the_threshold():
    sim = np.array([[0.9, 0.8], [0.85, 0.1]])
    # greedy would take (0, 0) first and leave extracted 1 with 0.1; the optimum pairs both
    assert sorted((i, j) for i, j, _ in assign(sim, 0.6)) == [(0, 1), (1, 0)]
    assert assign(sim, 0.95) == [] and assign(np.zeros((0, 3)), 0.5) == []
    assert [(i, j) for i, j, _ in assign(np.array([[0.7], [0.9], [0.2]]), 0.6)] == [(1, 0)]  # one gold, one match


def test_counts_arithmetic():
    c = Counts(matched=3, extracted=4, gold=6)
    assert c.precision == 0.75 and c.recall == 0.5 and c.f1 == pytest.approx(0.6)
    assert Counts(0, 0, 5).precision is None and Counts(0, 0, 5).f1 is None and Counts(0, 3, 5).f1 == 0.0


def fake_embed(texts):
    """Statements about the same topic word point the same way (topic = the last word)."""
    topics = sorted({t.split()[-1] for t in texts})
    return np.array([[1.0 if t.split()[-1] == top else 0.0 for top in topics] for t in texts])


def test_per_user_category_and_style_breakdown():
    gold = {"u1": [Item("The user is a nurse", "occupation", "explicit"),
                   Item("The user has a dog", "family", "implicit")],
            "u2": [Item("The user lives in paris", "location", "explicit")]}
    extracted = {"u1": [Item("works as a nurse"), Item("likes tea")],
                 "u2": [Item("is based in paris"), Item("plays chess")], "u3": [Item("owns a car")]}
    report = match_users(extracted, gold, fake_embed, threshold=0.5).to_json()
    assert report["overall"] == {"matched": 2, "extracted": 5, "gold": 3, "precision": 0.4,
                                 "recall": pytest.approx(2 / 3), "f1": pytest.approx(0.5)}
    assert report["by_category"]["occupation"]["recall"] == 1.0 and report["by_category"]["family"]["recall"] == 0.0
    assert report["by_category"]["occupation"]["precision"] == 1.0  # the match counts in the gold category
    assert report["by_category"]["unknown"] == {"matched": 0, "extracted": 3, "gold": 0, "precision": 0.0,
                                                "recall": None, "f1": None}
    assert report["by_style"]["explicit"]["recall"] == 1.0 and report["by_style"]["implicit"]["recall"] == 0.0


def test_real_embeddings_match_paraphrases_not_other_facts(embedder):
    gold = {"u": [Item("The user works as a nurse.", "occupation"), Item("The user has two dogs.", "family")]}
    extracted = {"u": [Item("The user is a nurse at a hospital."), Item("The user enjoys hiking.")]}
    report = match_users(extracted, gold, embedder.embed)
    pairs = report.pairs["u"]
    assert [(i, j) for i, j, _ in pairs] == [(0, 0)] and pairs[0][2] > 0.6
    assert report.overall.matched == 1 and report.overall.precision == 0.5 and report.overall.recall == 0.5


def test_the_threshold_comes_before_the_assignment():
    # assigning on raw similarities pairs .59 with .59 (total 1.18) and then keeps nothing at 0.6
    assert assign(np.array([[0.60, 0.59], [0.59, 0.0]]), threshold=0.6) == [(0, 0, 0.60)]
    # at a low threshold the most valid pairs win over the single best one (0.9 alone has the larger total)
    pairs = assign(np.array([[0.9, 0.35], [0.35, 0.0]]), threshold=0.3)
    assert sorted((i, j) for i, j, _ in pairs) == [(0, 1), (1, 0)]
    # among assignments with as many pairs, the larger total similarity
    pairs = assign(np.array([[0.95, 0.70], [0.70, 0.65]]), threshold=0.6)
    assert sorted((i, j) for i, j, _ in pairs) == [(0, 0), (1, 1)]
    assert assign(np.array([[0.2, 0.1]]), threshold=0.6) == [] and assign(np.zeros((0, 3))) == []
