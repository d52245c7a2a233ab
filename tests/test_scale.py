"""Jobs on a real Ray cluster (a head and a worker process on 127.0.0.1, one CPU each): the same bytes as the
local executor for personas, templates, variants and cached LLM conversations; a worker killed mid-run
with every item present once afterwards; an interrupted Ray job resumed; embeddings made on Ray read back
by a local compare; and, without Ray installed, every command still working and --executor ray one line.
The sharded output's own rules (commit once, refuse a changed retry, remake a lost file) are unit-tested
without a cluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from synthgap.errors import SynthgapError
from synthgap.scale import ExecutorSpec, ShardedOutput

from .ray_cluster import _cluster, _cluster_processes, ray_cluster  # noqa: F401  (the module's cluster fixture)

try:  # a real llama.cpp OpenAI-compatible server (slow tests); that module skips itself without the server parts
    from .test_llm_server import llama_server  # noqa: F401
except pytest.skip.Exception as missing:
    @pytest.fixture(scope="module")
    def llama_server():
        pytest.skip(str(missing))

SMALL_LLM = dict(per_persona=1, turns=1, user_max_tokens=16, assistant_max_tokens=16, batch=2)


# ---- the sharded output, no cluster ----

def test_shards_commit_once_and_assemble_in_order(tmp_path):
    out = tmp_path / "x.jsonl"
    store = ShardedOutput(out, "fp1", 3)
    assert store.pending() == [0, 1, 2]
    assert store.commit(2, ["c"], {"n": 1})
    assert store.commit(0, ["a", "b"], {"n": 2})
    assert not store.commit(0, ["a", "b"]) and store.duplicates == 1  # a retried shard: checked, dropped
    with pytest.raises(SynthgapError, match="came back twice with different contents"):
        store.commit(2, ["changed"])
    with pytest.raises(SynthgapError, match="1 of 3 shards are not committed"):
        store.assemble()
    # a crash: the manifest says shard 0 is done, but its file is gone -> made again
    store.file(0).unlink()
    again = ShardedOutput(out, "fp1", 3)
    assert again.pending() == [0, 1]
    with pytest.raises(SynthgapError, match="different configuration"):
        ShardedOutput(out, "fp2", 3)
    again.commit(0, ["a", "b"])
    again.commit(1, [])
    assert again.assemble() == 3
    assert out.read_text() == "a\nb\nc\n"


def test_executor_options_need_executor_ray():
    from synthgap.scale.options import executor_spec

    assert executor_spec() == ExecutorSpec()  # the options' defaults are the local executor
    assert executor_spec("ray", "127.0.0.1:1", 2, 10) == ExecutorSpec(kind="ray", address="127.0.0.1:1", workers=2,
                                                                       shard_size=10)
    with pytest.raises(SynthgapError, match="--ray-address needs --executor ray"):
        executor_spec("local", "127.0.0.1:1")


# ---- without the extra ----

BLOCK_RAY = ("import sys, runpy\n"
             "class Block:\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name == 'ray' or name.startswith('ray.'):\n"
             "            raise ModuleNotFoundError(\"No module named 'ray'\")\n"
             "sys.meta_path.insert(0, Block())\n"
             "sys.argv = ['synthgap', *sys.argv[1:]]\n"
             "from synthgap.cli import main\n"
             "main()\n")


def _without_ray(args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_RAY, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "CI": "1"})


def test_without_ray_every_command_works_and_executor_ray_is_one_line(tmp_path):
    done = _without_ray(["personas", "sample", "-n", "5", "-o", "p.jsonl"], tmp_path)
    assert done.returncode == 0, done.stderr
    done = _without_ray(["generate", "templates", "--personas", "p.jsonl", "-o", "t.jsonl"], tmp_path)
    assert done.returncode == 0 and (tmp_path / "t.jsonl").exists(), done.stderr
    for args in (["personas", "sample", "-n", "5", "-o", "q.jsonl", "--executor", "ray"],
                 ["generate", "templates", "--personas", "p.jsonl", "-o", "u.jsonl", "--executor", "ray"],
                 ["run", "-o", "run", "--executor", "ray"]):
        failed = _without_ray(args, tmp_path)
        lines = [line for line in failed.stderr.splitlines() if line.strip()]
        assert failed.returncode == 1 and len(lines) == 1, failed.stderr
        assert "--executor ray needs Ray" in lines[0] and "synthgap[ray]" in lines[0]
    assert not (tmp_path / "q.jsonl").exists() and not (tmp_path / "q.jsonl.shards").exists()
    assert not (tmp_path / "run").exists()


# ---- on the cluster ----

@pytest.fixture(scope="module")
def ray_spec(ray_cluster):  # noqa: F811
    return ExecutorSpec(kind="ray", address=ray_cluster)


def test_personas_templates_variants_same_bytes_as_local(tmp_path, ray_spec):
    from synthgap.generators.jobs import TemplatesJobConfig, VariantsJobConfig, generate_templates, make_variants
    from synthgap.personas.jobs import SampleJobConfig, sample_personas

    spec = ray_spec.model_copy(update={"shard_size": 7})  # several shards, on both nodes
    variants = VariantsJobConfig(variants=["implicit:p=0.5", "history:n=2", "noise:typo_rate=0.1"], seed=3)
    files = {}
    for name, executor in (("local", None), ("ray", spec)):
        folder = tmp_path / name
        sample_personas(SampleJobConfig(n=30, seed=5), folder / "p.jsonl", executor=executor)
        done = generate_templates(TemplatesJobConfig(per_persona=2, seed=5), folder / "p.jsonl", folder / "t.jsonl",
                                  executor=executor)
        assert done.written == 60
        make_variants(variants, folder / "t.jsonl", folder / "v.jsonl", executor=executor)
        files[name] = {f: (folder / f).read_bytes() for f in ("p.jsonl", "t.jsonl", "v.jsonl")}
        assert not (folder / "p.jsonl.shards").exists()  # committed and assembled: nothing left behind
    for f in files["local"]:
        assert files["local"][f] == files["ray"][f], f
    # the variants really changed something (a step that did nothing would pass trivially)
    assert files["ray"]["v.jsonl"] != files["ray"]["t.jsonl"]


def test_templates_cli_on_ray(tmp_path, ray_spec):
    from click.testing import CliRunner

    from synthgap.cli import cli as main

    runner = CliRunner()
    assert runner.invoke(main, ["personas", "sample", "-n", "12", "-o", str(tmp_path / "p.jsonl")]).exit_code == 0
    local = runner.invoke(main, ["generate", "templates", "--personas", str(tmp_path / "p.jsonl"), "-o", str(tmp_path / "l.jsonl")])
    remote = runner.invoke(main, ["generate", "templates", "--personas", str(tmp_path / "p.jsonl"), "-o", str(tmp_path / "r.jsonl"),
                                  "--executor", "ray", "--ray-address", ray_spec.address, "--shard-size", "5"])
    assert local.exit_code == 0 and remote.exit_code == 0, remote.output
    assert (tmp_path / "l.jsonl").read_bytes() == (tmp_path / "r.jsonl").read_bytes()


def _personas(path: Path, n: int) -> Path:
    from synthgap.personas.jobs import SampleJobConfig, sample_personas

    sample_personas(SampleJobConfig(n=n, seed=11), path)
    return path


def test_llm_cached_conversations_same_bytes_and_nothing_asked_twice(tmp_path, ray_spec):
    from synthgap.generators.jobs import LLMJobConfig, generate_llm

    personas = _personas(tmp_path / "p.jsonl", 6)
    config = LLMJobConfig(**SMALL_LLM, cache_dir=str(tmp_path / "cache"))
    local = generate_llm(config, personas, tmp_path / "local.jsonl")
    assert local.written == 6 and local.cache["misses"] > 0
    remote = generate_llm(config, personas, tmp_path / "ray.jsonl", executor=ray_spec.model_copy(
        update={"shard_size": 2}))
    assert (tmp_path / "local.jsonl").read_bytes() == (tmp_path / "ray.jsonl").read_bytes()
    assert remote.cache == {"hits": local.cache["misses"], "misses": 0}  # every request answered by the cache
    manifest = json.loads((tmp_path / "ray.jsonl.manifest.json").read_text())
    assert manifest["shards"]["total"] == 3 and manifest["counts"]["engine"]["requests"] == 0
    assert manifest["executor"]["kind"] == "ray"


def test_persona_enrichment_on_ray_same_records_and_failures(tmp_path, ray_spec):
    """`personas enrich` (structured JSON from the packaged SmolLM2, which fails some personas) on Ray: the same
    enriched personas and the same failures file as the local run, from the cache the local run filled."""
    from synthgap.personas.jobs import EnrichJobConfig, enrich_personas

    personas = _personas(tmp_path / "p.jsonl", 4)
    config = EnrichJobConfig(max_tokens=96, retries=0, max_failure_rate=1.0, batch=2, cache_dir=str(tmp_path / "c"))
    local = enrich_personas(config, personas, tmp_path / "local.jsonl")
    remote = enrich_personas(config, personas, tmp_path / "ray.jsonl",
                             executor=ray_spec.model_copy(update={"shard_size": 2}))
    assert (local.written, local.failed) == (remote.written, remote.failed) and local.written + local.failed == 4
    assert remote.cache["misses"] == 0
    for suffix in ("", ".failures"):
        a, b = tmp_path / f"local{suffix}.jsonl", tmp_path / f"ray{suffix}.jsonl"
        assert a.exists() == b.exists() and (not a.exists() or a.read_bytes() == b.read_bytes()), suffix


def _actor_processes(name: str) -> list[int]:
    found = []
    for pid in _cluster_processes(_cluster["temp"]):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"ray::") and name.encode() in cmdline:
            found.append(pid)
    return found


def test_worker_killed_mid_run_every_item_once(tmp_path, ray_spec):
    """A real llama.cpp job (no cache: every shard takes engine time); one actor process is killed with SIGKILL
    after the first shard is committed. Ray restarts it and retries; the output holds every conversation
    once, the same bytes as the local run."""
    from synthgap.generators.jobs import LLMJobConfig, generate_llm

    personas = _personas(tmp_path / "p.jsonl", 12)
    config = LLMJobConfig(**SMALL_LLM, no_cache=True)
    generate_llm(config, personas, tmp_path / "local.jsonl")
    output = tmp_path / "ray.jsonl"
    manifest = tmp_path / "ray.jsonl.shards" / "manifest.json"
    killed: list[int] = []

    def kill_one() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not output.exists():
            try:
                committed = json.loads(manifest.read_text())["committed"]
            except (OSError, ValueError):
                committed = {}
            actors = _actor_processes("MapWorker")
            if committed and actors:
                os.kill(actors[0], signal.SIGKILL)
                killed.append(actors[0])
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_one)
    killer.start()
    done = generate_llm(config, personas, output, executor=ray_spec.model_copy(update={"shard_size": 2}))
    killer.join()
    assert killed, "no actor was killed before the job finished (the test proved nothing)"
    ids = [json.loads(line)["id"] for line in output.read_text().splitlines()]
    assert len(ids) == 12 and len(set(ids)) == 12 and done.written == 12
    assert output.read_bytes() == (tmp_path / "local.jsonl").read_bytes()


DRIVER = """
import sys
from synthgap.generators.jobs import LLMJobConfig, generate_llm
from synthgap.scale import ExecutorSpec
config = LLMJobConfig(per_persona=1, turns=1, user_max_tokens=16, assistant_max_tokens=16, batch=2, no_cache=True)
generate_llm(config, sys.argv[1], sys.argv[2], executor=ExecutorSpec(kind="ray", address=sys.argv[3], shard_size=2,
             workers=1))
