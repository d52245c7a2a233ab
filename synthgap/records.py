"""The data model (pydantic v2) and its JSONL reading and writing.

Every record is one JSON object per line, UTF-8, keys in field order, so that the same
records always give the same bytes. Everything else in synthgap builds on these types.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Role = Literal["user", "assistant", "system"]
Stability = Literal["stable", "situational"]
DisclosureStyle = Literal["explicit", "implicit"]
Scalar = Union[bool, int, float, str]


class _Record(BaseModel):
    """Base: unknown keys are an error (a typo in a file must not vanish silently)."""

    model_config = ConfigDict(extra="forbid", frozen=False)


class Turn(_Record):
    """One message of a conversation."""

    role: Role
    content: str


class Evidence(_Record):
    """Where an attribute is supported: a turn of a conversation, optionally a character span."""

    conversation_id: str
    turn: int = Field(ge=0)
    span: Optional[tuple[int, int]] = None


class Attribute(_Record):
    """A statement about a user ("The user ..."), gold or extracted.

    `stability` is None when nobody has judged it (e.g. attributes read from a corpus).
    `meta` keeps source-specific fields (survey column, merged originals) so nothing is lost.
    """

    id: str
    statement: str
    category: Optional[str] = None
    value: Optional[Scalar] = None
    stability: Optional[Stability] = None
    confidence: Optional[float] = Field(default=None, ge=0.0, le=1.0)
    reason: Optional[str] = None
    evidence: list[Evidence] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)


class Disclosure(_Record):
    """Ground truth written by generators: where and how a persona attribute shows in the text."""

    attribute_id: str
    turn: int = Field(ge=0)
    style: DisclosureStyle
    span: tuple[int, int]


class Conversation(_Record):
    """One conversation between a user and an assistant (or a second speaker playing it)."""

    id: str
    user_id: str
    source: str
    synthetic: bool
    turns: list[Turn]
    persona_id: Optional[str] = None
    disclosures: list[Disclosure] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)


class UserHistory(_Record):
    """One person's conversations and what is known about them: the unit of personalization."""

    user_id: str
    source: str
    synthetic: bool
    conversations: list[Conversation] = Field(default_factory=list)
    attributes: list[Attribute] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)


class Persona(_Record):
    """A synthetic user: attributes sampled from a taxonomy with a seed."""

    id: str
    locale: str
    name: str
    attributes: list[Attribute] = Field(default_factory=list)
    description: Optional[str] = None
    seed: int


RECORD_TYPES: dict[str, type[_Record]] = {
    "Turn": Turn,
    "Evidence": Evidence,
    "Attribute": Attribute,
    "Disclosure": Disclosure,
    "Conversation": Conversation,
    "UserHistory": UserHistory,
    "Persona": Persona,
}

# The top-level record kinds a native JSONL file may hold, told apart by their keys.
TOP_LEVEL = (Conversation, UserHistory, Persona)


def record_kind(obj: dict) -> Optional[type[_Record]]:
    """Which top-level record a decoded JSON object is, judged by its distinguishing keys."""
    if "turns" in obj and "id" in obj:
        return Conversation
    if "conversations" in obj and "user_id" in obj and "synthetic" in obj:
        return UserHistory
    if "locale" in obj and "seed" in obj:
        return Persona
    return None


_BUILD_SPECS: dict[type, tuple] = {}


def build(model: type[_Record], **fields: Any) -> _Record:
    """A record from fields that are already valid, without validation: for generators' hot loops.

    pydantic's model_construct costs about as much as validating; this sets the instance
    state directly (defaults filled in, fresh lists and dicts from default factories). Only
    for values the caller built itself; anything read from outside goes through validation.
    """
    spec = _BUILD_SPECS.get(model)
    if spec is None:
        spec = _BUILD_SPECS[model] = (
            tuple((n, f.default_factory, f.default, f.is_required()) for n, f in model.model_fields.items()),
            set(model.model_fields))
    layout, names = spec
    if len(fields) == len(layout):  # every field given: just put them in field order
        try:
            data = {name: fields[name] for name, _, _, _ in layout}
        except KeyError as exc:
            raise TypeError(f"build({model.__name__}): unknown field among {sorted(fields)}") from exc
        return _instance(model, data, names)
    data = {}  # in field order: serialisation follows the instance dict's order
    for name, factory, default, required in layout:
        if name in fields:
            data[name] = fields[name]
        elif factory is not None:
            data[name] = factory()
        elif not required:
            data[name] = default
        else:
            raise TypeError(f"build({model.__name__}): missing field {name!r}")
    for name in fields:
        if name not in names:
            raise TypeError(f"build({model.__name__}): unknown field {name!r}")
    return _instance(model, data, names)


