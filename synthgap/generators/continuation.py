"""Context-matched continuation: a user simulator writes the user's turn k of a real conversation from
the real turns before it, so every simulated turn has a real twin with the same context.

Sampling (deterministic in the seed; the same seed gives the same bytes):

- A conversation is *eligible* when it has at least one user turn after a first exchange (a user
  turn, then an assistant turn). Among the eligible ones, `conversations` are drawn without
  replacement: each is ranked by `derive_seed(seed, conversation id, "continue")` and the lowest
  ranks are kept (a uniform draw that reads the corpus once, holds only the sample, does not
  depend on file order, and grows by inclusion: the draw of 10 holds the draw of 5). A
  conversation whose id repeats a sampled one's is ignored. The sample is written in corpus order.
- A *position* is an index k into the conversation's turns. Eligible positions: every user turn
  with a first exchange before it (the context holds at least one user and one assistant turn),
  and, when the conversation ends on an assistant turn, k = len(turns): there the real user said
  nothing more, and the twin measures whether the simulator ends the conversation too.
  `positions="one"` takes one of them per conversation (`seeded_random(seed, conversation id,
  "continue:position")`), `"all"` takes every one.

The simulator sees the turns before k (the last `context_turns`, at most `context_chars`
characters; longer turns are shortened in the middle; system turns are not shown) in the
`continue_user` prompt, as a transcript. Its answer is cleaned like a `generate llm` user turn;
an answer that is (or starts with) the end marker `<END>` (also `[END]`, `<end>`, or a bare
`END`) means the simulated user stops; text before a marker is the message. Empty or wordless
answers, and answers written as the assistant, are asked again with a new seed (`retries`); a
copy of an earlier message is asked again too, and kept (counted) when no try gives anything better.

Output: one `Conversation` per twin. A twin whose simulator wrote a message has `turns` = [that
user turn]: the file holds only simulated user text, so `compare --synthetic OUT.jsonl` reads it
as it is. A twin whose simulator ended has no turns; synthgap's readers refuse a conversation
without turns by default (a bad record, "no turns"), so those twins go to `OUT.ended.jsonl`
(`ended_path`), same record shape with `turns` = []. `read_twins` gives both files' twins, for
pairing with the real corpus by meta["continuation"] (conversation_id, turn_index). Each record:
id "<real conversation id>@<turn_index>", user_id "sim:<real user id>", meta["continuation"] =
{corpus, conversation_id, user_id, turn_index, user_turn, context_turns, real_turn, real_ended,
simulated_ended} (see docs/generation.md, "Context-matched continuation").
"""

from __future__ import annotations

import heapq
import json
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from ..llm.prompts import PromptLibrary
from ..llm.requests import Request, Response
from ..llm.structured_run import FailureLog
from ..records import Conversation, Turn, build
from ..seeds import derive_seed, seeded_random
from .llm_dialogue import clean_user_turn, trim_unfinished

END_MARKER = "<END>"
# The end marker as small models write it: <END>, [END], < end >; a bare "END" counts only as the whole answer.
_MARKER = re.compile(r"[<\[]\s*end\s*[>\]]", re.I)
_BARE_END = re.compile(r"^\W*end\W*$", re.I)
_AS_ASSISTANT = re.compile(r"^\W*(?:assistant|ai|bot|chatbot)\s*:", re.I)
ELIDED = " […] "


