"""The lightweight trained verifier (synthgap/verifiers/trained.py) on constructed claims: trained on one
set of personas, scored on another; its features and scores on hand cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synthgap.corpora import load
from synthgap.generators.jobs import TemplatesJobConfig, VariantsJobConfig, generate_templates, make_variants
from synthgap.personas.jobs import SampleJobConfig, sample_personas
from synthgap.personas.reference import read_persona_file
from synthgap.personas.taxonomy import load_taxonomy
from synthgap.verifiers.claims import Claim
from synthgap.verifiers.constructed import constructed_claims
from synthgap.verifiers.features import LASTING, ONE_OFF, THIRD_PARTY
from synthgap.verifiers.trained import TrainedVerifier, cross_validate, scores


def constructed(folder: Path, seed: int, n: int):
    """Template conversations with third-party and one-off distractors and light noise, and their claims."""
    folder.mkdir(parents=True, exist_ok=True)
    people = sample_personas(SampleJobConfig(n=n, seed=seed), folder / "p.jsonl").output
    convs = generate_templates(TemplatesJobConfig(per_persona=2, turns=3, seed=seed, realism="realistic"), people,
                               folder / "t.jsonl").output
    hard = make_variants(VariantsJobConfig(variants=["distractors:k=1,kind=thirdparty",
                                                     "distractors:k=1,kind=situational", "noise:preset=light"],
                                           seed=seed), convs, folder / "v.jsonl").output
    personas = {p.id: p for p in read_persona_file(people, False)}
    histories = {h.user_id: h for h in load(str(hard), unit="user").users()}
    return constructed_claims(histories.values(), personas, load_taxonomy(), seed=seed), histories


@pytest.fixture(scope="module")
def sets(tmp_path_factory, embedder):
    folder = tmp_path_factory.mktemp("verifier")
    return constructed(folder / "train", 4, 40), constructed(folder / "test", 9, 30), embedder.embed


def test_trained_on_some_personas_it_labels_others(sets):
    (train, h_train), (test, h_test), embed = sets
    verifier = TrainedVerifier(embed).fit(train, h_train)
    probabilities, _ = verifier.probabilities(test, h_test)
    verdicts = verifier.verify(test, h_test)
    got = scores([c.label for c in test], [v.label for v in verdicts], probabilities)
    # chance is macro F1 1/3 and kappa 0; measured 0.75 / 0.65 / AUC 0.92 on 60 and 40 personas
    assert got["macro_f1"] >= 0.6 and got["kappa"] >= 0.45 and got["auc_ovr"] >= 0.8, got
    assert verdicts == verifier.verify(test, h_test)  # deterministic
    for claim, verdict in zip(test, verdicts):
        assert (verdict.evidence == []) == (verdict.label == "unsupported")
        if verdict.evidence:
            assert verdict.evidence[0][0] in {c.id for c in h_test[claim.user_id].conversations}
    # what it relies on reads as the study's distinctions: someone else's words and one-off time spans
    weights = verifier.coefficients()["overgeneralized"]
    assert weights["best_third_party"] > 0 and weights["best_one_off"] > 0 and weights["claim_lasting"] > 0


def test_cross_validation_keeps_users_together(sets):
    (train, h_train), _, embed = sets
    result = cross_validate(train, h_train, embed, folds=4)
    assert result["folds"] == 4 and result["users"] == len({c.user_id for c in train})
    assert result["n"] == len(train) and result["macro_f1"] >= 0.55, result


def test_the_features_read_whose_and_when():
    assert THIRD_PARTY.search("lol my sister works as a nurse") and THIRD_PARTY.search("Our neighbour is vegan")
    assert not THIRD_PARTY.search("my job is boring") and not THIRD_PARTY.search("I am a nurse")
    assert ONE_OFF.search("I have a headache today") and ONE_OFF.search("I tried yoga for the first time")
    assert not ONE_OFF.search("I have had migraines for years")
    assert LASTING.search("The user hikes regularly.") and not LASTING.search("The user hiked once.")


def test_scores_on_a_hand_case():
    truth = ["supported", "overgeneralized", "unsupported", "supported"]
    predicted = ["supported", "overgeneralized", "supported", "supported"]
    probs = np.array([[.8, .1, .1], [.1, .8, .1], [.5, .1, .4], [.7, .2, .1]])
    got = scores(truth, predicted, probs)
    assert got["overgeneralized_f1"] == 1.0 and got["confusion"]["counts"][2] == [1, 0, 0]
    assert got["macro_f1"] == pytest.approx((0.8 + 1.0 + 0.0) / 3, abs=1e-4) and got["auc_ovr"] == 1.0


def test_a_claim_of_a_user_without_turns_is_unsupported_without_evidence(sets):
    (train, h_train), _, embed = sets
    verifier = TrainedVerifier(embed).fit(train, h_train)
    (verdict,) = verifier.verify([Claim(user_id="nobody", statement="The user is a nurse.")], h_train)
    assert verdict.label == "unsupported" and verdict.evidence == [] and verdict.scope == "none"
