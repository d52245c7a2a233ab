"""WildChat / LMSYS-Chat style JSONL: {conversation_hash | conversation_id, hashed_ip?, conversation: [...]}.

Only `conversation` is required: without an id a conversation is named by file and position,
without `hashed_ip` it is its own user; other metadata (model, language, timestamps, moderation)
is optional. Ids may be numbers and may carry stray spaces; roles are compared without case.
"""

from __future__ import annotations

from typing import Any, Optional

from ...records import Conversation, UserHistory
from ..base import Context, Format, record_id, require, scalar_meta
from .openai import message_pairs

ID_FIELDS = ("conversation_hash", "conversation_id", "id")


def conversation_id(obj: dict, fallback: str) -> str:
    return record_id(obj, ID_FIELDS, fallback)


def user_of(obj: dict, conv_id: str) -> str:
    """WildChat's hashed_ip identifies a user; without it each conversation is its own user."""
    ip = obj.get("hashed_ip")
    if ip is None:
        turns = obj.get("conversation")
        if isinstance(turns, list) and turns and isinstance(turns[0], dict):
            ip = turns[0].get("hashed_ip")
    return (str(ip).strip() or conv_id) if ip else conv_id


def wildchat_conversation(obj: dict, ctx: Context, fallback_id: str, source: str,
                          synthetic: bool, user_id: Optional[str] = None) -> Optional[Conversation]:
    """One WildChat-style conversation object as a Conversation (None if dropped as empty)."""
    turns = require(obj, "conversation", list)
    conv_id = conversation_id(obj, fallback_id)
    return ctx.conversation(
        ctx.turns(message_pairs(turns, ctx)), id=conv_id, user_id=user_id or user_of(obj, conv_id),
        source=source, synthetic=synthetic, meta=scalar_meta(obj, skip=ID_FIELDS))


class WildChat(Format):
    name = "wildchat"
    description = "WildChat/LMSYS JSONL of {conversation_hash|conversation_id, hashed_ip?, conversation: [...]}"

    def detect(self, obj: Any) -> bool:
        return (isinstance(obj, dict) and isinstance(obj.get("conversation"), list)
                and "merged_attributes" not in obj)

    def convert(self, obj: dict, ctx: Context, index: int) -> list[UserHistory]:
        source, synthetic = ctx.source("wildchat"), ctx.synthetic(False)
        conversation = wildchat_conversation(obj, ctx, f"{ctx.path.stem}-{index}", source, synthetic)
        return ctx.alone(conversation)

