"""`synthgap generate llm` and `synthgap personas enrich` end to end through the openai backend and a
scripted server on loopback: cache, resume after SIGKILL, --resume/--force, broken JSON, the failure stop."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from synthgap.cli import cli

from .llm_fakes import Script, completion, start_server


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def chat(body):
    """Deterministic in the request (messages and seed), like a real engine with a seed."""
    digest = hashlib.sha256(json.dumps([body["messages"], body.get("seed")]).encode()).hexdigest()[:6]
    if body["messages"][0]["role"] == "system":
        return completion(f"Here is one way to do it ({digest}).")
    return completion(f"hey can you help me with something {digest}")


@pytest.fixture
def serve():
    started = []

    def start(script, delay=0.0):
        base, httpd = start_server(script, delay)
        started.append(httpd)
        return base

    yield start
    for httpd in started:
        httpd.shutdown()


@pytest.fixture
def personas_file(tmp_path):
    out = tmp_path / "p.jsonl"
    assert invoke("personas", "sample", "-n", 10, "--seed", 5, "--locale", "en_US", "-o", out).exit_code == 0
    return out


def generate_args(personas, base, out, *extra):
    return ["generate", "llm", "--personas", personas, "--backend", "openai", "--model", "fake",
            "--base-url", base, "--per-persona", 1, "--turns", 1, "--batch", 2, *extra, "-o", out]


def test_generate_writes_records_manifest_and_reuses_the_cache(serve, personas_file, tmp_path):
    script = Script(chat)
    base = serve(script)
    cache = tmp_path / "cache"
    first = invoke(*generate_args(personas_file, base, tmp_path / "a.jsonl", "--cache-dir", cache))
    assert first.exit_code == 0, first.output
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    assert len(lines) == 10 and len(script.seen) == 20
    conv = json.loads(lines[0])
    assert conv["meta"]["generator"] == "llm" and conv["meta"]["user_model"] == f"served:fake@{base}"
    assert [t["role"] for t in conv["turns"]] == ["user", "assistant"] and conv["synthetic"] is True
    manifest = json.loads((tmp_path / "a.jsonl.manifest.json").read_text())
    assert manifest["counts"]["cache"] == {"hits": 0, "misses": 20}
    assert manifest["counts"]["engine"]["requests"] == 20 and manifest["counts"]["engine"]["calls"] == 10
    assert manifest["config"]["user"] == {"kind": "openai", "model": "fake", "base_url": base,
                                          "identity": f"served:fake@{base}"}
    second = invoke(*generate_args(personas_file, base, tmp_path / "b.jsonl", "--cache-dir", cache))
    assert second.exit_code == 0 and len(script.seen) == 20  # nothing asked again
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert json.loads((tmp_path / "b.jsonl.manifest.json").read_text())["counts"]["cache"] == {"hits": 20,
                                                                                               "misses": 0}
    third = invoke(*generate_args(personas_file, base, tmp_path / "c.jsonl", "--cache-dir", cache, "--no-cache"))
    assert third.exit_code == 0 and len(script.seen) == 40
    again = invoke(*generate_args(personas_file, base, tmp_path / "a.jsonl", "--cache-dir", cache, "--resume"))
    assert again.exit_code == 0 and "is complete" in again.output and len(script.seen) == 40


def test_sigkill_mid_run_then_resume_gives_every_record_once(serve, personas_file, tmp_path):
    base = serve(Script(chat), delay=0.25)
    out = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    args = [str(a) for a in generate_args(personas_file, base, out, "--cache-dir", tmp_path / "cache",
                                          "--concurrency", 2)]
    proc = subprocess.Popen([sys.executable, "-c", "from synthgap.cli import main; main()", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "CI": "true"})
    deadline = time.time() + 60
    while time.time() < deadline:
        if partial.exists() and len(partial.read_bytes().splitlines()) >= 4:
            break
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    done_before = len(partial.read_bytes().splitlines())
    assert 4 <= done_before < 10 and not out.exists()

    refused = invoke(*args)
    assert refused.exit_code != 0 and "an unfinished run is here" in refused.output and "--resume" in refused.output
    changed = invoke(*args[:-2], "--seed", 1, "--resume", "-o", out)
    assert changed.exit_code != 0 and "different configuration" in changed.output and "--force" in changed.output
    resumed = invoke(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming: {done_before} conversations written" in resumed.output
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 10
    clean = invoke(*generate_args(personas_file, base, tmp_path / "clean.jsonl", "--no-cache"))
    assert clean.exit_code == 0
    assert out.read_bytes() == (tmp_path / "clean.jsonl").read_bytes()


def test_force_discards_an_unfinished_run(serve, personas_file, tmp_path):
    base = serve(Script(chat))
    out = tmp_path / "o.jsonl"
    (tmp_path / "o.jsonl.partial").write_text('{"id": "stale"}\n')
    (tmp_path / "o.jsonl.partial.json").write_text('{"fingerprint": "something-else"}\n')
    result = invoke(*generate_args(personas_file, base, out, "--force"))
    assert result.exit_code == 0 and "stale" not in out.read_text() and len(out.read_text().splitlines()) == 10


def enrich_reply(text):
    return lambda body: completion(text)


GOOD = {"description": "A {age}-year-old who lives in {city}.", "preferences": []}


def test_enrich_repairs_broken_json_and_writes_enriched_personas(serve, personas_file, tmp_path):
    people = [json.loads(x) for x in personas_file.read_text().splitlines()]

    def fenced_with_trailing_comma(body):
        prompt = body["messages"][0]["content"]
        person = next(p for p in people if all(a["statement"] in prompt for a in p["attributes"]))
        attrs = {a["id"]: a for a in person["attributes"]}
        city = attrs["home_city"]["value"]
        text = (f'Sure! ```json\n{{"description": "A {attrs["age"]["value"]}-year-old who lives in {city}.", '
                f'"preferences": [{{"statement": "The user likes long walks.", "stability": "stable"}},],}}\n```')
        return completion(text)

    base = serve(Script(fenced_with_trailing_comma))
    out = tmp_path / "e.jsonl"
    result = invoke("personas", "enrich", personas_file, "--backend", "openai", "--model", "fake", "--base-url", base,
                    "--batch", 4, "-o", out)
    assert result.exit_code == 0, result.output
    enriched = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(enriched) == 10 and all(p["description"].startswith("A ") for p in enriched)
    assert all(p["attributes"][-1]["statement"] == "The user likes long walks." for p in enriched)
    manifest = json.loads((tmp_path / "e.jsonl.manifest.json").read_text())
    assert manifest["counts"]["personas"] == 10 and manifest["counts"]["failed"] == 0
    repairs = manifest["counts"]["this_run"]["repairs"]
    assert repairs.get("code fence", 0) + repairs.get("surrounding text", 0) >= 10 and repairs["trailing comma"] == 10


def test_garbage_answers_are_retried_written_counted_and_stop_the_run(serve, tmp_path):
    people = tmp_path / "p.jsonl"
    assert invoke("personas", "sample", "-n", 30, "--seed", 1, "-o", people).exit_code == 0
    script = Script(enrich_reply("I'm sorry, I can't produce JSON {{{"))
    base = serve(script)
    out = tmp_path / "e.jsonl"
    result = invoke("personas", "enrich", people, "--backend", "openai", "--model", "fake", "--base-url", base,
                    "--batch", 25, "--retries", 1, "-o", out)
    assert result.exit_code != 0
    assert "stopped: 25 of 25 personas failed (100% > 20%)" in result.output
    assert "e.failures.jsonl" in result.output
    failures = [json.loads(x) for x in (tmp_path / "e.failures.jsonl").read_text().splitlines()]
    assert len(failures) == 25 and len(script.seen) == 50  # every request tried twice
    assert all(f["raw"].startswith("I'm sorry") and f["attempts"] == 2 and f["context"]["persona_id"]
               for f in failures)
    assert not out.exists()  # never a silently thinned file


def test_a_small_run_that_all_failed_does_not_end_as_an_empty_file(serve, personas_file, tmp_path):
    base = serve(Script(enrich_reply("no")))
    out = tmp_path / "e.jsonl"
    result = invoke("personas", "enrich", personas_file, "--backend", "openai", "--model", "fake", "--base-url", base,
                    "--retries", 0, "-o", out)
    assert result.exit_code != 0 and "stopped: 10 of 10 personas failed" in result.output and not out.exists()


@pytest.mark.parametrize("args, message", [
    (["generate", "llm", "--personas", "{tmp}/bad.jsonl", "--backend", "openai", "--model", "m", "--base-url", "{url}",
      "-o", "{tmp}/o.jsonl"], "bad.jsonl: line 2: malformed JSON"),
    (["personas", "enrich", "{tmp}/bad.jsonl", "--backend", "openai", "--model", "m", "--base-url", "{url}",
      "-o", "{tmp}/o.jsonl"], "bad.jsonl: line 2: malformed JSON"),
    (["generate", "llm", "--personas", "{tmp}/good.jsonl", "--backend", "openai", "--model", "m",
      "-o", "{tmp}/o.jsonl"], "the openai backend needs --base-url"),
    (["generate", "llm", "--personas", "{tmp}/good.jsonl", "--model", "{tmp}/nope.gguf", "-o", "{tmp}/o.jsonl"],
     "nope.gguf"),
    (["generate", "llm", "--personas", "{tmp}/good.jsonl", "--backend", "openai", "--model", "m", "--base-url",
      "{url}", "--prompts", "{tmp}/no-such-dir", "-o", "{tmp}/o.jsonl"], "no-such-dir: prompt directory not found"),
])
def test_bad_input_gives_one_clear_line(serve, personas_file, tmp_path, args, message):
    base = serve(Script(chat))
    good = personas_file.read_text().splitlines()
    (tmp_path / "good.jsonl").write_text("\n".join(good[:2]) + "\n")
    (tmp_path / "bad.jsonl").write_text(good[0] + "\n{broken\n")
    result = invoke(*[a.format(tmp=tmp_path, url=base) for a in args])
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output and not (tmp_path / "o.jsonl").exists()
    assert not (tmp_path / "o.jsonl.partial").exists()  # nothing written: no unfinished run left behind


def test_skip_bad_persona_lines_are_counted_and_the_rest_generated(serve, personas_file, tmp_path):
    base = serve(Script(chat))
    good = personas_file.read_text().splitlines()
    (tmp_path / "bad.jsonl").write_text(good[0] + "\n{broken\n" + good[1] + "\n")
    result = invoke(*generate_args(tmp_path / "bad.jsonl", base, tmp_path / "o.jsonl", "--skip-bad"))
    assert result.exit_code == 0, result.output
    assert "skipped 1 bad lines" in result.output and len((tmp_path / "o.jsonl").read_text().splitlines()) == 2
