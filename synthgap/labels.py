"""Label files for agreement: the relevance format (human and LLM judgments) and a generic long format.

Relevance format, one JSON object per line: `{user_id, prompt_index, relevance_judgments:
[{attribute, relevant}]}` (humans) or `{model, user_id, items: [{attribute, relevant, ...}]}`
(models). Long format, CSV or JSONL: one label per row with item, rater and label columns (the
rater column may be absent: the file's stem is the rater). The rater of a relevance file is its
stem. Items are joined across files on explicit fields (relevance default: user_id + attribute),
taken from the item or, failing that, from its record.

The prompt is part of a relevance item: the same attribute of the same user can be relevant to
one prompt and not to another, and a user may be judged under several prompts. So a relevance
label also carries its record's `prompt_index` when there is one, and labels pair per prompt
where both files state it. Files that do not state it (LLM files often carry only
`sample_index`) are paired by `join_prompts`, one record at a time: a record whose items the
other files label under one single prompt takes that prompt (counted per rater); under several
prompts, the pairing is ambiguous and stops with the file and line.

Nothing is lost quietly: null labels are excluded and counted; a rater labeling the same item
twice keeps the last label and the duplicates (and how many disagreed) are counted; a bad line
is an error naming the file and line, or with `skip_bad` is skipped and counted.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from .errors import SynthgapError

RELEVANCE_JOIN = ("user_id", "attribute")
PROMPT_FIELD = "prompt_index"
TRUE = {"true", "yes", "1", "relevant", "y"}
FALSE = {"false", "no", "0", "irrelevant", "not relevant", "n"}


@dataclass
class RaterLabels:
    """One rater's labels by item key, and what reading them skipped."""
    rater: str
    source: str
    labels: dict = field(default_factory=dict)  # item key (tuple) -> label (bool, number or str)
    counts: Counter = field(default_factory=Counter)  # nulls, duplicates, conflicting, bad lines
    lines: dict = field(default_factory=dict)  # item key -> line (record) it was read from
    prompt_field: Optional[str] = None  # set when keys in `prompted` end with that field's value
    prompted: set = field(default_factory=set)  # keys whose last element is the prompt the file states
    resolved: set = field(default_factory=set)  # keys given a prompt by join_prompts


class LabelError(SynthgapError):
    """A label file that cannot be read: names the file and line."""


