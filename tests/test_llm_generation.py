"""The LLM conversation generator's own logic, with a scripted backend: planning, batch-first calls,
disclosure checks, retries, failures and the failure-rate stop, prompts and their overrides."""

from __future__ import annotations

import json
import re

import pytest

from synthgap.errors import SynthgapError
from synthgap.generators.disclosure import disclosables
from synthgap.generators.llm_dialogue import (OPENER, LLMConversationGenerator, LLMGenerationConfig, clean_user_turn,
                                     find_surface, trim_unfinished)
from synthgap.llm.prompts import PromptError, PromptLibrary
from synthgap.llm.structured_run import FailureLog
from synthgap.personas.sampler import PersonaSampler, SamplerConfig
from synthgap.personas.statements import second_person

from .llm_fakes import ScriptedBackend, prompt_of

EXAMPLE = re.compile(r'\(for example: "([^"]*)"\)')


def user_or_assistant(user, assistant="Sure, here is what I would do."):
    def answer(request):
        if request.messages[0]["role"] == "system":
            return assistant
        return user(request) if callable(user) else user
    return answer


def echo_examples(request) -> str:
    """A 'perfect' user model: says exactly the example sentences it was given."""
    found = EXAMPLE.findall(prompt_of(request))
    return " ".join(found) if found else "can you help me with this"


@pytest.fixture(scope="module")
def people(taxonomy):
    return list(PersonaSampler(taxonomy, SamplerConfig(locales={"en_US": 1.0})).sample(6, 3))


def run(generator, personas, batch=8):
    out = []
    for results in generator.conversations(personas, batch=batch):
        out += results
    return out


def test_statements_in_second_person():
    assert second_person("The user is 85 years old.") == "you are 85 years old"
    assert second_person("The user lives in Lyon.") == "you live in Lyon"
    assert second_person("The user's first language is Hindi.") == "your first language is Hindi"
    assert second_person("The user studies law and watches anime.") == "you study law and watches anime"
    assert second_person("The user enjoys the user's garden.") == "you enjoy your garden"


def test_cleaning_user_turns():
    assert clean_user_turn('User: "hey can u help"') == "hey can u help"
    assert clean_user_turn("my laptop is slow\nAssistant: Sure! Try this") == "my laptop is slow"
    assert clean_user_turn("**You:** need a recipe") == "need a recipe"
    assert trim_unfinished("I need help. My car broke down. And then I went to the") == \
        "I need help. My car broke down."
    assert trim_unfinished("short and cut") == "short and cut"
    assert OPENER.match("As a 34-year-old nurse, I want") and OPENER.match("as an engineer i")
    assert not OPENER.match("ask me anything") and not OPENER.match("I work as a nurse")
    assert find_surface("I'm a Nurse now", ["nurse"]) == (6, 11)
    assert find_surface("nursery rhymes", ["nurse"]) is None


def test_plan_is_deterministic_and_follows_the_mode(taxonomy, people):
    backend = ScriptedBackend(user_or_assistant("hi"))
    gen = LLMConversationGenerator(backend, taxonomy, LLMGenerationConfig(disclosure="explicit", disclosures=(2, 2)))
    a, b = gen.plan(people[0], 1), gen.plan(people[0], 1)
    assert [d.told() for d in a.plan] == [d.told() for d in b.plan] and a.intent.name == b.intent.name
    assert len(a.plan) == 2 and {d.style for d in a.plan} == {"explicit"}
    assert all(d.example and d.surfaces for d in a.plan)
    none = LLMConversationGenerator(backend, taxonomy, LLMGenerationConfig(disclosure="none"))
    assert none.plan(people[0], 1).plan == []
    other_seed = LLMConversationGenerator(backend, taxonomy, LLMGenerationConfig(disclosure="explicit", seed=9,
                                                                                 disclosures=(2, 2)))
    plans = {tuple(d.attribute_id for d in other_seed.plan(p, 0).plan) for p in people}
    assert plans != {tuple(d.attribute_id for d in gen.plan(p, 0).plan) for p in people}


