"""Attribute extraction speed on this machine: user turns/s of the rules extractor, attributes/s of
the LLM extractor.

1. rules: template conversations of P personas (``synthgap personas sample`` / ``generate
   templates``, seed 0; ``--personas``, default 300, ``--quick`` 60) and, when ../shared/corpora
   is there, the real ConvAI2 "wild" file; spaCy en_core_web_sm tagger (no parser, no NER).
   Best of 2 runs; the model load is not timed.
2. llm: the LLM extractor through llama.cpp with the built-in Qwen2.5-Coder-0.5B (``--llm-model``)
   on U users of the template corpus (``--llm-users``, default 4, ``--quick`` 2), no cache:
   attributes kept per second and windows (requests) per second, and the cached re-run.

Run:  .venv/bin/python benchmarks/bench_extract.py [--quick] [--no-llm] [--json figures.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONVAI2 = REPO.parent / "shared" / "corpora" / "convai2_wild_intermediate.json"


def template_histories(personas: int, workdir: Path):
    from click.testing import CliRunner

    from synthgap.cli import cli
    from synthgap.corpora import load

    people, convs = workdir / "p.jsonl", workdir / "c.jsonl"
    for args in (["personas", "sample", "-n", personas, "--seed", 0, "-o", people],
                 ["generate", "templates", "--personas", people, "--seed", 0, "-o", convs]):
        result = CliRunner().invoke(cli, [str(a) for a in args])
        assert result.exit_code == 0, result.output
    return list(load(convs, unit="user").users())


def bench_rules(label: str, histories) -> dict:
    from synthgap.extractors.rules import RulesExtractor, extract_histories, user_turns

    rules = RulesExtractor()
    rules.nlp  # load outside the timing
    turns = sum(1 for h in histories for _ in user_turns(h))
    best, attrs = None, 0
    for _ in range(2):
        start = time.perf_counter()
        out = extract_histories(rules, histories)
        seconds = time.perf_counter() - start
        best = seconds if best is None else min(best, seconds)
        attrs = sum(map(len, out))
    print(f"rules  {label:<28} {turns:>6} user turns  {best:7.2f} s  {turns / best:8.0f} turns/s  "
          f"{attrs} attributes")
    return {"users": len(histories), "user_turns": turns, "seconds": round(best, 3),
            "turns_per_second": round(turns / best, 1), "attributes": attrs}


def bench_llm(histories, model: str, workdir: Path) -> dict:
    from synthgap.embedding import Embedder
    from synthgap.extractors.llm_extractor import LLMExtractor
    from synthgap.llm.factory import BackendSpec
    from synthgap.llm.job import open_engines

    embed = Embedder(cache_path=workdir / "cache").embed
    figures = {}
    for run in ("fresh", "cached"):
        engines = open_engines(BackendSpec(kind="llamacpp", model=model), cache_dir=workdir / "cache")
        extractor = LLMExtractor(engines.main, embed=embed)
        extractor.log.max_failure_rate = 1.0
        start = time.perf_counter()
        out = extractor.extract(histories)
        seconds = time.perf_counter() - start
        kept = sum(map(len, out))
        stats = engines.engine_stats()
        engines.close()
        figures[run] = {"seconds": round(seconds, 3), "attributes": kept, "raw": extractor.stats["raw"],
                        "windows": extractor.stats["windows"], "failed_windows": extractor.stats["failed_windows"],
                        "engine_requests": stats["requests"], "completion_tokens": stats["completion_tokens"],
                        "attributes_per_second": round(kept / seconds, 3) if seconds else None,
                        "windows_per_second": round(extractor.stats["windows"] / seconds, 3) if seconds else None}
        print(f"llm    {model} ({run:<6}) {len(histories)} users  {extractor.stats['windows']} windows  "
              f"{seconds:7.2f} s  {kept} attributes ({extractor.stats['raw']} raw)  "
              f"{figures[run]['attributes_per_second']} attributes/s  engine requests {stats['requests']}")
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer personas and users")
    parser.add_argument("--personas", type=int)
    parser.add_argument("--llm-users", type=int)
    parser.add_argument("--llm-model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--no-llm", action="store_true", help="rules only")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        histories = template_histories(args.personas or (60 if args.quick else 300), work)
        figures["rules_templates"] = bench_rules("template conversations", histories)
        if CONVAI2.exists():
            from synthgap.corpora import load

            figures["rules_convai2"] = bench_rules("ConvAI2 wild (real)", list(load(CONVAI2, unit="user").users()))
        else:
            print(f"rules  ConvAI2 skipped: {CONVAI2} not found")
        if not args.no_llm:
            n = args.llm_users or (2 if args.quick else 4)
            figures["llm"] = bench_llm(histories[:n], args.llm_model, work)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
