"""The OpenAI-compatible backend against a scripted HTTP server on loopback: payload, retries, errors."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from synthgap.errors import SynthgapError
from synthgap.llm.openai_backend import OpenAIBackend
from synthgap.llm.requests import Request


class Script:
    """What the server answers, in order: (status, body) pairs; the last one repeats."""

    def __init__(self, *answers):
        self.answers, self.seen, self.lock = list(answers), [], threading.Lock()

    def next(self, body):
        with self.lock:
            self.seen.append(body)
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
            return answer(body) if callable(answer) else answer


def completion(text, finish="stop"):
    return 200, {"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": finish}],
                 "usage": {"prompt_tokens": 5, "completion_tokens": 2}}


@pytest.fixture
def server():
    started = []

    def start(script: Script):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, answer = script.next(body)
                data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        started.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/v1"

    yield start
    for httpd in started:
        httpd.shutdown()


REQ = Request(messages=[{"role": "user", "content": "hi"}], seed=7, stop=["\n\n"], max_tokens=20,
              json_schema={"type": "object"})


def test_payload_and_response(server):
    script = Script(completion('{"a": 1}'))
    backend = OpenAIBackend("my-model", server(script), backoff=0.01)
    (resp,) = backend.generate([REQ])
    assert resp.text == '{"a": 1}' and resp.finish_reason == "stop" and resp.completion_tokens == 2
    sent = script.seen[0]
    assert sent["model"] == "my-model" and sent["seed"] == 7 and sent["stop"] == ["\n\n"] and sent["max_tokens"] == 20
    assert sent["response_format"]["json_schema"]["schema"] == {"type": "object"}
    assert backend.model_identity == "served:my-model"


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
