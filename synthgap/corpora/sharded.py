"""Reading a corpus of many shard files on Ray: each file read by a Ray actor with the same reader.

`read_sharded(source, settings, executor)` lists and sniffs the files on the driver (as `load()` does),
reads them in parallel on a pool of Ray actors (`scale.executor.map_shards`), and puts the records
and each file's LoadSummary back together in file order, so the result equals a local read of the same
source: the same records in the same order, the same counts, skips, drops and warnings. Every record
ends up on the driver (in memory); on the local executor it is simply a local read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

from ..records import Conversation, UserHistory, dumps
from ..scale.executor import ExecutorSpec, active, map_shards
from .base import ReadOptions
from .containers import Progress
from .detect import Sniffed
from .formats import get_format
from .problems import CorpusError, LoadSummary
from .reader import UNITS, Corpus, ReadSettings, merge_into
from .remote import location


@dataclass
class ShardedRead:
    """A whole corpus read into memory: its records in file order, the summary, and how many shard files."""

    histories: list[UserHistory]  # as the files hold them (`Corpus.histories()`), in file order
    summary: LoadSummary
    shards: int  # shard files read
    unit: str = "conversation"
    parts: Optional[list] = None  # with `reduce`: each shard's reduced records, in file order (no histories)

    @property
    def records(self) -> int:
        """Records read from the files (bad ones included)."""
        return self.summary.records

    def conversations(self) -> list[Conversation]:
        return [c for history in self.histories for c in history.conversations]

    def users(self) -> list[UserHistory]:
        """Histories merged by (source, user_id) in order of first appearance, as `Corpus.users()` gives them."""
        merged: dict[tuple[str, str], UserHistory] = {}
        for history in self.histories:
            key = (history.source, history.user_id)
            if key not in merged:  # a copy: merging must not change `histories`
                merged[key] = history.model_copy(update={"conversations": list(history.conversations),
                                                         "attributes": list(history.attributes),
                                                         "meta": dict(history.meta)})
            else:
                merge_into(merged[key], history)
        return list(merged.values())

    def __iter__(self) -> Iterator[Union[Conversation, UserHistory]]:
        return iter(self.users() if self.unit == "user" else self.conversations())

    def __len__(self) -> int:
        return len(self.users()) if self.unit == "user" else sum(len(h.conversations) for h in self.histories)


def read_sharded(source: Union[str, Path], settings: Optional[ReadSettings] = None,
                 executor: Optional[ExecutorSpec] = None, *, unit: str = "conversation",
                 progress: Progress = None, reduce: Optional[Callable[[list], Any]] = None) -> ShardedRead:
    """Read every file of `source` (a file, folder, glob or URI, as `load()` takes) into memory.

    On a Ray executor (default: the active one) each shard file is read by an actor and the results are
    merged on the driver in file order; the outcome equals the local read. With skip_bad off, the first
    bad record in file order stops the read with the one-line CorpusError a local read gives.
    progress: called on the driver with each file's bytes as it is read.
    reduce: a picklable function of one shard's histories run where the shard is read (an actor), whose
    JSON-able result comes back instead of the records (`parts`): a comparison keeps only the user turns'
    text, not whole conversations, on the driver.
    """
    if unit not in UNITS:
        raise CorpusError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
    settings = settings or ReadSettings()
    executor = executor or active()
    corpus = settings.open(source, unit=unit, progress=progress)
    if not executor.is_ray or not corpus.files:
        histories = list(corpus.histories())
        if reduce is not None:
            return ShardedRead([], corpus.summary, len(corpus.files), unit, parts=[reduce(histories)])
        return ShardedRead(histories, corpus.summary, len(corpus.files), unit)
    return _read_on_ray(corpus, executor, progress, reduce)


def _read_on_ray(corpus: Corpus, executor: ExecutorSpec, progress: Progress,
                 reduce: Optional[Callable[[list], Any]] = None) -> ShardedRead:
    per = executor.shard_size or 1  # files per Ray task (consecutive, so file order is kept)
    options = asdict(corpus.options)
    groups = [corpus.files[i:i + per] for i in range(0, len(corpus.files), per)]
    shards = [(index, {"files": [_describe(f) for f in group], "options": options})
              for index, group in enumerate(groups)]
    results: dict[int, dict] = {}

    def arrived(index: int, result: dict) -> None:
        if "histories" in result:  # records now, so that their JSON text is not held beside them
            result["histories"] = [UserHistory.model_validate_json(line) for line in result["histories"]]
        results[index] = result
        if progress:
            progress(result.get("bytes", 0))
        _raise_first_error(results, groups, complete=False)

    map_shards(executor, partial(_make_reader, reduce), shards, arrived)
    _raise_first_error(results, groups, complete=True)
    histories: list[UserHistory] = []
    parts, reduced, users = [], [], set()
    for index in range(len(shards)):
        result = results.pop(index)
        if reduce is not None:
            reduced.append(result["parts"])
            users.update(tuple(key) for key in result["users"])
        else:
            histories.extend(result["histories"])
        parts.append(LoadSummary.from_dict(result["summary"]))
    users.update((h.source, h.user_id) for h in histories)
    return ShardedRead(histories, LoadSummary.merged(parts, len(users)), len(corpus.files), corpus.unit,
                       parts=reduced if reduce is not None else None)


def _raise_first_error(results: dict[int, dict], groups: list[list[Sniffed]], complete: bool) -> None:
    """Raise the error a local read would: that of the first failed shard, once every shard before it is in."""
    failed = [i for i, r in results.items() if "error" in r]
    if not failed:
        missing = [i for i in range(len(groups)) if i not in results]
        if complete and missing:
            raise CorpusError(f"{groups[missing[0]][0].path}: the Ray read returned nothing for this shard "
                              f"({len(missing)} of {len(groups)} shards missing)")
        return
    first = min(failed)
    if complete or all(i in results for i in range(first)):
        raise CorpusError(results[first]["error"], hint=results[first].get("hint"))


def _describe(file: Sniffed) -> dict:
    """A sniffed file as JSON for an actor (it reads the file as the driver sniffed it, without sniffing again)."""
    return {"path": str(file.path), "format": file.format.name, "container": file.container, "unit": file.unit}


def _make_reader(reduce: Optional[Callable[[list], Any]] = None):
    """Run once per actor: the function that reads one shard (pickled by reference to this module)."""
    return partial(read_shard, reduce=reduce) if reduce is not None else read_shard


def read_shard(shard: dict, reduce: Optional[Callable[[list], Any]] = None) -> dict:
    """Read a shard's files as one local read: its histories (JSON lines; with `reduce`, reduce(histories) and
    the shard's user keys instead), summary and bytes, or its error."""
    read = {"bytes": 0}

    def count(n: int) -> None:
        read["bytes"] += n

    try:
        files = [Sniffed(location(f["path"]), get_format(f["format"]), f["container"], f["unit"])
                 for f in shard["files"]]
        corpus = Corpus(files, ReadOptions(**shard["options"]), "conversation", progress=count)
        for file in files:
            if isinstance(file.path, Path) and not file.path.exists():
                raise CorpusError(f"{file.path}: no such file on this Ray node (a local path must be on a filesystem "
                                  "every node mounts at the same place; or give a URI such as s3://...)")
        records = list(corpus.histories())
    except CorpusError as exc:
        return {"error": str(exc), "hint": exc.hint, "bytes": read["bytes"]}
    summary = corpus.summary.to_dict()
    summary["complete"] = corpus.summary.complete
    if reduce is not None:
        return {"parts": reduce(records), "users": [list(k) for k in {(h.source, h.user_id) for h in records}],
                "summary": summary, "bytes": read["bytes"]}
    return {"histories": [dumps(h) for h in records], "summary": summary, "bytes": read["bytes"]}


__all__ = ["ShardedRead", "read_shard", "read_sharded"]