def parse_label(value):
    """bool/number labels as they are; strings that spell yes/no as bools; other strings as categories."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value).strip()
    low = text.lower()
    if low in ("", "null", "none", "na", "n/a"):
        return None
    if low in TRUE:
        return True
    if low in FALSE:
        return False
    try:
        return float(text)
    except ValueError:
        return text


def _add(rater: RaterLabels, key: tuple, value, line: Optional[int] = None) -> None:
    if value is None:
        rater.counts["null labels excluded"] += 1
        return
    if key in rater.labels:
        rater.counts["duplicate labels (last kept)"] += 1
        if rater.labels[key] != value:
            rater.counts["duplicates that disagreed"] += 1
    rater.labels[key] = value
    rater.lines[key] = line


def _json_lines(path: Path, skip_bad: bool, counts: Counter):
    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        raise LabelError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                if skip_bad:
                    counts["bad lines skipped"] += 1
                    continue
                raise LabelError(f"{path}: line {number}: malformed JSON: {exc}",
                                 hint="pass --skip-bad to skip bad lines (they are counted)") from None
            yield number, obj


def read_relevance(path: Union[str, Path], join: tuple = RELEVANCE_JOIN, skip_bad: bool = False,
                   prompt: Optional[str] = PROMPT_FIELD) -> RaterLabels:
    """One rater's relevance judgments (human or model file); the rater is the file's stem.

    Keys are the `join` values, plus the `prompt` value (from the item, else its record) where the
    record states one, so that two prompts' judgments of one user stay apart (see join_prompts).
    `prompt=None`, or a prompt field already in `join` (then required, like any join field), turns
    this off.
    """
    path = Path(path)
    by_prompt = bool(prompt) and prompt not in join
    rater = RaterLabels(path.stem, str(path), prompt_field=prompt if by_prompt else None)
    for number, record in _json_lines(path, skip_bad, rater.counts):
        items = record.get("relevance_judgments", record.get("items"))
        if items is None:
            if skip_bad:
                rater.counts["bad lines skipped"] += 1
                continue
            raise LabelError(f"{path}: line {number}: no 'relevance_judgments' or 'items' list",
                             hint="pass --skip-bad to skip bad lines (they are counted)")
        for k, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, dict) or "relevant" not in item:
                if skip_bad:
                    rater.counts["bad items skipped"] += 1
                    continue
                raise LabelError(f"{path}: line {number}: item {k}: no 'relevant' field")
            key = []
            for name in join:
                value = item.get(name, record.get(name))
                if value is None:
                    raise LabelError(f"{path}: line {number}: item {k}: join field {name!r} is missing "
                                     f"(join on: {', '.join(join)})")
                key.append(value)
            stated = item.get(prompt, record.get(prompt)) if by_prompt else None
            if stated is not None:
                key.append(stated)
            _add(rater, tuple(key), parse_label(item["relevant"]), number)
            if stated is not None:
                rater.prompted.add(tuple(key))
    return rater


def _prompt_index(raters: list[RaterLabels]) -> dict:
    """Item key without its prompt -> {rater position: prompts its file states for that item}."""
    index: dict = {}
    for i, r in enumerate(raters):
        for key in r.prompted:
            index.setdefault(key[:-1], {}).setdefault(i, set()).add(key[-1])
    return index


def join_prompts(raters: list[RaterLabels]) -> None:
    """Give a prompt to the labels whose file states none, where the other files make it certain.

    One record (line) at a time: the prompts the other files state for the record's items are
    collected. None: the record stays as it is (it pairs with other unstated labels, as before
    prompts were read). One: all of the record's labels take it, and the rater counts them
    ("labels paired without <field>"). Several: the record could belong to any of them, and a
    LabelError names the file, line and the prompts (a researcher decides: add the prompt to
    that file, or read without prompts). Only the prompts files state are used: a record that takes
    a prompt here does not pass it on. Changes the raters in place; running it again changes nothing.
    """
    index = _prompt_index(raters)
    if not index:
        return
    for i, r in enumerate(raters):
        records: dict = {}
        for key in r.labels.keys() - r.prompted - r.resolved:
            records.setdefault(r.lines.get(key), []).append(key)
        for line, keys in sorted(records.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
            stated = [(j, p) for k in keys for j, ps in index.get(k, {}).items() if j != i for p in ps]
            prompts = {p for _, p in stated}
            if len(prompts) > 1:
                _ambiguous(r, line, keys[0], prompts, [raters[j] for j in sorted({j for j, _ in stated})])
            if prompts:
                _move(r, line, keys, prompts.pop(), raters)


def _ambiguous(rater: RaterLabels, line, key: tuple, prompts: set, others: list) -> None:
    field = next(o.prompt_field for o in others if o.prompt_field)
    where = f"line {line}" if line is not None else f"item {key!r}"
    raise LabelError(f"{rater.source}: {where}: no {field}, and its items are labeled under {field} "
                     f"{', '.join(map(str, sorted(prompts, key=str)))} in {', '.join(o.source for o in others)}: "
                     f"cannot tell which prompt this record belongs to",
                     hint=f"add {field} to that file's records, or pass --prompt '' to ignore prompts, "
                          "which mixes the prompts' judgments of a user")


def _move(rater: RaterLabels, line, keys: list, prompt, raters: list) -> None:
    """The record's labels take `prompt`; one the file already states for that prompt is an error."""
    field = next(r.prompt_field for r in raters if r.prompt_field)
    for key in keys:
        new = (*key, prompt)
        if new in rater.labels:
            raise LabelError(f"{rater.source}: line {line}: no {field}, and its items pair only with {field} "
                             f"{prompt}, which line {rater.lines.get(new)} of the same file already labels")
        rater.labels[new] = rater.labels.pop(key)
        rater.lines[new] = rater.lines.pop(key)
        rater.resolved.add(new)
    rater.counts[f"labels paired without {field} (one prompt stated)"] += len(keys)


