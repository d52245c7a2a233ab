"""The LLM judge: any backend (llama.cpp, an OpenAI-compatible server, vLLM) reads a user's messages and one
claim and answers with the label, the evidence's scope and the ids of the messages it relied on (JSON
schema, corrective retries). The prompt (`templates/prompts/verify_claim.j2`, overridable like every
prompt) states the study's definitions: supported as a lasting fact about the user; overgeneralized
when the messages are about someone else, one occasion, or a single mention stretched into a trait;
unsupported when nothing bears on it.

A long history does not fit a small model's context, so the judge shows the `max_turns` user turns
closest to the claim (sentence embeddings), in their order in the history; without an embedder, the
first turns that fit `max_chars`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from ..records import UserHistory
from .claims import LABELS, Claim, Verdict
from .features import user_turns

PROMPT = "verify_claim"
SCOPES = ("stable", "habit", "one-off", "third-party", "none")
SCHEMA = {"type": "object", "additionalProperties": False,
          "properties": {"label": {"type": "string", "enum": list(LABELS)},
                         "scope": {"type": "string", "enum": list(SCOPES)},
                         "evidence": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
                         "reason": {"type": "string", "maxLength": 400}},
          "required": ["label", "scope", "evidence", "reason"]}


@dataclass
class JudgeConfig:
    """Everything that decides the judge's answers (fingerprinted with the model's identity)."""
    max_turns: int = 8
    max_chars: int = 4000
    turn_chars: int = 600
    max_tokens: int = 200
    temperature: float = 0.0
    seed: int = 0
    retries: int = 2


@dataclass
class ShownTurn:
    id: str
    conversation_id: str
    turn: int
    text: str


class LLMJudge:
    """`verify(claims, histories)`: one request per claim, all in one batch; None where the model failed."""

    name = "llm"

    def __init__(self, backend, config: Optional[JudgeConfig] = None, prompts=None,
                 embed: Optional[Callable[[list[str]], np.ndarray]] = None, log=None):
        from ..llm.prompts import PromptLibrary
        from ..llm.structured_run import FailureLog

        self.backend = backend
        self.config = config or JudgeConfig()
        self.prompts = prompts or PromptLibrary()
        self.embed = embed
        self.log = log if log is not None else FailureLog()
        self.log.unit = "claims"
        self.stats = {"claims": 0, "failed": 0, "retried": 0}

    def shown_turns(self, claim: Claim, history: Optional[UserHistory]) -> list[ShownTurn]:
        """The user turns the model sees for one claim (closest to it first chosen, shown in history order)."""
        cfg = self.config
        items = user_turns(history) if history is not None else []
        if self.embed is not None and len(items) > cfg.max_turns:
            vectors = np.asarray(self.embed([claim.statement] + [t for _, t in items]), dtype=np.float64)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            chosen = sorted(np.argsort(-(vectors[1:] @ vectors[0]), kind="stable")[:cfg.max_turns])
            items = [items[i] for i in chosen]
        shown, size = [], 0
        for (conv_id, turn), text in items:
            text = text.strip()[:cfg.turn_chars]
            if shown and (len(shown) >= cfg.max_turns or size + len(text) > cfg.max_chars):
                break
            shown.append(ShownTurn(f"T{len(shown) + 1}", conv_id, turn, text))
            size += len(text)
        return shown

    def verify(self, claims: Sequence[Claim], histories: dict[str, UserHistory]) -> list[Optional[Verdict]]:
        from ..llm.requests import Request
        from ..llm.structured_run import generate_structured
        from ..seeds import derive_seed

        cfg = self.config
        shown = [self.shown_turns(c, histories.get(c.user_id)) for c in claims]
        requests = [Request(({"role": "user", "content": self.prompts.render(PROMPT, turns=turns,
                                                                               claim=c.statement)},),
                            cfg.max_tokens, cfg.temperature, 1.0, derive_seed(cfg.seed, c.user_id, c.statement,
                                                                                "verify", bits=31))
                    for c, turns in zip(claims, shown)]

        def validate(i: int, value) -> Optional[str]:
            ids = {t.id for t in shown[i]}
            unknown = [e for e in value["evidence"] if e not in ids]
            if unknown:
                known = ", ".join(sorted(ids)) or "none"
                return f"evidence ids must be among {known}; unknown: {', '.join(unknown[:5])}"
            return None

        result = generate_structured(self.backend, requests, SCHEMA, retries=cfg.retries, log=self.log,
                                     context=[{"user_id": c.user_id, "claim": c.statement} for c in claims],
                                     validate=validate)
        self.stats["claims"] += len(claims)
        self.stats["failed"] += result.failures
        self.stats["retried"] += sum(1 for a in result.attempts if a > 1)
        out: list[Optional[Verdict]] = []
        for turns, value in zip(shown, result.values):
            if value is None:
                out.append(None)
                continue
            by_id = {t.id: t for t in turns}
            evidence = [] if value["label"] == "unsupported" else [
                (by_id[e].conversation_id, by_id[e].turn) for e in value["evidence"] if e in by_id]
            scope = "none" if value["label"] == "unsupported" else value["scope"]
            out.append(Verdict(label=value["label"], evidence=evidence, scope=scope))
        return out


__all__ = ["JudgeConfig", "LLMJudge", "PROMPT", "SCHEMA", "SCOPES"]