class ContinuationConfig(BaseModel):
    """Everything that decides the twins (its fingerprint, with the model's and the sample's, decides resuming)."""

    model_config = ConfigDict(extra="forbid")

    conversations: int = Field(50, ge=1, description="real conversations drawn")
    positions: Literal["one", "all"] = Field("one", description="one eligible position per conversation, or all")
    context_turns: int = Field(10, ge=2, description="at most this many real turns before the position are shown")
    context_chars: int = Field(4000, ge=200, description="at most this many characters of context are shown")
    max_tokens: int = Field(128, ge=8)
    temperature: float = Field(0.8, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    retries: int = Field(2, ge=0, description="new tries (new seed) for an empty or unusable answer")
    seed: int = 0
    source: str = "synthgap-continue"


@dataclass
class Twin:
    """One position of one real conversation: the simulated turn k and what it is compared with."""

    conversation: Conversation
    turn_index: int  # index in conversation.turns of the replaced user turn (= len(context))
    shown: list[dict] = field(default_factory=list)  # the context turns the simulator sees
    context_turns: int = 0  # real turns just before turn_index that the shown context covers
    text: Optional[str] = None
    ended: bool = False
    failed: Optional[dict] = None
    retries: int = 0
    truncated: int = 0
    copied: int = 0

    @property
    def id(self) -> str:
        return f"{self.conversation.id}@{self.turn_index}"

    @property
    def real_ended(self) -> bool:
        return self.turn_index == len(self.conversation.turns)

    @property
    def real_turn(self) -> Optional[str]:
        return None if self.real_ended else self.conversation.turns[self.turn_index].content

    @property
    def user_turn(self) -> int:
        """The replaced turn's ordinal among the conversation's user turns (the next one when the user ended)."""
        return sum(t.role == "user" for t in self.conversation.turns[:self.turn_index])


# -- sampling ------------------------------------------------------------------------------------

def eligible_positions(conversation: Conversation) -> list[int]:
    """Turn indices a twin can replace (see the module docstring); [] when the conversation is not eligible."""
    turns, out = conversation.turns, []
    seen_user = exchange = False
    for i, turn in enumerate(turns):
        if turn.role == "user":
            if exchange:
                out.append(i)
            seen_user = True
        elif turn.role == "assistant" and seen_user:
            exchange = True
    if out and turns[-1].role == "assistant":
        out.append(len(turns))
    return out


def draw_conversations(conversations: Iterable[Conversation], n: int, seed: int,
                       stats: Optional[dict] = None) -> list[Conversation]:
    """The n eligible conversations of lowest seeded rank (uniform, without replacement), in corpus order."""
    heap: list[tuple[int, int, Conversation]] = []  # (-rank, -order, conversation): a max-heap of the kept ones
    kept: set[str] = set()
    counts = {"read": 0, "eligible": 0, "duplicate_ids": 0}
    for order, conv in enumerate(conversations):
        counts["read"] += 1
        if not eligible_positions(conv):
            continue
        counts["eligible"] += 1
        if conv.id in kept:
            counts["duplicate_ids"] += 1
            continue
        item = (-derive_seed(seed, conv.id, "continue"), -order, conv)
        if len(heap) < n:
            heapq.heappush(heap, item)
            kept.add(conv.id)
        elif item[:2] > heap[0][:2]:
            kept.discard(heapq.heapreplace(heap, item)[2].id)
            kept.add(conv.id)
    if stats is not None:
        stats.update(counts)
    return [conv for _, _, conv in sorted(heap, key=lambda x: -x[1])]


def choose_positions(conversation: Conversation, config: ContinuationConfig) -> list[int]:
    """The positions twinned in a sampled conversation: one seeded choice, or all of them."""
    positions = eligible_positions(conversation)
    if config.positions == "all":
        return positions
    return [seeded_random(config.seed, conversation.id, "continue:position").choice(positions)]


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters by eliding its middle (its start and end both matter)."""
    if len(text) <= limit:
        return text
    keep = max(limit - len(ELIDED), 2)
    return text[:keep - keep // 2].rstrip() + ELIDED + text[len(text) - keep // 2:].lstrip()


def build_context(conversation: Conversation, k: int, config: ContinuationConfig) -> tuple[list[dict], int]:
    """The turns before k the simulator sees (the last `context_turns`, shortened to `context_chars`
    from the oldest on, each turn at most half the budget), and how many real turns they cover."""
    start = max(0, k - config.context_turns)
    window = [{"role": t.role, "content": shorten(t.content, config.context_chars // 2)}
              for t in conversation.turns[start:k]]
    while len(window) > 1 and sum(len(t["content"]) for t in window) > config.context_chars:
        window.pop(0)
        start += 1
    return [t for t in window if t["role"] != "system"], k - start


def sample_twins(conversations: Iterable[Conversation], config: ContinuationConfig,
                 stats: Optional[dict] = None) -> list[Twin]:
    """The twins of a run, in corpus order then turn order, each with the context it will be shown."""
    twins = []
    for conv in draw_conversations(conversations, config.conversations, config.seed, stats):
        for k in choose_positions(conv, config):
            shown, covered = build_context(conv, k, config)
            twins.append(Twin(conv, k, shown, covered))
    return twins


def sample_identity(twins: list[Twin]) -> list:
    """What decides the records on the real side: each twin's id, real turn and the context it is shown."""
    return [[t.id, t.conversation.user_id, t.real_turn, t.shown] for t in twins]


# -- answers -------------------------------------------------------------------------------------

def read_answer(raw: str) -> tuple[str, bool]:
    """(the message, whether the simulated user ended): cleaned like a user turn; the text before an end
    marker is the message, and no text before it (or a bare END) means the user stops."""
    text = clean_user_turn(raw)
    if _BARE_END.match(text):
        return "", True
    marker = _MARKER.search(text)
    if marker:
        text = clean_user_turn(text[:marker.start()])
        return text, not text
    return text, False


def typical_words(conversation: Conversation, k: int) -> Optional[int]:
    """The median word count of the user's messages before k (a length hint for the simulator)."""
    counts = [len(t.content.split()) for t in conversation.turns[:k] if t.role == "user" and t.content.strip()]
    return round(statistics.median(counts)) if counts else None


class ContinuationGenerator:
    """Simulated user turns for sampled real positions (see the module docstring), batch-first.

    `backend`: anything with `generate(list[Request]) -> list[Response]`; `corpus`: the real source as
    the user gave it (recorded in each twin); `log` receives failed twins and stops a run whose
    failure rate passes its limit.
    """

    def __init__(self, backend, config: Optional[ContinuationConfig] = None, *, corpus: str = "",
                 prompts: Optional[PromptLibrary] = None, log: Optional[FailureLog] = None):
        self.backend = backend
        self.config = config or ContinuationConfig()
        self.corpus = str(corpus)
        self.prompts = prompts or PromptLibrary()
        self.log = log if log is not None else FailureLog()
        self.log.unit = "twins"
        self.stats = {"answered": 0, "simulated": 0, "simulated_ended": 0, "real_ended": 0, "both_ended": 0,
                      "retries": 0, "truncated": 0, "copied": 0, "failed": 0, "prompt_tokens": 0,
                      "completion_tokens": 0}

    def twins(self, items: list[Twin], skip: Optional[set] = None,
              batch: int = 8) -> Iterator[list[tuple[str, Optional[Conversation]]]]:
        """Batches of (twin id, record or None when it failed), in sampling order; ids in `skip` are not redone."""
        todo = [t for t in items if t.id not in (skip or set())]
        for i in range(0, len(todo), batch):
            yield self.run_batch(todo[i:i + batch])

    def run_batch(self, twins: list[Twin]) -> list[tuple[str, Optional[Conversation]]]:
        """Ask for every twin of the batch (one engine call per attempt); failures go to the log."""
        self._ask(twins)
        out = []
        for t in twins:
            if t.failed:
                self.stats["failed"] += 1
                self.log.record({"conversation_id": t.id, "real_conversation_id": t.conversation.id,
                                 "turn_index": t.turn_index, **t.failed})
                out.append((t.id, None))
            else:
                out.append((t.id, self.record(t)))
        self.log.done += len(twins)
        self.log.check()
        return out

    def request(self, t: Twin, attempt: int) -> Request:
        """The simulator's request for a twin: the `continue_user` prompt, a seed per (twin, attempt)."""
        cfg = self.config
        content = self.prompts.render("continue_user", history=t.shown, omitted=t.turn_index - t.context_turns,
                                      user_words=typical_words(t.conversation, t.turn_index), end_marker=END_MARKER)
        return Request(({"role": "user", "content": content},), cfg.max_tokens, cfg.temperature, cfg.top_p,
                       derive_seed(cfg.seed, t.id, "continue", attempt, bits=31))

    def _ask(self, twins: list[Twin]) -> None:
        """Answers for the batch, asking again (new seed) those whose answer is unusable."""
        todo, last, copies = list(twins), {}, {}
        for attempt in range(self.config.retries + 1):
            if not todo:
                break
            answers = self.backend.generate([self.request(t, attempt) for t in todo])
            again = []
            for t, answer in zip(todo, answers):
                self._count(answer, attempt)
                t.retries += bool(attempt)
                problem = self._accept(t, answer)
                if problem == "copied an earlier message":
                    copies.setdefault(id(t), t.text)
                if problem:
                    last[id(t)] = (problem, answer.text)
                    again.append(t)
            todo = again
        for t in todo:
            if id(t) in copies:  # no try gave anything better than a copy: keep the first copy, counted
                t.text, t.failed, t.copied = copies[id(t)], None, 1
                self.stats["copied"] += 1
            else:
                problem, raw = last[id(t)]
                t.failed = {"error": problem, "raw": raw, "attempts": self.config.retries + 1}

    def _accept(self, t: Twin, answer: Response) -> Optional[str]:
        """Read one answer into the twin; the problem in words when it is not usable."""
        text, ended = read_answer(answer.text)
        if ended:
            t.text, t.ended = None, True
            return None
        if answer.finish_reason == "length":
            text = trim_unfinished(text)
        problem = self._problem(text, t)
        t.text = text
        if problem is None and answer.finish_reason == "length":
            t.truncated += 1
            self.stats["truncated"] += 1
        return problem

    @staticmethod
    def _problem(text: str, t: Twin) -> Optional[str]:
        if not text.strip():
            return "empty message"
        if not any(ch.isalnum() for ch in text):
            return "no words in the message"
        if _AS_ASSISTANT.match(text):
            return "answered as the assistant"
        if any(text.strip().lower() == turn["content"].strip().lower() for turn in t.shown):
            return "copied an earlier message"
        return None

    def _count(self, answer: Response, attempt: int) -> None:
        self.stats["retries"] += bool(attempt)
        if not answer.cached:
            self.stats["prompt_tokens"] += answer.prompt_tokens
            self.stats["completion_tokens"] += answer.completion_tokens

    def record(self, t: Twin) -> Conversation:
        """The twin as a Conversation: the simulated user turn (none when the simulator ended) and provenance."""
        conv = t.conversation
        self.stats["answered"] += 1
        self.stats["simulated_ended" if t.ended else "simulated"] += 1
        self.stats["real_ended"] += t.real_ended
        self.stats["both_ended"] += t.real_ended and t.ended
        meta: dict[str, Any] = {
            "continuation": {"corpus": self.corpus, "conversation_id": conv.id, "user_id": conv.user_id,
                             "turn_index": t.turn_index, "user_turn": t.user_turn, "context_turns": t.context_turns,
                             "real_turn": t.real_turn, "real_ended": t.real_ended, "simulated_ended": t.ended},
            "generator": "continue", "seed": self.config.seed,
            "user_model": getattr(getattr(self.backend, "backend", self.backend), "model_identity", None),
        }
        for key in ("retries", "truncated", "copied"):
            if getattr(t, key):
                meta[key] = getattr(t, key)
        turns = [] if t.ended else [build(Turn, role="user", content=t.text)]
        return build(Conversation, id=t.id, user_id=f"sim:{conv.user_id}", source=self.config.source,
                     synthetic=True, turns=turns, meta=meta)


# -- the two output files ------------------------------------------------------------------------

def ended_path(output: Union[str, Path]) -> Path:
    """Where the twins whose simulator ended the conversation go: OUT.ended.jsonl beside OUT.jsonl."""
    output = Path(output)
    stem = output.name[:-len(".jsonl")] if output.name.endswith(".jsonl") else output.name
    return output.with_name(f"{stem}.ended.jsonl")


def read_twins(output: Union[str, Path]) -> list[dict]:
    """Every twin of a finished run as JSON objects: OUT.jsonl's (each file is in sampling order), then
    OUT.ended.jsonl's. Pair them with the real corpus by meta["continuation"] (conversation_id, turn_index)."""
    found = []
    for path in (Path(output), ended_path(output)):
        if path.exists():
            with open(path, encoding="utf-8") as fh:
                found += [json.loads(line) for line in fh if line.strip()]
    return found


__all__ = ["END_MARKER", "ContinuationConfig", "ContinuationGenerator", "Twin", "build_context",
           "choose_positions", "draw_conversations", "eligible_positions", "ended_path", "read_answer",
           "read_twins", "sample_identity", "sample_twins", "shorten", "typical_words"]
