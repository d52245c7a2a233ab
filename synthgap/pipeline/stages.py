"""Stages with fingerprints: a re-run reuses finished stages, resumes an unfinished one, redoes changed ones.

A stage's fingerprint covers its own settings, the identity of the files it reads from outside
the run, and the fingerprints of the stages it depends on, so a change anywhere upstream
reaches everything after it. The state lives in RUN/run.json, rewritten atomically after
every stage start and finish, so a crash leaves a record of which stage was cut short.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ..errors import SynthgapError
from ..outputs import code_identity, fingerprint

STATE = "run.json"


@dataclass
class Stage:
    """One step of a run: what decides its output, what it writes, and how to (re)make it."""
    name: str
    settings: dict
    outputs: list[Path]
    make: Callable[[bool], None]  # make(fresh): fresh=True discards partial work; False continues it
    after: tuple[str, ...] = ()
    commands: list[str] = field(default_factory=list)  # the equivalent command lines, for the record


def path_identity(spec: str) -> object:
    """What identifies an input cheaply: size and modification time of a file or of a folder's files
    (a built-in corpus name, which is not a path, identifies itself)."""
    p = Path(spec)
    if p.is_file():
        st = p.stat()
        return {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if p.is_dir():
        return {"path": str(p), "files": [[str(f.relative_to(p)), f.stat().st_size, f.stat().st_mtime_ns]
                                          for f in sorted(p.rglob("*")) if f.is_file()]}
    return {"name": spec}


class RunState:
    """RUN/run.json: the config, and per stage its fingerprint, status (started/done), time and commands."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / STATE
        self.data: dict = {"stages": {}}
        if self.path.exists():
            try:
                self.data = json.loads(self.path.read_text(encoding="utf-8"))
            except ValueError:
                self.data = {"stages": {}}  # a torn state file: every stage is checked again
            self.data.setdefault("stages", {})

    def stage(self, name: str) -> Optional[dict]:
        return self.data["stages"].get(name)

    def set(self, name: str, **entry) -> None:
        self.data["stages"][name] = entry
        self.save()

    def save(self) -> None:
        from ..records import AtomicWriter

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with AtomicWriter(self.path) as fh:
            fh.write(json.dumps(self.data, indent=2, ensure_ascii=False) + "\n")


def fingerprints(stages: list[Stage]) -> dict[str, str]:
    """Each stage's fingerprint: its settings, the fingerprints of the stages it depends on, and the code
    (so a stage finished by an earlier synthgap is made again, not reused with stale numbers)."""
    code = code_identity()
    prints: dict[str, str] = {}
    for stage in stages:
        prints[stage.name] = fingerprint({"stage": stage.name, "settings": stage.settings, "code": code,
                                          "after": {name: prints[name] for name in stage.after}})
    return prints


def reusable(stage: Stage, fp: str, state: RunState) -> bool:
    """Finished earlier with the same fingerprint, and its outputs are still there."""
    entry = state.stage(stage.name) or {}
    return entry.get("fingerprint") == fp and entry.get("status") == "done" and all(p.exists() for p in stage.outputs)


def pending(stages: list[Stage], state: RunState) -> list[str]:
    """The stages a run would run or resume (not reuse), in order; reads the state, writes nothing."""
    prints = fingerprints(stages)
    return [stage.name for stage in stages if not reusable(stage, prints[stage.name], state)]


def run_stages(stages: list[Stage], state: RunState, log: Callable[[str], None] = lambda m: None) -> list[dict]:
    """Run or reuse every stage in order; returns one record per stage (name, status, seconds)."""
    prints = fingerprints(stages)
    done = []
    for i, stage in enumerate(stages, 1):
        fp = prints[stage.name]
        entry = state.stage(stage.name) or {}
        same = entry.get("fingerprint") == fp
        if reusable(stage, fp, state):
            log(f"stage {i}/{len(stages)} {stage.name}: reused (finished earlier with the same settings)")
            done.append({"stage": stage.name, "status": "reused", "seconds": 0.0})
            continue
        resume = same and entry.get("status") == "started"
        log(f"stage {i}/{len(stages)} {stage.name}: " + ("resuming" if resume else "running"))
        started = time.perf_counter()
        state.set(stage.name, fingerprint=fp, status="started", commands=stage.commands)
        stage.make(not resume)
        missing = [str(p) for p in stage.outputs if not p.exists()]
        if missing:
            raise SynthgapError(f"stage {stage.name} finished without writing {', '.join(missing)}")
        seconds = round(time.perf_counter() - started, 3)
        state.set(stage.name, fingerprint=fp, status="done", seconds=seconds, commands=stage.commands)
        log(f"stage {i}/{len(stages)} {stage.name}: done in {seconds:.1f} s")
        done.append({"stage": stage.name, "status": "resumed" if resume else "ran", "seconds": seconds})
    return done


__all__ = ["RunState", "STATE", "Stage", "fingerprints", "path_identity", "pending", "reusable", "run_stages"]
