"""Relevance judgments (stage 2 of the recenter study): is each of a user's attributes relevant to a prompt?

Human files: {user_id, prompt_index, annotator, relevance_judgments: [{attribute, relevant}]}.
LLM files: {model, sample_index, user_id, items: [{attribute, relevant, raw_answer}]}.
Each line becomes a UserHistory without conversations whose attributes carry the judgment in
meta (relevant: true/false/null, judge, judge_kind), ready for agreement measures.
A judgment written as text or a number ("true", "No", 1, 0) is read as true/false; a user id
may be a number.
"""

from __future__ import annotations

from typing import Any, Optional

from ...records import UserHistory
from ..base import Context, Format, attribute, identifier, require, scalar_meta, type_name
from ..problems import BadRecord


JUDGMENT_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False,
                  "null": None, "none": None, "": None}


def judgment(value: Any, where: str) -> Optional[bool]:
    """true, false or null (not judged); the same written as text or 0/1."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in JUDGMENT_WORDS:
        return JUDGMENT_WORDS[value.strip().lower()]
    raise BadRecord("wrong type", f"{where}.relevant must be true, false or null, got {value!r}")


def judgments_of(obj: dict) -> tuple[str, list]:
    key = "relevance_judgments" if "relevance_judgments" in obj else "items"
    return key, require(obj, key, list)


class RelevanceJudgments(Format):
    name = "relevance"
    description = "relevance-judgment JSONL of {user_id, relevance_judgments|items: [{attribute, relevant}]}"

    def detect(self, obj: Any) -> bool:
        if not isinstance(obj, dict) or "user_id" not in obj:
            return False
        items = obj.get("relevance_judgments", obj.get("items") if "model" in obj else None)
        return isinstance(items, list) and (not items or (isinstance(items[0], dict) and "relevant" in items[0]))

    def convert(self, obj: dict, ctx: Context, index: int) -> list[UserHistory]:
        user_id = identifier(obj, "user_id")
        kind = "llm" if "model" in obj else "human"
        judge = str(obj.get("model") or obj.get("annotator") or ctx.path.stem)
        key, items = judgments_of(obj)
        attributes = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise BadRecord("wrong type", f"{key}[{i}] must be an object, got {type_name(item)}")
            statement = item.get("attribute")
            if not isinstance(statement, str) or not statement.strip():
                raise BadRecord("missing field", f"{key}[{i}] has no 'attribute' text")
            relevant = judgment(item.get("relevant"), f"{key}[{i}]")
            meta = {"relevant": relevant, "judge": judge, "judge_kind": kind}
            meta.update({k: v for k, v in item.items() if k not in ("attribute", "relevant")})
            attributes.append(attribute(f"{user_id}-{judge}-{index}-{i}", statement, meta=meta))
        meta = scalar_meta(obj, skip=("user_id",))
        meta.update({"judge": judge, "judge_kind": kind})
        return [UserHistory(user_id=user_id, source=ctx.source("relevance"), synthetic=ctx.synthetic(False),
                            attributes=attributes, meta=meta)]
