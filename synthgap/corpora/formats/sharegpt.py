"""ShareGPT: a JSON array (or JSONL) of {id, conversations: [{from, value}]}.

Speaker labels are compared without case or stray spaces ('Human ', 'GPT'). A record without
an `id` gets one from the file name and its position. Function-calling exports (LLaMA-Factory
style) carry tool traffic as `function_call` / `observation` turns: not user or assistant
text, so dropped and counted like OpenAI tool messages.
"""

from __future__ import annotations

import re
from typing import Any

from ...records import UserHistory
from ..base import Context, Format, map_role, record_id, require, scalar_meta, tool_turn
from ..problems import BadRecord

ROLES = {"human": "user", "user": "user", "gpt": "assistant", "chatgpt": "assistant",
         "bing": "assistant", "bard": "assistant", "assistant": "assistant", "system": "system"}
TOOL_ROLES = {"function_call", "observation", "tool", "function", "tool_call", "tool_response"}
_PART = re.compile(r"^(.+)_(\d+)$")


def share_id(conversation_id: str) -> str:
    """ShareGPT splits long shares into parts 'ID_0', 'ID_1'...: all parts are one user's."""
    match = _PART.match(conversation_id)
    return match.group(1) if match else conversation_id


class ShareGPT(Format):
    name = "sharegpt"
    description = "ShareGPT JSON array or JSONL of {id, conversations: [{from, value}]}"

    def detect(self, obj: Any) -> bool:
        conv = obj.get("conversations") if isinstance(obj, dict) else None
        if not isinstance(conv, list) or "user_id" in obj:
            return False
        first = conv[0] if conv else None
        return (isinstance(first, dict) and ("from" in first or "value" in first)) or (not conv and "id" in obj)

    def convert(self, obj: dict, ctx: Context, index: int) -> list[UserHistory]:
        conv_id = record_id(obj, ("id",), f"{ctx.path.stem}-{index}")
        messages = require(obj, "conversations", list)
        pairs = []
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                raise BadRecord("wrong type", f"turn {i} must be an object with 'from' and 'value'")
            if tool_turn(message.get("from"), TOOL_ROLES, ctx):
                continue
            pairs.append((map_role(message.get("from"), ROLES, "from"), message.get("value")))
        source = ctx.source("sharegpt")
        synthetic = ctx.synthetic(False)
        user_id = share_id(conv_id)
        conversation = ctx.conversation(
            ctx.turns(pairs), id=conv_id, user_id=user_id, source=source, synthetic=synthetic,
            meta=scalar_meta(obj, skip=("id",)))
        return ctx.alone(conversation)
