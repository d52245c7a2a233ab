"""The LLM judge (synthgap/verifiers/llm_judge.py): requests, evidence ids, corrective retries and failures
with a scripted backend; the packaged Qwen on constructed claims (slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from synthgap.records import Conversation, Turn, UserHistory
from synthgap.verifiers.claims import Claim
from synthgap.verifiers.llm_judge import JudgeConfig, LLMJudge
from tests.llm_fakes import ScriptedBackend, prompt_of


def history(user, *texts):
    turns = [t for text in texts for t in (Turn(role="user", content=text), Turn(role="assistant", content="ok"))]
    return UserHistory(user_id=user, source="test", synthetic=True,
                       conversations=[Conversation(id=f"{user}-c0", user_id=user, source="test", synthetic=True,
                                                   turns=turns)])


HISTORIES = {"u1": history("u1", "my sister works as a nurse", "I am a teacher in Leeds", "I had sushi yesterday")}


def judge_answer(request):
    text = prompt_of(request)
    claim = text.split("Claim: ", 1)[1].split("\n", 1)[0]
    if "nurse" in claim:
        return json.dumps({"label": "overgeneralized", "scope": "third-party", "evidence": ["T1"], "reason": "sister"})
    if "teacher" in claim:
        return json.dumps({"label": "supported", "scope": "stable", "evidence": ["T2"], "reason": "says so"})
    return json.dumps({"label": "unsupported", "scope": "habit", "evidence": ["T3"], "reason": "nothing"})


def test_verdicts_map_message_ids_back_to_turns():
    backend = ScriptedBackend(judge_answer)
    claims = [Claim(user_id="u1", statement="The user is a nurse."),
              Claim(user_id="u1", statement="The user is a teacher."),
              Claim(user_id="u1", statement="The user owns a boat.")]
    verdicts = LLMJudge(backend).verify(claims, HISTORIES)
    assert [v.label for v in verdicts] == ["overgeneralized", "supported", "unsupported"]
    assert verdicts[0].evidence == [("u1-c0", 0)] and verdicts[0].scope == "third-party"
    assert verdicts[1].evidence == [("u1-c0", 2)]
    assert verdicts[2].evidence == [] and verdicts[2].scope == "none"  # unsupported: no evidence, whatever it said
    assert len(backend.calls) == 1 and len(backend.calls[0]) == 3  # one batch
    prompt = prompt_of(backend.calls[0][0])
    assert "[T1] my sister works as a nurse" in prompt and "overgeneralized" in prompt


def test_an_unknown_evidence_id_is_retried_with_the_reason_and_a_lasting_failure_is_none():
    answers = iter([json.dumps({"label": "supported", "scope": "stable", "evidence": ["T9"], "reason": "x"}),
                    json.dumps({"label": "supported", "scope": "stable", "evidence": ["T2"], "reason": "x"})])
    backend = ScriptedBackend(lambda r: next(answers))
    judge = LLMJudge(backend)
    (verdict,) = judge.verify([Claim(user_id="u1", statement="The user is a teacher.")], HISTORIES)
    assert verdict.evidence == [("u1-c0", 2)] and judge.stats["retried"] == 1
    assert "unknown: T9" in prompt_of(backend.calls[1][0]) or "T9" in json.dumps(backend.calls[1][0].messages)
    broken = LLMJudge(ScriptedBackend(lambda r: "not json"), JudgeConfig(retries=1))
    assert broken.verify([Claim(user_id="u1", statement="The user is a teacher.")], HISTORIES) == [None]
    assert broken.stats["failed"] == 1


def test_a_long_history_shows_the_turns_closest_to_the_claim_in_order():
    long = history("u2", *[f"filler message number {i}" for i in range(10)], "I keep bees in my garden")

    def embed(texts):  # a toy embedder: the claim and the bee turn point one way, everything else another
        return np.array([[1.0, 0.0] if "bee" in t else [0.0, 1.0] for t in texts])

    judge = LLMJudge(ScriptedBackend(judge_answer), JudgeConfig(max_turns=3), embed=embed)
    shown = judge.shown_turns(Claim(user_id="u2", statement="The user keeps bees."), long)
    assert len(shown) == 3 and shown[-1].text == "I keep bees in my garden" and shown[-1].turn == 20
    assert [t.turn for t in shown] == sorted(t.turn for t in shown) and [t.id for t in shown] == ["T1", "T2", "T3"]
    assert LLMJudge(ScriptedBackend(judge_answer), JudgeConfig(max_turns=3)).shown_turns(
        Claim(user_id="u2", statement="x"), long)[0].turn == 0  # no embedder: the first turns


@pytest.mark.slow
def test_the_packaged_qwen_judges_constructed_claims(tmp_path, embedder):
    """The real path: llama.cpp with the packaged Qwen2.5-Coder-0.5B on a few constructed claims. A model this
    small is a weak judge (the trained verifier is the CPU default); this checks the answers parse and
    map back, and records how often it agrees."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install 'synthgap[llm]')")
    from synthgap.llm.factory import BackendSpec
    from synthgap.llm.job import open_engines
    from tests.test_trained_verifier import constructed

    claims, histories = constructed(tmp_path / "c", 5, 6)
    claims = claims[:12]
    engines = open_engines(BackendSpec(kind="llamacpp", model="qwen2.5-coder-0.5b", threads=2),
                           cache_dir=tmp_path / "cache")
    try:
        verdicts = LLMJudge(engines.main, embed=embedder.embed).verify(claims, histories)
    finally:
        engines.close()
    done = [(c, v) for c, v in zip(claims, verdicts) if v is not None]
    assert len(done) >= len(claims) // 2
    for claim, verdict in done:
        for conv_id, turn in verdict.evidence:
            assert conv_id in {c.id for c in histories[claim.user_id].conversations}
    agreement = sum(c.label == v.label for c, v in done) / len(done)
    print(f"qwen2.5-coder-0.5b judge agrees with the constructed label on {agreement:.2f} of {len(done)} claims")
