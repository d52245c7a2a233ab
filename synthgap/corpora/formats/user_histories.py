"""User-history JSONL (the recenter pilot's layout): one user per line with conversations and attributes.

{user_id, source, conversations: [{hashed_ip, conversation_hash, conversation: [...]}],
 merged_attributes: [{attribute, reason, confidence, original_*}], ...}
A user without conversations (real users whose texts were withheld) is still a user, whether
`conversations` is an empty list or absent. Ids may be numbers; `source` labels are compared
without case or stray spaces; a confidence written as text ("0.8") is read as a number.
"""

from __future__ import annotations

from typing import Any

from ...records import UserHistory
from ..base import Context, Format, attribute, identifier, scalar_meta, type_name
from ..problems import BadRecord
from .wildchat import wildchat_conversation

REAL_SOURCES = {"wildchat", "lmsys", "lmsys-chat", "sharegpt", "real", "human"}
SYNTHETIC_SOURCES = {"cupid", "prefeval", "personalens", "synthetic", "persona-chat", "synthetic-persona-chat"}


def is_synthetic(source: str) -> bool:
    """Whether a source label names a synthetic benchmark (unknown labels count as real)."""
    return source.strip().lower() in SYNTHETIC_SOURCES


def as_number(value: Any) -> Any:
    """A number written as text ('0.8') as a number; anything else unchanged (checked by the caller)."""
    if isinstance(value, str) and value.strip():
        try:
            return float(value)
        except ValueError:
            return value
    return value


def optional_list(obj: dict, key: str) -> list:
    """obj[key] when it is a list, [] when absent or null; a BadRecord for any other type."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRecord("wrong type", f"field '{key}' must be array, got {type_name(value)}")
    return value


def merged_attribute(raw: Any, user_id: str, index: int):
    if not isinstance(raw, dict):
        raise BadRecord("wrong type", f"merged_attributes[{index}] must be an object, got {type_name(raw)}")
    statement = raw.get("attribute") or raw.get("statement")
    if not isinstance(statement, str) or not statement.strip():
        raise BadRecord("missing field", f"merged_attributes[{index}] has no 'attribute' text")
    confidence = as_number(raw.get("confidence"))
    if confidence is not None and (not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1):
        raise BadRecord("wrong type", f"merged_attributes[{index}].confidence must be a number in [0, 1]")
    reason = raw.get("reason")
    return attribute(
        f"{user_id}-a{index}", statement, reason=reason if isinstance(reason, str) else None,
        confidence=None if confidence is None else float(confidence), category=raw.get("category"),
        meta={k: v for k, v in raw.items() if k not in ("attribute", "statement", "reason", "confidence", "category")})


class UserHistories(Format):
    name = "user-histories"
    description = "user-history JSONL of {user_id, source, conversations: [...], merged_attributes: [...]}"

    def detect(self, obj: Any) -> bool:
        if not isinstance(obj, dict) or "user_id" not in obj:
            return False
        if "merged_attributes" in obj:
            return True
        convs = obj.get("conversations")
        return isinstance(convs, list) and (not convs or (isinstance(convs[0], dict) and "conversation" in convs[0]))

    def convert(self, obj: dict, ctx: Context, index: int) -> list[UserHistory]:
        user_id = identifier(obj, "user_id")
        label = obj.get("source").strip() if isinstance(obj.get("source"), str) else ""
        label = label or "user-histories"
        source = ctx.source(label)
        synthetic = ctx.synthetic(is_synthetic(label))
        conversations = []
        for i, raw in enumerate(optional_list(obj, "conversations")):
            if not isinstance(raw, dict):
                raise BadRecord("wrong type", f"conversations[{i}] must be an object, got {type_name(raw)}")
            conv = wildchat_conversation(raw, ctx, f"{user_id}-c{i}", source, synthetic, user_id=user_id)
            if conv is not None:
                conversations.append(conv)
        attributes = [merged_attribute(raw, user_id, i)
                      for i, raw in enumerate(optional_list(obj, "merged_attributes"))]
        meta = scalar_meta(obj, skip=("user_id", "source"))
        meta.update({k: v for k, v in obj.items()
                     if k not in ("user_id", "source", "conversations", "merged_attributes") and k not in meta})
        return [UserHistory(user_id=user_id, source=source, synthetic=synthetic,
                            conversations=conversations, attributes=attributes, meta=meta)]
