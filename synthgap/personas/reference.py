"""Populations to compare persona sets with: harmonised tables of attribute values.

A reference can be another persona file (same taxonomy: compared value by value) or any
corpus whose users carry gold attributes (a survey such as Persuasion For Good's). A mapping
file says which reference column is which taxonomy attribute and which taxonomy values fall
in each reference category, so a fine taxonomy (seven education levels) is compared on the
reference's coarser scale (three). Built-in mappings live in `personas/data/mappings/`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from ..errors import SynthgapError
from ..records import Persona
from .taxonomy import Taxonomy

UNMAPPED = "(unmapped)"


class MappedAttribute(BaseModel):
    """How one reference column lines up with one taxonomy attribute."""

    model_config = ConfigDict(extra="forbid")

    column: str
    kind: str = Field("categorical", pattern="^(categorical|numeric)$")
    values: dict[str, list[str]] = Field(default_factory=dict, description="reference category -> taxonomy values")


class Mapping(BaseModel):
    """A reference population's columns mapped onto the taxonomy."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    locales: Optional[list[str]] = Field(None, description="locales the reference population lives in")
    attributes: dict[str, MappedAttribute]
    _groups: dict = PrivateAttr(default_factory=dict)

    def groups(self, key: str) -> dict[str, list[str]]:
        """Comparison groups: reference categories that share a taxonomy value are merged ('1+2').

        When the reference is finer than the taxonomy (income codes 1 and 2 are both 'low'),
        the two sides can only be compared on the coarser common scale.
        """
        cached = self._groups.get(key)
        if cached is not None:
            return cached
        spec = self.attributes[key]
        merged: list[tuple[list[str], set]] = []
        for category, members in spec.values.items():
            joined = ([category], set(members))
            for group in [g for g in merged if g[1] & joined[1]]:
                merged.remove(group)
                joined = (group[0] + joined[0], group[1] | joined[1])
            merged.append(joined)
        groups = {"+".join(cats): sorted(members) for cats, members in merged}
        self._groups[key] = groups
        return groups

    def group_of_category(self, key: str, category: str) -> Optional[str]:
        """The comparison group of a reference category (None when the mapping does not list it)."""
        for label in self.groups(key):
            if category in label.split("+"):
                return label
        return None

    def category_of(self, key: str, value: Any) -> Optional[str]:
        """The comparison group a taxonomy value falls in (None when the mapping leaves it out)."""
        for label, members in self.groups(key).items():
            if str(value) in members:
                return label
        return None


