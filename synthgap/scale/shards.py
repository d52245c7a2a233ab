"""Exactly-once output of a sharded job: one file per shard, committed in a manifest, assembled in order.

`OUT.shards/` holds `shard-000007.jsonl` per finished shard (written under a temporary name and renamed,
so a file is whole or absent) and `manifest.json` (rewritten atomically after each shard) naming the
committed shards with their line counts, sha256 and statistics. Only the driver writes here, and it
commits a shard index once: a retried shard (its actor killed, the result sent again) finds its index
committed and is checked, not added. A shard file that is not in the manifest (a crash between the
two writes) is made again. When every shard is committed the files are joined in shard order into
`OUT` (atomically) and the folder removed: the bytes are those of a local run, which writes the same
items in the same order.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterator, Optional, Union

from ..errors import SynthgapError
from ..outputs import file_sha256


def plan_shards(total: int, size: int) -> list[tuple[int, int]]:
    """[start, end) item ranges of `size` items covering 0..total."""
    return [(start, min(start + size, total)) for start in range(0, total, max(1, size))]


def shards_folder(output: Union[str, Path]) -> Path:
    output = Path(output)
    return output.with_name(output.name + ".shards")


class ShardedOutput:
    """The committed shards of `output` for a run with `fingerprint` (see the module docstring).

    A folder left by a run with another fingerprint is refused unless `restart` (then discarded).
    """

    def __init__(self, output: Union[str, Path], fingerprint: str, shards: int, *, restart: bool = False,
                 restart_flag: str = "--restart"):
        self.output = Path(output)
        self.folder = shards_folder(output)
        self.manifest_path = self.folder / "manifest.json"
        self.fingerprint, self.shards = fingerprint, shards
        state = self._read()
        if state is not None and not restart and (state.get("fingerprint") != fingerprint
                                                  or state.get("shards") != shards):
            raise SynthgapError(f"{self.folder}: an unfinished sharded run with a different configuration is here "
                                f"(fingerprint {state.get('fingerprint')}, now {fingerprint})",
                                hint=f"pass {restart_flag} to discard it, or use another output path")
        if restart or state is None:
            shutil.rmtree(self.folder, ignore_errors=True)
            state = {"fingerprint": fingerprint, "shards": shards, "committed": {}}
        self.state = state
        self.folder.mkdir(parents=True, exist_ok=True)
        self._save()
        self.duplicates = 0  # results for an index already committed (retries), checked and dropped

    def _read(self) -> Optional[dict]:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _save(self) -> None:
        from ..records import AtomicWriter

        with AtomicWriter(self.manifest_path) as fh:
            fh.write(json.dumps(self.state, ensure_ascii=False, sort_keys=True) + "\n")

    def file(self, index: int, kind: str = "jsonl") -> Path:
        return self.folder / f"shard-{index:06d}.{kind}"

    @property
    def committed(self) -> dict[str, dict]:
        return self.state["committed"]

    def pending(self) -> list[int]:
        """Shard indices not committed yet, or whose file is missing or changed since (made again)."""
        todo = []
        for index in range(self.shards):
            entry = self.committed.get(str(index))
            path = self.file(index)
            if entry is None or not path.exists() or file_sha256(path) != entry["sha256"]:
                self.committed.pop(str(index), None)
                todo.append(index)
        return todo

    def commit(self, index: int, lines: list[str], stats: Optional[dict] = None,
               extra: Optional[list[str]] = None) -> bool:
        """Write shard `index` (its JSONL lines, and `extra` lines such as failures) and commit it; False when
        it was committed already (a retried shard), after checking that it is the same."""
        text = "".join(f"{line}\n" for line in lines)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        entry = self.committed.get(str(index))
        if entry is not None:
            self.duplicates += 1
            if entry["sha256"] != digest:
                raise SynthgapError(f"{self.file(index)}: shard {index} came back twice with different contents "
                                    f"(an item whose output depends on more than its seed and index?)")
            return False
        _write_atomic(self.file(index), text)
        if extra:
            _write_atomic(self.file(index, "extra.jsonl"), "".join(f"{line}\n" for line in extra))
        self.committed[str(index)] = {"lines": len(lines), "sha256": digest, "stats": stats or {},
                                      "extra": len(extra or [])}
        self._save()
        return True

    def stats(self) -> list[dict]:
        """Each committed shard's statistics, in shard order."""
        return [self.committed[k]["stats"] for k in sorted(self.committed, key=int)]

    def lines(self) -> int:
        return sum(e["lines"] for e in self.committed.values())

    def extra_lines(self) -> Iterator[str]:
        """The committed shards' extra lines (failures), in shard order."""
        for index in range(self.shards):
            path = self.file(index, "extra.jsonl")
            if str(index) in self.committed and path.exists():
                with open(path, encoding="utf-8") as fh:
                    yield from (line.rstrip("\n") for line in fh)

    def assemble(self, target: Optional[Path] = None) -> int:
        """Join every shard in order into the output (atomically) and remove the folder; returns the lines."""
        missing = [i for i in range(self.shards) if str(i) not in self.committed]
        if missing:
            raise SynthgapError(f"{self.folder}: {len(missing)} of {self.shards} shards are not committed "
                                f"(first: {missing[0]}); run again to make them")
        target = Path(target or self.output)
        tmp = target.with_name(f".{target.name}.assembling")
        with open(tmp, "wb") as out:
            for index in range(self.shards):
                with open(self.file(index), "rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
        total = self.lines()
        return total

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def merge_counts(parts: list[dict]) -> dict[str, Any]:
    """Counters of several shards added up (nested dicts of numbers)."""
    total: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict):
                total[key] = merge_counts([total.get(key, {}), value])
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                total[key] = total.get(key, 0) + value
    return total


__all__ = ["ShardedOutput", "merge_counts", "plan_shards", "shards_folder"]
