"""Persona enrichment: an LLM writes a free-text description and extra preferences for a structured
persona, and the answer is checked against the persona before it is kept.

The checks are deliberately narrow, so that they catch contradictions without punishing prose:
an age in the description must be the persona's age, and a value of an exclusive attribute
(gender, home city, occupation, marital status, children, diet, ...) that is not the persona's
must not appear unless the persona's own value does too. The description must mention a few of
the persona's facts, and every preference must be a new "The user ..." statement. A failed
check goes back to the model as a corrective message (structured_run), and what still fails is
written to the failures file and counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional

from pydantic import BaseModel, ConfigDict, Field

from ..llm.prompts import PromptLibrary
from ..llm.requests import Request
from ..llm.structured_run import FailureLog, generate_structured
from ..records import Attribute, Persona, build
from .taxonomy import Taxonomy

# Attributes a person has one value of: naming another value contradicts the persona. Interests,
# hobbies and personality are left out: "likes reading" does not contradict a hobby of gardening.
EXCLUSIVE_CATEGORIES = ("demographics", "occupation_education", "family_relationships")
EXCLUSIVE_ATTRIBUTES = ("diet",)
_AGE = re.compile(r"\b(\d{1,3})[- ](?:years?|yrs?)[- ]old\b|\baged? (\d{1,3})\b|\b(\d{1,3})-year-old\b", re.I)


class EnrichConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sentences: str = Field("2-3", description="length asked for the description")
    preferences: int = Field(3, ge=0, le=10, description="extra preferences asked for")
    min_facts: int = Field(2, ge=0, description="persona facts the description must mention")
    max_tokens: int = Field(300, ge=32)
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    retries: int = Field(2, ge=0)
    seed: int = 0


def enrich_schema(preferences: int) -> dict:
    return {
        "type": "object",
        "properties": {
            "description": {"type": "string", "minLength": 20, "maxLength": 2000},
            "preferences": {
                "type": "array", "maxItems": max(preferences, 0),
                "items": {"type": "object",
                          "properties": {"statement": {"type": "string", "minLength": 10, "maxLength": 300},
                                         "stability": {"type": "string", "enum": ["stable", "situational"]}},
                          "required": ["statement", "stability"]},
            },
        },
        "required": ["description", "preferences"],
    }


@dataclass
class _Surface:
    attribute: str
    value: str
    text: str
    own: bool


def _contains(text: str, surface: str) -> bool:
    return bool(surface) and re.search(rf"(?<!\w){re.escape(surface)}(?!\w)", text, re.I) is not None


class PersonaChecker:
    """Checks an enrichment answer against its persona (see module docstring)."""

    def __init__(self, taxonomy: Taxonomy, config: EnrichConfig):
        self.taxonomy = taxonomy
        self.config = config

    def surfaces(self, persona: Persona) -> list[_Surface]:
        """Own surfaces of every attribute, and other values' phrases for the exclusive ones."""
        out = []
        for attr in persona.attributes:
            spec = self.taxonomy.attributes.get(attr.id)
            if spec is None or attr.value is None:
                continue
            if spec.kind != "categorical":
                if spec.kind in ("faker", "derived"):
                    out.append(_Surface(attr.id, str(attr.value), str(attr.value), True))
                continue
            values = spec.values_for(persona.locale)
            own = values.get(str(attr.value))
            if own is None:
                continue
            out += [_Surface(attr.id, own.name, s, True) for s in own.surfaces]
            if spec.category in EXCLUSIVE_CATEGORIES or attr.id in EXCLUSIVE_ATTRIBUTES:
                mine = {s.lower() for s in own.surfaces}
                for other in values.values():
                    phrase = other.phrase
                    # Short or shared words ("gay" under two values) would contradict nothing reliably.
                    if other.name == own.name or len(phrase) < 4 or phrase.lower() in mine or any(
                            phrase.lower() in m or m in phrase.lower() for m in mine):
                        continue
                    out.append(_Surface(attr.id, other.name, phrase, False))
        return out

    def problems(self, persona: Persona, answer: dict) -> list[str]:
        text = answer.get("description", "")
        found = []
        age = next((a for a in persona.attributes if a.id == "age" and isinstance(a.value, (int, float))), None)
        for m in _AGE.finditer(text):
            said = int(next(g for g in m.groups() if g))
            if age is not None and said != int(age.value):
                found.append(f"the description says {m.group(0)!r} but the person is {int(age.value)} years old")
        surfaces = self.surfaces(persona)
        own_seen = {s.attribute for s in surfaces if s.own and _contains(text, s.text)}
        for s in surfaces:
            if not s.own and s.attribute not in own_seen and _contains(text, s.text):
                statement = next(a.statement for a in persona.attributes if a.id == s.attribute)
                found.append(f"the description says {s.text!r}, but {statement[:1].lower() + statement[1:]}")
        mentioned = len(own_seen) + (1 if age is not None and any(
            int(next(g for g in m.groups() if g)) == int(age.value) for m in _AGE.finditer(text)) else 0)
        if mentioned < self.config.min_facts:
            found.append(f"the description mentions {mentioned} of the person's facts; use at least "
                         f"{self.config.min_facts} of them")
        known = {_norm(a.statement) for a in persona.attributes}
        for pref in answer.get("preferences", []):
            statement = pref.get("statement", "").strip()
            if not _about_the_user(statement):
                found.append(f"preference {statement[:60]!r} must start with 'The user'")
            elif _norm(statement) in known:
                found.append(f"preference {statement[:60]!r} repeats a fact that is already known")
        return found

    def coverage(self, persona: Persona, text: str) -> float:
        surfaces = self.surfaces(persona)
        attrs = {s.attribute for s in surfaces if s.own}
        seen = {s.attribute for s in surfaces if s.own and _contains(text, s.text)}
        return round(len(seen) / len(attrs), 4) if attrs else 0.0


