"""ConvAI2 "wild" evaluation JSON: volunteers (given a persona profile) chatting with bots.

[{dialog: [{id, sender, text, sender_class}], user_profile, bot_profile,
  participant1_id: {class, user_id}, participant2_id: {...}, start_time, ...}]
`user_profile` and `bot_profile` are optional (a dialogue without one has no gold attributes);
senders and classes are compared without case or stray spaces ('Participant1 ', 'HUMAN').
"""

from __future__ import annotations

from typing import Any

from ...records import UserHistory
from ..base import Context, Format, require, scalar_meta, type_name
from ..problems import BadRecord
from .persona_lines import profile_attributes, profile_lines

HUMAN = {"human", "user"}
BOT = {"bot", "model"}
PROFILE_REASON = "assigned by the ConvAI2 evaluation before the chat; volunteers often ignore it"


def sender_key(value: Any) -> Any:
    """A sender label as compared: 'Participant1 ' -> 'participant1' (non-strings unchanged)."""
    return value.strip().lower() if isinstance(value, str) else value


def participants(obj: dict) -> dict[str, dict]:
    found = {}
    for key in ("participant1", "participant2"):
        info = obj.get(f"{key}_id")
        found[key] = info if isinstance(info, dict) else {}
    return found


class ConvAI2(Format):
    name = "convai2"
    description = "ConvAI2 wild-evaluation JSON of {dialog, user_profile, participant1_id, ...}"
    # Wild sessions include chats a volunteer opened and never used: dropped and counted.
    empty_turns = "drop"
    # "human": the participant whose class is User/Human (participant1 if both are).
    speakers = ("human", "participant1", "participant2")

    def detect(self, obj: Any) -> bool:
        return isinstance(obj, dict) and isinstance(obj.get("dialog"), list) and (
            "user_profile" in obj or "participant1_id" in obj)

    @staticmethod
    def human_key(obj: dict) -> str:
        """The participant who is a person: by participant class, else by sender_class."""
        for key, info in participants(obj).items():
            if str(info.get("class", "")).strip().lower() in HUMAN:
                return key
        for turn in obj.get("dialog") or []:
            if isinstance(turn, dict) and str(turn.get("sender_class", "")).strip().lower() in HUMAN:
                return str(sender_key(turn.get("sender")))
        return "participant1"

    def convert(self, obj: dict, ctx: Context, index: int) -> list[UserHistory]:
        dialog = require(obj, "dialog", list)
        human = self.human_key(obj)
        user_key = human if ctx.user_speaker == "human" else ctx.user_speaker
        people = participants(obj)
        pairs = []
        for i, turn in enumerate(dialog):
            if not isinstance(turn, dict):
                raise BadRecord("wrong type", f"dialog[{i}] must be an object, got {type_name(turn)}")
            sender = sender_key(turn.get("sender"))
            if sender is None:
                raise BadRecord("missing role", f"dialog[{i}] has no 'sender'")
            if not isinstance(sender, str):
                raise BadRecord("wrong type", f"dialog[{i}].sender must be a string, got {type_name(sender)}")
            if sender not in people:
                raise BadRecord("unknown role",
                                f"dialog[{i}].sender is {turn.get('sender')!r}; expected participant1 or participant2")
            if "text" not in turn:
                raise BadRecord("missing field", f"dialog[{i}] has no 'text'")
            pairs.append(("user" if sender == user_key else "assistant", turn["text"]))
        user_info = people.get(user_key, {})
        user_id = str(user_info.get("user_id") or f"{ctx.path.stem}-{index}-{user_key}").strip()
        source, synthetic = ctx.source("convai2"), ctx.synthetic(False)
        conv_id = f"{ctx.path.stem}-{index}"
        other = "participant2" if user_key == "participant1" else "participant1"
        meta = scalar_meta(obj)
        meta.update({"user_speaker": user_key, "other_id": people.get(other, {}).get("user_id"),
                     "bot_profile": profile_lines(obj.get("bot_profile"))})
        conversation = ctx.conversation(ctx.turns(pairs), id=conv_id, user_id=user_id, source=source,
                                        synthetic=synthetic, meta=meta)
        if conversation is None:
            return []
        profile = profile_lines(obj.get("user_profile" if user_key == human else "bot_profile"))
        return [UserHistory(user_id=user_id, source=source, synthetic=synthetic, conversations=[conversation],
                            attributes=profile_attributes(profile, conv_id, PROFILE_REASON))]

