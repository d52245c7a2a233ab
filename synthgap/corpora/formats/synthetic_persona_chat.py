"""Synthetic-Persona-Chat CSV: columns 'user 1 personas', 'user 2 personas', 'Best Generated Conversation'.

The published splits (Google's train/valid/test CSVs; the train split may carry an extra
unnamed index column) hold generated text in two shapes:

- *marked*: one 'User 1: ...' / 'User 2: ...' line per turn. Markers may be decorated
  ('*User 1:* hi', '**User 2**: hi', '* User 2: hi *', 'USER 1 :'). Unmarked lines continue
  the previous turn (a recipe); text before the first marker is User 1's opening when the
  first marker is 'User 2:', and is dropped and counted otherwise (nobody is named before it).
- *unmarked*: no speaker marker at all, turns separated by blank lines, names written as
  placeholders ('[user 1 name]'). Such a conversation is read as alternating turns starting
  with User 1: one turn per blank-line-separated block, or one turn per line when the text
  has no blank line between its lines. It gets `meta["unmarked"] = True` and is counted in
  the load summary (`unmarked_conversations`).

In both shapes, stage directions ('[Later]', '(They walk.)', '* * *', '*At the bar*') are
whole lines that are not conversation text: dropped and counted. A bracketed line that is a
name placeholder ('[user 2 name]', '[your name]', '[User 1]') is text, never a direction.
A conversation cell with no text is a bad record ('no turns').
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Iterator, Optional

from pydantic import ValidationError

from ...records import UserHistory
from ..base import Context, Format, Outcome, as_bad
from ..containers import Unit, iter_csv
from ..problems import BadRecord
from .persona_lines import profile_attributes, profile_lines

SPEAKER = re.compile(r"^[\s*_]*user\s*([12])[\s*_]*[:：][\s*_]*", re.IGNORECASE)
# A whole line in brackets or parentheses (closed or not), a row of asterisks, or *emphasis*.
DIRECTION = re.compile(r"^\s*(\[[^\]]*\]?|\([^)]*\)?|[*\s]+|\*+[^*]+\*+)\s*$")
BRACKETED = re.compile(r"^\s*\[([^\[\]]*)\]\s*$")
PLACEHOLDER_WORD = re.compile(r"name|user\s*_?[12]", re.IGNORECASE)
REASON = "persona given to the generator of this synthetic conversation"
UNMARKED_META = "unmarked"

Turns = list[tuple[str, str]]  # (speaker '1'|'2', text)


def columns(header: list[str]) -> dict[str, str]:
    """Map 'user1'/'user2'/'conversation' to the header's actual column names.

    Names are compared without case, spaces or punctuation ('User 1 Personas ', 'user1_persona');
    with several conversation columns the 'best' one wins, as in the published files.
    """
    found: dict[str, str] = {}
    for name in header:
        key = re.sub(r"[^a-z0-9]", "", name.lower())
        if key in ("user1personas", "user1persona"):
            found["user1"] = name
        elif key in ("user2personas", "user2persona"):
            found["user2"] = name
        elif "conversation" in key and ("conversation" not in found or "best" in key):
            found["conversation"] = name
    return found


def is_spc_header(header: list[str]) -> bool:
    return len(columns(header)) == 3


def is_placeholder(line: str) -> bool:
    """A line that is only a name placeholder ('[user 1 name]', '[your name]', '[User 2]'): text, not a direction."""
    match = BRACKETED.match(line)
    if not match:
        return False
    inner = match.group(1)
    return len(inner.split()) <= 3 and not re.search(r"[.!?,;:]", inner) and bool(PLACEHOLDER_WORD.search(inner))


def is_direction(line: str) -> bool:
    return bool(DIRECTION.match(line)) and not is_placeholder(line)


def has_markers(lines: list[str]) -> bool:
    return any(SPEAKER.match(line) for line in lines)


def parse_marked(lines: list[str], ctx: Context) -> Turns:
    """Turns of a text with 'User 1:' / 'User 2:' markers (rules in the module docstring)."""
    turns: list[list[str]] = []
    leading: list[str] = []  # text before the first marker
    for line in lines:
        if not line.strip():
            continue
        match = SPEAKER.match(line)
        if match:
            body = line[match.end():].strip()
            if line.lstrip().startswith(("*", "_")):
                body = body.rstrip("*_ ").strip()
            turns.append([match.group(1), body])
        elif is_direction(line):
            ctx.summary.drop("stage direction line")
        elif not turns:
            leading.append(line.strip())
        else:
            turns[-1][1] = f"{turns[-1][1]}\n{line.strip()}" if turns[-1][1] else line.strip()
    if leading and turns[0][0] == "2":
        turns.insert(0, ["1", "\n".join(leading)])
    elif leading:
        ctx.summary.drop("line before the first speaker marker", len(leading))
    return [(speaker, body) for speaker, body in turns]


def blocks(lines: list[str], ctx: Context) -> list[list[str]]:
    """Blank-line-separated blocks of text lines, stage directions dropped (and counted)."""
    found: list[list[str]] = [[]]
    for line in lines:
        if not line.strip():
            found.append([])
        elif is_direction(line):
            ctx.summary.drop("stage direction line")
        else:
            found[-1].append(line.strip())
    return [block for block in found if block]


def parse_unmarked(lines: list[str], ctx: Context) -> Turns:
    """Alternating turns from User 1: a turn per block, or per line when there is one block."""
    found = blocks(lines, ctx)
    if len(found) == 1:
        found = [[line] for line in found[0]]
    return [("12"[i % 2], "\n".join(block)) for i, block in enumerate(found)]


def parse_conversation(text: str, ctx: Context) -> tuple[Turns, bool]:
    """(speaker, text) per turn, and whether the text had no speaker marker at all."""
    lines = text.splitlines()
    if has_markers(lines):
        return parse_marked(lines, ctx), False
    turns = parse_unmarked(lines, ctx)
    return turns, bool(turns)


def no_turns(text: str) -> BadRecord:
    """The bad record for a conversation cell that yields no turn."""
    if not text.strip():
        return BadRecord("no turns", "the conversation text is empty")
    return BadRecord("no turns", "the conversation holds only stage directions")


class SyntheticPersonaChat(Format):
    name = "synthetic-persona-chat"
    description = ("Synthetic-Persona-Chat CSV of user 1/user 2 personas and a conversation "
                   "('User 1:'/'User 2:' lines, or unmarked alternating turns)")
    container = "csv"
    speakers = ("user1", "user2", "both")

    def read(self, path: Path, ctx: Context, units: Callable[[], Iterator[Unit]]) -> Iterator[tuple[str, Outcome]]:
        names: Optional[dict[str, str]] = None
        stem = path.name.split(".")[0]
        for index, unit in enumerate(iter_csv(path, ctx.summary, ctx.progress), start=1):
            if isinstance(unit.value, BadRecord):
                yield unit.location, unit.value
                continue
            names = names or columns(list(unit.value))
            try:
                histories = self.row_histories(unit.value, names, f"{stem}-{index}", ctx)
            except (BadRecord, ValidationError) as exc:
                yield unit.location, as_bad(exc)
                continue
            yield unit.location, histories

    @staticmethod
    def row_histories(row: dict, names: dict[str, str], row_id: str, ctx: Context) -> list[UserHistory]:
        """One row as the history of User 1, User 2, or both (--user-speaker)."""
        text = row[names["conversation"]]
        lines, unmarked = parse_conversation(text, ctx)
        if not lines and ctx.empty_turns == "error":
            raise no_turns(text)
        sides = ("1", "2") if ctx.user_speaker == "both" else (ctx.user_speaker[-1],)
        source, synthetic = ctx.source("synthetic-persona-chat"), ctx.synthetic(True)
        histories = []
        for side in sides:
            conv_id = row_id + (f"-user{side}" if len(sides) > 1 else "")
            user_id = f"{row_id}-user{side}"
            meta: dict = {"user_speaker": f"user{side}"}
            if unmarked:
                meta[UNMARKED_META] = True
            turns = ctx.turns(("user" if who == side else "assistant", body) for who, body in lines)
            conv = ctx.conversation(turns, id=conv_id, user_id=user_id, source=source, synthetic=synthetic, meta=meta)
            persona = profile_lines(row[names[f"user{side}"]])
            histories.append(UserHistory(
                user_id=user_id, source=source, synthetic=synthetic, conversations=[conv] if conv else [],
                attributes=profile_attributes(persona, user_id, REASON)))
        return histories