def _about_the_user(statement: str) -> bool:
    """A statement about the user: "The user ..." or "The user's ..." (straight or curly apostrophe)."""
    return re.match(r"the user(?:\s|['’]s\s)", statement.lower()) is not None


def _norm(statement: str) -> str:
    return re.sub(r"\W+", " ", statement.lower()).strip()


class PersonaEnricher:
    """Enrich personas in batches through any backend (see module docstring)."""

    def __init__(self, backend, taxonomy: Taxonomy, config: Optional[EnrichConfig] = None,
                 prompts: Optional[PromptLibrary] = None, log: Optional[FailureLog] = None):
        self.backend = backend
        self.config = config or EnrichConfig()
        self.prompts = prompts or PromptLibrary()
        self.checker = PersonaChecker(taxonomy, self.config)
        self.log = log if log is not None else FailureLog()
        self.log.unit = "personas"
        self.schema = enrich_schema(self.config.preferences)
        self.stats = {"enriched": 0, "failed": 0, "retried": 0, "preferences": 0, "repairs": {}}

    def request(self, persona: Persona) -> Request:
        from ..seeds import derive_seed

        cfg = self.config
        prompt = self.prompts.render("enrich_persona", facts=[a.statement for a in persona.attributes if a.statement],
                                     sentences=cfg.sentences, preferences=cfg.preferences, name=persona.name,
                                     locale=persona.locale)
        return Request(({"role": "user", "content": prompt},), cfg.max_tokens, cfg.temperature, cfg.top_p,
                       derive_seed(cfg.seed, persona.id, "enrich", bits=31))

    def enrich(self, personas: list[Persona]) -> list[Optional[Persona]]:
        """The enriched personas, in order (None where the model's answers all failed the checks)."""
        def validate(i: int, value) -> Optional[str]:
            problems = self.checker.problems(personas[i], value)
            return "; ".join(problems) if problems else None

        result = generate_structured(self.backend, [self.request(p) for p in personas], self.schema,
                                     retries=self.config.retries, log=self.log,
                                     context=[{"persona_id": p.id} for p in personas], validate=validate)
        for name, n in result.repairs.items():
            self.stats["repairs"][name] = self.stats["repairs"].get(name, 0) + n
        self.stats["retried"] += sum(1 for a in result.attempts if a > 1)
        out: list[Optional[Persona]] = []
        for persona, value in zip(personas, result.values):
            if value is None:
                self.stats["failed"] += 1
                out.append(None)
                continue
            out.append(self._apply(persona, value))
            self.stats["enriched"] += 1
        return out

    def batches(self, personas: Iterable[Persona], skip: set, size: int) -> Iterator[list[tuple]]:
        """(persona id, enriched persona or None) lists of up to `size`; ids in `skip` are left out."""
        group: list[Persona] = []
        for persona in personas:
            if persona.id in skip:
                continue
            group.append(persona)
            if len(group) >= size:
                yield [(p.id, e) for p, e in zip(group, self.enrich(group))]
                group = []
        if group:
            yield [(p.id, e) for p, e in zip(group, self.enrich(group))]

    def _apply(self, persona: Persona, value: dict) -> Persona:
        taken = {a.id for a in persona.attributes}
        added = []
        for pref in value.get("preferences", []):
            n = len(added) + 1
            while f"preference_{n}" in taken:
                n += 1
            taken.add(f"preference_{n}")
            statement = pref["statement"].strip()
            added.append(build(Attribute, id=f"preference_{n}", statement=statement, category="preferences",
                               stability=pref.get("stability"), meta={"source": "enrich"}))
        self.stats["preferences"] += len(added)
        description = value["description"].strip()
        return persona.model_copy(update={"description": description,
                                          "attributes": [*persona.attributes, *added]})


__all__ = ["EnrichConfig", "PersonaChecker", "PersonaEnricher", "enrich_schema"]