"""


def test_interrupted_ray_job_resumes(tmp_path, ray_spec):
    """The driver is killed after two shards are committed; --resume makes only the rest, and the file is the
    same as a run that was never interrupted."""
    from synthgap.generators.jobs import LLMJobConfig, generate_llm

    personas = _personas(tmp_path / "p.jsonl", 10)
    output = tmp_path / "ray.jsonl"
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(personas), str(output), ray_spec.address],
                              env={**os.environ, "CI": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = tmp_path / "ray.jsonl.shards" / "manifest.json"
    deadline = time.monotonic() + 240
    committed = 0
    while time.monotonic() < deadline and driver.poll() is None:
        try:
            committed = len(json.loads(manifest.read_text())["committed"])
        except (OSError, ValueError):
            committed = 0
        if committed >= 2:
            break
        time.sleep(0.1)
    driver.kill()
    driver.wait()
    assert 2 <= committed < 5 and not output.exists(), "the driver finished before it could be interrupted"
    config = LLMJobConfig(**SMALL_LLM, no_cache=True)
    with pytest.raises(SynthgapError, match="an unfinished run is here"):
        generate_llm(config, personas, output, executor=ray_spec)
    done = generate_llm(config, personas, output, resume=True, executor=ray_spec.model_copy(update={"shard_size": 2}))
    shards = json.loads((tmp_path / "ray.jsonl.manifest.json").read_text())["shards"]
    assert shards["reused"] >= 2 and shards["made"] + shards["reused"] == 5 and done.written == 10
    generate_llm(config, personas, tmp_path / "local.jsonl")
    assert output.read_bytes() == (tmp_path / "local.jsonl").read_bytes()


def test_embeddings_made_on_ray_are_read_back_by_a_local_compare(tmp_path, ray_spec, corpora, monkeypatch):
    """compare on Ray: the synthetic corpus is a folder of three shard files (read by Ray actors), the vectors
    are made on the cluster into the cache; a local compare then embeds nothing and writes the same results."""
    from synthgap.comparators.jobs import CompareJobConfig, compare
    from synthgap.corpora import sharded
    from synthgap.generators.jobs import TemplatesJobConfig, generate_templates

    personas = _personas(tmp_path / "p.jsonl", 20)
    generate_templates(TemplatesJobConfig(), personas, tmp_path / "t.jsonl")
    lines = (tmp_path / "t.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "shards").mkdir()
    for i in range(3):
        (tmp_path / "shards" / f"part-{i}.jsonl").write_text("".join(lines[i::3]))
    reads, original = [], sharded.read_sharded
    monkeypatch.setattr(sharded, "read_sharded", lambda *a, **k: reads.append(str(a[0])) or original(*a, **k))
    config = CompareJobConfig(metrics="mmd,c2st", sample=60, bootstrap=20, c2st_refits=5, extraction=None,
                              by_topic=False, sensitivity=False, cache_dir=str(tmp_path / "cache"))
    real = f"convai2={corpora / 'convai2_wild_intermediate.json'}"
    synthetic = [f"t={tmp_path / 'shards'}"]
    on_ray = compare(config, real, synthetic, tmp_path / "ray", executor=ray_spec)
    assert reads == [str(tmp_path / "shards")]  # the folder of shards was read on Ray, the single file was not
    assert on_ray.counts["embedding_cache"]["embedded"] > 100
    local = compare(config, real, synthetic, tmp_path / "local")
    assert local.counts["embedding_cache"]["embedded"] == 0  # every vector came from the cache Ray wrote
    assert local.counts["embedding_cache"]["cached"] == on_ray.counts["embedding_cache"]["unique"]
    assert (tmp_path / "ray" / "results.json").read_bytes() == (tmp_path / "local" / "results.json").read_bytes()


RUN_CONFIG = """
personas: {n: 30}
templates: {per_persona: 2}
llm: {personas: 6, user_max_tokens: 16, assistant_max_tokens: 16}
compare: {sample: 50, bootstrap: 20, extraction_users: 15, c2st_refits: 5, mauve_seeds: 2, permutations: 20,
          by_topic: false}
