"""What every format reader shares: read options, the per-read context, and turn building."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Union

from pydantic import ValidationError

from ..records import Attribute, Conversation, Turn, UserHistory, explain_validation
from .containers import Progress, Unit
from .problems import BadRecord, CorpusError, LoadSummary

EMPTY_TURN_POLICIES = ("error", "drop", "keep")
ON_ERROR = ("fail", "skip")

# What a reader yields for one record: the histories it makes, or the reason it is bad.
Outcome = Union[list[UserHistory], BadRecord]


@dataclass
class ReadOptions:
    """How to read a corpus. None means "the format's own default"."""

    on_error: str = "fail"
    empty_turns: Optional[str] = None
    user_speaker: Optional[str] = None
    synthetic: Optional[bool] = None
    source: Optional[str] = None

    def __post_init__(self) -> None:
        if self.on_error not in ON_ERROR:
            raise CorpusError(f"on_error must be one of {', '.join(ON_ERROR)}, got {self.on_error!r}")
        if self.empty_turns is not None and self.empty_turns not in EMPTY_TURN_POLICIES:
            raise CorpusError(
                f"empty_turns must be one of {', '.join(EMPTY_TURN_POLICIES)}, got {self.empty_turns!r}")


class Context:
    """One read of one file: its path, options and summary, and helpers that apply them."""

    def __init__(self, path: Path, fmt: "Format", options: ReadOptions, summary: LoadSummary,
                 progress: Progress = None):
        self.path, self.format, self.options, self.summary = path, fmt, options, summary
        self.progress = progress
        self.empty_turns = options.empty_turns or fmt.empty_turns
        self.user_speaker = fmt.resolve_speaker(options.user_speaker)

    def source(self, default: str) -> str:
        return self.options.source or default

    def synthetic(self, default: bool) -> bool:
        return default if self.options.synthetic is None else self.options.synthetic

    def turns(self, raw: Iterable[tuple[str, Any]]) -> list[Turn]:
        """Build turns from (role, content) pairs, applying the empty-turn policy.

        Roles must already be mapped to user/assistant/system; content must be a string.
        """
        turns = []
        for index, (role, content) in enumerate(raw):
            if not isinstance(content, str):
                raise BadRecord("wrong type", f"turn {index} content must be a string, got {type_name(content)}")
            if not content.strip():
                if self.empty_turns == "error":
                    raise BadRecord("empty turn", f"turn {index} ({role}) has no text")
                if self.empty_turns == "drop":
                    self.summary.drop("empty turn")
                    continue
            turns.append(Turn(role=role, content=content))
        return turns

    def keep_conversation(self, turns: list[Turn]) -> bool:
        """Apply the empty-turn policy to a whole conversation: False (counted) when it is dropped."""
        if turns:
            return True
        if self.empty_turns == "error":
            raise BadRecord("no turns", "conversation has no turns")
        if self.empty_turns == "drop":
            self.summary.drop("empty conversation")
            return False
        return True

    def conversation(self, turns: list[Turn], **fields: Any) -> Optional[Conversation]:
        """A Conversation, or None (counted) when it has no turns and empty ones are dropped."""
        return Conversation(turns=turns, **fields) if self.keep_conversation(turns) else None

    @staticmethod
    def alone(conversation: Optional[Conversation]) -> list[UserHistory]:
        """What a conversation-only format yields: its user's one-conversation history, or nothing."""
        if conversation is None:
            return []
        return [UserHistory(user_id=conversation.user_id, source=conversation.source,
                            synthetic=conversation.synthetic, conversations=[conversation])]


def type_name(value: Any) -> str:
    """JSON-ish name of a value's type, for error messages."""
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number"}.get(type(value), type(value).__name__)


def require(obj: dict, key: str, kind: type, what: str = "") -> Any:
    """obj[key], checked to be of `kind`; BadRecord naming the field otherwise."""
    if key not in obj:
        raise BadRecord("missing field", f"expected field '{key}'{what}")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        expected = type_name(kind()) if kind in (dict, list, str) else kind.__name__
        raise BadRecord("wrong type", f"field '{key}' must be {expected}, got {type_name(value)}")
    return value


