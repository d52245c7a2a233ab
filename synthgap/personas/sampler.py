"""The persona sampler: Faker-seeded draws from the taxonomy, consistent by construction.

Persona i draws from its own seed, derived from (seed, i), so a persona does not depend on how
many others are sampled and a set can be extended or resumed. That seed goes into the
locale's Faker generator (`seed_instance`), and every draw of the persona (names, companies,
weighted choices) comes from that one generator's random source. Attributes are drawn in
dependency order, each only among the values whose `when:` conditions hold for what was
drawn before, so consistency rules cannot be broken.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections import Counter
from typing import Any, Iterator, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import SynthgapError
from ..records import Attribute, Persona, build
from .taxonomy import Attribute as AttrSpec
from .taxonomy import Taxonomy, condition_holds
from ..seeds import derive_seed


class Joint(BaseModel):
    """A joint table for correlated attributes: weights for value combinations ('a|b' keys)."""

    model_config = ConfigDict(extra="forbid")

    attributes: list[str] = Field(min_length=2)
    table: dict[str, float]


class SamplerConfig(BaseModel):
    """What to sample: locales, which attributes, marginal weights, joint tables."""

    model_config = ConfigDict(extra="forbid")

    locales: Optional[dict[str, float]] = Field(None, description="locale -> weight; None = the taxonomy's weights")
    include: Optional[list[str]] = Field(None, description="attributes to put in personas (None = all)")
    exclude: list[str] = Field(default_factory=list)
    n_attributes: Optional[tuple[int, int]] = Field(None, description="attributes per persona, as (min, max)")
    always: list[str] = Field(default_factory=lambda: ["age", "gender"],
                              description="attributes kept whenever n_attributes trims a persona")
    weights: dict[str, dict[str, float]] = Field(default_factory=dict,
                                                 description="attribute -> value (or numeric 'LOW-HIGH') -> weight")
    joints: list[Joint] = Field(default_factory=list)
    id_prefix: str = "persona"

    @field_validator("n_attributes", mode="before")
    @classmethod
    def _range(cls, v):
        if isinstance(v, int):
            return (v, v)
        if isinstance(v, str):
            lo, _, hi = v.partition("-")
            return (int(lo), int(hi or lo))
        return v


def persona_seed(seed: int, index: int) -> int:
    """The seed of persona `index` in a set sampled with `seed` (synthgap.seeds: stable across processes)."""
    return derive_seed(seed, index)


def attribute_statement(spec: AttrSpec, value: Any, locale: str) -> str:
    """The "The user ..." statement of one value of a taxonomy attribute (as personas carry it)."""
    phrase, article = value, "a"
    if spec.kind == "categorical":
        v = spec.value_spec(value, locale)
        phrase, article = v.phrase, v.article
    text = str(phrase)
    return spec.statement.format(value=text, phrase=text, a_phrase=f"{article} {text}", name=text, first_name=text)


class _Table:
    """Values and cumulative weights for one draw (cached per locale and condition values)."""

    __slots__ = ("names", "cum", "intervals")

    def __init__(self, names: list, weights: list[float], intervals: Optional[list] = None):
        self.names = names
        self.cum = list(itertools.accumulate(weights))
        self.intervals = intervals

    def draw(self, rng: random.Random):
        i = bisect.bisect_right(self.cum, rng.random() * self.cum[-1])
        return self.names[min(i, len(self.names) - 1)]


class PersonaSampler:
    """Samples `Persona` records from a taxonomy under a `SamplerConfig`."""

    def __init__(self, taxonomy: Taxonomy, config: Optional[SamplerConfig] = None):
        self.taxonomy = taxonomy
        self.config = config or SamplerConfig()
        self._check_config()
        locales = self.config.locales or {k: v.weight for k, v in taxonomy.locales.items()}
        self._locale_table = _Table(list(locales), list(locales.values()))
        self._fakers: dict[str, Any] = {}
        self._cache: dict[tuple, Optional[_Table]] = {}
        self._emit = self._emitted_keys()
        self._joint_of = {j.attributes[0]: j for j in self.config.joints}
        self._joint_members = {a for j in self.config.joints for a in j.attributes[1:]}
        self._statements: dict[tuple, str] = {}
        self.dead_ends: Counter = Counter()  # attribute -> personas where no value was allowed

    # ------------------------------------------------------------------ config checks
    def _check_config(self) -> None:
        tax, cfg = self.taxonomy, self.config
        for loc in (cfg.locales or {}):
            if loc not in tax.locales:
                raise SynthgapError(f"sampler config: locales: unknown locale {loc!r} "
                                    f"(known: {', '.join(tax.locales)})")
        if cfg.locales is not None and sum(cfg.locales.values()) <= 0:
            raise SynthgapError("sampler config: locales: all weights are zero")
        for name, keys in (("include", cfg.include or []), ("exclude", cfg.exclude), ("always", cfg.always)):
            for key in keys:
                if key not in tax and name != "always":
                    raise SynthgapError(f"sampler config: {name}: unknown attribute {key!r}")
        for key, weights in cfg.weights.items():
            if key not in tax:
                raise SynthgapError(f"sampler config: weights: unknown attribute {key!r}")
            spec = tax[key]
            for name, w in weights.items():
                if w < 0:
                    raise SynthgapError(f"sampler config: weights.{key}.{name}: negative weight {w}")
                if spec.kind == "numeric":
                    lo, hi = _interval(key, name)
                    if lo < spec.range[0] or hi > spec.range[1]:
                        raise SynthgapError(f"sampler config: weights.{key}.{name}: outside {spec.range[0]}-"
                                            f"{spec.range[1]}")
                elif spec.kind == "categorical":
                    known = set(spec.values).union(*[set(t) for t in spec.by_locale.values()])
                    if name not in known:
                        raise SynthgapError(f"sampler config: weights.{key}: unknown value {name!r}")
                else:
                    raise SynthgapError(f"sampler config: weights.{key}: {spec.kind} attributes have no weights")
            if sum(weights.values()) <= 0:
                raise SynthgapError(f"sampler config: weights.{key}: all weights are zero")
        order = list(tax.attributes)
        for j in cfg.joints:
            for key in j.attributes:
                if key not in tax or tax[key].kind != "categorical":
                    raise SynthgapError(f"sampler config: joints: {key!r} is not a categorical attribute")
            for combo in j.table:
                parts = combo.split("|")
                if len(parts) != len(j.attributes):
                    raise SynthgapError(f"sampler config: joints {j.attributes}: key {combo!r} needs "
                                        f"{len(j.attributes)} values joined by '|'")
                for key, part in zip(j.attributes, parts):
                    spec = tax[key]
                    known = set(spec.values).union(*[set(t) for t in spec.by_locale.values()])
                    if part not in known:
                        raise SynthgapError(f"sampler config: joints: unknown value {part!r} of {key!r}")
            first = min(order.index(k) for k in j.attributes)
            for key in j.attributes:
                for dep in tax[key].depends:
                    if dep not in j.attributes and order.index(dep) > first:
                        raise SynthgapError(f"sampler config: joints {j.attributes}: {key!r} depends on {dep!r}, "
                                            "which is drawn after the joint's first attribute")
        if cfg.n_attributes and (cfg.n_attributes[0] < 1 or cfg.n_attributes[0] > cfg.n_attributes[1]):
            raise SynthgapError(f"sampler config: n_attributes: bad range {cfg.n_attributes}")

    def _emitted_keys(self) -> list[str]:
        keys = self.config.include or list(self.taxonomy.attributes)
        return [k for k in self.taxonomy.attributes if k in set(keys) and k not in set(self.config.exclude)]

    # ------------------------------------------------------------------ drawing
    def _faker(self, locale: str):
        gen = self._fakers.get(locale)
        if gen is None:
            from faker import Faker

            try:
                gen = Faker(locale)
            except AttributeError:
                raise SynthgapError(f"Faker has no locale {locale!r}") from None
            self._fakers[locale] = gen
        return gen

    def _table(self, spec: AttrSpec, locale: str, profile: dict) -> Optional[_Table]:
        deps = tuple(profile.get(d) for d in spec.depends)
        key = (spec.key, locale, deps)
        if key in self._cache:
            return self._cache[key]
        table = self._build_table(spec, locale, profile)
        self._cache[key] = table
        return table

    def _build_table(self, spec: AttrSpec, locale: str, profile: dict) -> Optional[_Table]:
        override = self.config.weights.get(spec.key)
        if spec.kind == "numeric":
            if override:
                intervals = [_interval(spec.key, k) for k in override]
                weights = list(override.values())
            else:
                intervals = [(b.low, b.high) for b in spec.values.values()]
                weights = [b.weight for b in spec.values.values()]
            keep = [(iv, w) for iv, w in zip(intervals, weights) if w > 0]
            return _Table([iv for iv, _ in keep], [w for _, w in keep]) if keep else None
        names, weights = [], []
        for name, value in spec.values_for(locale).items():
            w = override.get(name, 0.0 if override else value.weight) if override else value.weight
            if w <= 0 or (value.locales and locale not in value.locales):
                continue
            if not all(condition_holds(c, profile.get(k)) for k, c in value.when.items()):
                continue
            names.append(name)
            weights.append(w)
        return _Table(names, weights) if names else None

    def _joint_table(self, joint: Joint, locale: str, profile: dict) -> Optional[_Table]:
        key = ("joint", tuple(joint.attributes), locale,
               tuple(profile.get(d) for k in joint.attributes for d in self.taxonomy[k].depends))
        if key in self._cache:
            return self._cache[key]
        names, weights = [], []
        for combo, w in joint.table.items():
            if w <= 0:
                continue
            values = combo.split("|")
            trial = dict(profile)
            ok = True
            for attr_key, v in zip(joint.attributes, values):
                spec = self.taxonomy[attr_key]
                value = spec.values_for(locale).get(v)
                if value is None or (value.locales and locale not in value.locales) \
                        or not all(condition_holds(c, trial.get(k)) for k, c in spec.when.items()) \
                        or not all(condition_holds(c, trial.get(k)) for k, c in value.when.items()):
                    ok = False
                    break
                trial[attr_key] = v
            if ok:
                names.append(tuple(values))
                weights.append(w)
        table = _Table(names, weights) if names else None
        self._cache[key] = table
        return table

    def profile(self, index: int, seed: int) -> tuple[str, str, dict, int]:
        """Draw persona `index`: (locale, name, {attribute: value}, its seed)."""
        pseed = persona_seed(seed, index)
        pick = random.Random(pseed)
        locale = self._locale_table.draw(pick)
        gen = self._faker(locale)
        gen.seed_instance(pseed)
        rng = gen.random
        profile: dict[str, Any] = {}
        name = first = ""
        for spec in self.taxonomy:
            key = spec.key
            if key in profile or key in self._joint_members and key not in self._joint_of:
                continue
            if spec.locales and locale not in spec.locales:
                continue
            if spec.when and not all(condition_holds(c, profile.get(k)) for k, c in spec.when.items()):
                continue
            joint = self._joint_of.get(key)
            if joint is not None:
                table = self._joint_table(joint, locale, profile)
                if table is None:
                    self.dead_ends[key] += 1
                    continue
                profile.update(zip(joint.attributes, table.draw(rng)))
                continue
            if spec.kind == "derived":
                if spec.derived in ("name", "first_name"):
                    if not name:
                        name, first = self._name(gen, locale, profile.get("gender"))
                    profile[key] = name if spec.derived == "name" else first
                else:
                    profile[key] = getattr(self.taxonomy.locales[locale], spec.derived)
                continue
            if spec.kind == "faker":
                try:
                    profile[key] = str(getattr(gen, spec.faker)())
                except AttributeError:
                    raise SynthgapError(f"taxonomy: attributes.{key}.faker: Faker ({locale}) has no provider "
                                        f"{spec.faker!r}") from None
                continue
            table = self._table(spec, locale, profile)
            if table is None:
                self.dead_ends[key] += 1
                continue
            drawn = table.draw(rng)
            profile[key] = rng.randint(drawn[0], drawn[1]) if spec.kind == "numeric" else drawn
        if not name:
            name, first = self._name(gen, locale, profile.get("gender"))
        return locale, name, profile, pseed

    @staticmethod
    def _name(gen, locale: str, gender: Optional[str]) -> tuple[str, str]:
        """A locale-consistent full name matching the gender (family name first in Japanese)."""
        if gender == "female":
            first = gen.first_name_female()
        elif gender == "male":
            first = gen.first_name_male()
        else:
            first = gen.first_name_nonbinary() if hasattr(gen, "first_name_nonbinary") else gen.first_name()
        last = gen.last_name()
        return (f"{last} {first}" if locale.startswith(("ja", "zh", "ko")) else f"{first} {last}"), first

    def persona(self, index: int, seed: int) -> Persona:
        """Persona `index` of the set sampled with `seed`."""
        locale, name, profile, pseed = self.profile(index, seed)
        keys = [k for k in self._emit if k in profile]
        n = self.config.n_attributes
        if n is not None:
            rng = random.Random(pseed ^ 0x5EED)
            want = rng.randint(n[0], n[1])
            if len(keys) > want:
                kept = [k for k in keys if k in self.config.always][:want]
                rest = [k for k in keys if k not in kept]
                kept += rng.sample(rest, want - len(kept))
                keys = [k for k in keys if k in set(kept)]
        attributes = [self._attribute(self.taxonomy[k], profile[k], locale) for k in keys]
        return build(Persona, id=f"{self.config.id_prefix}-{seed}-{index:06d}", locale=locale, name=name,
                     attributes=attributes, description=None, seed=pseed)

    def _attribute(self, spec: AttrSpec, value: Any, locale: str) -> Attribute:
        key = (spec.key, value, locale)
        statement = self._statements.get(key)
        if statement is None:
            statement = attribute_statement(spec, value, locale)
            if spec.kind in ("categorical", "numeric"):  # unique strings (names, companies) are not cached
                self._statements[key] = statement
        return build(Attribute, id=spec.key, statement=statement, category=spec.category, value=value,
                     stability=spec.stability, confidence=None, reason=None, evidence=[],
                     meta={"sensitive": True} if spec.sensitive else {})

    def sample(self, n: int, seed: int, start: int = 0) -> Iterator[Persona]:
        """Personas start .. n-1 of the set sampled with `seed`."""
        for i in range(start, n):
            yield self.persona(i, seed)


def _interval(key: str, name: Union[str, int]) -> tuple[int, int]:
    text = str(name)
    try:
        if "-" in text.strip("-"):
            lo, hi = text.split("-", 1)
            return int(lo), int(hi)
        return int(text), int(text)
    except ValueError:
        raise SynthgapError(f"sampler config: weights.{key}.{name}: a numeric weight key is 'N' or 'LOW-HIGH'") \
            from None
