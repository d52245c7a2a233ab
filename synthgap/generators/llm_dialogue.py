"""LLM conversations: a model plays the user from a persona, a model (the same or another) the assistant.

Each conversation is planned first, deterministically from the seed, persona and index: an
intent (the template library's intents and their descriptions), which persona attributes to
disclose, in which user turn, and how (explicitly, implicitly, or not at all). The user model
is told exactly that through the `user_turn` prompt, and the conversation records what it was
told. Generation is batch-first: a batch of conversations advances turn by turn, and every
user turn (then every assistant turn) of the batch goes to the engine in one call.

Ground truth is checked where it can be: an explicit disclosure is looked up in the text and
recorded with its exact span, or listed as missed; an implicit one cannot be checked by string
and is recorded as instructed, with the whole turn as its span.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from ..errors import SynthgapError
from ..llm.prompts import PromptLibrary
from ..llm.requests import Request, Response
from ..llm.structured_run import FailureLog
from ..personas.statements import second_person
from ..personas.taxonomy import Taxonomy
from ..records import Conversation, Disclosure, Persona, Turn, build
from .disclosure import Disclosable, entries, render
from .template import DisclosurePool, Intent, TemplateLibrary
from ..seeds import derive_seed, seeded_random

DisclosureMode = Literal["explicit", "implicit", "mixed", "none"]
RealismLevel = Literal["clean", "casual", "messy"]

STYLES: dict[str, str] = {
    "clean": "write in plain, correct English, one to three sentences.",
    "casual": "write like a real person typing into a chat box: usually one or two short sentences, informal, "
              "lowercase and small typos are fine. Do not introduce yourself with a list of facts.",
    "messy": "very short and sloppy, like a quick text message: lowercase, typos, missing punctuation, "
             "abbreviations.",
}
NO_OPENER = " Do not start with \"As a ...\"."
# "As a 34-year-old nurse, ..." / "As an engineer ..." at the start of a message: the persona-dump opener.
OPENER = re.compile(r"^\W*as an?\s+(?:\d+[- ]?(?:year|yr)s?[- ]?old\b|[a-z][\w-]*\b)", re.I)
_LABEL = re.compile(r"^\s*(?:\*\*)?(?:user|you|me|message|person|human|customer|reply|response)\s*"
                    r"(?::\s*\*\*|\*\*\s*:|:)\s*", re.I)
_NEXT_SPEAKER = re.compile(r"\n\s*(?:\*\*)?(?:assistant|ai|user|you|human|bot)\s*(?::|\*\*\s*:)", re.I)
_QUOTES = ('"', "'", "“", "”", "`")


class LLMGenerationConfig(BaseModel):
    """Everything that decides the conversations (its fingerprint, with the models', decides resuming)."""

    model_config = ConfigDict(extra="forbid")

    per_persona: int = Field(2, ge=1, description="conversations per persona")
    turns: int = Field(2, ge=1, le=20, description="user turns per conversation (each gets an assistant reply)")
    disclosure: DisclosureMode = "mixed"
    disclosures: tuple[int, int] = Field((1, 2), description="attributes disclosed per conversation (min, max)")
    intents: Optional[list[str]] = Field(None, description="intents to use (None = all)")
    realism: RealismLevel = "casual"
    allow_openers: bool = Field(False, description="allow 'As a 34-year-old nurse, ...' openers")
    persona_context: Literal["plan", "all"] = Field(
        "plan", description="plan: the user model sees only the attributes it is to disclose (so the ground "
                            "truth is complete); all: every attribute and the description")
    user_max_tokens: int = Field(96, ge=8)
    assistant_max_tokens: int = Field(160, ge=8)
    assistant_words: int = Field(80, ge=5, description="word limit the assistant is asked to keep to")
    temperature: float = Field(0.8, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    retries: int = Field(2, ge=0, description="new tries (new seed) for an empty or unusable turn")
    seed: int = 0
    source: str = "synthgap-llm"


@dataclass
class PlannedDisclosure:
    attribute_id: str
    statement: str
    value: Any
    style: str
    turn: int
    example: Optional[str]
    surfaces: tuple[str, ...]  # texts whose presence verifies an explicit disclosure (empty: not checkable)

    def told(self) -> dict:
        return {"attribute_id": self.attribute_id, "statement": self.statement, "style": self.style,
                "turn": self.turn, "example": self.example}


@dataclass
class _Convo:
    persona: Persona
    k: int
    intent: Intent
    plan: list[PlannedDisclosure]
    turns: list[Turn] = field(default_factory=list)
    failed: Optional[dict] = None
    openers: int = 0
    retries: int = 0
    truncated: int = 0

    @property
    def id(self) -> str:
        return f"{self.persona.id}-c{self.k}"


def clean_user_turn(text: str) -> str:
    """The message itself: no speaker label, no wrapping quotes, nothing after the model starts the next speaker."""
    text = _LABEL.sub("", (text or "").strip(), count=1).strip()
    cut = _NEXT_SPEAKER.search(text)
    if cut:
        text = text[:cut.start()].strip()
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return re.sub(r"[ \t]+", " ", text)


def clean_assistant_turn(text: str) -> str:
    text = (text or "").strip()
    return re.sub(r"^\s*(?:assistant|ai)\s*:\s*", "", text, count=1, flags=re.I).strip()


def trim_unfinished(text: str) -> str:
    """A message cut off by the token limit, back to its last complete sentence (when that keeps a third of it)."""
    ends = [m.end() for m in re.finditer(r"[.!?…](?:[\"')\]]*)(?=\s|$)", text)]
    if ends and ends[-1] >= len(text) / 3:
        return text[:ends[-1]].strip()
    return text.strip()


def find_surface(text: str, surfaces: Iterable[str]) -> Optional[tuple[int, int]]:
    """Span of the first surface found as whole words (case-insensitive), or None."""
    for surface in surfaces:
        if not surface:
            continue
        m = re.search(rf"(?<!\w){re.escape(surface)}(?!\w)", text, re.I)
        if m:
            return m.span()
    return None


class LLMConversationGenerator:
    """Persona-driven conversations from a user backend and an assistant backend (see module docstring).

    Backends are anything with `generate(list[Request]) -> list[Response]` (a Backend, or one
    behind the request cache). `log` receives failed conversations and stops a run whose
    failure rate passes its limit.
    """

    def __init__(self, user_backend, taxonomy: Taxonomy, config: Optional[LLMGenerationConfig] = None, *,
                 assistant_backend=None, prompts: Optional[PromptLibrary] = None,
                 library: Optional[TemplateLibrary] = None, log: Optional[FailureLog] = None):
        self.user = user_backend
        self.assistant = assistant_backend or user_backend
        self.taxonomy = taxonomy
        self.config = config or LLMGenerationConfig()
        self.prompts = prompts or PromptLibrary()
        self.log = log if log is not None else FailureLog()
        self.log.unit = "conversations"
        library = library or TemplateLibrary()
        names = self.config.intents or list(library.intents)
        unknown = [n for n in names if n not in library.intents]
        if unknown:
            raise SynthgapError(f"unknown intent {unknown[0]!r} (known: {', '.join(sorted(library.intents))})")
        self.intents = [library.intents[n] for n in names if library.intents[n].weight > 0]
        if not self.intents:
            raise SynthgapError("no intent with a positive weight to generate from")
        lo, hi = self.config.disclosures
        if lo < 0 or hi < lo:
            raise SynthgapError(f"disclosures per conversation: bad range {lo}-{hi}")
        mode = self.config.disclosure
        self._styles = () if mode == "none" else ("explicit", "implicit") if mode == "mixed" else (mode,)
        self._lookups: dict = {}
        self.stats = {"user_turns": 0, "assistant_turns": 0, "retries": 0, "openers": 0, "truncated": 0,
                      "explicit_planned": 0, "explicit_found": 0, "explicit_unchecked": 0, "implicit_planned": 0,
                      "failed": 0, "prompt_tokens": 0, "completion_tokens": 0}

    # -- planning -------------------------------------------------------------------------------

    def plan(self, persona: Persona, k: int) -> _Convo:
        """Conversation k of a persona: intent and disclosures (deterministic in seed, persona id and k)."""
        cfg = self.config
        rng = seeded_random(cfg.seed, persona.id, k, "llm")
        intent = rng.choices(self.intents, weights=[i.weight for i in self.intents])[0]
        planned: list[PlannedDisclosure] = []
        want = rng.randint(*cfg.disclosures)
        if self._styles and want:
            known = DisclosurePool(entries(persona, self.taxonomy, self._lookups), self._styles)
            chosen: list = known.choose(intent, want, rng) if known.items else []
            # Attributes the taxonomy has no sentences for (e.g. preferences added by enrichment) can
            # still be disclosed by an LLM: it is told the statement, without an example.
            covered = {a.id for a in persona.attributes if a.id in self.taxonomy.attributes}
            free = [a for a in persona.attributes if a.id not in covered and a.statement]
            while free and len(chosen) < want and rng.random() < len(free) / (len(free) + len(known.items) + 1):
                chosen.append(free.pop(rng.randrange(len(free))))
            for index, item in enumerate(chosen):
                planned.append(self._planned(item, persona, rng, index))
        return _Convo(persona, k, intent, planned)

    def _planned(self, item, persona: Persona, rng: random.Random, index: int) -> PlannedDisclosure:
        turns = self.config.turns
        turn = 0 if turns == 1 or rng.random() < 0.5 else rng.randrange(turns)
        if isinstance(item, Disclosable):
            usable = [s for s in self._styles if item.can(s)]
            style = usable[0] if len(usable) == 1 else rng.choice(usable)
            segments, _ = render(item, style, persona, rng, index, ending=True)
            example = "".join(s.text for s in segments).strip()
            example = example[:1].upper() + example[1:]
            surfaces = item.surfaces() if style == "explicit" else ()
            return PlannedDisclosure(item.key, item.attribute.statement, item.attribute.value, style, turn, example,
                                     tuple(surfaces))
        style = rng.choice(self._styles)
        return PlannedDisclosure(item.id, item.statement, item.value, style, turn, None, ())

    # -- generation -----------------------------------------------------------------------------

    def conversations(self, personas: Iterable[Persona], skip: Optional[set] = None,
                      batch: int = 8) -> Iterator[list[tuple[str, Optional[Conversation]]]]:
        """Batches of (conversation id, conversation or None when it failed), in plan order.

        `skip`: ids already written (or already failed) by an earlier run, which are not redone.
        """
        skip = skip or set()
        pending: list[_Convo] = []
        for persona in personas:
            for k in range(self.config.per_persona):
                if f"{persona.id}-c{k}" in skip:
                    continue
                pending.append(self.plan(persona, k))
                if len(pending) >= batch:
                    yield self.run_batch(pending)
                    pending = []
        if pending:
            yield self.run_batch(pending)

    def run_batch(self, convos: list[_Convo]) -> list[tuple[str, Optional[Conversation]]]:
        """Advance every conversation of the batch turn by turn; failures go to the log."""
        for t in range(self.config.turns):
            self._step(convos, t, "user")
            self._step(convos, t, "assistant")
        out = []
        for c in convos:
            if c.failed:
                self.stats["failed"] += 1
                self.log.record({"conversation_id": c.id, "persona_id": c.persona.id, **c.failed})
                out.append((c.id, None))
            else:
                out.append((c.id, self._finish(c)))
        self.log.done += len(convos)
        self.log.check()
        return out

    def _request(self, c: _Convo, t: int, role: str, attempt: int) -> Request:
        cfg = self.config
        seed = derive_seed(cfg.seed, c.id, t, role, attempt, bits=31)
        if role == "user":
            content = self.prompts.render("user_turn", **self._user_variables(c, t))
            messages = ({"role": "user", "content": content},)
            return Request(messages, cfg.user_max_tokens, cfg.temperature, cfg.top_p, seed)
        system = self.prompts.render("assistant_system", max_words=cfg.assistant_words, topic=c.intent.description,
                                     persona=None)
        messages = ({"role": "system", "content": system},
                    *({"role": turn.role, "content": turn.content} for turn in c.turns))
        return Request(messages, cfg.assistant_max_tokens, cfg.temperature, cfg.top_p, seed)

    def _user_variables(self, c: _Convo, t: int) -> dict:
        cfg = self.config
        now = [d for d in c.plan if d.turn == t]
        if cfg.persona_context == "all":
            facts = [second_person(a.statement) for a in c.persona.attributes if a.statement]
            if c.persona.description:
                facts.append(c.persona.description)
        else:  # only what has been or is now to be disclosed, so that nothing else leaks
            facts = [second_person(d.statement) for d in c.plan if d.turn <= t]
        style = STYLES[cfg.realism] + ("" if cfg.allow_openers else NO_OPENER)
        disclose = [{"style": d.style, "fact": second_person(d.statement), "example": d.example,
                     "attribute_id": d.attribute_id} for d in now]
        return {"facts": facts, "topic": c.intent.description or c.intent.name.replace("_", " "),
                "intent": c.intent.name, "disclose": disclose, "style": style, "realism": cfg.realism,
                "turn": t, "turns": cfg.turns, "history": [{"role": x.role, "content": x.content} for x in c.turns],
                "name": c.persona.name, "locale": c.persona.locale}

    def _step(self, convos: list[_Convo], t: int, role: str) -> None:
        """One turn of `role` for every live conversation: one engine call per attempt."""
        backend = self.user if role == "user" else self.assistant
        todo = [c for c in convos if not c.failed]
        accepted: dict[int, str] = {}
        last: dict[int, tuple[str, str]] = {}
        soft: dict[int, str] = {}
        for attempt in range(self.config.retries + 1):
            if not todo:
                break
            answers = backend.generate([self._request(c, t, role, attempt) for c in todo])
            again = []
            for c, answer in zip(todo, answers):
                self._count(answer)
                if attempt:
                    c.retries += 1
                    self.stats["retries"] += 1
                text = clean_user_turn(answer.text) if role == "user" else clean_assistant_turn(answer.text)
                if answer.finish_reason == "length":
                    text = trim_unfinished(text)
                problem = self._problem(text, role)
                if problem is None and role == "user" and not self.config.allow_openers and OPENER.match(text):
                    soft[id(c)] = text  # usable, but try for one without the persona-dump opener
                    problem = "persona opener"
                if problem is None:
                    accepted[id(c)] = text
                    if answer.finish_reason == "length":
                        c.truncated += 1
                        self.stats["truncated"] += 1
                else:
                    last[id(c)] = (problem, answer.text)
                    again.append(c)
            todo = again
        for c in convos:
            if c.failed:
                continue
            text = accepted.get(id(c))
            if text is None and id(c) in soft:
                text = soft[id(c)]
                c.openers += 1
                self.stats["openers"] += 1
            if text is None:
                problem, raw = last[id(c)]
                c.failed = {"turn": len(c.turns), "role": role, "error": problem, "raw": raw,
                            "attempts": self.config.retries + 1}
                continue
            c.turns.append(build(Turn, role=role, content=text))
            self.stats[f"{role}_turns"] += 1

    def _problem(self, text: str, role: str) -> Optional[str]:
        if not text.strip():
            return "empty message"
        if not any(ch.isalnum() for ch in text):
            return "no words in the message"
        return None

    def _count(self, answer: Response) -> None:
        if not answer.cached:
            self.stats["prompt_tokens"] += answer.prompt_tokens
            self.stats["completion_tokens"] += answer.completion_tokens

    def _finish(self, c: _Convo) -> Conversation:
        disclosures: list[Disclosure] = []
        missed = []
        for d in c.plan:
            user_turns = [i for i, turn in enumerate(c.turns) if turn.role == "user"]
            planned_index = user_turns[min(d.turn, len(user_turns) - 1)]
            if d.style == "explicit":
                self.stats["explicit_planned"] += 1
                if not d.surfaces:
                    self.stats["explicit_unchecked"] += 1
                    disclosures.append(build(Disclosure, attribute_id=d.attribute_id, turn=planned_index,
                                             style="explicit", span=(0, len(c.turns[planned_index].content))))
                    continue
                # The planned turn first, then any other user turn (models sometimes say it early or late).
                order = [planned_index] + [i for i in user_turns if i != planned_index]
                found = next(((i, s) for i in order if (s := find_surface(c.turns[i].content, d.surfaces))), None)
                if found is None:
                    missed.append(d.attribute_id)
                    continue
                self.stats["explicit_found"] += 1
                disclosures.append(build(Disclosure, attribute_id=d.attribute_id, turn=found[0], style="explicit",
                                         span=found[1]))
            else:
                self.stats["implicit_planned"] += 1
                disclosures.append(build(Disclosure, attribute_id=d.attribute_id, turn=planned_index,
                                         style="implicit", span=(0, len(c.turns[planned_index].content))))
        meta: dict[str, Any] = {
            "generator": "llm", "intent": c.intent.name, "seed": self.config.seed, "k": c.k,
            "told": [d.told() for d in c.plan],
            "disclosed": {d.attribute_id: d.value for d in c.plan if d.attribute_id not in missed},
            "persona_context": self.config.persona_context,
            "user_model": getattr(getattr(self.user, "backend", self.user), "model_identity", None),
            "assistant_model": getattr(getattr(self.assistant, "backend", self.assistant), "model_identity", None),
        }
        if missed:
            meta["missed"] = missed
        for key in ("openers", "retries", "truncated"):
            if getattr(c, key):
                meta[key] = getattr(c, key)
        return build(Conversation, id=c.id, user_id=c.persona.id, source=self.config.source, synthetic=True,
                     turns=c.turns, persona_id=c.persona.id, disclosures=sorted(disclosures, key=lambda d: d.turn),
                     meta=meta)


__all__ = ["LLMConversationGenerator", "LLMGenerationConfig", "OPENER", "PlannedDisclosure", "clean_user_turn",
           "find_surface", "trim_unfinished"]
