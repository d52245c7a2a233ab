"""The OpenAI-compatible backend against a scripted HTTP server on loopback: payload, retries, errors."""

from __future__ import annotations

import json

import pytest

from synthgap.errors import SynthgapError
from synthgap.llm.openai_backend import OpenAIBackend
from synthgap.llm.requests import Request

from .llm_fakes import Script, completion, start_server


@pytest.fixture
def server():
    started = []

    def start(script: Script):
        base, httpd = start_server(script)
        started.append(httpd)
        return base

    yield start
    for httpd in started:
        httpd.shutdown()


REQ = Request(messages=[{"role": "user", "content": "hi"}], seed=7, stop=["\n\n"], max_tokens=20,
              json_schema={"type": "object"})


def test_payload_and_response(server):
    script = Script(completion('{"a": 1}'))
    base = server(script)
    backend = OpenAIBackend("my-model", base, backoff=0.01)
    (resp,) = backend.generate([REQ])
    assert resp.text == '{"a": 1}' and resp.finish_reason == "stop" and resp.completion_tokens == 2
    sent = script.seen[0]
    assert sent["model"] == "my-model" and sent["seed"] == 7 and sent["stop"] == ["\n\n"] and sent["max_tokens"] == 20
    assert sent["response_format"]["json_schema"]["schema"] == {"type": "object"}
    assert backend.model_identity == f"served:my-model@{base}"


def test_retries_on_429_and_5xx_then_succeeds(server):
    script = Script((429, {"error": "slow down"}), (503, "busy"), completion("ok"))
    backend = OpenAIBackend("m", server(script), backoff=0.01)
    assert backend.generate([REQ])[0].text == "ok" and backend.retried == 2 and len(script.seen) == 3


def test_gives_up_with_one_line(server):
    backend = OpenAIBackend("m", server(Script((500, "boom"))), retries=2, backoff=0.01)
    with pytest.raises(SynthgapError, match="gave up after 3 attempts .*HTTP 500"):
        backend.generate([REQ])
    bad = OpenAIBackend("m", server(Script((400, {"error": "bad model"}))), backoff=0.01)
    with pytest.raises(SynthgapError, match="HTTP 400"):
        bad.generate([REQ])


def test_connection_refused_is_retried_then_reported():
    backend = OpenAIBackend("m", "http://127.0.0.1:9/v1", retries=1, backoff=0.01, timeout=2)
    with pytest.raises(SynthgapError, match="gave up after 2 attempts"):
        backend.generate([REQ])


def test_many_requests_keep_their_order(server):
    script = Script(lambda body: completion(body["messages"][-1]["content"].upper()))
    backend = OpenAIBackend("m", server(script), concurrency=4)
    reqs = [Request(messages=[{"role": "user", "content": f"q{i}"}], seed=i) for i in range(12)]
    assert [r.text for r in backend.generate(reqs)] == [f"Q{i}" for i in range(12)]
    assert sorted(b["seed"] for b in script.seen) == list(range(12))


def test_a_server_without_json_schema_gets_json_object(server):
    def answer(body):
        if body["response_format"]["type"] == "json_schema":
            return 500, {"error": {"message": "response_format.type: Input should be 'text' or 'json_object'"}}
        return completion(json.dumps(body["response_format"]["schema"]))

    script = Script(answer)
    backend = OpenAIBackend("m", server(script), backoff=0.01)
    (resp,) = backend.generate([REQ])
    assert json.loads(resp.text) == {"type": "object"} and backend.schema_format == "json_object"
    assert len(script.seen) == 2 and backend.retried == 0
