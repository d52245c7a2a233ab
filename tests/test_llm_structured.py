"""Structured output repair and validation, request keys, and the request cache (no model needed)."""

from __future__ import annotations

import pytest

from synthgap.llm.cache import RequestCache, split_cached
from synthgap.llm.requests import Request, Response
from synthgap.llm.structured import StructuredOutputError, drop_trailing_commas, extract_json, parse_structured

SCHEMA = {"type": "object", "required": ["statement", "confidence"],
          "properties": {"statement": {"type": "string"}, "confidence": {"type": "number", "minimum": 0, "maximum": 1}}}


@pytest.mark.parametrize("text,repairs", [
    ('{"statement": "The user cooks", "confidence": 0.8}', []),
    ('```json\n{"statement": "The user cooks", "confidence": 0.8}\n```', ["code fence"]),
    ('Sure! Here it is: {"statement": "The user cooks", "confidence": 0.8} Hope that helps.',
     ["text around the JSON"]),
    ('{"statement": "The user cooks", "confidence": 0.8,}', ["trailing comma"]),
    ('```\n{"statement": "The user cooks",\n "confidence": 0.8,\n}\n```', ["code fence", "trailing comma"]),
])
def test_repairs(text, repairs):
    parsed = parse_structured(text, SCHEMA)
    assert parsed.value == {"statement": "The user cooks", "confidence": 0.8}
    assert parsed.repairs == repairs


def test_commas_inside_strings_stay():
    text, removed = drop_trailing_commas('{"a": "x, ]", "b": [1, 2,],}')
    assert text == '{"a": "x, ]", "b": [1, 2]}' and removed == 2


def test_unrepairable_and_invalid_answers_fail_with_a_reason():
    with pytest.raises(StructuredOutputError, match="no JSON object"):
        parse_structured("I cannot help with that.", SCHEMA)
    with pytest.raises(StructuredOutputError, match="no JSON object"):
        parse_structured('{"statement": "cut off', SCHEMA)
    with pytest.raises(StructuredOutputError, match="confidence"):
        parse_structured('{"statement": "The user cooks", "confidence": 7}', SCHEMA)
    with pytest.raises(StructuredOutputError, match="required"):
        parse_structured('{"statement": "The user cooks"}', SCHEMA)


def test_arrays_and_the_first_value_of_the_wanted_type():
    assert extract_json('noise [1, 2] more', list).value == [1, 2]
    assert extract_json('{"a": [1]} then [3]', list).value == [1]  # the first array that parses, wherever it is
    assert extract_json('[1] and {"b": 2}', dict).value == {"b": 2}


def test_request_key_covers_everything_that_decides_the_answer():
    base = Request(messages=[{"role": "user", "content": "hi"}], seed=1)
    key = base.key("llamacpp", "abc")
    assert key == Request(messages=({"role": "user", "content": "hi"},), seed=1).key("llamacpp", "abc")
    changed = [Request(messages=[{"role": "user", "content": "hello"}], seed=1),
               Request(messages=base.messages, seed=2),
               Request(messages=base.messages, seed=1, temperature=0.1),
               Request(messages=base.messages, seed=1, json_schema=SCHEMA)]
    assert len({key, *(r.key("llamacpp", "abc") for r in changed)}) == 5
    assert base.key("openai", "abc") != key and base.key("llamacpp", "other") != key


def test_request_cache_round_trip_and_counts(tmp_path):
    cache = RequestCache(tmp_path)
    requests = [Request(messages=[{"role": "user", "content": f"q{i}"}], seed=i) for i in range(3)]
    keys, done, todo = split_cached(cache, requests, "llamacpp", "m")
    assert done == {} and todo == [0, 1, 2] and cache.stats() == {"hits": 0, "misses": 3}
    cache.put_many([(keys[1], Response("answer one", "stop", 3, 2))])
    cache.close()
    again = RequestCache(tmp_path)
    _, done, todo = split_cached(again, requests, "llamacpp", "m")
    assert todo == [0, 2] and done[1].text == "answer one" and done[1].cached and done[1].completion_tokens == 2
    assert again.stats() == {"hits": 1, "misses": 2}


class Echo:
    """A test double engine: answers with the last message reversed and counts engine calls."""
    name, model_identity = "echo", "echo-1"

    def __init__(self):
        self.calls = []

    def generate(self, requests):
        self.calls.append(len(requests))
        return [Response(r.messages[-1]["content"][::-1], "stop") for r in requests]


def test_cached_backend_sends_only_misses_in_one_call(tmp_path):
    from synthgap.llm.backend import Cached

    engine = Echo()
    backend = Cached(engine, RequestCache(tmp_path))
    reqs = [Request(messages=[{"role": "user", "content": f"abc{i}"}], seed=0) for i in range(4)]
    first = backend.generate(reqs[:2])
    assert [r.text for r in first] == ["0cba", "1cba"] and engine.calls == [2]
    second = backend.generate(reqs)
    assert [r.text for r in second] == ["0cba", "1cba", "2cba", "3cba"] and engine.calls == [2, 2]
    assert [r.cached for r in second] == [True, True, False, False]
    assert backend.stats() == {"hits": 2, "misses": 4}


def test_a_trailing_comma_in_the_outer_object_does_not_pick_an_inner_one():
    text = 'Sure! {"description": "x", "preferences": [{"statement": "The user y", "stability": "stable"},],}'
    parsed = extract_json(text, dict)
    assert set(parsed.value) == {"description", "preferences"} and "trailing comma" in parsed.repairs
