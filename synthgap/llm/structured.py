"""Structured output: find the JSON in a model's answer, repair the common faults, validate it.

The repairs are the ones small models need (code fences, prose around the JSON, trailing
commas) and nothing that could invent content: a general JSON "fixer" that guesses missing
quotes or brackets would turn a broken answer into a wrong record.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Optional

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)


class StructuredOutputError(ValueError):
    """The answer holds no JSON value that parses (after repairs) or it breaks the schema."""


@dataclass
class Parsed:
    value: Any
    repairs: list = field(default_factory=list)  # what was fixed, e.g. ["code fence", "trailing comma"]


def drop_trailing_commas(text: str) -> tuple[str, int]:
    """Remove commas that directly precede } or ] (outside strings); returns the text and how many went.

    A scanner rather than a regex, because a comma inside a string ("a, ]") must stay.
    """
    out, removed, in_string, escape = [], 0, False, False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_string:
            out.append(ch)
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif ch == ",":
            j = i + 1
            while j < len(text) and text[j] in " \t\r\n":
                j += 1
            if j < len(text) and text[j] in "}]":
                removed += 1
            else:
                out.append(ch)
        else:
            out.append(ch)
        i += 1
    return "".join(out), removed


def extract_json(text: str, want: Optional[type] = None) -> Parsed:
    """The first JSON object (or array) in `text`, repaired where needed.

    want: dict or list to require that type at the top (default: either).
    """
    repairs: list[str] = []
    body = text.strip()
    fenced = _FENCE.search(body)
    if fenced:
        body = fenced.group(1).strip()
        repairs.append("code fence")
    openers = "{" if want is dict else "[" if want is list else "{["
    decoder = json.JSONDecoder()
    for attempt in range(2):
        for start in (i for i, ch in enumerate(body) if ch in openers):
            try:
                value, end = decoder.raw_decode(body, start)
            except json.JSONDecodeError:
                continue
            if want is not None and not isinstance(value, want):
                continue
            if start > 0 or body[end:].strip():
                repairs.append("text around the JSON")
            return Parsed(value, repairs)
        if attempt == 0:
            body, removed = drop_trailing_commas(body)
            if not removed:
                break
            repairs.append("trailing comma")
    kind = "object" if want is dict else "array" if want is list else "object or array"
    raise StructuredOutputError(f"no JSON {kind} found in the answer ({_preview(text)})")


def _preview(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "...")


def validate(value: Any, schema: dict) -> list[str]:
    """Schema violations as short messages ("path: problem"); empty when the value is valid."""
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}" for e in errors]


def parse_structured(text: str, schema: dict) -> Parsed:
    """Extract, repair and validate; raises StructuredOutputError naming every violation."""
    want = dict if schema.get("type") == "object" else list if schema.get("type") == "array" else None
    parsed = extract_json(text, want)
    problems = validate(parsed.value, schema)
    if problems:
        raise StructuredOutputError("the JSON breaks the schema: " + "; ".join(problems[:5]))
    return parsed


__all__ = ["Parsed", "StructuredOutputError", "drop_trailing_commas", "extract_json", "parse_structured", "validate"]
