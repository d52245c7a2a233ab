"""synthgap's own JSONL: Conversation or UserHistory records (see synthgap.records)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ...records import Conversation, Persona, UserHistory, explain_validation, record_kind
from ..base import Context, Format
from ..problems import BadRecord


class Native(Format):
    name = "native"
    description = "synthgap JSONL of Conversation or UserHistory records"

    def detect(self, obj: Any) -> bool:
        return isinstance(obj, dict) and record_kind(obj) in (Conversation, UserHistory) and "synthetic" in obj

    @staticmethod
    def natural_unit(obj: Any) -> str:
        return "user" if isinstance(obj, dict) and record_kind(obj) is UserHistory else "conversation"

    def convert(self, obj: dict, ctx: Context, index: int) -> list[UserHistory]:
        kind = record_kind(obj)
        if kind is Persona:
            raise BadRecord("not a corpus record", "Persona records hold no conversations")
        if kind is None:
            raise BadRecord("invalid record", "expected Conversation or UserHistory fields")
        try:
            record = kind.model_validate(obj)
        except ValidationError as exc:
            raise BadRecord(validation_reason(exc), explain_validation(exc)) from None
        histories = [record] if isinstance(record, UserHistory) else [
            UserHistory(user_id=record.user_id, source=record.source, synthetic=record.synthetic,
                        conversations=[record])]
        for history in histories:
            kept = []
            for conv in history.conversations:
                turns = ctx.turns((t.role, t.content) for t in conv.turns)
                if ctx.keep_conversation(turns):
                    kept.append(conv if len(turns) == len(conv.turns) else conv.model_copy(update={"turns": turns}))
            history.conversations = kept
        if isinstance(record, Conversation) and not histories[0].conversations:
            return []
        if options_override(ctx):
            for history in histories:
                apply_override(history, ctx)
        return histories


def validation_reason(exc: ValidationError) -> str:
    """The reason other formats use for the same fault: a turn's role missing or unknown."""
    first = exc.errors()[0]
    if first["loc"] and first["loc"][-1] == "role":
        return "missing role" if first["type"] == "missing" else "unknown role"
    return "invalid record"


def options_override(ctx: Context) -> bool:
    return ctx.options.source is not None or ctx.options.synthetic is not None


def apply_override(history: UserHistory, ctx: Context) -> None:
    """--source / --synthetic given by the user relabel native records too."""
    history.source = ctx.source(history.source)
    history.synthetic = ctx.synthetic(history.synthetic)
    for conv in history.conversations:
        conv.source = history.source
        conv.synthetic = history.synthetic