def read_long(path: Union[str, Path], item: str = "item", rater_column: str = "rater", label: str = "label",
              skip_bad: bool = False) -> list[RaterLabels]:
    """Long-format labels (CSV, or JSONL when the name ends in .jsonl/.json): one RaterLabels per rater."""
    path = Path(path)
    counts: Counter = Counter()
    raters: dict[str, RaterLabels] = {}
    if path.suffix.lower() in (".jsonl", ".json"):
        rows = ((n, r) for n, r in _json_lines(path, skip_bad, counts))
    else:
        try:
            with open(path, encoding="utf-8", newline="") as fh:
                rows = [(n + 2, r) for n, r in enumerate(csv.DictReader(fh))]  # line 1 is the header
        except OSError as exc:
            raise LabelError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise LabelError(f"{path}: not a readable CSV file: {exc}") from None
    items = [c.strip() for c in item.split(",")]
    for number, row in rows:
        missing = [c for c in (*items, label) if c not in row]
        if missing:
            if skip_bad:
                counts["bad lines skipped"] += 1
                continue
            raise LabelError(f"{path}: line {number}: no column {missing[0]!r} (columns: {', '.join(row)})")
        name = str(row.get(rater_column) or path.stem)
        target = raters.setdefault(name, RaterLabels(name, str(path)))
        _add(target, tuple(row[c] for c in items), parse_label(row[label]), number)
    for target in raters.values():
        target.counts.update(counts)
    if not raters:
        raise LabelError(f"{path}: no labels found")
    return list(raters.values())


def label_table(raters: list[RaterLabels], min_raters: int = 2):
    """(table raters x items with NaN for missing, item keys, category names): items labeled by at
    least `min_raters` raters; labels are coded as numbers in sorted order (False < True).

    Prompts are joined first (join_prompts, which updates the raters' labels and counts in place).
    """
    import numpy as np

    join_prompts(raters)
    seen = Counter(key for r in raters for key in r.labels)
    keys = sorted((k for k, n in seen.items() if n >= min_raters), key=lambda k: tuple(map(str, k)))
    values = sorted({v for r in raters for v in r.labels.values()}, key=lambda v: (str(type(v)), v))
    code = {v: float(i) for i, v in enumerate(values)}
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        code = {v: float(v) for v in values}
    table = np.full((len(raters), len(keys)), np.nan)
    for i, r in enumerate(raters):
        for j, key in enumerate(keys):
            if key in r.labels:
                table[i, j] = code[r.labels[key]]
    return table, keys, code


def read_raters(files, group: str, fmt: str = "auto", join: tuple = RELEVANCE_JOIN, item: str = "item",
                rater_column: str = "rater", label: str = "label", skip_bad: bool = False,
                prompt: Optional[str] = PROMPT_FIELD) -> list[tuple[RaterLabels, str]]:
    """(rater, group) for every rater of `files`: relevance files (`fmt` "relevance", or "auto" and the file
    looks like one) give one rater each, long-format files one per rater column value."""
    out = []
    for path in files:
        if fmt == "relevance" or (fmt == "auto" and str(path).endswith((".jsonl", ".json")) and is_relevance_file(path)):
            out.append((read_relevance(path, tuple(join), skip_bad, prompt or None), group))
        else:
            out += [(r, group) for r in read_long(path, item, rater_column, label, skip_bad)]
    return out


def is_relevance_file(path) -> bool:
    """A JSONL file whose first record has a relevance_judgments or items list."""
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    first = json.loads(line)
                    return isinstance(first, dict) and ("relevance_judgments" in first or "items" in first)
    except (OSError, ValueError):
        return False
    return False


__all__ = ["LabelError", "PROMPT_FIELD", "RELEVANCE_JOIN", "RaterLabels", "is_relevance_file", "join_prompts",
           "label_table", "parse_label", "read_long", "read_raters", "read_relevance"]
