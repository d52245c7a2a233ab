"""The corpus formats synthgap reads, in the order auto-detection tries them."""

from __future__ import annotations

from ..base import Format
from ..problems import CorpusError
from .convai2 import ConvAI2
from .native import Native
from .openai import OpenAIMessages
from .persuasion import PersuasionForGood
from .prefeval import PrefEval
from .relevance import RelevanceJudgments
from .sharegpt import ShareGPT
from .synthetic_persona_chat import SyntheticPersonaChat
from .user_histories import UserHistories
from .wildchat import WildChat

# JSON formats, most specific first (native and user-histories before the looser shapes).
JSON_FORMATS: list[Format] = [Native(), UserHistories(), RelevanceJudgments(), PrefEval(), ShareGPT(), OpenAIMessages(),
                              ConvAI2(), WildChat()]
CSV_FORMATS: list[Format] = [PersuasionForGood(), SyntheticPersonaChat()]
FORMATS: dict[str, Format] = {f.name: f for f in JSON_FORMATS + CSV_FORMATS}
ALIASES = {"recenter": "user-histories", "user_histories": "user-histories", "lmsys": "wildchat",
           "messages": "openai", "pfg": "persuasionforgood", "persuasion": "persuasionforgood",
           "spc": "synthetic-persona-chat", "synthetic_persona_chat": "synthetic-persona-chat"}
# Formats whose records carry user-level data (attributes, grouping): written as UserHistory.
USER_LEVEL = {"user-histories", "relevance", "persuasionforgood", "synthetic-persona-chat", "prefeval", "convai2"}


def get_format(name: str) -> Format:
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in FORMATS:
        raise CorpusError(f"unknown format {name!r}; known formats: {', '.join(FORMATS)}")
    return FORMATS[key]
