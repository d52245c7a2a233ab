"""The executor a job runs on: `local` (this process, the default, no Ray needed) or `ray` (a Ray cluster:
`address` names it, none starts one on this machine).

On Ray every job cuts its work into shards of items (persona indices, conversations, texts) and maps
them over a pool of actors with Ray Data (`map_shards`): each actor builds its heavy state once (a
template library, an LLM engine, an embedding model) and answers one shard at a time; the driver
receives every shard's result and commits it (`shards.ShardedOutput`). Ray Data retries a shard whose
actor died on a restarted actor, and the driver commits a shard index once, so the output holds every
item exactly once whatever was retried. Outputs never depend on the executor: an item's randomness
comes from (seed, item), never from which worker made it or with what else.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
from typing import Any, Callable, Iterator, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from ..errors import SynthgapError

RAY_EXTRA = "pip install 'synthgap[ray]'"


class ExecutorSpec(BaseModel):
    """Where a job runs. Never part of a job's fingerprint: the executor changes how fast, not what."""
    model_config = ConfigDict(extra="forbid")

    kind: Literal["local", "ray"] = Field("local", description="local: this process; ray: a Ray cluster")
    address: Optional[str] = Field(None, description="ray: the cluster's address (HOST:PORT, ray://..., auto); "
                                                     "none: $RAY_ADDRESS, else a Ray started on this machine")
    workers: Optional[int] = Field(None, ge=1, description="ray: actors in a pool (none: the cluster's CPUs "
                                                           "divided by cpus_per_worker)")
    cpus_per_worker: float = Field(1.0, gt=0, description="ray: CPUs each actor reserves (its threads)")
    gpus_per_worker: float = Field(0.0, ge=0, description="ray: GPUs each LLM actor reserves (vLLM)")
    shard_size: Optional[int] = Field(None, ge=1, description="ray: items per shard (none: each job's default)")

    @property
    def is_ray(self) -> bool:
        return self.kind == "ray"


LOCAL = ExecutorSpec()

# The executor of the job now running in this process: the embedding layer reads it, so that a job run
# on Ray embeds on Ray without every caller passing it down.
_ACTIVE: contextvars.ContextVar[ExecutorSpec] = contextvars.ContextVar("synthgap_executor", default=LOCAL)


def active() -> ExecutorSpec:
    """The executor of the job now running (local unless a job entered `using` a Ray one)."""
    return _ACTIVE.get()


@contextlib.contextmanager
def using(spec: Optional[ExecutorSpec]) -> Iterator[ExecutorSpec]:
    """Run the block with `spec` as the active executor (connected to Ray first when it is a Ray one)."""
    spec = spec or LOCAL
    token = _ACTIVE.set(spec)
    before = set(_POOLS)
    try:
        if spec.is_ray:
            connect(spec)
        yield spec
    finally:
        _ACTIVE.reset(token)
        for key in set(_POOLS) - before:  # pools made inside the block end with it
            _release(key)


