"""Persona attributes as sentences a prompt can use: "The user lives in Lyon." -> "you live in Lyon"."""

from __future__ import annotations

import re

from ..records import Persona

_HEAD = re.compile(r"^\s*the user(?:'s|’s)?\b", re.I)
_IRREGULAR = {"is": "are", "was": "were", "has": "have", "does": "do", "isn't": "aren't", "wasn't": "weren't",
              "doesn't": "don't", "hasn't": "haven't"}


def _base_form(verb: str) -> str:
    """Third-person singular to base form: lives -> live, studies -> study, watches -> watch."""
    low = verb.lower()
    if low in _IRREGULAR:
        return _IRREGULAR[low]
    if low.endswith("ies") and len(low) > 4:
        return verb[:-3] + "y"
    if low.endswith(("ches", "shes", "sses", "xes", "zes", "oes")):
        return verb[:-2]
    if low.endswith("s") and not low.endswith("ss"):
        return verb[:-1]
    return verb


def second_person(statement: str) -> str:
    """"The user's X ..." -> "your X ...", "The user <verb>s ..." -> "you <verb> ..."; no final full stop.

    Hand-written because a statement has one fixed shape (taxonomy statements and "The user ..."
    attributes); anything else comes back as it is, in quotes-free form.
    """
    text = statement.strip().rstrip(".")
    head = _HEAD.match(text)
    if not head:
        return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text
    rest = text[head.end():].lstrip()
    if head.group(0).lower().rstrip().endswith(("'s", "’s")):
        out = f"your {rest}"
    else:
        verb, _, tail = rest.partition(" ")
        out = f"you {_base_form(verb)}" + (f" {tail}" if tail else "")
    return re.sub(r"\bthe user\b", "you", re.sub(r"\bthe user(?:'s|’s)", "your", out, flags=re.I), flags=re.I)


def persona_facts(persona: Persona, ids=None) -> list[str]:
    """The persona's attribute statements (all of them, or those whose id is in `ids`), in persona order."""
    return [a.statement for a in persona.attributes if a.statement and (ids is None or a.id in ids)]


__all__ = ["persona_facts", "second_person"]
