"""The click options every command that can run on Ray shares: --executor, --ray-address, --ray-workers,
--shard-size; the command receives one `executor` (an ExecutorSpec) instead of the four."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import click

from ..errors import SynthgapError

if TYPE_CHECKING:  # pydantic is not imported for --help
    from .executor import ExecutorSpec

OPTIONS = [
    click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                 help="where the work runs: this process, or a Ray cluster (needs synthgap[ray]; docs/scale.md)"),
    click.option("--ray-address", metavar="ADDRESS",
                 help="the Ray cluster (HOST:PORT, ray://HOST:PORT, auto; default: $RAY_ADDRESS, else a local Ray)"),
    click.option("--ray-workers", type=click.IntRange(min=1),
                 help="actors per pool (default: the cluster's CPUs, or GPUs for vLLM)"),
    click.option("--shard-size", type=click.IntRange(min=1), help="items per shard on Ray (default: each job's own)"),
]


def executor_spec(executor: str = "local", ray_address=None, ray_workers=None, shard_size=None,
                  base: "ExecutorSpec | None" = None) -> "ExecutorSpec":
    """The ExecutorSpec the options say (over `base`, e.g. a run config's); Ray-only options need --executor ray."""
    from .executor import ExecutorSpec

    base = base or ExecutorSpec()
    given = {k: v for k, v in (("address", ray_address), ("workers", ray_workers), ("shard_size", shard_size))
             if v is not None}
    kind = "ray" if executor == "ray" else base.kind
    if given and kind != "ray":
        flag = {"address": "--ray-address", "workers": "--ray-workers", "shard_size": "--shard-size"}[next(iter(given))]
        raise SynthgapError(f"{flag} needs --executor ray")
    return base.model_copy(update={"kind": kind, **given})


def executor_options(command):
    """Add the executor options to a click command; it is called with `executor=ExecutorSpec(...)`."""
    @functools.wraps(command)
    def wrapper(*args, executor="local", ray_address=None, ray_workers=None, shard_size=None, **kwargs):
        return command(*args, executor=executor_spec(executor, ray_address, ray_workers, shard_size), **kwargs)

    for option in reversed(OPTIONS):
        wrapper = option(wrapper)
    return wrapper


__all__ = ["OPTIONS", "executor_options", "executor_spec"]
