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
    # Earliest opener first, each tried as it is and then without trailing commas: repairing the
    # whole text only after every start failed would pick an inner object that happens to parse.
    for start in (i for i, ch in enumerate(body) if ch in openers):
        tail = body[start:]
        for fixed in (False, True):
            if fixed:
                tail, removed = drop_trailing_commas(tail)
                if not removed:
                    break
            try:
                value, end = decoder.raw_decode(tail)
            except json.JSONDecodeError:
                continue
            if want is not None and not isinstance(value, want):
                break
            if fixed:
                repairs.append("trailing comma")
            if start > 0 or tail[end:].strip():
                repairs.append("text around the JSON")
            return Parsed(value, repairs)
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


GRAMMAR_UNSAFE = ("minLength", "maxLength", "pattern", "format")


def grammar_schema(schema: Any) -> Any:
    """The schema without string-length, pattern and format constraints, for grammar-constrained engines.

    llama.cpp unrolls minLength/maxLength into one grammar rule per character and crashes (a
    segfault, not an error) on lengths of a few hundred; the answer is validated against the full
    schema afterwards, so the engine only needs the shape.
    """
    if isinstance(schema, dict):
        return {k: grammar_schema(v) for k, v in schema.items() if k not in GRAMMAR_UNSAFE}
    if isinstance(schema, list):
        return [grammar_schema(v) for v in schema]
    return schema


def parse_structured(text: str, schema: dict) -> Parsed:
    """Extract, repair and validate; raises StructuredOutputError naming every violation."""
    want = dict if schema.get("type") == "object" else list if schema.get("type") == "array" else None
    parsed = extract_json(text, want)
    problems = validate(parsed.value, schema)
    if problems:
        raise StructuredOutputError("the JSON breaks the schema: " + "; ".join(problems[:5]))
    return parsed


__all__ = ["GRAMMAR_UNSAFE", "Parsed", "StructuredOutputError", "drop_trailing_commas", "extract_json",
           "grammar_schema",
           "parse_structured", "validate"]
