"""Structured generation: repairs, corrective retries, failure records, the early stop."""

from __future__ import annotations

import json

import pytest

from synthgap.errors import SynthgapError
from synthgap.llm.requests import Request, Response
from synthgap.llm.structured_run import FailureLog, failures_path, generate_structured

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


class Scripted:
    """Answers per request content: a list of texts, one per attempt (the last repeats); counts engine calls."""

    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def generate(self, requests):
        self.calls.append(len(requests))
        out = []
        for r in requests:
            script = self.answers[r.messages[0]["content"]]
            attempt = sum(1 for m in r.messages if m["role"] == "assistant")
            out.append(Response(script[min(attempt, len(script) - 1)]))
        return out


def reqs(*names):
    return [Request(messages=[{"role": "user", "content": n}]) for n in names]


def test_repairs_retries_and_failures(tmp_path):
    engine = Scripted({"good": ['{"n": 1}'], "fenced": ['```json\n{"n": 2,}\n```'],
                       "late": ["no idea", '{"n": "three"}', '{"n": 3}'], "never": ["nope"]})
    log = FailureLog(tmp_path / "f.jsonl", max_failure_rate=0.5, min_items=1)
    res = generate_structured(engine, reqs("good", "fenced", "late", "never"), SCHEMA, retries=2, log=log,
                              context=["a", "b", "c", "d"])
    assert res.values == [{"n": 1}, {"n": 2}, {"n": 3}, None]
    assert res.attempts == [1, 1, 3, 3] and res.failures == 1
    assert res.repairs == {"code fence": 1, "trailing comma": 1}
    assert engine.calls == [4, 2, 2]  # each round is one batch
    (failure,) = [json.loads(line) for line in (tmp_path / "f.jsonl").read_text().splitlines()]
    assert failure["context"] == "d" and failure["raw"] == "nope" and "no JSON object" in failure["error"]


def test_corrective_message_carries_the_error():
    seen = []

    class Spy(Scripted):
        def generate(self, requests):
            seen.extend(requests)
            return super().generate(requests)

    generate_structured(Spy({"x": ['{"n": "bad"}', '{"n": 1}']}), reqs("x"), SCHEMA)
    retry = seen[1].messages
    assert retry[1] == {"role": "assistant", "content": '{"n": "bad"}'}
    assert "breaks the schema" in retry[2]["content"] and retry[2]["role"] == "user"


def test_failure_rate_stops_the_run(tmp_path):
    engine = Scripted({f"q{i}": ["garbage"] for i in range(30)})
    log = FailureLog(tmp_path / "f.jsonl", max_failure_rate=0.2)
    with pytest.raises(SynthgapError, match=r"stopped: 30 of 30 structured answers failed .*f\.jsonl"):
        generate_structured(engine, reqs(*(f"q{i}" for i in range(30))), SCHEMA, retries=1, log=log)
    assert len((tmp_path / "f.jsonl").read_text().splitlines()) == 30  # every failure is on record


def test_failures_path():
    assert failures_path("out/convs.jsonl").name == "convs.failures.jsonl"