def require_ray():
    """The `ray` module, or one line naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401  (the Data library is part of the extra too)
    except ImportError:
        raise SynthgapError(f"--executor ray needs Ray, which is not installed: {RAY_EXTRA}") from None
    return ray


def connect(spec: ExecutorSpec):
    """Connect this process to the spec's cluster once (later calls reuse the connection)."""
    ray = require_ray()
    if not ray.is_initialized():
        address = spec.address or os.environ.get("RAY_ADDRESS") or None
        # The workers must find the same cache folder and never try a model hub.
        env = {k: os.environ[k] for k in ("SYNTHGAP_CACHE_DIR", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
                                          "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING,
                     include_dashboard=False, configure_logging=True,
                     runtime_env={"env_vars": env} if env else None)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = address or "a new local Ray"
            raise SynthgapError(f"--executor ray: cannot connect to {where}: {str(exc).splitlines()[0]}") from None
        _quiet_data()
    return ray


def _quiet_data() -> None:
    """No Ray Data progress bars or per-dataset log lines on the driver's terminal (synthgap shows its own)."""
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    for name in ("enable_operator_progress_bars", "print_on_execution_start"):
        if hasattr(context, name):
            setattr(context, name, False)
    logging.getLogger("ray.data").setLevel(logging.ERROR)


def pool_size(spec: ExecutorSpec, cpus: Optional[float] = None, gpus: Optional[float] = None) -> int:
    """Actors in a pool: `workers` when set, else as many as the cluster's CPUs (or GPUs) hold."""
    if spec.workers:
        return spec.workers
    ray = require_ray()
    resources = ray.cluster_resources()
    cpus = spec.cpus_per_worker if cpus is None else cpus
    gpus = spec.gpus_per_worker if gpus is None else gpus
    if gpus:
        return max(1, int(resources.get("GPU", 0) // gpus))
    return max(1, int(resources.get("CPU", 1) // cpus))


class ShardActor:
    """A Ray Data actor: `make()` (a pickled function) builds the per-shard function once per actor;
    each row is one shard (`payload`: its JSON), answered with its result's JSON."""

    def __init__(self, make: Callable[[], Callable[[dict], dict]], threads: Optional[int] = None):
        if threads:
            _limit_threads(threads)
        self.run = make()

    def __call__(self, batch: dict) -> dict:
        out = [json.dumps(self.run(json.loads(p)), ensure_ascii=False) for p in batch["payload"]]
        return {"shard": batch["shard"], "payload": out}

    def one(self, index: int, shard: dict) -> tuple[int, dict]:
        """One shard, called on a kept pool's actor (`map_shards(..., keep=KEY)`)."""
        return index, self.run(shard)


def _limit_threads(threads: int) -> None:
    """An actor uses the CPUs it reserved, not every core of its node (two actors on two cores would fight)."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def map_shards(spec: ExecutorSpec, make: Callable[[], Callable[[dict], dict]], shards: list[tuple[int, dict]],
               on_result: Callable[[int, dict], None], *, cpus: Optional[float] = None,
               gpus: Optional[float] = None, workers: Optional[int] = None, keep: Optional[str] = None) -> None:
    """Answer every `(index, shard)` with `make()`'s function on a pool of Ray actors (Ray Data
    `map_batches`, one shard per batch); `on_result(index, result)` runs on the driver as results arrive
    (in any order). A shard whose actor dies is retried by Ray on a restarted actor.

    keep: a key under which the pool outlives this call, until the `using` block ends: for work that comes
    in many small calls with one model (a comparison embeds corpus by corpus), where a Ray Data pool, which
    lives for one dataset, would load the model again for every call."""
    if not shards:
        return
    ray = connect(spec)
    cpus = spec.cpus_per_worker if cpus is None else cpus
    gpus = spec.gpus_per_worker if gpus is None else gpus
    if keep is not None:
        from ray.util import ActorPool

        actors = _kept_pool(ray, spec, keep, make, cpus, gpus, workers)
        pool = ActorPool(actors)
        for index, result in pool.map_unordered(lambda actor, item: actor.one.remote(*item), shards):
            on_result(int(index), result)
        return
    size = min(workers or pool_size(spec, cpus, gpus), len(shards))
    rows = [{"shard": int(i), "payload": json.dumps(s, ensure_ascii=False)} for i, s in shards]
    dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
    threads = max(1, int(cpus))
    mapped = dataset.map_batches(ShardActor, fn_constructor_kwargs={"make": make, "threads": threads},
                                 batch_size=1, batch_format="numpy",
                                 compute=ray.data.ActorPoolStrategy(size=size), num_cpus=cpus,
                                 num_gpus=gpus or None)
    for row in mapped.iter_rows():
        on_result(int(row["shard"]), json.loads(row["payload"]))


_POOLS: dict[str, list] = {}  # kept actor pools of this process, by key (see map_shards' `keep`)


def _kept_pool(ray, spec: ExecutorSpec, key: str, make, cpus: float, gpus: float, workers: Optional[int]) -> list:
    """The actors kept under `key`, made on first use: restarted when they die, their calls retried."""
    if key not in _POOLS:
        size = workers or pool_size(spec, cpus, gpus)
        actor = ray.remote(ShardActor).options(num_cpus=cpus, num_gpus=gpus or None, max_restarts=-1,
                                               max_task_retries=-1)
        _POOLS[key] = [actor.remote(make, max(1, int(cpus))) for _ in range(size)]
    return _POOLS[key]


def _release(key: str) -> None:
    actors = _POOLS.pop(key, [])
    if actors:
        import ray

        for actor in actors:
            ray.kill(actor)


def driver_node_affinity() -> Any:
    """A scheduling strategy that keeps an actor on the driver's node (where the caches' files are)."""
    ray = require_ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)


__all__ = ["ExecutorSpec", "LOCAL", "RAY_EXTRA", "ShardActor", "active", "connect", "driver_node_affinity",
           "map_shards", "pool_size", "require_ray", "using"]
