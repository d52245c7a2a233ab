"""LLM extractor, the protocol of the 2026 real-vs-synthetic personalization study: per user
history, the model returns "The user ..." statements with a reason, a confidence (0-1) and the
ids of the turns that support them (JSON schema); statements under a confidence threshold are
dropped and near-duplicates are merged by agglomerative clustering of their embeddings.

Any backend works (llama.cpp, an OpenAI-compatible server, vLLM). A long history is cut into
windows of whole user turns that fit `max_chars`; every window is one request, all windows of
all users go to the backend in one batch, and the merge runs over the user's whole history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from ..records import Attribute, Evidence, UserHistory
from .rules import category_of, user_turns

PROMPT = "extract_attributes"


@dataclass
class LLMExtractConfig:
    """Everything that decides the extracted attributes (it is fingerprinted)."""
    confidence_threshold: float = 0.4
    merge_threshold: float = 0.7  # cosine similarity at which two statements of one user are one attribute
    max_attributes: int = 12  # per window
    max_chars: int = 6000  # user text per window
    turn_chars: int = 1500  # one turn is cut here
    max_tokens: int = 900
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    retries: int = 2

    def validate(self) -> None:
        from ..errors import SynthgapError

        if not 0 <= self.confidence_threshold <= 1:
            raise SynthgapError(f"confidence threshold must be in [0, 1], got {self.confidence_threshold}")
        if not 0 < self.merge_threshold <= 1:
            raise SynthgapError(f"merge threshold must be in (0, 1], got {self.merge_threshold}")
        if self.turn_chars > self.max_chars:
            raise SynthgapError("turn_chars must not exceed max_chars")


def extraction_schema(max_attributes: int) -> dict:
    item = {"type": "object", "additionalProperties": False,
            "properties": {"statement": {"type": "string", "minLength": 10, "maxLength": 300},
                           "reason": {"type": "string", "maxLength": 400},
                           "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                           "evidence": {"type": "array", "items": {"type": "string"}, "maxItems": 10}},
            "required": ["statement", "reason", "confidence", "evidence"]}
    return {"type": "object", "additionalProperties": False,
            "properties": {"attributes": {"type": "array", "items": item, "maxItems": max_attributes}},
            "required": ["attributes"]}


@dataclass(frozen=True)
class WindowTurn:
    id: str  # what the model sees: T1, T2, ...
    conversation_id: str
    turn: int
    text: str


def windows(history: UserHistory, max_chars: int, turn_chars: int) -> list[list[WindowTurn]]:
    """The history's user turns in order, cut into windows of at most `max_chars` characters."""
    out: list[list[WindowTurn]] = []
    current: list[WindowTurn] = []
    size = 0
    for conv_id, turn, text in user_turns(history):
        text = text.strip()[:turn_chars]
        if current and size + len(text) > max_chars:
            out.append(current)
            current, size = [], 0
        current.append(WindowTurn(f"T{len(current) + 1}", conv_id, turn, text))
        size += len(text)
    if current:
        out.append(current)
    return out


_EMPTY_WORDS = {"the", "user", "is", "a", "an", "person", "human", "someone", "who", "individual", "people", "being",
                "somebody", "they", "likes", "has", "with", "and", "of"}


def vague(statement: str) -> bool:
    """A statement with no content beyond "The user is a person" (or a copied placeholder "The user ...")."""
    if "..." in statement or "…" in statement:
        return True
    return not (set(re.findall(r"[a-z']+", statement.lower())) - _EMPTY_WORDS)


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def merge_statements(items: list[dict], embed: Optional[Callable[[list[str]], np.ndarray]],
                     threshold: float) -> list[dict]:
    """Near-duplicates as one item: average-linkage agglomerative clustering on cosine distance, cut
    at 1 - threshold; the most confident statement of a cluster stands for it, evidence is pooled.
    Without `embed` only identical statements (ignoring case and punctuation) merge."""
    if not items:
        return []
    if embed is None or len(items) == 1:
        labels = []
        seen: dict[str, int] = {}
        for it in items:
            labels.append(seen.setdefault(_norm(it["statement"]), len(seen)))
    else:
        from sklearn.cluster import AgglomerativeClustering

        vectors = np.asarray(embed([it["statement"] for it in items]), dtype=float)
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        labels = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                         distance_threshold=1 - threshold).fit(vectors).labels_.tolist()
    clusters: dict[int, list[dict]] = {}
    for label, it in zip(labels, items):
        clusters.setdefault(label, []).append(it)
    merged = []
    for members in sorted(clusters.values(), key=lambda m: min(items.index(x) for x in m)):
        best = max(members, key=lambda x: (x["confidence"], -items.index(x)))
        evidence = []
        for m in members:
            for ev in m["evidence"]:
                if ev not in evidence:
                    evidence.append(ev)
        merged.append({**best, "evidence": evidence,
                       "merged": [m["statement"] for m in members if m is not best],
                       "confidences": [m["confidence"] for m in members]})
    return merged


