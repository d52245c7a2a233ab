"""A sharded job on Ray from the driver's side: plan, skip what is committed, map, commit, assemble.

Every Ray path of a job (personas, templates, variants, LLM conversations) is this loop with its own
shards and actor function; the job keeps its own manifest and closing message.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Union

from ..outputs import Log, quiet
from .executor import ExecutorSpec, map_shards
from .shards import ShardedOutput, merge_counts


@dataclass
class ShardedRun:
    """What a sharded run wrote: lines in the output, shards made now and before, retried results dropped."""
    written: int
    shards: int
    made: int
    resumed: int
    duplicates: int
    stats: dict = field(default_factory=dict)
    extra: list = field(default_factory=list)  # the shards' extra lines (failures), in shard order


def sharded_run(spec: ExecutorSpec, output: Union[str, Path], fingerprint: str, shards: list[dict],
                make: Callable[[], Callable[[dict], dict]], *, unit: str, restart: bool = False,
                restart_flag: str = "--restart", log: Log = quiet, on_commit: Optional[Callable[[dict], None]] = None,
                cpus: Optional[float] = None, gpus: Optional[float] = None, workers: Optional[int] = None,
                keep_extra: bool = False) -> ShardedRun:
    """Make every shard of `shards` not yet committed for `fingerprint` on Ray and assemble `output`.

    The actor function returns {"lines": [...], "stats": {...}, "extra": [...]} per shard; `on_commit`
    sees each newly committed result on the driver (a failure-rate check, say), in arrival order.
    """
    from ..progress import count_progress
    from .executor import connect

    connect(spec)  # a missing extra or an unreachable cluster is one line before anything is written
    store = ShardedOutput(output, fingerprint, len(shards), restart=restart, restart_flag=restart_flag)
    todo = store.pending()
    resumed = len(shards) - len(todo)
    if resumed:
        log(f"resuming: {resumed} of {len(shards)} shards ({store.lines()} {unit}) already committed")
    sizes = {i: shards[i].get("items", 1) for i in range(len(shards))}
    with count_progress(sum(sizes.values()), unit, sum(sizes[int(k)] for k in store.committed)) as advance:
        def commit(index: int, result: dict) -> None:
            if store.commit(index, result["lines"], result.get("stats"), result.get("extra")):
                advance(sizes[index])
                if on_commit is not None:
                    on_commit(result)

        map_shards(spec, make, [(i, shards[i]) for i in todo], commit, cpus=cpus, gpus=gpus, workers=workers)
    written = store.assemble()
    extra = list(store.extra_lines()) if keep_extra else []
    done = ShardedRun(written=written, shards=len(shards), made=len(todo), resumed=resumed,
                      duplicates=store.duplicates, stats=merge_counts(store.stats()), extra=extra)
    store.remove()
    return done


def pack_folders(folders: list[Union[str, Path]], pattern: str = "*") -> list[dict[str, str]]:
    """The files of user folders (templates, prompts) as {name: text}, to travel with a shard's actor
    function: a worker on another machine need not see the driver's disk."""
    packed = []
    for folder in folders:
        packed.append({p.name: p.read_text(encoding="utf-8") for p in sorted(Path(folder).glob(pattern))
                       if p.is_file()})
    return packed


def unpack_folders(packed: list[dict[str, str]]) -> list[Path]:
    """`pack_folders`' files written into fresh temporary folders on the worker; their paths, in order."""
    paths = []
    for files in packed:
        folder = Path(tempfile.mkdtemp(prefix="synthgap-shipped-"))
        for name, text in files.items():
            (folder / os.path.basename(name)).write_text(text, encoding="utf-8")
        paths.append(folder)
    return paths


__all__ = ["ShardedRun", "pack_folders", "sharded_run", "unpack_folders"]
