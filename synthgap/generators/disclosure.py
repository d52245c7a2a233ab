"""Disclosure sentences: how a persona attribute is put into words, explicitly or implicitly.

An explicit sentence names the value (its phrase or a declared synonym); an implicit one is a
cue declared for the value that hints at it without saying it. Each sentence comes back as
segments whose protected middle (the carrier) is what makes the disclosure true.
"""

from __future__ import annotations

import random
from typing import Optional

from ..personas.taxonomy import Attribute as AttrSpec
from ..personas.taxonomy import Taxonomy, Value
from ..records import Attribute, Persona
from .noise import Segment

_MARK = "\ue010"  # stands in for the surface while a template is formatted, to find the carrier


class Disclosable:
    """A persona attribute with the taxonomy entry that says how it can show in text."""

    __slots__ = ("attribute", "spec", "value", "key", "_can")

    def __init__(self, attribute: Attribute, spec: AttrSpec, value: Optional[Value], can: Optional[dict] = None):
        self.attribute = attribute
        self.spec = spec
        self.value = value  # the categorical value or numeric band (None for faker/derived kinds)
        self.key = attribute.id
        self._can = can or {"explicit": bool(self.explicit_templates()), "implicit": bool(self.cues())}

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

    def can(self, style: str) -> bool:
        return self._can[style]


def disclosables(persona: Persona, taxonomy: Taxonomy, cache: Optional[dict] = None) -> list[Disclosable]:
    """The persona's attributes that the taxonomy knows how to put into words (in persona order).

    `cache` (any dict kept across personas) remembers each (attribute, value, locale) lookup.
    """
    return [Disclosable(*entry) for entry in entries(persona, taxonomy, cache)]


def entries(persona: Persona, taxonomy: Taxonomy, cache: Optional[dict] = None) -> list[tuple]:
    """(attribute, spec, value, can) for each disclosable attribute: Disclosables not yet built."""
    out = []
    cache = {} if cache is None else cache
    for attr in persona.attributes:
        if attr.value is None:
            continue
        spec = taxonomy.attributes.get(attr.id)
        if spec is None:
            continue
        if spec.kind in ("faker", "derived"):  # unique values (names, companies): not worth caching
            found = _lookup(attr, persona.locale, taxonomy)
        else:
            key = (attr.id, attr.value, persona.locale)
            found = cache.get(key)
            if found is None:
                found = cache[key] = _lookup(attr, persona.locale, taxonomy)
        if found is False:
            continue
        out.append((attr, *found))
    return out


def _lookup(attr: Attribute, locale: str, taxonomy: Taxonomy):
    """(spec, value, can) for an attribute value, or False when it cannot be put into words."""
    spec = taxonomy.attributes.get(attr.id)
    if spec is None:
        return False
    value = spec.value_spec(attr.value, locale) if spec.kind in ("categorical", "numeric") else None
    if spec.kind in ("categorical", "numeric") and value is None:
        return False
    item = Disclosable(attr, spec, value)
    if not (item.can("explicit") or item.can("implicit")):
        return False
    return spec, value, item._can


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
