"""PrefEval persona-driven JSON: [{persona, preference, question, explanation, conversation: {"0": {user, assistant}}}].

The persona and the stated preference become gold Attributes; the follow-up `question` (the
benchmark's test request) and `explanation` are kept in meta, not as turns. Every field but
`conversation` is optional (detection needs `persona` or `preference`). Turn numbers and
role keys are compared without stray spaces or case (' 1', 'User'); an exchange without an
assistant reply is a lone user turn.
"""

from __future__ import annotations

from typing import Any

from ...records import UserHistory
from ..base import Context, Format, attribute, require, scalar_meta, type_name
from ..problems import BadRecord


ROLES = ("system", "user", "assistant")


def ordered_exchanges(conversation: dict) -> list[tuple[str, dict]]:
    """The numbered exchanges in numeric order ('10' after '9')."""
    try:
        return sorted(conversation.items(), key=lambda kv: int(kv[0]))
    except ValueError:
        raise BadRecord("wrong type", "conversation keys must be turn numbers ('0', '1', ...)") from None


def exchange_pairs(key: str, exchange: Any) -> list[tuple[str, Any]]:
    """(role, text) pairs of one numbered exchange, in system, user, assistant order."""
    if not isinstance(exchange, dict):
        raise BadRecord("wrong type", f"conversation['{key}'] must be an object, got {type_name(exchange)}")
    by_role = {name.strip().lower(): value for name, value in exchange.items()}
    unknown = set(by_role) - set(ROLES)
    if unknown:
        raise BadRecord("unknown role", f"conversation['{key}'] has {sorted(unknown)[0]!r}; expected user, assistant")
    if "user" not in by_role:
        raise BadRecord("missing role", f"conversation['{key}'] has no 'user' message")
    return [(role, by_role[role]) for role in ROLES if role in by_role]


class PrefEval(Format):
    name = "prefeval"
    description = ("PrefEval persona-driven JSON of {persona, preference, question, "
                   "conversation: {'0': {user, assistant}}}")

    def detect(self, obj: Any) -> bool:
        return isinstance(obj, dict) and isinstance(obj.get("conversation"), dict) and (
            "preference" in obj or "persona" in obj)

    def convert(self, obj: dict, ctx: Context, index: int) -> list[UserHistory]:
        exchanges = require(obj, "conversation", dict)
        pairs = []
        for key, exchange in ordered_exchanges(exchanges):
            pairs.extend(exchange_pairs(key, exchange))
        topic = ctx.path.name.split(".")[0]
        user_id = f"prefeval-{topic}-{index}"
        source, synthetic = ctx.source("prefeval"), ctx.synthetic(True)
        meta = scalar_meta(obj, skip=("persona", "preference"))
        meta["topic"] = topic
        conv = ctx.conversation(ctx.turns(pairs), id=user_id, user_id=user_id, source=source,
                                synthetic=synthetic, meta=meta)
        attributes = []
        persona = obj.get("persona")
        if isinstance(persona, str) and persona.strip():
            attributes.append(attribute(f"{user_id}-persona", f"The user is {persona.strip()}", category="persona",
                                        value=persona.strip(), reason="PrefEval persona"))
        preference = obj.get("preference")
        if isinstance(preference, str) and preference.strip():
            attributes.append(attribute(f"{user_id}-preference", f'The user states: "{preference.strip()}"',
                                        category="preference", value=preference.strip(), stability="stable",
                                        reason="PrefEval preference, disclosed implicitly in the conversation"))
        return [UserHistory(user_id=user_id, source=source, synthetic=synthetic,
                            conversations=[conv] if conv else [], attributes=attributes)]
