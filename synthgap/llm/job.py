"""The one skeleton of every LLM job (`personas enrich`, `generate llm`): the engine behind the request
cache, the failures file, resuming a JSONL output (ids already written or already failed are not
redone), the run manifest and the closing message. A job supplies only its own parts (`LLMTask`)
to `run_llm_job`."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

from pydantic import Field

from ..errors import SynthgapError
from ..outputs import JobConfig, JobResult, Log, quiet
from .backend import Backend, Cached
from .cache import RequestCache
from .factory import BackendSpec, make_backend
from .prompts import PromptLibrary
from .structured_run import FailureLog, failures_path


class LLMJobSettings(JobConfig):
    """What every LLM job shares (the --prompts/--batch/--max-failure-rate/--no-cache/--cache-dir
    options); the config of each LLM job extends it."""

    prompts: list[str] = Field([], description="directories whose *.j2 replace the built-in prompts")
    batch: int = Field(8, ge=1, description="items sent to the engine together (and written together)")
    max_failure_rate: float = Field(0.2, ge=0, le=1, description="stop when more than this share has failed")
    no_cache: bool = False
    cache_dir: Optional[str] = None


class LLMJobResult(JobResult):
    """What an LLM job wrote: the records, the failures, the cache's hits and misses."""

    output: Path
    written: int = 0
    failed: int = 0
    failures_file: Optional[Path] = None
    cache: dict = {}
    skipped_complete: bool = False  # the output was already complete with this configuration: nothing done


@dataclass
class Engines:
    """The user (or only) engine and an optional second one, each behind the shared request cache."""
    main: Cached
    second: Optional[Cached] = None
    cache: Optional[RequestCache] = None
    load_seconds: float = 0.0

    def info(self) -> dict:
        out = {"main": self.main.backend.info()}
        if self.second is not None:
            out["second"] = self.second.backend.info()
        return out

    def engine_stats(self) -> dict:
        """Requests that reached the engine(s), their tokens, and tokens per second of engine time."""
        total = {"requests": 0, "calls": 0, "seconds": 0.0, "prompt_tokens": 0, "completion_tokens": 0}
        for engine in (self.main, self.second):
            if engine is not None:
                for k, v in engine.engine.items():
                    total[k] += v
        total["seconds"] = round(total["seconds"], 3)
        total["completion_tokens_per_second"] = round(total["completion_tokens"] / total["seconds"], 2) \
            if total["seconds"] else None
        return total

    def cache_stats(self) -> dict:
        return self.cache.stats() if self.cache else {"disabled": True}

    def close(self) -> None:
        for engine in (self.main, self.second):
            if engine is not None:
                engine.backend.close()
        if self.cache:
            self.cache.close()


def open_engines(spec: BackendSpec, second: Optional[BackendSpec] = None, *, no_cache: bool = False,
                 cache_dir=None) -> Engines:
    """Load the engine(s); a second spec equal to the first shares its engine."""
    started = time.perf_counter()
    cache = None if no_cache else RequestCache(cache_dir)
    main: Backend = make_backend(spec, cache_dir)
    other = None
    if second is not None and second != spec:
        other = Cached(make_backend(second, cache_dir), cache)
    return Engines(Cached(main, cache), other, cache, load_seconds=round(time.perf_counter() - started, 3))


def previous_failures(path: Path) -> dict[str, dict]:
    """Failures an earlier run of the same output recorded, by conversation or persona id (last one wins)."""
    found: dict[str, dict] = {}
    if path.exists():
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    item = json.loads(line)
                except ValueError:
                    continue  # a line cut by a crash
                key = item.get("conversation_id") or item.get("persona_id")
                if key:
                    found[key] = item
    return found


def check_resume(output: Path, resume: bool, force: bool) -> None:
    """An unfinished run is continued only when asked (--resume) and discarded only when told (--force)."""
    partial = output.with_name(output.name + ".partial")
    if partial.exists() and not (resume or force):
        raise SynthgapError(f"{partial}: an unfinished run is here",
                            hint="pass --resume to continue it, or --force to start over")