def test_batch_first_one_engine_call_per_role_and_turn(taxonomy, people):
    backend = ScriptedBackend(user_or_assistant("can you help me"))
    gen = LLMConversationGenerator(backend, taxonomy, LLMGenerationConfig(per_persona=1, turns=3))
    results = run(gen, people[:5], batch=5)
    assert len(results) == 5 and all(conv is not None for _, conv in results)
    assert [len(call) for call in backend.calls] == [5] * 6  # 3 turns x (user, assistant), each the whole batch
    roles = ["user" if call[0].messages[0]["role"] == "user" else "assistant" for call in backend.calls]
    assert roles == ["user", "assistant"] * 3
    conv = results[0][1]
    assert [t.role for t in conv.turns] == ["user", "assistant"] * 3
    # the assistant sees the conversation so far, in its real roles
    last_assistant = backend.calls[-1][0].messages
    assert [m["role"] for m in last_assistant] == ["system"] + ["user", "assistant"] * 2 + ["user"]
    seeds = [r.seed for call in backend.calls for r in call]
    assert len(set(seeds)) == len(seeds)


def test_explicit_disclosures_found_with_exact_spans(taxonomy, people):
    backend = ScriptedBackend(user_or_assistant(echo_examples))
    gen = LLMConversationGenerator(backend, taxonomy, LLMGenerationConfig(per_persona=2, turns=2,
                                                                          disclosure="explicit", disclosures=(1, 3)))
    convs = [c for _, c in run(gen, people)]
    checked = 0
    for conv in convs:
        told = {d["attribute_id"] for d in conv.meta["told"]}
        assert told and {d.attribute_id for d in conv.disclosures} == told - set(conv.meta.get("missed", []))
        for d in conv.disclosures:
            text = conv.turns[d.turn].content[d.span[0]:d.span[1]]
            persona = next(p for p in people if p.id == conv.persona_id)
            surfaces = {x.key: x.surfaces() for x in disclosables(persona, taxonomy)}[d.attribute_id]
            assert conv.turns[d.turn].role == "user" and d.style == "explicit"
            assert text.lower() in {s.lower() for s in surfaces}
            checked += 1
    assert checked >= len(convs)
    assert gen.stats["explicit_found"] == checked and gen.stats["explicit_planned"] >= checked


def test_a_model_that_ignores_instructions_leaves_missed_not_false_gold(taxonomy, people):
    backend = ScriptedBackend(user_or_assistant("hello there, quick question"))
    gen = LLMConversationGenerator(backend, taxonomy, LLMGenerationConfig(per_persona=1, turns=1,
                                                                          disclosure="mixed", disclosures=(2, 2)))
    for _, conv in run(gen, people):
        explicit = [d["attribute_id"] for d in conv.meta["told"] if d["style"] == "explicit"]
        implicit = [d["attribute_id"] for d in conv.meta["told"] if d["style"] == "implicit"]
        assert conv.meta.get("missed", []) == explicit
        assert [d.attribute_id for d in conv.disclosures] == implicit  # instructed, whole turn
        for d in conv.disclosures:
            assert d.style == "implicit" and d.span == (0, len(conv.turns[d.turn].content))


def test_persona_context_plan_shows_only_what_is_to_be_disclosed(taxonomy, people):
    backend = ScriptedBackend(user_or_assistant("hi"))
    gen = LLMConversationGenerator(backend, taxonomy, LLMGenerationConfig(per_persona=1, turns=1,
                                                                          disclosures=(1, 1)))
    run(gen, people[:1])
    prompt = prompt_of(backend.calls[0][0])
    told = gen.plan(people[0], 0).plan[0]
    assert second_person(told.statement) in prompt
    others = [a.statement for a in people[0].attributes if a.id != told.attribute_id]
    assert not any(second_person(s) in prompt for s in others)
    backend_all = ScriptedBackend(user_or_assistant("hi"))
    LLMConversationGenerator(backend_all, taxonomy, LLMGenerationConfig(per_persona=1, turns=1,
                                                                        persona_context="all")).run_batch(
        [gen.plan(people[0], 0)])
    prompt = prompt_of(backend_all.calls[0][0])
    assert sum(second_person(s) in prompt for s in others) >= len(others) - 1


def test_empty_answers_are_retried_with_a_new_seed(taxonomy, people):
    seen = set()

    def flaky(request):
        key = prompt_of(request)
        if key not in seen:
            seen.add(key)
            return "   "
        return "ok so what should i do"

    backend = ScriptedBackend(user_or_assistant(flaky))
    gen = LLMConversationGenerator(backend, taxonomy, LLMGenerationConfig(per_persona=1, turns=1, retries=2))
    (cid, conv), = run(gen, people[:1])
    assert conv is not None and conv.turns[0].content == "ok so what should i do" and conv.meta["retries"] == 1
    first, second = backend.calls[0][0], backend.calls[1][0]
    assert first.messages == second.messages and first.seed != second.seed


