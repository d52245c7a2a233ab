"""The user side of a corpus as comparison units: user turns, conversations or user histories.

A `Sample` keeps every user turn with the unit it belongs to and the person who wrote it (the
group the yardstick splits and resamples by), plus what the reader skipped or dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import SynthgapError

UNITS = ("turn", "conversation", "user")
_LABEL = re.compile(r"^([A-Za-z0-9_.+-]{1,64})=(.+)$")


@dataclass
class Sample:
    """User turns of one corpus, grouped into units (see UNITS)."""
    label: str
    source: str
    unit: str
    turns: list[str]
    turn_unit: np.ndarray  # unit index of each turn
    unit_ids: list[str]
    unit_groups: list[str]  # the author of each unit: user id (else conversation id)
    synthetic: Optional[bool] = None
    summary: dict = field(default_factory=dict)
    notices: list = field(default_factory=list)  # one line per warning, drop and skip of the read

    @property
    def turn_groups(self) -> list[str]:
        return [self.unit_groups[u] for u in self.turn_unit]

    def __len__(self) -> int:
        return len(self.unit_ids)

    def unit_text(self, unit: int) -> str:
        """The unit's text: the turn itself, or its user turns joined by blank lines."""
        if self.unit == "turn":
            return self.turns[unit]
        return "\n\n".join(self.turns[i] for i in np.flatnonzero(self.turn_unit == unit))

    def describe(self) -> dict:
        return {"label": self.label, "source": self.source, "unit": self.unit, "units": len(self.unit_ids),
                "user_turns": len(self.turns), "groups": len(set(self.unit_groups)), "synthetic": self.synthetic,
                "read": self.summary}


def parse_source(spec: str) -> tuple[Optional[str], str]:
    """`LABEL=SOURCE` or `SOURCE`: the optional label and the source."""
    m = _LABEL.match(spec)
    if m and not Path(spec).exists():
        return m.group(1), m.group(2)
    return None, spec


def default_label(source: str, formats: list[str]) -> str:
    path = Path(source)
    if not path.exists():
        return source  # a built-in name such as "sharegpt"
    stem = path.name if path.is_dir() else path.stem
    return stem or (formats[0] if formats else source)


def load_sample(spec: str, unit: str = "turn", on_error: str = "fail", empty_turns: Optional[str] = None,
                format: Optional[str] = None, progress=None) -> Sample:
    """Read a corpus (anything `synthgap.corpora.load` accepts) into comparison units."""
    from ..corpora import load
    from ..scale.executor import active

    if unit not in UNITS:
        raise SynthgapError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
    label, source = parse_source(spec)
    corpus = load(source, format, on_error, unit="user" if unit == "user" else "conversation",
                  empty_turns=empty_turns, progress=progress)
    if active().is_ray and len(corpus.files) > 1:  # a corpus of many shard files: each read by a Ray actor
        from ..corpora.reader import ReadSettings
        from ..corpora.sharded import read_sharded

        settings = ReadSettings(format=format, skip_bad=on_error == "skip", empty_turns=empty_turns)
        if unit == "user":  # a user's conversations may lie in several files: histories merged here
            corpus = read_sharded(source, settings, unit="user", progress=progress)
            parts = [unit_parts(corpus, unit)]
        else:  # only the user turns' text comes back from the actors, not whole conversations
            corpus = read_sharded(source, settings, progress=progress, reduce=partial(_shard_parts, unit=unit))
            parts = corpus.parts
    else:
        parts = [unit_parts(corpus, unit)]
    turns, owner, ids, groups, synthetic, blank = _joined(parts)
    summary = corpus.summary.to_dict()
    notices = corpus.summary.notices()
    if blank:
        summary["blank_user_turns"] = blank
        notices.append(f"left out {blank} blank user turn{'' if blank == 1 else 's'}")
    if not ids:
        raise SynthgapError(f"{source}: no user turns with text to compare")
    return Sample(label or default_label(source, summary.get("formats", [])), source, unit, turns,
                  np.asarray(owner, dtype=np.int64), ids, groups,
                  synthetic.pop() if len(synthetic) == 1 else None, summary, notices)


def unit_parts(records, unit: str) -> dict:
    """The comparison units of some records (conversations, or user histories for unit "user"): user turns'
    text, each turn's unit (an index into `ids`), the units' ids and authors, the synthetic flags, blank turns."""
    turns: list[str] = []
    owner: list[int] = []
    ids: list[str] = []
    groups: list[str] = []
    synthetic: set = set()
    blank = 0
    for record in records:
        conversations = record.conversations if unit == "user" else [record]
        author = record.user_id or (conversations[0].id if conversations else "")
        start = len(ids)
        for conv in conversations:
            synthetic.add(conv.synthetic)
            for index, turn in enumerate(conv.turns):
                if turn.role != "user":
                    continue
                if not turn.content.strip():
                    blank += 1
                    continue
                if unit == "turn":
                    ids.append(f"{conv.id}#{index}")
                    groups.append(author)
                elif len(ids) == start:  # a conversation or history becomes a unit at its first user turn
                    ids.append(conv.id if unit == "conversation" else author)
                    groups.append(author)
                turns.append(turn.content)
                owner.append(len(ids) - 1)
    return {"turns": turns, "owner": owner, "ids": ids, "groups": groups, "synthetic": sorted(synthetic, key=str),
            "blank": blank}


def _shard_parts(histories: list, unit: str) -> dict:
    """`unit_parts` of one shard file's histories (run on the Ray actor that read it)."""
    return unit_parts((c for h in histories for c in h.conversations), unit)


def _joined(parts: list[dict]) -> tuple:
    """Several shards' parts as one sample's lists, in order (each shard's unit indices shifted)."""
    turns, owner, ids, groups, synthetic, blank = [], [], [], [], set(), 0
    for part in parts:
        offset = len(ids)
        turns.extend(part["turns"])
        owner.extend(o + offset for o in part["owner"])
        ids.extend(part["ids"])
        groups.extend(part["groups"])
        synthetic.update(part["synthetic"])
        blank += part["blank"]
    return turns, owner, ids, groups, synthetic, blank


__all__ = ["Sample", "UNITS", "default_label", "load_sample", "parse_source", "unit_parts"]
