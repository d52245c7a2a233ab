"""Persona profile sentences ("i drive a nissan pathfinder.") as Attributes."""

from __future__ import annotations

from typing import Any, Iterable

from ...records import Attribute
from ..base import attribute


def profile_lines(value: Any) -> list[str]:
    """A profile as a list of sentences: a list of strings, or text with one sentence per line."""
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list):
        return []
    return [line.strip() for line in value if isinstance(line, str) and line.strip()]


def profile_attributes(lines: Iterable[str], prefix: str, reason: str) -> list[Attribute]:
    """One 'persona' Attribute per first-person profile sentence, the sentence kept verbatim."""
    return [attribute(f"{prefix}-p{i}", f'The user\'s persona says: "{line}"', category="persona",
                      value=line, reason=reason)
            for i, line in enumerate(lines)]
