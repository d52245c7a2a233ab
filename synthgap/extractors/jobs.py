"""Library jobs of the extractors: a rules or LLM extractor built from typed settings, and
`extract` (the attributes of every user of a corpus), the work behind `synthgap extract`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Literal, NamedTuple, Optional, Union

from pydantic import Field

from ..llm.factory import BackendSpec
from ..outputs import JobConfig, JobResult, Log, quiet

# The LLM extractor's engine by default. The built-in qwen2.5-coder-1.5b scored F1 0.26 against this one's 0.11 on
# 15 template users (benchmarks/bench_extractor_models.py) but answered no attribute at all for plain one-turn
# disclosures ("I work as a nurse ...") that this one reads: not a clear enough win to change the default.
DEFAULT_ENGINE = BackendSpec(kind="llamacpp", model="qwen2.5-coder-0.5b")


class ExtractorSettings(JobConfig):
    """Settings of the LLM extractor (the rules extractor has none): what `extract` and
    `compare --extraction` share. `engine` None is the built-in qwen2.5-coder-0.5b through llama.cpp."""
    confidence_threshold: float = Field(0.4, ge=0, le=1)
    merge_threshold: float = Field(0.7, gt=0, le=1)
    max_failure_rate: float = Field(0.2, ge=0, le=1)
    prompts: list[str] = []  # folders whose extract_attributes.j2 replaces the built-in prompt
    extract_batch: int = Field(16, ge=1)  # users per engine call (the request cache is committed after each)
    engine: Optional[BackendSpec] = None


class BuiltExtractor(NamedTuple):
    """An extractor ready to run: `extract(histories)` gives each history's attributes; `info` is what
    manifests record (its "cache", "engine_stats" are callables read after the run); `close` frees the engine."""
    extract: Callable[[list], list]
    info: dict
    close: Callable[[], None]


def build_extractor(name: str, settings: Optional[ExtractorSettings] = None, *, seed: int = 0, no_cache: bool = False,
                    cache_dir=None, embed=None, log: Log = quiet, failures_file=None) -> BuiltExtractor:
    """The "rules" or "llm" extractor; LLM failures go to `failures_file` (an old one is removed first)."""
    from ..llm.structured_run import FailureLog
    from .rules import RulesExtractor, extract_histories

    settings = settings or ExtractorSettings()
    failures = FailureLog(path=failures_file, max_failure_rate=settings.max_failure_rate)
    if failures_file is not None and failures.path.exists():
        failures.path.unlink()
    if name == "rules":
        rules = RulesExtractor()
        return BuiltExtractor(lambda hs: extract_histories(rules, hs), {"extractor": "rules", "identity": rules.identity},
                              lambda: None)
    return _llm_extractor(settings, failures, seed=seed, no_cache=no_cache, cache_dir=cache_dir, embed=embed, log=log)


def _llm_extractor(settings: ExtractorSettings, failures, *, seed, no_cache, cache_dir, embed, log) -> BuiltExtractor:
    """The LLM extractor behind its engine(s) and request cache, extracting `extract_batch` users per call."""
    from ..llm.job import open_engines
    from ..llm.prompts import PromptLibrary
    from .llm_extractor import PROMPT, LLMExtractConfig, LLMExtractor

    engines = open_engines(settings.engine or DEFAULT_ENGINE, no_cache=no_cache, cache_dir=cache_dir)
    config = LLMExtractConfig(confidence_threshold=settings.confidence_threshold,
                              merge_threshold=settings.merge_threshold, seed=seed)
    batch = settings.extract_batch
    prompts = PromptLibrary(settings.prompts or ())
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
    return BuiltExtractor(extract, info, engines.close)


class ExtractJobConfig(JobConfig):
    """Everything `synthgap extract` is told besides its source and output."""
    extractor: Literal["rules", "llm"] = "rules"
    sample_users: Optional[int] = Field(None, ge=1)  # at most N users (drawn with seed)
    seed: int = 0
    skip_bad: bool = False
    empty_turns: Optional[Literal["error", "drop", "keep"]] = None  # None: the format's own rule
    no_cache: bool = False
    cache_dir: Optional[str] = None
    llm: ExtractorSettings = ExtractorSettings()


class ExtractResult(JobResult):
    """What `extract` wrote: the attributes file, its manifest, and how many users, turns and attributes."""
    output: Path
    manifest: Path
    users: int
    user_turns: int
    attributes: int
    skipped: dict = {}  # bad records skipped, by reason
    extract_seconds: float = 0.0


def extract(config: ExtractJobConfig, source: Union[str, Path], output: Union[str, Path], *,
            log: Log = quiet) -> ExtractResult:
    """Extract "The user ..." attributes of every user of `source` (a file, folder or built-in corpus
    name) into `output` (JSONL, one user a line) and its `.manifest.json`."""
    from ..corpora import load
    from ..embedding import Embedder
    from ..llm.structured_run import failures_path
    from ..outputs import manifest_path, write_manifest

    started = time.perf_counter()
    corpus = load(source, on_error="skip" if config.skip_bad else "fail", unit="user", empty_turns=config.empty_turns)
    histories = _sample_users([h for h in corpus.users() if _has_user_turn(h)], config.sample_users, config.seed)
    summary = corpus.summary
    embedder = Embedder(cache=not config.no_cache, cache_path=config.cache_dir) if config.extractor == "llm" else None
    built = build_extractor(config.extractor, config.llm, seed=config.seed, no_cache=config.no_cache,
                            cache_dir=config.cache_dir, embed=embedder.embed if embedder else None, log=log,
                            failures_file=failures_path(output))
    try:
        t0 = time.perf_counter()
        attributes = built.extract(histories)
        seconds = time.perf_counter() - t0
    finally:
        built.close()
    out = Path(output)
    _write_attributes(out, histories, attributes, config.extractor)
    info = built.info
    turns = sum(1 for h in histories for c in h.conversations for t in c.turns if t.role == "user")
    n_attrs = sum(map(len, attributes))
    for key in ("cache", "engine_stats"):
        if callable(info.get(key)):
            info[key] = info[key]()
    skipped = dict(summary.skipped) if summary is not None else {}
    counts = {"users": len(histories), "user_turns": turns, "attributes": n_attrs, "skipped_records": skipped,
              **({"llm": info["stats"]} if "stats" in info else {})}
    manifest = write_manifest(manifest_path(out), command="extract",
                              config={"extractor": config.extractor, "seed": config.seed,
                                      "sample_users": config.sample_users,
                                      **{k: v for k, v in info.items() if k in ("config", "identity")}},
                              inputs=[source] if Path(source).exists() else [], counts=counts,
                              timings={"extract": round(seconds, 3), "total": round(time.perf_counter() - started, 3)},
                              extra={k: info[k] for k in ("engine", "cache", "engine_stats") if k in info})
    if skipped:
        log(f"skipped {sum(skipped.values())} bad records: " + ", ".join(f"{k}: {v}" for k, v in skipped.items()))
    log(f"wrote {n_attrs} attributes of {len(histories)} users ({turns} user turns) to {out} "
        f"in {seconds:.1f} s ({turns / seconds if seconds else 0:.0f} user turns/s)")
    return ExtractResult(outputs=[out, manifest], counts=counts, seconds=time.perf_counter() - started, output=out,
                         manifest=manifest, users=len(histories), user_turns=turns, attributes=n_attrs,
                         skipped=skipped, extract_seconds=seconds)


def _has_user_turn(history) -> bool:
    return any(t.role == "user" for c in history.conversations for t in c.turns)


def _sample_users(histories: list, n: Optional[int], seed: int) -> list:
    """At most `n` histories, drawn with `seed` (kept in their order)."""
    if not n or len(histories) <= n:
        return histories
    from ..seeds import numpy_rng

    rng = numpy_rng(seed, "extract")
    return [histories[i] for i in sorted(rng.choice(len(histories), n, replace=False))]


def _write_attributes(out: Path, histories: list, attributes: list, extractor: str) -> None:
    """One UserHistory line per user: its id and source, and its attributes with their evidence."""
    from ..records import AtomicWriter, UserHistory, dumps

    out.parent.mkdir(parents=True, exist_ok=True)
    with AtomicWriter(out) as fh:
        for hist, attrs in zip(histories, attributes):
            fh.write(dumps(UserHistory(user_id=hist.user_id, source=hist.source, synthetic=hist.synthetic,
                                       attributes=attrs, meta={"extractor": extractor})) + "\n")


__all__ = ["BuiltExtractor", "DEFAULT_ENGINE", "ExtractJobConfig", "ExtractResult", "ExtractorSettings",
           "build_extractor", "extract"]