def identifier(obj: dict, key: str) -> str:
    """An id field as text: publishers store ids as strings or whole numbers (stray spaces removed)."""
    if key not in obj:
        raise BadRecord("missing field", f"expected field '{key}'")
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadRecord("wrong type", f"field '{key}' must be a string or a whole number, got {type_name(value)}")
    return str(value).strip()


def record_id(obj: dict, keys: Iterable[str], fallback: str) -> str:
    """The first of `keys` that holds a string or whole number (stripped, non-empty), else the fallback."""
    for key in keys:
        value = obj.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return fallback


def map_role(raw: Any, roles: dict[str, str], field: str) -> str:
    """Map a format's speaker label to user/assistant/system, or raise a clear BadRecord."""
    if raw is None:
        raise BadRecord("missing role", f"a turn has no '{field}'")
    if not isinstance(raw, str):
        raise BadRecord("wrong type", f"'{field}' must be a string, got {type_name(raw)}")
    role = roles.get(raw.strip().lower())
    if role is None:
        known = ", ".join(sorted(roles))
        raise BadRecord("unknown role", f"'{field}' is {raw!r}; expected one of {known}")
    return role


def tool_turn(speaker: Any, tool_roles: Iterable[str], ctx: "Context") -> bool:
    """True (and the drop counted) when `speaker` is tool traffic: not user or assistant text."""
    if isinstance(speaker, str) and speaker.strip().lower() in tool_roles:
        ctx.summary.drop("tool message")
        return True
    return False


def scalar_meta(obj: dict, skip: Iterable[str] = ()) -> dict:
    """The scalar (string, number, bool, null) fields of a record, kept as meta."""
    skip = set(skip)
    return {k: v for k, v in obj.items()
            if k not in skip and (v is None or isinstance(v, (str, int, float, bool)))}


def attribute(id: str, statement: str, **fields: Any) -> Attribute:
    """An Attribute with empty optional fields dropped (keeps call sites short)."""
    return Attribute(id=id, statement=statement, **{k: v for k, v in fields.items() if v is not None})


class Format:
    """A corpus format: how to recognise it and how to turn its records into UserHistories.

    JSON-based formats implement `detect(obj)` and `convert(obj, ctx, index)`; formats that
    need a whole file (CSV) override `read(path, ctx, units)` and do their own row reading.
    """

    name: str = ""
    description: str = ""
    empty_turns: str = "error"
    speakers: tuple[str, ...] = ()  # accepted user_speaker values, default first
    container: Optional[str] = None  # fixed container ("csv"), or None: sniffed

    def resolve_speaker(self, speaker: Optional[str]) -> Optional[str]:
        if speaker is None:
            return self.speakers[0] if self.speakers else None
        value = speaker.strip().lower().replace(" ", "").replace("_", "")
        aliases = {s.replace("_", ""): s for s in self.speakers}
        if value not in aliases:
            if not self.speakers:
                raise CorpusError(f"format {self.name} has no choice of user speaker (got {speaker!r})")
            raise CorpusError(
                f"user speaker for {self.name} must be one of {', '.join(self.speakers)}, got {speaker!r}")
        return aliases[value]

    def detect(self, obj: Any) -> bool:
        return False

    def convert(self, obj: Any, ctx: Context, index: int) -> list[UserHistory]:
        raise BadRecord("unsupported", f"{self.name} records cannot be converted one by one")

    def read(self, path: Path, ctx: Context, units: Callable[[], Iterator[Unit]]) -> Iterator[tuple[str, Outcome]]:
        """Yield (location, outcome) per record; default: convert each decoded unit."""
        for index, unit in enumerate(units(), start=1):
            if isinstance(unit.value, BadRecord):
                yield unit.location, unit.value
                continue
            try:
                if not isinstance(unit.value, dict):
                    raise BadRecord("wrong type", f"expected a JSON object, got {type_name(unit.value)}")
                yield unit.location, self.convert(unit.value, ctx, index)
            except (BadRecord, ValidationError) as exc:
                yield unit.location, as_bad(exc)


def as_bad(exc: Exception) -> BadRecord:
    """A BadRecord for a converter failure (pydantic errors shortened to one line)."""
    if isinstance(exc, ValidationError):
        return BadRecord("invalid record", explain_validation(exc))
    return exc if isinstance(exc, BadRecord) else BadRecord("invalid record", str(exc))