report: {formats: [md]}
"""


@pytest.mark.slow
def test_run_on_ray_same_bytes_as_local(tmp_path, ray_spec):
    """`synthgap run my_run.yaml --executor ray` writes the personas, conversations and results.json of the
    local run: same relative run folder, and a fresh cache at the same path each (results.json names the
    cached verifier's file), so the Ray run generates and embeds everything itself."""
    config = tmp_path / "my_run.yaml"
    config.write_text(RUN_CONFIG)
    files = {}
    cache = tmp_path / "cache"
    for name, extra in (("local", []), ("ray", ["--executor", "ray", "--ray-address", ray_spec.address])):
        folder = tmp_path / name
        folder.mkdir()
        if cache.exists():
            cache.rename(tmp_path / "cache-before")
        env = {**os.environ, "CI": "1", "SYNTHGAP_CACHE_DIR": str(cache)}
        done = subprocess.run([sys.executable, "-m", "synthgap.cli", "run", str(config), "-o", "run", *extra],
                              cwd=folder, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-2000:]
        files[name] = {f: (folder / "run" / f).read_bytes() for f in (
            "personas.jsonl", "conversations/templates.jsonl", "conversations/llm.jsonl", "results.json")}
    for f in files["local"]:
        assert files["local"][f] == files["ray"][f], f
    commands = json.loads((tmp_path / "ray" / "run" / "run.json").read_text())["stages"]["templates"]["commands"]
    assert f"--executor ray --ray-address {ray_spec.address}" in commands[0]  # run.json records where it ran


@pytest.mark.slow
def test_openai_endpoint_from_ray_workers_and_the_rerun_asks_nothing(tmp_path, ray_spec, llama_server):
    """Ray actors as clients of a real OpenAI-compatible server (llama.cpp's, on loopback), each with bounded
    concurrency; a second Ray run is answered wholly by the request cache the first one filled."""
    from synthgap.generators.jobs import LLMJobConfig, generate_llm
    from synthgap.llm.factory import BackendSpec

    personas = _personas(tmp_path / "p.jsonl", 4)
    engine = BackendSpec(kind="openai", model="smollm2", base_url=llama_server, concurrency=2)
    config = LLMJobConfig(**SMALL_LLM, engine=engine, cache_dir=str(tmp_path / "cache"))
    spec = ray_spec.model_copy(update={"shard_size": 2})
    first = generate_llm(config, personas, tmp_path / "one.jsonl", executor=spec)
    manifest = json.loads((tmp_path / "one.jsonl.manifest.json").read_text())
    assert first.written + first.failed == 4 and first.written > 0
    assert manifest["counts"]["engine"]["requests"] >= 2 * first.written and manifest["engines"]["main"]["backend"] == "openai"
    again = generate_llm(config, personas, tmp_path / "two.jsonl", executor=spec)
    assert again.cache["misses"] == 0 and again.cache["hits"] > 0
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()
