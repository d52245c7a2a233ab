"""The plumbing every LLM command shares: the engine behind the request cache, the failures file,
and resuming a JSONL output (ids already written or already failed are not redone)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import SynthgapError
from .backend import Backend, Cached
from .cache import RequestCache
from .factory import BackendSpec, make_backend
from .structured_run import FailureLog, failures_path


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


__all__ = ["Engines", "check_resume", "failure_log", "finished", "open_engines", "previous_failures", "resumable_run",
           "write_run_manifest"]
