"""What can go wrong while reading a corpus, and the summary that counts it.

Two kinds of problem are kept apart:
- a *bad record* breaks the format (malformed JSON, wrong type, unknown role, empty turn...):
  with on_error="fail" it stops the read with one line naming file and record; with "skip" it
  is skipped and counted by reason;
- a *drop* is something the format allows but that is not conversation text (stage directions
  in Synthetic-Persona-Chat, tool calls, empty turns where the read policy says so): always
  counted and reported.
What a publisher ships as a normal variation of its format (blank lines, BOMs, CRLF, stray
whitespace, missing optional fields, conversations without speaker markers) is neither: it is
read, and where the reader had to infer something (unmarked conversations) that is counted too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from ..errors import SynthgapError

EXAMPLES_PER_REASON = 3


class CorpusError(SynthgapError):
    """A corpus cannot be read (missing path, empty file, unknown format, bad record in fail mode)."""


class BadRecord(Exception):
    """Raised by format converters for one record; the loader adds file and location."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


def where(path: str, location: str) -> str:
    """'path: line 3' style prefix used by every message about a record."""
    return f"{path}: {location}" if location else path


@dataclass
class LoadSummary:
    """Counts of one read: what came out, what was skipped or dropped and why, how files ended."""

    sources: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    records: int = 0
    conversations: int = 0
    users: int = 0
    skipped: Counter = field(default_factory=Counter)
    skipped_examples: dict[str, list[str]] = field(default_factory=dict)
    dropped: Counter = field(default_factory=Counter)
    # Conversations whose text had no speaker markers, read as alternating turns (meta["unmarked"]).
    unmarked_conversations: int = 0
    warnings: list[str] = field(default_factory=list)
    truncated: bool = False
    truncation: Optional[str] = None
    complete: bool = False

    def skip(self, reason: str, message: str) -> None:
        self.skipped[reason] += 1
        examples = self.skipped_examples.setdefault(reason, [])
        if len(examples) < EXAMPLES_PER_REASON:
            examples.append(message)

    def drop(self, what: str, count: int = 1) -> None:
        self.dropped[what] += count

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def mark_truncated(self, message: str) -> None:
        self.truncated = True
        self.truncation = message if self.truncation is None else f"{self.truncation}; {message}"
        self.warn(message)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def notices(self) -> list[str]:
        """Human-readable lines for everything not silent: warnings, drops, skips."""
        lines = list(self.warnings)
        if self.unmarked_conversations:
            n = self.unmarked_conversations
            lines.append(f"read {n} unmarked conversation{'' if n == 1 else 's'} (no speaker markers) "
                         "as alternating turns starting with user 1")
        for what, n in sorted(self.dropped.items()):
            lines.append(f"dropped {n} {what}{'' if n == 1 else 's'}")
        for reason, n in sorted(self.skipped.items()):
            first = self.skipped_examples.get(reason, [""])[0]
            lines.append(f"skipped {n} record{'' if n == 1 else 's'}: {reason} (first: {first})")
        return lines

    @classmethod
    def from_dict(cls, data: dict) -> "LoadSummary":
        """The summary `to_dict()` describes (plus `complete`, when given): how a read crosses processes."""
        return cls(sources=list(data.get("sources", [])), formats=list(data.get("formats", [])),
                   records=data.get("records", 0), conversations=data.get("conversations", 0),
                   users=data.get("users", 0), skipped=Counter(data.get("skipped", {})),
                   skipped_examples={k: list(v) for k, v in data.get("skipped_examples", {}).items()},
                   dropped=Counter(data.get("dropped", {})),
                   unmarked_conversations=data.get("unmarked_conversations", 0),
                   warnings=list(data.get("warnings", [])), truncated=data.get("truncated", False),
                   truncation=data.get("truncation"), complete=data.get("complete", False))

    @classmethod
    def merged(cls, parts: list["LoadSummary"], users: int) -> "LoadSummary":
        """One summary for reads of consecutive files, in file order: what one read of them all reports.

        Counts add up and examples, warnings and truncations follow file order; `users` is given
        because a user may appear in several files (the caller counts distinct ones).
        """
        out = cls(users=users, complete=bool(parts) and all(p.complete for p in parts))
        for part in parts:
            out.sources.extend(part.sources)
            out.records += part.records
            out.conversations += part.conversations
            out.unmarked_conversations += part.unmarked_conversations
            out.dropped.update(part.dropped)
            for reason, count in part.skipped.items():
                out.skipped[reason] += count
                examples = out.skipped_examples.setdefault(reason, [])
                examples.extend(part.skipped_examples.get(reason, [])[: EXAMPLES_PER_REASON - len(examples)])
            for message in part.warnings:
                out.warn(message)
            if part.truncation is not None:
                out.truncated = True
                out.truncation = part.truncation if out.truncation is None else f"{out.truncation}; {part.truncation}"
        out.formats = sorted({f for part in parts for f in part.formats})
        return out

    def to_dict(self) -> dict:
        return {
            "sources": self.sources,
            "formats": self.formats,
            "records": self.records,
            "conversations": self.conversations,
            "users": self.users,
            "unmarked_conversations": self.unmarked_conversations,
            "skipped": dict(sorted(self.skipped.items())),
            "skipped_examples": {k: v for k, v in sorted(self.skipped_examples.items())},
            "dropped": dict(sorted(self.dropped.items())),
            "warnings": self.warnings,
            "truncated": self.truncated,
            "truncation": self.truncation,
        }
