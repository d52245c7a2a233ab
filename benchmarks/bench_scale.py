"""Local executor vs Ray on this machine, side by side in one run, and a projection to N GPU workers.

What it measures
----------------
A Ray cluster of two processes on 127.0.0.1 (a head and a worker node, one CPU each: `tests/ray_cluster.py`),
or the cluster at `--address`. Each workload runs through the library jobs, first with the local executor
(this process, both cores), then with `ExecutorSpec(kind="ray")` (two actors, one CPU each), into fresh
files and fresh caches, and the outputs are compared byte for byte:

1. templates: `sample_personas` + `generate_templates` for `--personas` personas (2 conversations each);
   throughput in conversations per second of the template stage.
2. llama.cpp conversations: `generate_llm` with the packaged SmolLM2-135M, `--conversations` conversations
   of one user and one assistant turn, no request cache (every request reaches an engine); conversations
   and completion tokens per second. Locally llama.cpp runs with both cores as threads; on Ray each actor
   runs with the one CPU it reserved.
3. embeddings: `Embedder.embed` of `--texts` ShareGPT user turns with the packaged MiniLM into an empty
   cache (locally: torch on both cores; on Ray: the kept actor pool, one thread each).

Every Ray time includes what a user waits for: connecting, starting the actors and loading their models,
Ray Data's scheduling. At two CPUs this is overhead on top of the same compute, which is what the table shows.

The projection
--------------
From a per-GPU-worker rate (a parameter, `--gpu-rate`, in conversations/s: not measured here; no GPU),
projected throughput for N GPU workers = min(N x gpu_rate x e, driver ceiling), where e is what Ray leaves
of one worker's engine rate, measured here (one llama.cpp actor on Ray against the same engine in this
process, capped at 1; two actors on this machine's two shared cores are also printed, as "scaling", but
they measure core contention, which workers with their own GPUs do not have) and the driver ceiling is the rate at which
the driver commits shard results (measured: `ShardedOutput.commit` of 64-conversation shards of real
conversation lines) and the request cache answers (measured: `CacheServer` round trips from an actor).
Assumptions: shards are independent (true: an item depends on its seed and index), the cluster network moves
a shard's results (tens of KB) in well under a shard's generation time, and each worker keeps the share e
of its engine's rate measured here (the actor's own overhead: scheduling, the cache round trips, commits).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def bench_templates(folder: Path, n: int, ray_spec) -> dict:
    from synthgap.generators.jobs import TemplatesJobConfig, generate_templates
    from synthgap.personas.jobs import SampleJobConfig, sample_personas

    out = {}
    for name, spec in (("local", None), ("ray", ray_spec)):
        sample_personas(SampleJobConfig(n=n), folder / f"p-{name}.jsonl", executor=spec)
        done, seconds = _timed(lambda: generate_templates(TemplatesJobConfig(per_persona=2), folder / f"p-{name}.jsonl",
                                                          folder / f"t-{name}.jsonl", executor=spec))
        out[name] = {"items": done.written, "seconds": seconds, "per_s": done.written / seconds}
    out["same_bytes"] = (folder / "t-local.jsonl").read_bytes() == (folder / "t-ray.jsonl").read_bytes()
    return out


def bench_llm(folder: Path, n: int, ray_spec, workers: int) -> dict:
    from synthgap.generators.jobs import LLMJobConfig, generate_llm
    from synthgap.personas.jobs import SampleJobConfig, sample_personas

    personas = folder / "p-llm.jsonl"
    sample_personas(SampleJobConfig(n=n, seed=1), personas)
    config = LLMJobConfig(per_persona=1, turns=1, user_max_tokens=32, assistant_max_tokens=48, batch=4, no_cache=True)
    out = {}
    ray_spec = ray_spec.model_copy(update={"shard_size": max(1, n // (3 * workers))})  # every actor gets shards
    for name, spec in (("local", None), ("ray", ray_spec), ("ray_one_actor", ray_spec.model_copy(update={"workers": 1}))):
        output = folder / f"llm-{name}.jsonl"
        done, seconds = _timed(lambda: generate_llm(config, personas, output, executor=spec))
        manifest = json.loads((folder / f"llm-{name}.jsonl.manifest.json").read_text())
        tokens = manifest["counts"]["engine"]["completion_tokens"]
        out[name] = {"items": done.written, "seconds": seconds, "per_s": done.written / seconds,
                     "tokens_per_s": tokens / seconds}
    out["same_bytes"] = (folder / "llm-local.jsonl").read_bytes() == (folder / "llm-ray.jsonl").read_bytes()
    # e: what Ray leaves of one worker's engine rate (one actor on Ray against the same engine here), the
    # figure for workers that each have their own GPU; `scaling` (all actors against workers x one) is what
    # the actors get when they share this machine's two cores with each other and the driver
    out["efficiency"] = min(1.0, out["ray_one_actor"]["per_s"] / out["local"]["per_s"])
    out["scaling"] = out["ray"]["per_s"] / (workers * out["ray_one_actor"]["per_s"])
    out["per_worker_per_s"] = out["ray"]["per_s"] / workers
    return out


def bench_embeddings(folder: Path, n: int, ray_spec) -> dict:
    import numpy as np

    from synthgap.comparators.samples import load_sample
    from synthgap.embedding import Embedder
    from synthgap.scale import using

    texts = load_sample("sharegpt").turns[:n]
    out, vectors = {}, {}
    for name, spec in (("local", None), ("ray", ray_spec)):
        embedder = Embedder(cache_path=folder / f"cache-{name}")
        with using(spec):
            vectors[name], seconds = _timed(lambda: embedder.embed(texts))
        out[name] = {"items": len(texts), "seconds": seconds, "per_s": len(texts) / seconds}
        embedder.close()
    out["same_bytes"] = bool(np.array_equal(vectors["local"].view(np.uint32), vectors["ray"].view(np.uint32)))
    return out


def driver_ceiling(folder: Path, ray_spec, lines_file: Path) -> dict:
    """How fast the driver commits shards of real conversation lines, and the cache server answers an actor."""
    import ray

    from synthgap.llm.ray_job import CacheServer
    from synthgap.llm.requests import Request, Response
    from synthgap.scale import ShardedOutput
    from synthgap.scale.executor import connect

    lines = lines_file.read_text().splitlines()
    shard = (lines * (64 // max(1, len(lines)) + 1))[:64]
    store = ShardedOutput(folder / "ceiling.jsonl", "x", 200)
    _, seconds = _timed(lambda: [store.commit(i, shard) for i in range(200)])
    commits = {"shards_per_s": 200 / seconds, "conversations_per_s": 200 * 64 / seconds}
    store.remove()
    connect(ray_spec)
    server = ray.remote(num_cpus=0)(CacheServer).remote(str(folder / "ceiling-cache"))
    keys = [Request(({"role": "user", "content": f"q{i}"},), max_tokens=8).key("llamacpp", "m") for i in range(64)]
    ray.get(server.put_many.remote([(k, Response("a" * 200, "stop", 10, 20).to_json()) for k in keys]))

    @ray.remote(num_cpus=0)
    def ask(server, keys, rounds):
        started = time.perf_counter()
        for _ in range(rounds):
            ray.get(server.get_many.remote(keys))
        return rounds / (time.perf_counter() - started)

    calls = ray.get(ask.remote(server, keys, 200))
    ray.kill(server)
    return {**commits, "cache_calls_per_s": calls, "cache_requests_per_s": calls * 64}


def _row(name: str, result: dict, unit: str) -> str:
    lo, ra = result["local"], result["ray"]
    return (f"| {name} | {lo['items']:,} {unit} | {lo['seconds']:.1f} s | {lo['per_s']:.1f}/s | {ra['seconds']:.1f} s | "
            f"{ra['per_s']:.1f}/s | {ra['per_s'] / lo['per_s']:.2f}x | {'yes' if result['same_bytes'] else 'NO'} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", help="an existing Ray cluster (default: start a 2-process one on 127.0.0.1)")
    parser.add_argument("--personas", type=int, default=4000)
    parser.add_argument("--conversations", type=int, default=24)
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--gpu-rate", type=float, default=20.0,
                        help="assumed conversations/s of one GPU worker (vLLM, a 7B model, 2 turns): a parameter")
    parser.add_argument("--quick", action="store_true", help="small sizes (the test suite's run)")
    parser.add_argument("--json", help="write the figures here as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.personas, args.conversations, args.texts = 200, 4, 200
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from synthgap.scale import ExecutorSpec

    folder = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    os.environ["SYNTHGAP_CACHE_DIR"] = str(folder / "cache")  # this process and the Ray workers it starts
    started_cluster = False
    try:
        address = args.address
        if address is None:
            from tests.ray_cluster import start_cluster

            address = start_cluster(folder)
            started_cluster = True
        spec = ExecutorSpec(kind="ray", address=address)
        import ray

        from synthgap.scale.executor import connect, pool_size

        connect(spec)
        workers = pool_size(spec)
        results = {"templates": bench_templates(folder, args.personas, spec),
                   "llm": bench_llm(folder, args.conversations, spec, workers),
                   "embeddings": bench_embeddings(folder, args.texts, spec)}
        results["ceiling"] = driver_ceiling(folder, spec, folder / "llm-local.jsonl")
        results["workers"] = workers
        nodes = len([n for n in ray.nodes() if n["Alive"]])
        print(f"local executor (this process, {os.cpu_count()} CPUs) vs Ray ({nodes} nodes, {workers} actors of 1 CPU)")
        print("| workload | items | local | local rate | Ray | Ray rate | Ray/local | same bytes |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        print(_row("templates", results["templates"], "conversations"))
        print(_row("llama.cpp conversations (SmolLM2-135M)", results["llm"], "conversations"))
        print(_row("embeddings (MiniLM)", results["embeddings"], "texts"))
        llm = results["llm"]
        print(f"llama.cpp tokens/s: local {llm['local']['tokens_per_s']:.1f}, Ray {llm['ray']['tokens_per_s']:.1f}; "
              f"one actor {llm['ray_one_actor']['per_s']:.2f} conversations/s (local {llm['local']['per_s']:.2f}/s: "
              f"e = {llm['efficiency']:.2f}), {workers} actors on the same {os.cpu_count()} cores "
              f"{llm['ray']['per_s']:.2f}/s (scaling {llm['scaling']:.2f}: they share the cores)")
        ceiling = results["ceiling"]
        print(f"driver ceiling: commits {ceiling['shards_per_s']:.0f} shards/s ({ceiling['conversations_per_s']:,.0f} "
              f"conversations/s); request cache {ceiling['cache_requests_per_s']:,.0f} requests/s "
              f"({ceiling['cache_calls_per_s']:.0f} calls of 64)")
        bound = min(ceiling["conversations_per_s"], ceiling["cache_requests_per_s"] / 4)  # 2 turns x 2 roles
        print(f"projection (assumed {args.gpu_rate:g} conversations/s per GPU worker; e = {llm['efficiency']:.2f}; "
              f"driver bound {bound:,.0f}/s):")
        print("| GPU workers | projected conversations/s | 1M conversations in |")
        print("| --- | --- | --- |")
        projection = {}
        for n in (1, 8, 32, 128, 512):
            rate = min(n * args.gpu_rate * llm["efficiency"], bound)
            projection[n] = rate
            hours = 1e6 / rate / 3600
            print(f"| {n} | {rate:,.0f} | " + (f"{hours:.1f} h" if hours >= 1 else f"{hours * 60:.0f} min") + " |")
        results["projection"] = {"gpu_rate": args.gpu_rate, "bound": bound, "rates": projection}
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        ok = all(results[k]["same_bytes"] for k in ("templates", "llm", "embeddings"))
        return 0 if ok else 1
    finally:
        if started_cluster:
            from tests.ray_cluster import stop_cluster

            stop_cluster()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
