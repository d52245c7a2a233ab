"""OpenAI chat messages: JSONL (or a JSON array) of {messages: [{role, content}]}.

Roles are compared without case or stray spaces. Every field but `messages` is optional
(`id`, `user_id`, metadata). Content is a string or a list of parts: text parts are joined;
non-text parts (images, audio, files) are not conversation text, so they are dropped and counted.
"""

from __future__ import annotations

from typing import Any

from ...records import UserHistory
from ..base import Context, Format, map_role, record_id, require, scalar_meta, tool_turn, type_name
from ..problems import BadRecord

ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
TOOL_ROLES = {"tool", "function", "ipython"}


def message_text(content: Any, ctx: Context) -> Any:
    """Content as text: a string, or the text parts of a multi-part content list."""
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
            elif is_media_part(part):
                ctx.summary.drop("non-text content part")
            else:
                raise BadRecord("wrong type", f"content part must be text, got {type_name(part)}")
        return "\n".join(parts)
    return content


def is_media_part(part: Any) -> bool:
    """A typed content part that is not text ({'type': 'image_url', ...}): allowed, but not conversation text."""
    return (isinstance(part, dict) and isinstance(part.get("type"), str) and part["type"] != "text"
            and "text" not in part)


def message_pairs(messages: list, ctx: Context) -> list[tuple[str, Any]]:
    """(role, content) pairs from a list of {role, content} objects, with clear errors.

    Tool traffic (role tool/function, assistant tool calls without text) is neither user nor
    assistant text: it is dropped and counted.
    """
    pairs = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRecord("wrong type", f"message {i} must be an object, got {type_name(message)}")
        role = message.get("role")
        if tool_turn(role, TOOL_ROLES, ctx):
            continue
        if message.get("content") is None and (message.get("tool_calls") or message.get("function_call")):
            ctx.summary.drop("tool call")
            continue
        if "content" not in message:
            raise BadRecord("missing field", f"message {i} has no 'content'")
        pairs.append((map_role(role, ROLES, "role"), message_text(message["content"], ctx)))
    return pairs


class OpenAIMessages(Format):
    name = "openai"
    description = "OpenAI chat JSONL of {messages: [{role, content}]}"

    def detect(self, obj: Any) -> bool:
        return isinstance(obj, dict) and isinstance(obj.get("messages"), list)

    def convert(self, obj: dict, ctx: Context, index: int) -> list[UserHistory]:
        messages = require(obj, "messages", list)
        conv_id = record_id(obj, ("id", "conversation_id"), f"{ctx.path.stem}-{index}")
        user_id = record_id(obj, ("user_id", "user"), conv_id)
        source = ctx.source("openai")
        synthetic = ctx.synthetic(False)
        conversation = ctx.conversation(
            ctx.turns(message_pairs(messages, ctx)), id=conv_id, user_id=user_id, source=source,
            synthetic=synthetic, meta=scalar_meta(obj, skip=("id", "conversation_id", "user_id", "user")))
        return ctx.alone(conversation)