def builtin_mappings() -> dict[str, Path]:
    folder = Path(str(resources.files("synthgap.personas") / "data" / "mappings"))
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def load_mapping(path: Union[str, Path], taxonomy: Optional[Taxonomy] = None) -> Mapping:
    """Read and check a mapping file (a built-in name or a path)."""
    import yaml

    known = builtin_mappings()
    path = known.get(str(path), path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SynthgapError(f"{path}: mapping file not found (built-in: {', '.join(known)})") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SynthgapError(f"{path}: cannot read mapping: {str(exc).splitlines()[0]}") from None
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SynthgapError(f"{path}: {'.'.join(map(str, first['loc']))}: {first['msg'].lower()}") from None
    if taxonomy is not None:
        for key, spec in mapping.attributes.items():
            if key not in taxonomy:
                raise SynthgapError(f"{path}: attributes.{key}: not an attribute of the taxonomy")
            attr = taxonomy[key]
            if spec.kind == "numeric" and attr.kind != "numeric":
                raise SynthgapError(f"{path}: attributes.{key}: numeric in the mapping, {attr.kind} in the taxonomy")
            values = set(attr.values).union(*[set(t) for t in attr.by_locale.values()])
            for category, members in spec.values.items():
                for member in members:
                    if member not in values:
                        raise SynthgapError(f"{path}: attributes.{key}.values.{category}: {member!r} is not a "
                                            f"value of {key!r}")
    return mapping


@dataclass
class Population:
    """Rows of harmonised attribute values, plus what could not be harmonised."""

    name: str
    rows: list[dict[str, Any]]
    kinds: dict[str, str]  # attribute -> "categorical" | "numeric"
    unmapped: Counter = field(default_factory=Counter)  # attribute -> values left outside the mapping
    notes: list[str] = field(default_factory=list)

    def column(self, key: str) -> list[Any]:
        return [row[key] for row in self.rows if key in row]

    def __len__(self) -> int:
        return len(self.rows)


def _kind_of(taxonomy: Taxonomy, key: str) -> str:
    return "numeric" if taxonomy[key].kind == "numeric" else "categorical"


def from_personas(personas: Iterable[Persona], taxonomy: Taxonomy, name: str = "personas",
                  mapping: Optional[Mapping] = None) -> Population:
    """A persona set as a population: raw taxonomy values, or mapped to a reference's categories."""
    rows, unmapped = [], Counter()
    kinds: dict[str, str] = {}
    for persona in personas:
        row = {}
        for attr in persona.attributes:
            if attr.id not in taxonomy or attr.value is None:
                continue
            if mapping is not None:
                if attr.id not in mapping.attributes:
                    continue
                spec = mapping.attributes[attr.id]
                if spec.kind == "numeric":
                    row[attr.id] = float(attr.value)
                else:
                    category = mapping.category_of(attr.id, attr.value)
                    if category is None:
                        unmapped[attr.id] += 1
                        continue
                    row[attr.id] = category
                kinds[attr.id] = spec.kind
            else:
                kind = _kind_of(taxonomy, attr.id)
                if taxonomy[attr.id].kind in ("faker", "derived"):
                    continue  # names and companies are unique strings, not a distribution to compare
                row[attr.id] = float(attr.value) if kind == "numeric" else str(attr.value)
                kinds[attr.id] = kind
        rows.append(row)
    return Population(name, rows, kinds, unmapped)


def identity_mapping(taxonomy: Taxonomy, population: Population) -> Mapping:
    """A mapping of a persona population on the same taxonomy: every value is its own category."""
    attributes = {}
    for key, kind in population.kinds.items():
        if key not in taxonomy:
            continue
        attr = taxonomy[key]
        if kind == "numeric":
            attributes[key] = MappedAttribute(column=key, kind="numeric")
        else:
            values = set(attr.values).union(*[set(t) for t in attr.by_locale.values()])
            attributes[key] = MappedAttribute(column=key, values={v: [v] for v in sorted(values)})
    return Mapping(name=f"{population.name} (same taxonomy)", attributes=attributes)


def _column_key(attr) -> list[str]:
    """Names a gold attribute may be known by: its survey column, its id, the id's last part."""
    names = []
    if isinstance(attr.meta.get("column"), str):
        names.append(attr.meta["column"])
    names.append(attr.id)
    for sep in ("-", ":", "/", "."):
        if sep in attr.id:
            names.append(attr.id.rsplit(sep, 1)[1])
    return names


def from_histories(histories: Iterable, mapping: Mapping, name: str) -> Population:
    """Users with gold attributes (from any corpus reader) as a population under a mapping."""
    by_column = {spec.column: key for key, spec in mapping.attributes.items()}
    rows, unmapped = [], Counter()
    kinds = {key: spec.kind for key, spec in mapping.attributes.items()}
    for history in histories:
        row = {}
        for attr in history.attributes:
            key = next((by_column[n] for n in _column_key(attr) if n in by_column), None)
            if key is None or attr.value is None:
                continue
            spec = mapping.attributes[key]
            if spec.kind == "numeric":
                try:
                    row[key] = float(attr.value)
                except (TypeError, ValueError):
                    unmapped[key] += 1
                continue
            value = str(attr.value)
            if spec.values:
                group = mapping.group_of_category(key, value)
                if group is None:
                    unmapped[key] += 1
                else:
                    value = group
            row[key] = value
        if row:
            rows.append(row)
    return Population(name, rows, kinds, unmapped)


def choose_mapping(histories: list, taxonomy: Taxonomy) -> Optional[Mapping]:
    """The built-in mapping whose columns the reference's attributes match best (None if none do)."""
    names = Counter()
    for history in histories[:200]:
        for attr in history.attributes:
            names.update(set(_column_key(attr)))
    best, score = None, 0
    for path in builtin_mappings().values():
        mapping = load_mapping(path, taxonomy)
        hits = sum(1 for spec in mapping.attributes.values() if spec.column in names)
        if hits > score and hits >= max(1, len(mapping.attributes) // 2):
            best, score = mapping, hits
    return best


def load_reference(source: Union[str, Path], taxonomy: Taxonomy, *, mapping: Optional[Union[str, Path]] = None,
                   fmt: Optional[str] = None, skip_bad: bool = False) -> tuple[Population, Optional[Mapping]]:
    """Read a reference population: a persona JSONL, or any corpus whose users have gold attributes."""
    chosen = load_mapping(mapping, taxonomy) if mapping else None
    personas = _try_personas(source)
    if personas is not None:
        return from_personas(personas, taxonomy, Path(str(source)).name, chosen), chosen
    from ..corpora import load

    histories = [h for h in load(source, fmt, "skip" if skip_bad else "fail", unit="user").users() if h.attributes]
    if not histories:
        raise SynthgapError(f"{source}: no users with gold attributes, so there is no population to compare with",
                            hint="a reference is a persona file or a corpus with per-user attributes, "
                                 "e.g. the Persuasion For Good survey")
    if chosen is None:
        chosen = choose_mapping(histories, taxonomy)
    if chosen is None:
        raise SynthgapError(f"{source}: no built-in mapping fits its attributes",
                            hint="write a mapping file (docs/personas.md) and pass it with --map")
    return from_histories(histories, chosen, Path(str(source)).name), chosen


def _try_personas(source: Union[str, Path]) -> Optional[list[Persona]]:
    """The personas in `source` when it is a persona JSONL file (None when it is something else)."""
    import json

    path = Path(str(source))
    if not path.is_file() or path.suffix not in (".jsonl", ".json"):
        return None
    with open(path, encoding="utf-8", errors="replace") as fh:
        first = fh.readline()
    try:
        obj = json.loads(first)
    except ValueError:
        return None
    if not (isinstance(obj, dict) and "locale" in obj and "seed" in obj):
        return None
    return read_personas(path)


def iter_personas(path: Union[str, Path], skipped: Optional[Counter] = None) -> Iterator[Persona]:
    """Stream the personas of a JSONL file; a bad line stops with file and line named.

    With a `skipped` Counter, bad lines are skipped instead and counted there by reason, and
    the first one's message is kept under the key of that message (count 0) for reporting.
    """
    from ..records import RecordError, read_jsonl

    if not Path(path).is_file():
        raise SynthgapError(f"{path}: no such persona file")
    after = 0
    found = False
    while True:
        try:
            for record in read_jsonl(path, Persona, after=after):
                found = True
                yield record
            break
        except RecordError as exc:
            if skipped is None:
                raise SynthgapError(str(exc), hint="pass --skip-bad to skip bad lines (they are counted)") from None
            if not skipped:
                skipped[f"first: {exc}"] = 0
            skipped[exc.reason] += 1
            after = exc.line
    if not found:
        raise SynthgapError(f"{path}: no personas in the file")


def read_personas(path: Union[str, Path], skipped: Optional[Counter] = None) -> list[Persona]:
    """All personas of a JSONL file (see iter_personas)."""
    return list(iter_personas(path, skipped))


def stream_persona_file(path: Union[str, Path], skip_bad: bool = False,
                        on_skip: Optional[Callable[[str], None]] = None) -> Iterator[Persona]:
    """Stream personas (memory stays flat for any file size). With skip_bad, bad lines are skipped, and
    when the file is done `on_skip` gets one `synthgap: note: skipped N bad lines ...` line about them."""
    skipped = Counter() if skip_bad else None
    yield from iter_personas(path, skipped)
    if skipped and on_skip is not None:
        first = next(k for k in skipped if k.startswith("first: "))[len("first: "):]
        counts = ", ".join(f"{k}: {v}" for k, v in skipped.items() if not k.startswith("first: "))
        on_skip(f"synthgap: note: skipped {sum(skipped.values())} bad lines of {path} ({counts}); first: {first}")


def read_persona_file(path: Union[str, Path], skip_bad: bool = False,
                      on_skip: Optional[Callable[[str], None]] = None) -> list[Persona]:
    """All personas of a file (see stream_persona_file)."""
    return list(stream_persona_file(path, skip_bad, on_skip))


def count_personas(path: Union[str, Path]) -> int:
    """Lines of a persona file (not parsed: for progress totals before the file is streamed)."""
    if not Path(path).is_file():
        raise SynthgapError(f"{path}: no such persona file")
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())
