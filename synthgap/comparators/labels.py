"""Label files for agreement: the relevance format (human and LLM judgments) and a generic long format.

Relevance format, one JSON object per line: `{user_id, prompt_index, relevance_judgments:
[{attribute, relevant}]}` (humans) or `{model, user_id, items: [{attribute, relevant, ...}]}`
(models). Long format, CSV or JSONL: one label per row with item, rater and label columns (the
rater column may be absent: the file's stem is the rater). The rater of a relevance file is its
stem. Items are joined across files on explicit fields (relevance default: user_id + attribute),
taken from the item or, failing that, from its record.

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
from typing import Union

from ..errors import SynthgapError

RELEVANCE_JOIN = ("user_id", "attribute")
TRUE = {"true", "yes", "1", "relevant", "y"}
FALSE = {"false", "no", "0", "irrelevant", "not relevant", "n"}


@dataclass
class RaterLabels:
    """One rater's labels by item key, and what reading them skipped."""
    rater: str
    source: str
    labels: dict = field(default_factory=dict)  # item key (tuple) -> label (bool, number or str)
    counts: Counter = field(default_factory=Counter)  # nulls, duplicates, conflicting, bad lines


class LabelError(SynthgapError):
    """A label file that cannot be read: names the file and line."""


def _label(value):
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


def _add(rater: RaterLabels, key: tuple, value) -> None:
    if value is None:
        rater.counts["null labels excluded"] += 1
        return
    if key in rater.labels:
        rater.counts["duplicate labels (last kept)"] += 1
        if rater.labels[key] != value:
            rater.counts["duplicates that disagreed"] += 1
    rater.labels[key] = value


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


def read_relevance(path: Union[str, Path], join: tuple = RELEVANCE_JOIN, skip_bad: bool = False) -> RaterLabels:
    """One rater's relevance judgments (human or model file); the rater is the file's stem."""
    path = Path(path)
    rater = RaterLabels(path.stem, str(path))
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
            _add(rater, tuple(key), _label(item["relevant"]))
    return rater


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
        _add(target, tuple(row[c] for c in items), _label(row[label]))
    for target in raters.values():
        target.counts.update(counts)
    if not raters:
        raise LabelError(f"{path}: no labels found")
    return list(raters.values())


def label_table(raters: list[RaterLabels], min_raters: int = 2):
    """(table raters x items with NaN for missing, item keys, category names): items labeled by at
    least `min_raters` raters; labels are coded as numbers in sorted order (False < True)."""
    import numpy as np

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


__all__ = ["LabelError", "RELEVANCE_JOIN", "RaterLabels", "label_table", "read_long", "read_relevance"]
