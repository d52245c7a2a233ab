"""Run outputs: the base of every library job (typed config, typed result, log), config
fingerprints, manifests, and JSONL files that can resume after a crash.

A generated file is written to `<out>.partial` in batches, next to `<out>.partial.json` that
holds the config fingerprint. A re-run with the same fingerprint keeps the complete lines
and continues after them; a different fingerprint refuses unless told to restart. When the
run completes the partial file is renamed to `<out>` and `<out>.manifest.json` is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Union

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .errors import SynthgapError

Log = Callable[[str], None]  # where a job's messages go (the CLI: stderr; the Python API: nowhere by default)


def quiet(message: str) -> None:
    """The default log of a library job: say nothing."""


def _path_text(value: Any) -> Any:
    """Path objects (anywhere in a config's input, lists and mappings included) as their text."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        return {k: _path_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_path_text(v) for v in value)
    return value


class JobConfig(BaseModel):
    """Base of every library job's config: typed and validated, unknown keys refused, so a typo fails
    before any work starts. Paths may be given as `pathlib.Path`s; the config holds their text."""
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _paths_as_text(cls, data: Any) -> Any:
        return _path_text(data)


class JobResult(BaseModel):
    """What a job wrote: its output files, its counts and how long it took."""
    model_config = ConfigDict(arbitrary_types_allowed=True)

    outputs: list[Path] = []
    counts: dict = {}
    seconds: float = 0.0


def validation_message(exc: ValidationError) -> str:
    """A pydantic error as one line: the first bad key and what is wrong with it."""
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{key}: {first['msg']}{more}"


def parse_config(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    """`model` validated from `data`; a bad key or value is one SynthgapError naming `where` and the key."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SynthgapError(f"{where}: {validation_message(exc)}") from None

PACKAGES = ("synthgap", "pydantic", "click", "faker", "jinja2", "numpy", "scipy", "pyyaml",
            "sentence-transformers", "spacy", "torch", "llama-cpp-python", "vllm")


def canonical(obj: Any) -> str:
    """JSON with sorted keys and no spaces: the same config always gives the same text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def fingerprint(config: Any) -> str:
    """A short stable hash of a config (anything JSON-serialisable)."""
    return hashlib.sha256(canonical(config).encode("utf-8")).hexdigest()[:16]


def file_sha256(path: Union[str, Path], limit: Optional[int] = None) -> str:
    """sha256 of a file (of its first `limit` bytes when given, for very large inputs)."""
    digest = hashlib.sha256()
    seen = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            if limit is not None and seen + len(chunk) > limit:
                digest.update(chunk[: limit - seen])
                break
            digest.update(chunk)
            seen += len(chunk)
    return digest.hexdigest()


def code_identity() -> str:
    """A hash of synthgap's own source, templates and data files: a finished stage made by other code is
    not reused (a version number alone would not change while the code is developed)."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".j2", ".yaml", ".yml", ".json") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def versions() -> dict[str, str]:
    """Installed versions of the packages a run may depend on (absent ones left out)."""
    from importlib import metadata

    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


_COMMAND_LINE: Optional[list[str]] = None


def set_command_line(argv: Optional[list[str]]) -> None:
    """Record the synthgap command line this process runs (the CLI calls this; a job called from Python
    leaves it unset, and its manifests say so instead of recording the host program's arguments)."""
    global _COMMAND_LINE
    _COMMAND_LINE = None if argv is None else [str(a) for a in argv]


def write_manifest(path: Union[str, Path], *, command: str, config: Any, inputs: Iterable[Union[str, Path]] = (),
                   counts: Optional[dict] = None, timings: Optional[dict] = None, extra: Optional[dict] = None) -> Path:
    """Write `path` (a manifest.json): versions, config and fingerprint, input hashes, counts, timings."""
    from .records import AtomicWriter

    hashed = {}
    for item in inputs:
        p = Path(item)
        if p.is_file():
            hashed[str(item)] = file_sha256(p)
    manifest = {"command": command, "argv": _COMMAND_LINE, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "versions": versions(), "config": config, "fingerprint": fingerprint(config),
                "inputs": hashed, "counts": counts or {}, "timings": timings or {}}
    if extra:
        manifest.update(extra)
    with AtomicWriter(path) as out:
        out.write(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n")
    return Path(path)


def manifest_path(out: Union[str, Path]) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".manifest.json")


class ResumableJsonl:
    """Append JSONL lines in batches to `<path>.partial`; rename to `path` on `complete()`.

    `done` is how many complete lines an earlier run with the same fingerprint left, so the
    caller skips that many items. A partial file from a different config raises unless
    `restart=True`, in which case it is discarded.
    """

    def __init__(self, path: Union[str, Path], fingerprint: str, *, restart: bool = False, batch: int = 1000,
                 restart_flag: str = "--restart"):
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.state = self.path.with_name(self.path.name + ".partial.json")
        self.fingerprint = fingerprint
        self.batch = batch
        self.done = 0
        self._pending: list[str] = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.partial.exists() and not restart:
            previous = self._read_state()
            if previous != fingerprint:
                raise SynthgapError(f"{self.partial}: an unfinished run with a different configuration is here "
                                    f"(fingerprint {previous or 'unknown'}, now {fingerprint})",
                                    hint=f"pass {restart_flag} to discard it, or use another output path")
            self.done = self._trim()
        else:
            self.partial.unlink(missing_ok=True)
            self.partial.touch()
        self.state.write_text(json.dumps({"fingerprint": fingerprint}) + "\n", encoding="utf-8")
        self._fh = open(self.partial, "a", encoding="utf-8", newline="\n")
        self.written = 0

    def _read_state(self) -> Optional[str]:
        try:
            return json.loads(self.state.read_text(encoding="utf-8")).get("fingerprint")
        except (OSError, ValueError, AttributeError):
            return None

    def _trim(self) -> int:
        """Count complete lines; cut a half-written last line left by a crash."""
        count = 0
        good = 0
        with open(self.partial, "rb") as fh:
            for line in fh:
                if not line.endswith(b"\n"):
                    break
                count += 1
                good += len(line)
        if good != self.partial.stat().st_size:
            with open(self.partial, "r+b") as fh:
                fh.truncate(good)
        return count

    def ids(self, key: str = "id") -> set:
        """The `key` field of every complete line already in the partial file (what a resume must not redo)."""
        found = set()
        if self.done:
            with open(self.partial, "rb") as fh:
                for line in fh:
                    try:
                        found.add(json.loads(line).get(key))
                    except (ValueError, AttributeError):
                        continue
        return found

    def write(self, line: str) -> None:
        self._pending.append(line)
        if len(self._pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            # Line by line into the file's own buffer: joining a batch into one large string
            # makes malloc raise its mmap threshold and the heap creep upward over a long run.
            self._fh.writelines(f"{line}\n" for line in self._pending)
            self._fh.flush()
            self.written += len(self._pending)
            self._pending = []

    def complete(self) -> int:
        """Flush, close and move the finished file into place; returns the total line count."""
        self.flush()
        self._fh.close()
        os.replace(self.partial, self.path)
        self.state.unlink(missing_ok=True)
        return self.done + self.written

    def close(self) -> None:
        """Flush what is pending and leave the partial file for a later resume."""
        self.flush()
        self._fh.close()

    def __enter__(self) -> "ResumableJsonl":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            if not self._fh.closed:
                self.complete()
        elif not self._fh.closed:
            self.close()