# The slots pydantic keeps its instance state in, set through their descriptors (BaseModel
# overrides __setattr__, and going through object.__setattr__ for each costs more).
_SET_DICT = BaseModel.__dict__["__dict__"].__set__
_SET_FIELDS = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_SET_EXTRA = BaseModel.__dict__["__pydantic_extra__"].__set__
_SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__


def _instance(model: type[_Record], data: dict, names: set) -> _Record:
    # Every field is set, so one shared set serves every instance (pydantic only ever adds names
    # that are already in it); a set per record would cost about 0.7 KB each.
    record = model.__new__(model)
    _SET_DICT(record, data)
    _SET_FIELDS(record, names)
    _SET_EXTRA(record, None)
    _SET_PRIVATE(record, None)
    return record


def dumps(record: BaseModel) -> str:
    """One record as one compact JSON line (field order, UTF-8 text, no newline)."""
    return record.model_dump_json()


class RecordError(ValueError):
    """A line of a native JSONL file that is not a valid record; str() is one readable line."""

    def __init__(self, path: Union[str, Path], line: int, reason: str, detail: str):
        self.path, self.line, self.reason, self.detail = str(path), line, reason, detail
        super().__init__(f"{path}: line {line}: {reason}: {detail}")


def explain_validation(err: ValidationError) -> str:
    """Shorten a pydantic error to one line: the first problem, with its field path."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    got = first.get("input")
    shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
    if len(shown) > 60:
        shown = shown[:57] + "..."
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{where}: {first['msg'].lower()}, got {shown}{more}"


def parse_record(obj: Any, model: Optional[type[_Record]] = None) -> _Record:
    """Validate one decoded JSON object as `model` (or the kind its keys say)."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    kind = model or record_kind(obj)
    if kind is None:
        raise ValueError("not a synthgap record (expected Conversation, UserHistory or Persona keys)")
    return kind.model_validate(obj)


def read_jsonl(path: Union[str, Path], model: Optional[type[_Record]] = None, after: int = 0) -> Iterator[_Record]:
    """Stream records from a native JSONL file (from line `after` + 1); the first bad line raises RecordError.

    Lenient reading (skip and count bad lines) is the job of `synthgap.corpora.load`.
    """
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if number <= after or not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise RecordError(path, number, "non-UTF-8 bytes", f"byte {exc.start}") from None
            except json.JSONDecodeError as exc:
                raise RecordError(path, number, "malformed JSON", exc.msg) from None
            try:
                yield parse_record(obj, model)
            except ValidationError as exc:
                raise RecordError(path, number, "invalid record", explain_validation(exc)) from None
            except ValueError as exc:
                raise RecordError(path, number, "invalid record", str(exc)) from None


class AtomicWriter:
    """Write a text file under a temporary name and rename it into place when closed cleanly.

    A crash leaves the old file (or none), never a half-written one.
    """

    def __init__(self, path: Union[str, Path]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        self.tmp = Path(tmp)
        self.fh = os.fdopen(fd, "w", encoding="utf-8", newline="\n")

    def write(self, text: str) -> None:
        self.fh.write(text)

    def __enter__(self) -> "AtomicWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.fh.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def write_jsonl(path: Union[str, Path], records: Iterable[BaseModel]) -> int:
    """Write records as JSONL atomically; returns how many were written."""
    count = 0
    with AtomicWriter(path) as out:
        for record in records:
            out.write(dumps(record) + "\n")
            count += 1
    return count


def export_schemas(directory: Union[str, Path]) -> list[Path]:
    """Write each record type's JSON schema to `directory/<Name>.schema.json`."""
    directory = Path(directory)
    written = []
    for name, model in RECORD_TYPES.items():
        target = directory / f"{name}.schema.json"
        with AtomicWriter(target) as out:
            out.write(json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n")
        written.append(target)
    return written