def test_persona_openers_are_retried_then_kept_and_counted(taxonomy, people):
    backend = ScriptedBackend(user_or_assistant("As a 41-year-old teacher, I need a plan"))
    gen = LLMConversationGenerator(backend, taxonomy, LLMGenerationConfig(per_persona=1, turns=1, retries=1))
    (cid, conv), = run(gen, people[:1])
    assert conv.meta["openers"] == 1 and gen.stats["openers"] == 1 and len(backend.calls) == 3
    allowed = ScriptedBackend(user_or_assistant("As a teacher, I need a plan"))
    gen = LLMConversationGenerator(allowed, taxonomy, LLMGenerationConfig(per_persona=1, turns=1,
                                                                          allow_openers=True))
    run(gen, people[:1])
    assert gen.stats["openers"] == 0 and len(allowed.calls) == 2
    assert "As a" not in prompt_of(allowed.calls[0][0])


def test_failures_are_written_counted_and_stop_the_run(taxonomy, people, tmp_path):
    backend = ScriptedBackend(user_or_assistant(lambda r: "...", assistant="fine"))
    log = FailureLog(tmp_path / "f.jsonl", max_failure_rate=0.5, min_items=4)
    gen = LLMConversationGenerator(backend, taxonomy, LLMGenerationConfig(per_persona=1, turns=2, retries=1),
                                   log=log)
    with pytest.raises(SynthgapError, match=r"stopped: 4 of 4 .* failed"):
        run(gen, people, batch=4)
    lines = [json.loads(x) for x in (tmp_path / "f.jsonl").read_text().splitlines()]
    assert len(lines) == 4 and {x["error"] for x in lines} == {"no words in the message"}
    assert all(x["raw"] == "..." and x["attempts"] == 2 and x["conversation_id"] for x in lines)
    # below the limit the run goes on, and nothing is silently lost: written + failed = planned
    cooking = ScriptedBackend(user_or_assistant(lambda r: "" if "recipes" in prompt_of(r) else "hi"))
    log = FailureLog(None, max_failure_rate=0.9, min_items=1)
    gen = LLMConversationGenerator(cooking, taxonomy, LLMGenerationConfig(per_persona=2, turns=1,
                                                                          intents=["cooking", "travel"]), log=log)
    results = run(gen, people)
    failed = [cid for cid, conv in results if conv is None]
    assert len(results) == 12 and log.done == 12 and 0 < len(failed) == log.failed < 12
    assert all(gen.plan(next(p for p in people if cid.startswith(p.id + "-")), int(cid[-1])).intent.name == "cooking"
               for cid in failed)


def test_prompts_can_be_overridden_and_errors_name_the_file(taxonomy, people, tmp_path):
    (tmp_path / "user_turn.j2").write_text("CUSTOM {{ topic }} / {{ disclose | length }}")
    backend = ScriptedBackend(user_or_assistant("hi"))
    gen = LLMConversationGenerator(backend, taxonomy, LLMGenerationConfig(per_persona=1, turns=1),
                                   prompts=PromptLibrary([tmp_path]))
    run(gen, people[:1])
    assert prompt_of(backend.calls[0][0]).startswith("CUSTOM ")
    assert backend.calls[1][0].messages[0]["content"].startswith("You are a helpful AI assistant")  # built-in
    (tmp_path / "user_turn.j2").write_text("{{ no_such_variable }}")
    with pytest.raises(PromptError, match=r"user_turn\.j2: 'no_such_variable' is undefined"):
        PromptLibrary([tmp_path]).render("user_turn", topic="x")
    (tmp_path / "user_turn.j2").write_text("{% if %}")
    with pytest.raises(PromptError, match=r"user_turn\.j2: line 1"):
        PromptLibrary([tmp_path]).render("user_turn")
    with pytest.raises(PromptError, match="not found"):
        PromptLibrary([tmp_path / "missing"])


def test_unknown_intent_and_bad_range(taxonomy):
    backend = ScriptedBackend(user_or_assistant("hi"))
    with pytest.raises(SynthgapError, match="unknown intent 'karaoke'"):
        LLMConversationGenerator(backend, taxonomy, LLMGenerationConfig(intents=["karaoke"]))
    with pytest.raises(SynthgapError, match="bad range"):
        LLMConversationGenerator(backend, taxonomy, LLMGenerationConfig(disclosures=(3, 1)))
