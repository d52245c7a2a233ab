"""Consistency rules: check personas (from any source) against the taxonomy's `when:` conditions."""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from ..records import Persona
from .taxonomy import NumericCondition, Taxonomy, condition_holds


def _show(cond) -> str:
    if isinstance(cond, NumericCondition):
        lo = "" if cond.min is None else f"{cond.min:g}"
        hi = "" if cond.max is None else f"{cond.max:g}"
        return f"in {lo}..{hi}"
    return "in [" + ", ".join(map(str, cond)) + "]"


def violations(persona: Persona, taxonomy: Taxonomy) -> list[str]:
    """Every broken rule of one persona, as 'attribute=value needs other in [...] (got x)'.

    A rule whose other attribute the persona does not have cannot be checked and is skipped.
    """
    values = {a.id: a.value for a in persona.attributes}
    found = []
    for attr in persona.attributes:
        spec = taxonomy.attributes.get(attr.id)
        if spec is None or attr.value is None:
            continue
        found += _broken(attr.id, spec.locales, spec.when, persona.locale, values)
        if spec.kind == "numeric":
            lo, hi = spec.range
            if not isinstance(attr.value, (int, float)) or not lo <= attr.value <= hi:
                found.append(f"{attr.id}={attr.value} is outside {lo}..{hi}")
            continue
        if spec.kind != "categorical":
            continue
        value = spec.value_spec(attr.value, persona.locale)
        if value is None:
            found.append(f"{attr.id}={attr.value} is not a value of the taxonomy")
            continue
        found += _broken(f"{attr.id}={attr.value}", value.locales, value.when, persona.locale, values)
    return found


def _broken(label: str, locales, when: dict, locale: str, values: dict) -> list[str]:
    """The locale restriction and `when:` conditions of one attribute or value that do not hold."""
    found = []
    if locales and locale not in locales:
        found.append(f"{label} is not used in locale {locale}")
    for other, cond in when.items():
        if other in values and not condition_holds(cond, values[other]):
            found.append(f"{label} needs {other} {_show(cond)} (got {values[other]})")
    return found


def count_violations(personas: Iterable[Persona], taxonomy: Taxonomy, examples: int = 5) -> dict:
    """Violations over a persona set: personas affected, counts per rule, a few examples."""
    per_rule: Counter = Counter()
    shown: list[dict] = []
    affected = total = 0
    for persona in personas:
        total += 1
        found = violations(persona, taxonomy)
        if found:
            affected += 1
            for item in found:
                per_rule[item.split(" (got ")[0]] += 1
            if len(shown) < examples:
                shown.append({"persona": persona.id, "violations": found})
    return {"personas": total, "personas_with_violations": affected, "violations": sum(per_rule.values()),
            "by_rule": dict(per_rule.most_common()), "examples": shown}
