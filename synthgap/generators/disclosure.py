"""Disclosure sentences: how a persona attribute is put into words, explicitly or implicitly.

An explicit sentence names the value (its phrase or a declared synonym); an implicit one is a
cue declared for the value that hints at it without saying it. Each sentence comes back as
segments whose protected middle (the carrier) is what makes the disclosure true.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Optional

from ..personas.taxonomy import Attribute as AttrSpec
from ..personas.taxonomy import Taxonomy, Value
from ..records import Attribute, Persona
from .noise import Segment

_MARK = "\ue010"  # stands in for the surface while a template is formatted, to find the carrier


@dataclass
class Disclosable:
    """A persona attribute with the taxonomy entry that says how it can show in text."""

    attribute: Attribute
    spec: AttrSpec
    value: Optional[Value]  # the categorical value or numeric band (None for faker/derived kinds)

    @property
    def key(self) -> str:
        return self.attribute.id

    def surfaces(self) -> tuple[str, ...]:
        """Texts an explicit mention may use for the value."""
        if self.value is not None and self.spec.kind == "categorical":
            return self.value.surfaces
        return (str(self.attribute.value),)

    def explicit_templates(self) -> tuple[str, ...]:
        if self.value is not None and self.value.explicit is not None:
            return self.value.explicit
        return self.spec.explicit

    def cues(self) -> tuple[str, ...]:
        own = self.value.cues if self.value is not None else ()
        return own + self.spec.implicit

    def __post_init__(self) -> None:
        self._can = {"explicit": bool(self.explicit_templates()), "implicit": bool(self.cues())}

    def can(self, style: str) -> bool:
        return self._can[style]


def disclosables(persona: Persona, taxonomy: Taxonomy) -> list[Disclosable]:
    """The persona's attributes that the taxonomy knows how to put into words (in persona order)."""
    out = []
    for attr in persona.attributes:
        spec = taxonomy.attributes.get(attr.id)
        if spec is None or attr.value is None:
            continue
        value = spec.value_spec(attr.value, persona.locale) if spec.kind in ("categorical", "numeric") else None
        if spec.kind in ("categorical", "numeric") and value is None:
            continue
        item = Disclosable(attr, spec, value)
        if item.can("explicit") or item.can("implicit"):
            out.append(item)
    return out


def _article(item: Disclosable, surface: str) -> str:
    if item.value is not None and surface == item.value.phrase:
        return item.value.article
    return "an" if surface[:1].lower() in "aeiou" else "a"


def render(item: Disclosable, style: str, persona: Persona, rng: random.Random, index: int,
           ending: bool = False) -> tuple[list[Segment], str]:
    """The segments of one disclosure sentence, and the carrier text that makes it true.

    `ending`: nothing follows in the turn, so lead-in templates ("as a nurse,") are avoided.
    """
    first = persona.name.split()[0] if persona.name else ""
    if style == "explicit":
        options = item.explicit_templates()
        if ending:
            options = tuple(t for t in options if not t.rstrip().endswith((",", ";", ":"))) or options
        template = rng.choice(options)
        # Templates get the phrase: synonyms are often other parts of speech ("don't have kids")
        # and serve matching and the value's own literal sentences.
        surface = item.surfaces()[0]
        if "{" not in template:  # a value-level sentence that carries its surface literally
            return _literal(template, item.surfaces(), index)
        marked = template.format(value=_MARK, phrase=_MARK, a_phrase=f"{_article(item, surface)} {_MARK}",
                                 name=persona.name, first_name=first)
        before, _, after = marked.partition(_MARK)
        after = after.replace(_MARK, surface)
        if surface.endswith(".") and after.startswith("."):  # "S.A." + "." -> one full stop
            after = after[1:]
        return _pieces(before, surface, after, index), surface
    cue = rng.choice(item.cues())
    surface = item.surfaces()[0]
    text = cue.format(value=surface, phrase=surface, a_phrase=f"{_article(item, surface)} {surface}",
                      name=persona.name, first_name=first)
    return [Segment(text, True, index)], text


def _literal(sentence: str, surfaces: tuple[str, ...], index: int) -> tuple[list[Segment], str]:
    low = sentence.lower()
    for surface in surfaces:
        at = low.find(surface.lower())
        if at >= 0:
            carrier = sentence[at:at + len(surface)]
            return _pieces(sentence[:at], carrier, sentence[at + len(surface):], index), carrier
    # The taxonomy loader guarantees a surface is present; keep the whole sentence protected otherwise.
    return [Segment(sentence, True, index)], sentence


def _pieces(before: str, carrier: str, after: str, index: int) -> list[Segment]:
    out = []
    if before:
        out.append(Segment(before, False, index))
    out.append(Segment(carrier, True, index))
    if after:
        out.append(Segment(after, False, index))
    return out
