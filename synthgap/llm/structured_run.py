"""Structured generation with repair, corrective retries, failure records and an early stop.

Every request of a batch goes to the backend at once; answers that do not parse or break the
schema are retried (in one batch again) with the bad answer and a corrective message appended.
What still fails is written to a failures file with the raw output and counted; when the share
of failures passes `max_failure_rate`, the run stops with a clear message instead of ending in a
silently thinned dataset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional, Union

from ..errors import SynthgapError
from .requests import Request, Response
from .structured import StructuredOutputError, parse_structured

CORRECTION = ("Your answer could not be used: {error}. Reply again with only the JSON value that matches the "
              "schema, with no other text.")


@dataclass
class StructuredResult:
    """Parsed values by request position (None where it failed) and what happened on the way."""
    values: list
    responses: list
    attempts: list
    repairs: dict = field(default_factory=dict)  # repair name -> count
    failures: int = 0


@dataclass
class FailureLog:
    """Appends failed requests (raw outputs and the reason) to a JSONL file and keeps running counts."""
    path: Optional[Path] = None
    max_failure_rate: float = 0.2
    min_items: int = 20  # the rate is not judged before this many items: two early failures are not a trend
    done: int = 0
    failed: int = 0
    unit: str = "structured answers"

    def record(self, item: dict) -> None:
        self.failed += 1
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(item, ensure_ascii=False) + "\n")

    def check(self, final: bool = False) -> None:
        """Raise when the failure share of everything done so far is over the limit.

        During a run the share is judged from `min_items` on; at the end (`final`) always, so that
        a small run whose items all failed does not end as a quietly empty file.
        """
        if self.done and (final or self.done >= self.min_items) and self.failed / self.done > self.max_failure_rate:
            where = f"; see {self.path}" if self.path else ""
            raise SynthgapError(f"stopped: {self.failed} of {self.done} {self.unit} failed "
                                f"({self.failed / self.done:.0%} > {self.max_failure_rate:.0%}){where}")


def generate_structured(backend, requests: list[Request], schema: dict, retries: int = 2,
                        log: Optional[FailureLog] = None, context: Optional[list[Any]] = None,
                        validate: Optional[Callable[[int, Any], Optional[str]]] = None) -> StructuredResult:
    """Ask every request for JSON matching `schema`; returns parsed values (None for final failures).

    context: one JSON-able item per request, written with its failure (e.g. the persona id).
    validate: checks beyond the schema, `validate(position, value)` -> a problem in words or None;
    a problem is retried with the same corrective message as a schema error.
    """
    requests = [replace(r, json_schema=schema) for r in requests]
    values: list = [None] * len(requests)
    responses: list[Optional[Response]] = [None] * len(requests)
    attempts = [0] * len(requests)
    errors: dict[int, str] = {}
    repairs: dict[str, int] = {}
    pending = list(range(len(requests)))
    current = list(requests)
    for round_ in range(retries + 1):
        answers = backend.generate([current[i] for i in pending])
        still = []
        for i, answer in zip(pending, answers):
            attempts[i] += 1
            responses[i] = answer
            try:
                parsed = parse_structured(answer.text, schema)
                problem = validate(i, parsed.value) if validate else None
                if problem:
                    raise StructuredOutputError(problem)
            except StructuredOutputError as exc:
                error = str(exc)
                if answer.finish_reason == "length":
                    error += (f"; the answer was cut off at the limit of {current[i].max_tokens} tokens, "
                              "so write much less")
                errors[i] = error
                still.append(i)
                msgs = list(current[i].messages) + [{"role": "assistant", "content": answer.text},
                                                    {"role": "user", "content": CORRECTION.format(error=error)}]
                current[i] = replace(current[i], messages=msgs)
                continue
            values[i] = parsed.value
            for name in parsed.repairs:
                repairs[name] = repairs.get(name, 0) + 1
        pending = still
        if not pending:
            break
    log = log if log is not None else FailureLog()
    for i in pending:
        log.record({"request": i, "context": context[i] if context else None, "error": errors[i],
                    "attempts": attempts[i], "raw": responses[i].text if responses[i] else None})
    log.done += len(requests)
    result = StructuredResult(values, responses, attempts, repairs, len(pending))
    log.check()
    return result


def failures_path(out: Union[str, Path]) -> Path:
    """Where a run writing OUT.jsonl puts its failures: OUT.failures.jsonl."""
    out = Path(out)
    return out.with_name(out.name.removesuffix(".jsonl") + ".failures.jsonl")


__all__ = ["CORRECTION", "FailureLog", "StructuredResult", "failures_path", "generate_structured"]
