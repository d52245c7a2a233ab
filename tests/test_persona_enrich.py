"""Persona enrichment: the checks against the persona, corrective retries, and what is kept."""

from __future__ import annotations

import json

import pytest

from synthgap.llm.structured import grammar_schema
from synthgap.llm.structured_run import CORRECTION, FailureLog
from synthgap.personas.enrich import EnrichConfig, PersonaChecker, PersonaEnricher, enrich_schema
from synthgap.records import Attribute, Persona

from .llm_fakes import ScriptedBackend


def persona(**values) -> Persona:
    statements = {"age": "The user is {} years old.", "gender": "The user is a {}.", "occupation": "The user is a {}.",
                  "home_city": "The user lives in {}.", "hobby": "The user enjoys {}."}
    attrs = [Attribute(id=k, statement=statements[k].format(v), value=v) for k, v in values.items()]
    return Persona(id="p1", locale="en_US", name="Ana Ruiz", attributes=attrs, seed=1)


NURSE = dict(age=41, gender="female", occupation="nurse", home_city="Chicago", hobby="gardening")


def answer(description, *prefs):
    return {"description": description, "preferences": [{"statement": p, "stability": "stable"} for p in prefs]}


@pytest.fixture(scope="module")
def checker(taxonomy):
    return PersonaChecker(taxonomy, EnrichConfig())


def test_a_faithful_description_passes(checker):
    p = persona(**NURSE)
    good = answer("Ana is a 41-year-old nurse in Chicago who unwinds by gardening.", "The user prefers night shifts.")
    assert checker.problems(p, good) == []
    assert checker.coverage(p, good["description"]) == 0.75  # nurse, Chicago, gardening of 4 categorical facts


def test_contradictions_are_caught(checker):
    p = persona(**NURSE)
    problems = checker.problems(p, answer("Ana is a 29-year-old teacher in Boston who loves gardening."))
    assert any("'29-year-old'" in x and "41 years old" in x for x in problems)
    assert any("'teacher'" in x and "the user is a nurse" in x for x in problems)
    assert any("'Boston'" in x for x in problems)


def test_other_values_are_fine_next_to_the_persona_own(checker):
    p = persona(**NURSE)
    assert checker.problems(p, answer("A nurse in Chicago whose mother was a teacher.")) == []
    # interests are not exclusive: another hobby is not a contradiction
    assert checker.problems(p, answer("A nurse in Chicago who also likes reading.")) == []


def test_too_few_facts_and_bad_preferences(checker):
    p = persona(**NURSE)
    problems = checker.problems(p, answer("A kind person.", "Likes tea.", "The user is a nurse."))
    assert any("mentions 0 of the person's facts" in x for x in problems)
    assert any("'Likes tea.' must start with 'The user'" in x for x in problems)
    assert any("repeats a fact" in x for x in problems)
    # a possessive is about the user too (the packaged Qwen writes "The user's ..." often)
    fine = checker.problems(p, answer("A nurse in Chicago who also likes reading.", "The user's cat is called Tom.",
                                      "The user’s commute is long."))
    assert not any("must start with" in x for x in fine), fine
    assert any("must start with" in x for x in checker.problems(p, answer("A nurse in Chicago.", "The users like it.")))


def test_grammar_schema_drops_length_bounds_but_validation_keeps_them():
    schema = enrich_schema(3)
    light = grammar_schema(schema)
    assert "minLength" not in json.dumps(light) and "maxLength" not in json.dumps(light)
    assert light["properties"]["preferences"]["maxItems"] == 3
    assert schema["properties"]["description"]["maxLength"] == 2000


def test_enricher_retries_with_the_problem_and_keeps_a_valid_answer(taxonomy):
    replies = iter([json.dumps(answer("Ana is a 29 year old teacher.")),
                    "```json\n" + json.dumps(answer("Ana is a 41 year old nurse in Chicago.",
                                                    "The user prefers short answers.")) + "\n```"])
    backend = ScriptedBackend(lambda r: next(replies))
    enricher = PersonaEnricher(backend, taxonomy, EnrichConfig(retries=2))
    (out,) = enricher.enrich([persona(**NURSE)])
    assert out.description == "Ana is a 41 year old nurse in Chicago."
    added = [a for a in out.attributes if a.id.startswith("preference_")]
    assert [(a.statement, a.category, a.stability) for a in added] == [
        ("The user prefers short answers.", "preferences", "stable")]
    assert len(out.attributes) == len(NURSE) + 1
    retry = backend.calls[1][0]
    assert retry.messages[-2]["role"] == "assistant" and "teacher" in retry.messages[-2]["content"]
    assert retry.messages[-1]["content"].startswith(CORRECTION.split("{")[0])
    assert "'29 year old' but the person is 41" in retry.messages[-1]["content"]
    assert enricher.stats["retried"] == 1 and enricher.stats["repairs"] == {"code fence": 1}


def test_enricher_failures_are_logged_with_the_raw_answer(taxonomy, tmp_path):
    backend = ScriptedBackend(lambda r: json.dumps(answer("Someone who lives in Boston.")))
    log = FailureLog(tmp_path / "f.jsonl", max_failure_rate=1.0)
    enricher = PersonaEnricher(backend, taxonomy, EnrichConfig(retries=1), log=log)
    assert enricher.enrich([persona(**NURSE)]) == [None]
    (line,) = [json.loads(x) for x in (tmp_path / "f.jsonl").read_text().splitlines()]
    assert line["context"] == {"persona_id": "p1"} and "Boston" in line["raw"] and line["attempts"] == 2
    assert "'Boston'" in line["error"] and enricher.stats["failed"] == 1