def failure_log(output: Path, max_failure_rate: float, fresh: bool) -> tuple[FailureLog, dict[str, dict]]:
    """The run's FailureLog (OUT.failures.jsonl); a fresh run starts an empty file, a resumed one keeps it."""
    path = failures_path(output)
    if fresh:
        path.unlink(missing_ok=True)
    before = previous_failures(path)
    return FailureLog(path, max_failure_rate=max_failure_rate, failed=len(before)), before


def finished(output: Path, identity: dict) -> bool:
    """True when OUT.jsonl is complete and its manifest says it was made with this configuration."""
    from ..outputs import fingerprint, manifest_path

    partial = output.with_name(output.name + ".partial")
    try:
        manifest = json.loads(manifest_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return output.exists() and not partial.exists() and manifest.get("resume_fingerprint") == fingerprint(identity)


def resumable_run(output: Path, identity: dict, batches, *, total: Optional[int], force: bool,
                  max_failure_rate: float, key: str, unit: str, echo=print) -> tuple[int, FailureLog]:
    """Write the records of `batches(skip, log)` to OUT.jsonl, resumably; returns (lines written, failure log).

    `batches` yields lists of (id, record or None when it failed); ids in `skip` (already written,
    or failed in an earlier run) are not to be produced again.
    """
    from ..outputs import ResumableJsonl, fingerprint
    from ..progress import count_progress
    from ..records import dumps

    out = ResumableJsonl(output, fingerprint(identity), restart=force, batch=10 ** 9, restart_flag="--force")
    log, before = failure_log(output, max_failure_rate, fresh=not out.done)
    skip = out.ids(key) | set(before)
    log.done = len(skip)
    if skip:
        echo(f"resuming: {out.done} {unit} written, {len(before)} failed before")
    try:
        with count_progress(total, unit, len(skip)) as advance:
            for results in batches(skip, log):
                for _, record in results:
                    if record is not None:
                        out.write(dumps(record))
                out.flush()
                advance(len(results))
        log.check(final=True)
    except BaseException:
        out.close()
        if out.done + out.written == 0:  # nothing to resume: leave no unfinished run behind
            out.partial.unlink(missing_ok=True)
            out.state.unlink(missing_ok=True)
        raise
    return out.complete(), log


def write_run_manifest(output: Path, command: str, identity: dict, *, inputs: list, written: int, unit: str,
                       log: FailureLog, stats: dict, engines: Engines, seconds: float) -> None:
    """OUT.jsonl.manifest.json of an LLM run: counts, failures, cache hits and misses, speed, engines."""
    from ..outputs import fingerprint, manifest_path, write_manifest

    write_manifest(manifest_path(output), command=command, config=identity, inputs=inputs,
                   counts={unit: written, "failed": log.failed, "this_run": stats, "cache": engines.cache_stats(),
                           "engine": engines.engine_stats()},
                   timings={"seconds": round(seconds, 3), "engine_load_seconds": engines.load_seconds},
                   extra={"resume_fingerprint": fingerprint(identity), "engines": engines.info(),
                          "failures_file": str(log.path) if log.failed else None})


def engine_identity(spec: BackendSpec, engine: Cached) -> dict:
    """What identifies an engine's answers in a fingerprint: the spec's deciding parts and the model file."""
    return {**spec.describe(), "identity": engine.backend.model_identity}


# The job's batches: (id, record or None when it failed) lists, and the job's statistics dict.
Work = tuple[Iterable[list], dict]


@dataclass
class LLMTask:
    """The parts of one LLM job that `run_llm_job` does not know.

    identity(engines, prompts): everything that decides the records (its fingerprint decides resuming);
    work(engines, prompts, failures, skip): the batches to write, leaving out the ids in `skip`, and
    the statistics the job keeps while producing them (filled in as the batches are consumed).
    """

    command: str  # the manifest's command, e.g. "personas enrich"
    unit: str  # what the records are, for counts and progress: "personas", "conversations"
    noun: str  # what the closing message calls them: "enriched personas"
    inputs: list  # files hashed into the manifest
    total: Optional[int]  # records the whole run makes (progress)
    engine: BackendSpec
    identity: Callable[[Engines, PromptLibrary], dict]
    work: Callable[[Engines, PromptLibrary, FailureLog, set], Work]
    second: Optional[BackendSpec] = None  # a second engine (None: the first one does everything)
    # On Ray (llm/ray_job.py): items() gives the input items as JSON lines on the driver, in order, and
    # work_on(engines, prompts, failures, lines) does `work` for one shard of them on a worker.
    items: Optional[Callable[[], list]] = None
    work_on: Optional[Callable[[Engines, PromptLibrary, FailureLog, list], Work]] = None
    shard: int = 64  # items per shard on Ray


def run_llm_job(settings: LLMJobSettings, output, task: LLMTask, *, resume: bool = False, force: bool = False,
                log: Log = quiet, executor=None) -> LLMJobResult:
    """Run an LLM job end to end: refuse an unfinished run unless resumed or forced, load the engines,
    stop at once when the output is complete with this configuration, write the records resumably,
    then the run manifest and the closing message. On a Ray `executor`: `ray_job.run_llm_job_on_ray`."""
    if executor is not None and executor.is_ray:
        from .ray_job import run_llm_job_on_ray

        return run_llm_job_on_ray(settings, output, task, executor, resume=resume, force=force, log=log)
    started = time.perf_counter()
    output = Path(output)
    check_resume(output, resume, force)
    prompts = PromptLibrary(settings.prompts)
    engines = open_engines(task.engine, task.second, no_cache=settings.no_cache, cache_dir=settings.cache_dir)
    stats: dict = {}
    try:
        identity = task.identity(engines, prompts)
        if resume and finished(output, identity):
            log(f"{output} is complete (same configuration): nothing to do")
            return _complete_result(output, task.unit, engines, time.perf_counter() - started)

        def batches(skip: set, failures: FailureLog):
            stream, stats["this_run"] = task.work(engines, prompts, failures, skip)
            yield from stream

        written, failures = resumable_run(output, identity, batches, total=task.total, force=force,
                                          max_failure_rate=settings.max_failure_rate, key="id", unit=task.unit,
                                          echo=log)
    finally:
        engines.close()
    seconds = time.perf_counter() - started
    write_run_manifest(output, task.command, identity, inputs=task.inputs, written=written, unit=task.unit,
                       log=failures, stats=stats["this_run"], engines=engines, seconds=seconds)
    note = f"; {failures.failed} failed (see {failures.path})" if failures.failed else ""
    log(f"wrote {written} {task.noun} to {output}{note}; cache {engines.cache_stats()}")
    return LLMJobResult(outputs=[output], counts={task.unit: written, "failed": failures.failed},
                        seconds=round(seconds, 3), output=output, written=written, failed=failures.failed,
                        failures_file=failures.path if failures.failed else None, cache=engines.cache_stats())


def _complete_result(output: Path, unit: str, engines: Engines, seconds: float) -> LLMJobResult:
    """The result of a run that found its output complete: the counts its manifest recorded."""
    from ..outputs import manifest_path

    manifest = json.loads(manifest_path(output).read_text(encoding="utf-8"))
    counts = manifest.get("counts", {})
    written, failed = counts.get(unit, 0), counts.get("failed", 0)
    failures = manifest.get("failures_file")
    return LLMJobResult(outputs=[output], counts={unit: written, "failed": failed}, seconds=round(seconds, 3),
                        output=output, written=written, failed=failed,
                        failures_file=Path(failures) if failures else None, cache=engines.cache_stats(),
                        skipped_complete=True)


__all__ = ["Engines", "LLMJobResult", "LLMJobSettings", "LLMTask", "check_resume", "engine_identity", "failure_log",
           "finished", "open_engines", "previous_failures", "resumable_run", "run_llm_job", "write_run_manifest"]
