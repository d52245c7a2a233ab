"""Test doubles for the LLM layer: a scripted in-process backend and a scripted OpenAI-compatible
HTTP server on loopback (a real socket, so the openai backend's code runs for real)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from synthgap.llm.backend import Backend
from synthgap.llm.requests import Response


class ScriptedBackend(Backend):
    """Answers each request with `answer(request) -> str`; remembers every call (a list of requests)."""

    name = "scripted"

    def __init__(self, answer, identity: str = "scripted:1"):
        self.answer, self.calls, self._identity = answer, [], identity

    @property
    def model_identity(self) -> str:
        return self._identity

    def generate(self, requests):
        self.calls.append(list(requests))
        out = []
        for r in requests:
            text = self.answer(r)
            out.append(Response(text, "stop", 10, max(1, len(text.split()))))
        return out


def prompt_of(request) -> str:
    return request.messages[-1]["content"]


class Script:
    """What the server answers, in order: (status, body) pairs or callables of the body; the last one repeats."""

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


def start_server(script: Script, delay: float = 0.0):
    """Serve `script` on a free loopback port; returns (base URL, server) — call server.shutdown() after."""
    import time

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if delay:
                time.sleep(delay)
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
    return f"http://127.0.0.1:{httpd.server_address[1]}/v1", httpd
