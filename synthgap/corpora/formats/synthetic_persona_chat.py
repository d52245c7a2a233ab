"""Synthetic-Persona-Chat CSV: columns 'user 1 personas', 'user 2 personas', 'Best Generated Conversation'.

The conversation is text with one 'User 1: ...' / 'User 2: ...' line per turn. Generated text
also holds decorated markers ('*User 1:* hi', '* User 2: hi *'), stage directions ('[Later]',
'(They walk.)', '* * *'), which are dropped and counted, and unmarked lines (a recipe) that
continue the previous turn.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Iterator

from ...records import UserHistory
from pydantic import ValidationError

from ..base import Context, Format, Outcome, as_bad
from ..containers import Unit, iter_csv
from ..problems import BadRecord
from .persona_lines import profile_attributes, profile_lines

SPEAKER = re.compile(r"^[\s*_]*user\s*([12])\s*[:：][\s*_]*", re.IGNORECASE)
DIRECTION = re.compile(r"^\s*(\[.*\]?|\(.*\)?|[*\s]+|\*[^*]+\*)\s*$")
REASON = "persona given to the generator of this synthetic conversation"


def columns(header: list[str]) -> dict[str, str]:
    """Map 'user1'/'user2'/'conversation' to the header's actual column names."""
    found = {}
    for name in header:
        key = re.sub(r"[^a-z0-9]", "", name.lower())
        if key == "user1personas":
            found["user1"] = name
        elif key == "user2personas":
            found["user2"] = name
        elif "conversation" in key:
            found["conversation"] = name
    return found


def is_spc_header(header: list[str]) -> bool:
    return len(columns(header)) == 3


def parse_lines(text: str, ctx: Context) -> list[tuple[str, str]]:
    """(speaker '1'|'2', text) per turn, following the rules in the module docstring."""
    turns: list[list[str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        match = SPEAKER.match(line)
        if match:
            body = line[match.end():].strip()
            if line.lstrip().startswith("*"):
                body = body.rstrip("*_ ").strip()
            turns.append([match.group(1), body])
        elif DIRECTION.match(line) or not turns:
            ctx.summary.drop("stage direction line")
        else:
            turns[-1][1] += "\n" + line.strip()
    return [(speaker, body) for speaker, body in turns]


class SyntheticPersonaChat(Format):
    name = "synthetic-persona-chat"
    description = "Synthetic-Persona-Chat CSV of user 1/user 2 personas and 'User 1:'/'User 2:' lines"
    container = "csv"
    speakers = ("user1", "user2", "both")

    def read(self, path: Path, ctx: Context, units: Callable[[], Iterator[Unit]]) -> Iterator[tuple[str, Outcome]]:
        names = None
        stem = path.name.split(".")[0]
        for index, unit in enumerate(iter_csv(path, ctx.summary, ctx.progress), start=1):
            if isinstance(unit.value, BadRecord):
                yield unit.location, unit.value
                continue
            names = names or columns(list(unit.value))
            row = unit.value
            try:
                lines = parse_lines(row[names["conversation"]], ctx)
                if not lines and ctx.empty_turns == "error":
                    raise BadRecord("no turns", "no 'User 1:' / 'User 2:' lines in the conversation")
                sides = ("1", "2") if ctx.user_speaker == "both" else (ctx.user_speaker[-1],)
                histories = []
                for side in sides:
                    conv_id = f"{stem}-{index}" + (f"-user{side}" if len(sides) > 1 else "")
                    user_id = f"{stem}-{index}-user{side}"
                    source, synthetic = ctx.source("synthetic-persona-chat"), ctx.synthetic(True)
                    turns = ctx.turns(("user" if who == side else "assistant", text) for who, text in lines)
                    conv = ctx.conversation(turns, id=conv_id, user_id=user_id, source=source,
                                            synthetic=synthetic, meta={"user_speaker": f"user{side}"})
                    persona = profile_lines(row[names[f"user{side}"]])
                    histories.append(UserHistory(
                        user_id=user_id, source=source, synthetic=synthetic, conversations=[conv] if conv else [],
                        attributes=profile_attributes(persona, user_id, REASON)))
            except (BadRecord, ValidationError) as exc:
                yield unit.location, as_bad(exc)
                continue
            yield unit.location, histories