class LLMExtractor:
    """Extract attributes of many histories through one backend, batch-first (see module docstring)."""

    name = "llm"

    def __init__(self, backend, config: Optional[LLMExtractConfig] = None, prompts=None,
                 embed: Optional[Callable[[list[str]], np.ndarray]] = None, log=None):
        from ..llm.prompts import PromptLibrary
        from ..llm.structured_run import FailureLog

        self.backend = backend
        self.config = config or LLMExtractConfig()
        self.config.validate()
        self.prompts = prompts or PromptLibrary()
        self.embed = embed
        self.log = log if log is not None else FailureLog()
        self.log.unit = "windows"
        self.schema = extraction_schema(self.config.max_attributes)
        self.stats = {"windows": 0, "failed_windows": 0, "raw": 0, "below_threshold": 0, "merged_away": 0,
                      "kept": 0, "bad_evidence_ids": 0, "retried": 0}

    def request(self, user_id: str, k: int, window: list[WindowTurn]):
        from ..seeds import derive_seed
        from ..llm.requests import Request

        cfg = self.config
        prompt = self.prompts.render(PROMPT, turns=window, max_attributes=cfg.max_attributes)
        return Request(({"role": "user", "content": prompt},), cfg.max_tokens, cfg.temperature, cfg.top_p,
                       derive_seed(cfg.seed, user_id, k, "extract", bits=31))

    def extract(self, histories: Sequence[UserHistory]) -> list[list[Attribute]]:
        """Attributes per history, in order (empty for a history without user text)."""
        from ..llm.structured_run import generate_structured

        cfg = self.config
        jobs = [(h, k, w) for h, hist in enumerate(histories)
                for k, w in enumerate(windows(hist, cfg.max_chars, cfg.turn_chars))]

        def validate(i: int, value) -> Optional[str]:
            ids = {t.id for t in jobs[i][2]}
            for item in value.get("attributes", []):
                if not item["statement"].strip().startswith("The user"):
                    return f"every statement must start with \"The user\", not {item['statement'][:40]!r}"
                if vague(item["statement"]):
                    return (f"{item['statement']!r} says nothing specific: name the detail the messages show, "
                            "or leave the statement out")
                unknown = [e for e in item["evidence"] if e not in ids]
                if unknown:
                    return f"evidence ids must be among {', '.join(sorted(ids))}; unknown: {', '.join(unknown[:5])}"
            return None

        requests = [self.request(histories[h].user_id, k, w) for h, k, w in jobs]
        result = generate_structured(self.backend, requests, self.schema, retries=cfg.retries, log=self.log,
                                     context=[{"user_id": histories[h].user_id, "window": k} for h, k, _ in jobs],
                                     validate=validate)
        self.stats["windows"] += len(jobs)
        self.stats["failed_windows"] += result.failures
        self.stats["retried"] += sum(1 for a in result.attempts if a > 1)
        per: list[list[dict]] = [[] for _ in histories]
        for (h, k, window), value in zip(jobs, result.values):
            if value is None:
                continue
            by_id = {t.id: t for t in window}
            for item in value["attributes"]:
                self.stats["raw"] += 1
                if item["confidence"] < cfg.confidence_threshold:
                    self.stats["below_threshold"] += 1
                    continue
                evidence = [(by_id[e].conversation_id, by_id[e].turn) for e in item["evidence"] if e in by_id]
                per[h].append({"statement": " ".join(item["statement"].split()),
                               "reason": item["reason"].strip() or None,
                               "confidence": float(item["confidence"]), "evidence": evidence})
        out = []
        for items in per:
            merged = merge_statements(items, self.embed, cfg.merge_threshold)
            self.stats["merged_away"] += len(items) - len(merged)
            self.stats["kept"] += len(merged)
            out.append([Attribute(id=f"llm-{n}", statement=m["statement"], category=category_of(m["statement"]),
                                  confidence=round(m["confidence"], 4),
                                  reason=m["reason"],
                                  evidence=[Evidence(conversation_id=c, turn=t) for c, t in m["evidence"]],
                                  meta={"merged": m["merged"], "confidences": m["confidences"]} if m["merged"]
                                  else {})
                        for n, m in enumerate(merged)])
        return out


__all__ = ["LLMExtractConfig", "LLMExtractor", "PROMPT", "WindowTurn", "extraction_schema", "merge_statements",
           "vague", "windows"]
