"""`synthgap extract`: attributes of every user of a corpus, by the rules or an LLM extractor."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..llm.options import backend_options
from ..seeds import numpy_rng


def extractor_options(func):
    """The options `extract` and `compare --extraction` share (the LLM engine is --llm-backend etc.)."""
    opts = [
        click.option("--confidence-threshold", type=click.FloatRange(0, 1), default=0.4, show_default=True,
                     help="llm: drop statements the model is less confident of"),
        click.option("--merge-threshold", type=click.FloatRange(0, 1, min_open=True), default=0.7, show_default=True,
                     help="llm: statements of one user at this cosine similarity or more are one attribute"),
        click.option("--max-failure-rate", type=click.FloatRange(0, 1), default=0.2, show_default=True,
                     help="llm: stop when more than this share of windows failed (the failures are written "
                          "beside the output)"),
        click.option("--prompts", "prompt_dirs", multiple=True, type=click.Path(file_okay=False),
                     help="llm: directory whose extract_attributes.j2 replaces the built-in prompt"),
        click.option("--extract-batch", type=click.IntRange(min=1), default=16, show_default=True,
                     help="llm: users per engine call (the request cache is committed after each)"),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return backend_options("llm-", default_model=None)(func)


def build_extractor(name: str, options: dict, *, seed: int = 0, no_cache: bool = False, cache_dir=None,
                    embed=None, log=lambda m: None, failures_file=None):
    """(extract function over histories, info dict, close function) for "rules" or "llm".

    `options` are the parsed `extractor_options` (consumed); LLM failures go to `failures_file`
    (an old one is removed first).
    """
    from ..llm.structured_run import FailureLog
    from .rules import RulesExtractor, extract_histories

    failures = FailureLog(path=failures_file, max_failure_rate=options.pop("max_failure_rate"))
    if failures_file is not None and failures.path.exists():
        failures.path.unlink()
    if name == "rules":
        _strip(options)
        rules = RulesExtractor()
        return (lambda hs: extract_histories(rules, hs)), {"extractor": "rules", "identity": rules.identity}, \
            (lambda: None)
    from ..llm.factory import BackendSpec, spec_from_options
    from ..llm.job import open_engines
    from .llm_extractor import PROMPT, LLMExtractConfig, LLMExtractor

    base = BackendSpec(kind="llamacpp", model="qwen2.5-coder-0.5b")
    spec = spec_from_options(options, "llm-", base) or base
    engines = open_engines(spec, no_cache=no_cache, cache_dir=cache_dir)
    config = LLMExtractConfig(confidence_threshold=options.pop("confidence_threshold"),
                              merge_threshold=options.pop("merge_threshold"), seed=seed)
    from ..llm.prompts import PromptLibrary

    batch = options.pop("extract_batch")
    prompts = PromptLibrary(options.pop("prompt_dirs", ()) or ())
    extractor = LLMExtractor(engines.main, config, prompts=prompts, embed=embed, log=failures)

    def extract(histories):
        out = []
        for start in range(0, len(histories), batch):
            out.extend(extractor.extract(histories[start:start + batch]))
            log(f"llm extraction: {min(start + batch, len(histories))}/{len(histories)} users")
        extractor.log.check(final=True)
        return out

    info = {"extractor": "llm", "engine": engines.info(),
            "config": {**vars(config), "prompt": prompts.identity([PROMPT])}, "stats": extractor.stats,
            "cache": engines.cache_stats, "engine_stats": engines.engine_stats}
    return extract, info, engines.close


def _strip(options: dict) -> None:
    """Drop the LLM-only options (the rules extractor has none)."""
    for key in ("confidence_threshold", "merge_threshold", "extract_batch", "llm_backend", "llm_model",
                "llm_base_url", "prompt_dirs", "max_failure_rate"):
        options.pop(key, None)


@click.command()
@click.argument("source")
@click.option("--extractor", type=click.Choice(["rules", "llm"]), default="rules", show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="attributes.jsonl: one line per user (user_id, source, attributes with evidence)")
@click.option("--sample-users", type=click.IntRange(min=1), help="at most N users (drawn with --seed)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--skip-bad", is_flag=True, help="skip bad records (counted by reason) instead of failing")
@click.option("--empty-turns", type=click.Choice(["error", "drop", "keep"]),
              help="what to do with turns without text (default: the format's own rule)")
@click.option("--no-cache", is_flag=True, help="llm: ask the engine again for everything, and store nothing")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="cache folder (default ~/.cache/synthgap)")
@extractor_options
def extract(source, extractor, output, sample_users, seed, skip_bad, empty_turns, no_cache, cache_dir, **options):
    """Extract "The user ..." attributes from every user's turns of SOURCE.

    rules: spaCy self-disclosure patterns (fast, deterministic). llm: the model returns statements
    with reason, confidence and evidence turn ids; low-confidence ones are dropped and
    near-duplicates merged. The LLM engine is chosen with --llm-backend/--llm-model/--llm-base-url
    (default: the built-in qwen2.5-coder-0.5b through llama.cpp).
    """

    from ..embedding import Embedder
    from ..corpora import load
    from ..outputs import write_manifest
    from ..records import AtomicWriter, UserHistory, dumps

    log = lambda msg: click.echo(f"synthgap: {msg}", err=True)  # noqa: E731
    started = time.perf_counter()
    corpus = load(source, on_error="skip" if skip_bad else "fail", unit="user", empty_turns=empty_turns)
    histories = [h for h in corpus.users() if any(t.role == "user" for c in h.conversations for t in c.turns)]
    summary = corpus.summary
    if sample_users and len(histories) > sample_users:
        rng = numpy_rng(seed, "extract")
        histories = [histories[i] for i in sorted(rng.choice(len(histories), sample_users, replace=False))]
    embedder = Embedder(cache=not no_cache, cache_path=cache_dir) if extractor == "llm" else None
    from ..llm.structured_run import failures_path

    run, info, close = build_extractor(extractor, options, seed=seed, no_cache=no_cache, cache_dir=cache_dir,
                                       embed=embedder.embed if embedder else None, log=log,
                                       failures_file=failures_path(output))
    try:
        t0 = time.perf_counter()
        attributes = run(histories)
        seconds = time.perf_counter() - t0
    finally:
        close()
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with AtomicWriter(out) as fh:
        for hist, attrs in zip(histories, attributes):
            fh.write(dumps(UserHistory(user_id=hist.user_id, source=hist.source, synthetic=hist.synthetic,
                                       attributes=attrs, meta={"extractor": extractor})) + "\n")
    turns = sum(1 for h in histories for c in h.conversations for t in c.turns if t.role == "user")
    n_attrs = sum(map(len, attributes))
    for key in ("cache", "engine_stats"):
        if callable(info.get(key)):
            info[key] = info[key]()
    skipped = dict(summary.skipped) if summary is not None else {}
    write_manifest(out.with_name(out.name + ".manifest.json"), command="extract",
                   config={"extractor": extractor, "seed": seed, "sample_users": sample_users, **{
                       k: v for k, v in info.items() if k in ("config", "identity")}},
                   inputs=[source] if Path(source).exists() else [],
                   counts={"users": len(histories), "user_turns": turns, "attributes": n_attrs,
                           "skipped_records": skipped, **({"llm": info["stats"]} if "stats" in info else {})},
                   timings={"extract": round(seconds, 3), "total": round(time.perf_counter() - started, 3)},
                   extra={k: info[k] for k in ("engine", "cache", "engine_stats") if k in info})
    if skipped:
        log(f"skipped {sum(skipped.values())} bad records: " + ", ".join(f"{k}: {v}" for k, v in skipped.items()))
    log(f"wrote {n_attrs} attributes of {len(histories)} users ({turns} user turns) to {out} "
        f"in {seconds:.1f} s ({turns / seconds if seconds else 0:.0f} user turns/s)")
