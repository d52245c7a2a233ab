"""`load()`: one entry point that reads any supported corpus, streaming, with a summary of what happened."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Literal, Optional, Union

from ..outputs import JobConfig
from ..records import Attribute, Conversation, UserHistory
from .base import Context, ReadOptions
from .builtin import resolve
from .containers import Progress, iter_csv, iter_json_array, iter_json_document, iter_jsonl, iter_parquet
from .detect import Sniffed, expand
from .formats import get_format
from .problems import BadRecord, CorpusError, LoadSummary, where

UNITS = ("conversation", "user")
CONTAINERS = {"json-array": iter_json_array, "jsonl": iter_jsonl, "json": iter_json_document, "csv": iter_csv,
              "parquet": iter_parquet}


class Corpus:
    """An iterable view of a corpus on disk. Each pass re-reads the files and refreshes `summary`.

    Iterating yields Conversations (unit="conversation") or UserHistories grouped by user
    (unit="user"); `histories()` yields the records as the files hold them, without grouping.
    """

    def __init__(self, files: list[Sniffed], options: ReadOptions, unit: str, progress: Progress = None):
        if unit not in UNITS:
            raise CorpusError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
        self.files, self.options, self.unit, self.progress = files, options, unit, progress
        self.summary = self._new_summary()

    @property
    def natural_unit(self) -> str:
        """'user' when the files carry user-level data (attributes, several conversations)."""
        return "user" if any(f.unit == "user" for f in self.files) else "conversation"

    @property
    def total_bytes(self) -> int:
        return sum(f.path.stat().st_size for f in self.files)

    def _new_summary(self) -> LoadSummary:
        return LoadSummary(sources=[str(f.path) for f in self.files],
                           formats=sorted({f.format.name for f in self.files}))

    def histories(self) -> Iterator[UserHistory]:
        """Every record as UserHistories, in file order; bad records fail or are skipped and counted."""
        self.summary = summary = self._new_summary()
        users: set[tuple[str, str]] = set()
        for file in self.files:
            ctx = Context(file.path, file.format, self.options, summary, self.progress)
            units = partial(CONTAINERS[file.container], file.path, summary, self.progress)
            for location, outcome in file.format.read(file.path, ctx, units):
                summary.records += 1
                if isinstance(outcome, BadRecord):
                    message = f"{where(str(file.path), location)}: {outcome}"
                    if self.options.on_error == "fail":
                        hint = "--skip-bad skips bad records and counts them"
                        if outcome.reason in ("empty turn", "no turns"):
                            hint = f"--empty-turns drop drops empty turns; {hint}"
                        raise CorpusError(message, hint=hint)
                    summary.skip(outcome.reason, message)
                    continue
                for history in outcome:
                    users.add((history.source, history.user_id))
                    summary.conversations += len(history.conversations)
                    summary.unmarked_conversations += sum(is_unmarked(c) for c in history.conversations)
                    summary.users = len(users)
                    yield history
        summary.complete = True

    def conversations(self) -> Iterator[Conversation]:
        for history in self.histories():
            yield from history.conversations

    def users(self) -> Iterator[UserHistory]:
        """UserHistories merged by (source, user_id), in order of first appearance (holds all in memory)."""
        merged: dict[tuple[str, str], UserHistory] = {}
        for history in self.histories():
            key = (history.source, history.user_id)
            if key not in merged:
                merged[key] = history
            else:
                merge_into(merged[key], history)
        yield from merged.values()

    def __iter__(self) -> Iterator[Union[Conversation, UserHistory]]:
        return self.users() if self.unit == "user" else self.conversations()


def is_unmarked(conversation: Conversation) -> bool:
    """Was this conversation read without speaker markers (turns inferred by alternation)?"""
    return conversation.meta.get("unmarked") is True


def merge_into(target: UserHistory, other: UserHistory) -> None:
    """Add another record of the same user: its conversations, and attributes not already there.

    Attributes are the same when everything but their id is (a profile repeated per dialogue).
    """
    target.conversations.extend(other.conversations)
    known = {_content(a) for a in target.attributes}
    for attr in other.attributes:
        if _content(attr) not in known:
            known.add(_content(attr))
            target.attributes.append(attr)
    for key, value in other.meta.items():
        target.meta.setdefault(key, value)


def _content(attr: Attribute) -> str:
    return attr.model_dump_json(exclude={"id"})


def load(source: Union[str, Path], format: Optional[str] = None, on_error: str = "fail", *,
         unit: str = "conversation", empty_turns: Optional[str] = None, user_speaker: Optional[str] = None,
         synthetic: Optional[bool] = None, label: Optional[str] = None, progress: Progress = None) -> Corpus:
    """Open a corpus: a file, a folder of files, a glob, a URI, or a built-in name such as 'sharegpt'.

    Files are JSON, JSON Lines (compressed too), CSV or Parquet; a folder, glob or URI prefix is
    one corpus, its files read in sorted path order. A URI (`s3://bucket/corpus/`,
    `memory://c/part-*.jsonl`, `file:///data/x.parquet`) is read through fsspec.

    format: a name from `synthgap.corpora.FORMATS` (detected when None).
    on_error: "fail" stops at the first bad record with a one-line CorpusError; "skip" skips
        it and counts it by reason in `corpus.summary`.
    unit: iterate "conversation"s or "user" histories (grouped by user id).
    empty_turns: "error", "drop" or "keep" empty turns (None: the format's or built-in corpus's default).
    user_speaker: for human-human corpora, which speaker plays the user (see docs/corpora.md).
    synthetic / label: override the real/synthetic flag and the source label of every record.
    progress: called with the number of bytes read, for progress bars.
    """
    path, defaults = resolve(source)
    options = ReadOptions(on_error=on_error, empty_turns=empty_turns or defaults.get("empty_turns"),
                          user_speaker=user_speaker, synthetic=synthetic, source=label)
    forced = get_format(format) if format else None
    files = expand(path, forced)
    for file in files:  # validate the speaker choice now, not halfway through a read
        file.format.resolve_speaker(user_speaker)
    return Corpus(files, options, unit, progress)


class ReadSettings(JobConfig):
    """How a job reads a corpus (the `--format/--skip-bad/...` options of every command that reads one)."""

    format: Optional[str] = None
    skip_bad: bool = False
    empty_turns: Optional[Literal["error", "drop", "keep"]] = None
    user_speaker: Optional[str] = None
    synthetic: Optional[bool] = None
    label: Optional[str] = None

    def open(self, source: Union[str, Path], unit: str = "conversation", progress: Progress = None) -> Corpus:
        """The corpus at `source` read with these settings."""
        return load(source, self.format, "skip" if self.skip_bad else "fail", unit=unit,
                    empty_turns=self.empty_turns, user_speaker=self.user_speaker, synthetic=self.synthetic,
                    label=self.label, progress=progress)


def report_notices(summary: LoadSummary, log: Callable[[str], None]) -> None:
    """Each notice of a read (warnings, drops, skips) as one `synthgap: note: ...` line to `log`."""
    for line in summary.notices():
        log(f"synthgap: note: {line}")


__all__ = ["Corpus", "ReadSettings", "load", "merge_into", "report_notices"]
