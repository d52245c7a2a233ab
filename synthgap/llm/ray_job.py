"""An LLM job on Ray: input items sharded over a pool of actors, each holding one engine; the request cache
served to every actor from the driver's node, so a re-run sends nothing twice.

The driver reads the items (personas), computes the job's identity without loading an engine (the model
file's hash, the served name: `factory.model_identity`), and maps the shards with Ray Data; an actor loads
its engine once (llama.cpp with the CPUs it reserved as threads, vLLM on the GPU it reserved, or an
OpenAI-compatible client with the spec's bounded concurrency) and answers each shard through the
request cache, which lives in one actor on the driver's node (`CacheServer`, the same `llm.sqlite` a
local run uses). A shard's records, failures and counts come back to the driver, which commits each shard
once (`scale.shards`), checks the failure rate over everything committed, and assembles OUT.jsonl in
item order: with the cache warm, the bytes of a local run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..errors import SynthgapError
from ..outputs import Log, quiet
from ..scale.executor import ExecutorSpec
from .backend import Backend, Cached
from .requests import Response
from .structured_run import FailureLog, failures_path


class CacheServer:
    """The request cache as a Ray actor (on the driver's node): many engines, one `llm.sqlite`."""

    def __init__(self, folder: Optional[str]):
        from .cache import RequestCache

        self.cache = RequestCache(folder)

    def get_many(self, keys: list[str]) -> dict[str, str]:
        return {k: r.to_json() for k, r in self.cache.get_many(keys).items()}

    def put_many(self, items: list[tuple[str, str]]) -> None:
        self.cache.put_many([(k, Response.from_json(v)) for k, v in items])


class RemoteRequestCache:
    """What `Cached` needs of a cache, answered by the `CacheServer` actor; hits and misses counted here."""

    def __init__(self, server):
        self.server = server
        self.hits = 0
        self.misses = 0

    def get_many(self, keys: list[str]) -> dict[str, Response]:
        import ray

        found = {k: Response.from_json(v) for k, v in ray.get(self.server.get_many.remote(keys)).items()}
        self.hits += len(found)
        self.misses += len(keys) - len(found)
        return found

    def put_many(self, items: list[tuple[str, Response]]) -> None:
        import ray

        ray.get(self.server.put_many.remote([(k, r.to_json()) for k, r in items]))

    def stats(self) -> dict:
        return {"hits": self.hits, "misses": self.misses}

    def close(self) -> None:
        """The server belongs to the driver."""


class Unloaded(Backend):
    """An engine known by its identity only: the driver's stand-in in a job's identity (never asked)."""

    def __init__(self, name: str, identity: str):
        self.name, self._identity = name, identity

    @property
    def model_identity(self) -> str:
        return self._identity

    def generate(self, requests):
        raise RuntimeError("the driver of a Ray job asks no engine")


@dataclass
class CollectingFailureLog(FailureLog):
    """A worker's failure log: failures kept for the driver (which writes OUT.failures.jsonl and judges the
    rate over every shard), never a file of its own and never a stop."""
    items: list = field(default_factory=list)

    def record(self, item: dict) -> None:
        self.failed += 1
        self.items.append(json.dumps(item, ensure_ascii=False))

    def check(self, final: bool = False) -> None:
        return None


def _shard_spec(spec, cpus: float):
    """The engine spec a worker loads: llama.cpp gets the CPUs its actor reserved as threads."""
    if spec is not None and spec.kind == "llamacpp" and spec.threads is None:
        return spec.model_copy(update={"threads": max(1, int(cpus))})
    return spec


def run_llm_job_on_ray(settings, output: Path, task, executor: ExecutorSpec, *, resume: bool = False,
                       force: bool = False, log: Log = quiet):
    """`run_llm_job` on a Ray cluster (module docstring); returns the same LLMJobResult."""
    import ray

    from ..outputs import fingerprint
    from ..scale.executor import connect, driver_node_affinity
    from ..scale.run import pack_folders, sharded_run
    from ..scale.shards import shards_folder
    from .factory import model_identity
    from .job import Engines, LLMJobResult, _complete_result, check_resume, finished
    from .prompts import PromptLibrary

    if task.items is None or task.work_on is None:
        raise SynthgapError(f"{task.command} does not run on Ray yet: use --executor local")
    started = time.perf_counter()
    output = Path(output)
    check_resume(output, resume, force)
    if shards_folder(output).exists() and not (resume or force):
        raise SynthgapError(f"{shards_folder(output)}: an unfinished run is here",
                            hint="pass --resume to continue it, or --force to start over")
    connect(executor)
    cache_dir = settings.cache_dir
    prompts = PromptLibrary(settings.prompts)
    main = Unloaded(task.engine.kind, model_identity(task.engine, cache_dir))
    second = None
    if task.second is not None and task.second != task.engine:
        second = Cached(Unloaded(task.second.kind, model_identity(task.second, cache_dir)), None)
    identity = task.identity(Engines(Cached(main, None), second), prompts)
    if resume and finished(output, identity):
        log(f"{output} is complete (same configuration): nothing to do")
        return _complete_result(output, task.unit, Engines(Cached(main, None), second), time.perf_counter() - started)

    items = task.items()
    size = executor.shard_size or task.shard
    shards = [{"items": len(items[i:i + size]), "payload": items[i:i + size]} for i in range(0, len(items), size)]
    server = None
    if not settings.no_cache:
        server = ray.remote(num_cpus=0)(CacheServer).options(
            scheduling_strategy=driver_node_affinity()).remote(cache_dir)
    gpus = executor.gpus_per_worker or (1.0 if task.engine.kind == "vllm" else 0.0)
    cpus = executor.cpus_per_worker
    engine, other = _shard_spec(task.engine, cpus), _shard_spec(task.second, cpus)
    packed = pack_folders(settings.prompts, "*.j2")
    expected = {"main": main.model_identity, "second": second.backend.model_identity if second else None}
    work_on, unit = task.work_on, task.unit  # only these travel to the workers (not the task's identity)

    def make():
        from ..scale.run import unpack_folders
        from .factory import make_backend
        from .job import Engines
        from .prompts import PromptLibrary

        remote = RemoteRequestCache(server) if server is not None else None
        engines = Engines(Cached(make_backend(engine, cache_dir), remote),
                          Cached(make_backend(other, cache_dir), remote) if expected["second"] else None, remote)
        for role, cached in (("main", engines.main), ("second", engines.second)):
            if cached is not None and cached.backend.model_identity != expected[role]:
                raise SynthgapError(f"a Ray worker loaded {cached.backend.model_identity}, the driver expected "
                                    f"{expected[role]}: the model files differ between nodes")
        library = PromptLibrary(unpack_folders(packed))

        def run(shard: dict) -> dict:
            from ..records import dumps

            before = {"cache": dict(remote.stats()) if remote else {}, "engine": _engine_counts(engines)}
            failures = CollectingFailureLog(unit=unit)
            stream, stats = work_on(engines, library, failures, shard["payload"])
            lines = []
            for results in stream:
                lines.extend(dumps(record) for _, record in results if record is not None)
            after_cache = remote.stats() if remote else {}
            return {"lines": lines, "extra": failures.items,
                    "stats": {"done": shard["items"], "failed": failures.failed, "this_run": stats,
                              "cache": {k: after_cache[k] - before["cache"].get(k, 0) for k in after_cache},
                              "engine": _delta(_engine_counts(engines), before["engine"])}}
        return run

    totals = {"done": 0, "failed": 0}
    limit = settings.max_failure_rate

    def check(result: dict) -> None:
        totals["done"] += result["stats"]["done"]
        totals["failed"] += result["stats"]["failed"]
        if totals["done"] >= 20 and totals["failed"] / totals["done"] > limit:
            raise SynthgapError(f"stopped: {totals['failed']} of {totals['done']} {task.unit} failed "
                                f"({totals['failed'] / totals['done']:.0%} > {limit:.0%}); the committed shards "
                                f"are kept (--resume)")

    try:
        done = sharded_run(executor, output, fingerprint(identity), shards, make, unit=task.unit, restart=force,
                           restart_flag="--force", log=log, on_commit=check, cpus=cpus, gpus=gpus, keep_extra=True)
    finally:
        if server is not None:
            ray.kill(server)
    failed = done.stats.get("failed", 0)
    if done.stats.get("done") and failed / done.stats["done"] > limit:
        raise SynthgapError(f"stopped: {failed} of {done.stats['done']} {task.unit} failed "
                            f"({failed / done.stats['done']:.0%} > {limit:.0%})")
    fpath = failures_path(output)
    _write_lines(fpath, done.extra)
    seconds = time.perf_counter() - started
    _write_manifest(output, task, identity, done, executor, seconds, main, second, fpath if failed else None)
    cache = done.stats.get("cache", {}) if server is not None else {"disabled": True}
    note = f"; {failed} failed (see {fpath})" if failed else ""
    log(f"wrote {done.written} {task.noun} to {output} on Ray ({done.made} shards made, {done.resumed} reused, "
        f"{done.duplicates} retried results dropped){note}; cache {cache}")
    return LLMJobResult(outputs=[output], counts={task.unit: done.written, "failed": failed},
                        seconds=round(seconds, 3), output=output, written=done.written, failed=failed,
                        failures_file=fpath if failed else None, cache=cache)


def _engine_counts(engines) -> dict:
    total: dict = {}
    for engine in (engines.main, engines.second):
        if engine is not None:
            for k, v in engine.engine.items():
                total[k] = total.get(k, 0) + v
    return total


def _delta(after: dict, before: dict) -> dict:
    return {k: v - before.get(k, 0) for k, v in after.items()}


def _write_lines(path: Path, lines: list[str]) -> None:
    from ..records import AtomicWriter

    if not lines:
        path.unlink(missing_ok=True)
        return
    with AtomicWriter(path) as fh:
        fh.write("".join(f"{line}\n" for line in lines))


def _write_manifest(output: Path, task, identity: dict, done, executor: ExecutorSpec, seconds: float, main,
                    second, failures: Optional[Path]) -> None:
    """OUT.jsonl.manifest.json of a Ray run: the local run's keys, with the executor and the shards."""
    from ..outputs import fingerprint, manifest_path, write_manifest

    engine = done.stats.get("engine", {})
    engine["seconds"] = round(engine.get("seconds", 0.0), 3)
    write_manifest(manifest_path(output), command=task.command, config=identity, inputs=task.inputs,
                   counts={task.unit: done.written, "failed": done.stats.get("failed", 0),
                           "this_run": done.stats.get("this_run", {}), "cache": done.stats.get("cache", {}),
                           "engine": engine},
                   timings={"seconds": round(seconds, 3)},
                   extra={"resume_fingerprint": fingerprint(identity),
                          "engines": {"main": main.info(), **({"second": second.backend.info()} if second else {})},
                          "executor": executor.model_dump(mode="json"),
                          "shards": {"total": done.shards, "made": done.made, "reused": done.resumed,
                                     "retried_results_dropped": done.duplicates},
                          "failures_file": str(failures) if failures else None})


__all__ = ["CacheServer", "CollectingFailureLog", "RemoteRequestCache", "Unloaded", "run_llm_job_on_ray"]
