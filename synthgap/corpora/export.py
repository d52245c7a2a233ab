"""Write records in outside formats: native JSONL, ShareGPT, OpenAI messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Union

from ..records import AtomicWriter, Conversation, UserHistory, dumps
from .problems import CorpusError

TARGETS = ("native", "sharegpt", "openai")
SHAREGPT_ROLES = {"user": "human", "assistant": "gpt", "system": "system"}


def as_sharegpt(conv: Conversation) -> dict:
    return {"id": conv.id, "conversations": [{"from": SHAREGPT_ROLES[t.role], "value": t.content}
                                             for t in conv.turns]}


def as_openai(conv: Conversation) -> dict:
    return {"messages": [{"role": t.role, "content": t.content} for t in conv.turns]}


def write_records(path: Union[str, Path], records: Iterable[Union[Conversation, UserHistory]], to: str) -> int:
    """Write records to `path` in format `to`, atomically; returns the number written.

    ShareGPT goes out as a JSON array when the file name ends in .json, else as JSONL.
    """
    if to not in TARGETS:
        raise CorpusError(f"--to must be one of {', '.join(TARGETS)}, got {to!r}")
    path = Path(path)
    as_array = to == "sharegpt" and path.suffix.lower() == ".json"
    count = 0
    with AtomicWriter(path) as out:
        if as_array:
            out.write("[")
        for record in records:
            if to == "native":
                line = dumps(record)
            elif isinstance(record, UserHistory):
                raise CorpusError(f"{to} holds conversations, not user histories: use --unit conversation")
            else:
                line = json.dumps(as_sharegpt(record) if to == "sharegpt" else as_openai(record), ensure_ascii=False)
            if as_array:
                out.write(("," if count else "") + "\n" + line)
            else:
                out.write(line + "\n")
            count += 1
        if as_array:
            out.write("\n]\n")
    return count
