"""The attribute taxonomy: what a persona can be, how values are drawn, and how they show in text.

The built-in taxonomy is `personas/data/taxonomy.yaml`; a user file given with `--taxonomy`
is merged over it (new attributes added, same-named ones replaced, `remove:` drops some,
`replace: true` starts from nothing). Files are validated with one-line errors that name the
file and the key path. The loaded `Taxonomy` is compiled once for fast sampling.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import SynthgapError

# Placeholders a statement, explicit template or cue may use.
#   value: the stored value; phrase: its surface form in text (or a synonym); a_phrase: with a/an;
#   name / first_name / country / city: the persona's own, for templates that need them.
FIELDS = {"value", "phrase", "a_phrase", "name", "first_name"}
SURFACE_FIELDS = {"value", "phrase", "a_phrase"}


class TaxonomyError(SynthgapError):
    """A taxonomy file that is not valid: names the file and the key path."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NumericCondition(_Spec):
    min: Optional[float] = None
    max: Optional[float] = None


Condition = Union[list[Union[str, int, float, bool]], NumericCondition]


class ValueSpec(_Spec):
    """One categorical value (or numeric band): its weight, surface forms, cues and conditions."""

    weight: float = Field(default=1.0, ge=0)
    phrase: Optional[str] = None
    article: Optional[str] = None
    synonyms: list[str] = Field(default_factory=list)
    explicit: Optional[list[str]] = None
    cues: list[str] = Field(default_factory=list)
    when: dict[str, Condition] = Field(default_factory=dict)
    locales: Optional[list[str]] = None


class AttributeSpec(_Spec):
    """One attribute of the taxonomy (see docs/personas.md for every key)."""

    category: str
    stability: Literal["stable", "situational"]
    sensitive: bool = False
    statement: str
    kind: Literal["categorical", "numeric", "faker", "derived"] = "categorical"
    values: dict[str, Union[float, ValueSpec]] = Field(default_factory=dict)
    values_by_locale: dict[str, dict[str, Union[float, ValueSpec]]] = Field(default_factory=dict)
    weights_by_locale: dict[str, dict[str, float]] = Field(default_factory=dict)
    range: Optional[tuple[int, int]] = None
    bands: dict[str, Union[float, ValueSpec]] = Field(default_factory=dict)
    faker: Optional[str] = None
    derived: Optional[Literal["name", "first_name", "country", "nationality", "language"]] = None
    explicit: list[str] = Field(default_factory=list)
    implicit: list[str] = Field(default_factory=list)
    when: dict[str, Condition] = Field(default_factory=dict)
    locales: Optional[list[str]] = None
    description: Optional[str] = None

    @field_validator("values", "bands", "values_by_locale")
    @classmethod
    def _nonempty_keys(cls, v):
        for key in v:
            if not str(key).strip():
                raise ValueError("value names must not be empty")
        return v


class LocaleSpec(_Spec):
    country: str
    nationality: str
    language: str
    weight: float = Field(default=1.0, ge=0)


class TaxonomyFile(_Spec):
    version: Literal[1] = 1
    replace: bool = False
    remove: list[str] = Field(default_factory=list)
    categories: dict[str, str] = Field(default_factory=dict)
    locales: dict[str, LocaleSpec] = Field(default_factory=dict)
    attributes: dict[str, AttributeSpec] = Field(default_factory=dict)


@dataclass
class Value:
    """A compiled categorical value or numeric band."""

    name: str
    weight: float
    phrase: str
    article: str
    surfaces: tuple[str, ...]  # phrase first, then synonyms: what an explicit mention may use
    explicit: Optional[tuple[str, ...]]
    cues: tuple[str, ...]
    when: dict[str, Any]
    locales: Optional[frozenset]
    low: Optional[int] = None  # numeric bands only
    high: Optional[int] = None


@dataclass
class Attribute:
    """A compiled attribute: everything the sampler and the generators need, precomputed."""

    key: str
    category: str
    stability: str
    sensitive: bool
    statement: str
    kind: str
    values: dict[str, Value]  # categorical: all values; numeric: bands
    by_locale: dict[str, dict[str, Value]]  # categorical values that differ per locale
    range: Optional[tuple[int, int]]
    faker: Optional[str]
    derived: Optional[str]
    explicit: tuple[str, ...]
    implicit: tuple[str, ...]
    when: dict[str, Any]
    locales: Optional[frozenset]
    depends: tuple[str, ...] = ()  # attributes whose values decide this one's conditions
    description: Optional[str] = None

    def values_for(self, locale: str) -> dict[str, Value]:
        """The value table for a locale (locale-specific list, or the shared one)."""
        return self.by_locale.get(locale, self.values)

    def band_of(self, number: float) -> Optional[Value]:
        """The numeric band that holds `number`."""
        for band in self.values.values():
            if band.low <= number <= band.high:
                return band
        return None

    def value_spec(self, value: Any, locale: Optional[str] = None) -> Optional[Value]:
        """The compiled Value for a sampled value (the band for numbers)."""
        if self.kind == "numeric":
            return self.band_of(value) if isinstance(value, (int, float)) else None
        if locale and locale in self.by_locale and str(value) in self.by_locale[locale]:
            return self.by_locale[locale][str(value)]
        found = self.values.get(str(value))
        if found is None:
            for table in self.by_locale.values():
                if str(value) in table:
                    return table[str(value)]
        return found


@dataclass
class Taxonomy:
    """The loaded taxonomy: categories, locales and attributes in sampling order."""

    categories: dict[str, str]
    locales: dict[str, LocaleSpec]
    attributes: dict[str, Attribute]  # in dependency order: conditions refer only to earlier keys
    sources: list[str] = field(default_factory=list)

    def __getitem__(self, key: str) -> Attribute:
        return self.attributes[key]

    def __contains__(self, key: str) -> bool:
        return key in self.attributes

    def __iter__(self):
        return iter(self.attributes.values())

    def __len__(self) -> int:
        return len(self.attributes)


BUILTIN = "builtin"


def builtin_path() -> Path:
    return Path(str(resources.files("synthgap.personas") / "data" / "taxonomy.yaml"))


def taxonomy_identity(files: Iterable[Union[str, Path]] = ()) -> list[str]:
    """What decides a loaded taxonomy, for resume fingerprints: the sha256 of the built-in taxonomy
    file, then of each file merged over it (missing ones left out: loading them fails anyway)."""
    from ..outputs import file_sha256

    return [file_sha256(builtin_path())] + [file_sha256(f) for f in files if Path(f).is_file()]


def _read_yaml(path: Union[str, Path]) -> dict:
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TaxonomyError(f"{path}: taxonomy file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"{path}: cannot read taxonomy file: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise TaxonomyError(f"{path}: {where}invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise TaxonomyError(f"{path}: a taxonomy file is a mapping with 'attributes:' (got {type(data).__name__})")
    return data


def _parse(path: Union[str, Path], data: dict) -> TaxonomyFile:
    try:
        return TaxonomyFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"] if not str(p).startswith(("list[", "float", "ValueSpec",
                                                                         "NumericCondition", "union["))]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise TaxonomyError(f"{path}: {'.'.join(loc) or 'file'}: {first['msg'].lower()}{more}") from None


def load_taxonomy(extra: Optional[Union[str, Path, list]] = None, *, builtin: bool = True) -> Taxonomy:
    """The built-in taxonomy, with user files merged over it in order."""
    files: list[tuple[str, dict]] = []
    if builtin:
        files.append((BUILTIN, _read_yaml(builtin_path())))
    if extra:
        for path in ([extra] if isinstance(extra, (str, Path)) else extra):
            files.append((str(path), _read_yaml(path)))
    categories: dict[str, str] = {}
    locales: dict[str, LocaleSpec] = {}
    specs: dict[str, tuple[str, AttributeSpec]] = {}
    for name, data in files:
        parsed = _parse(name, data)
        if parsed.replace:
            categories, locales, specs = {}, {}, {}
        for key in parsed.remove:
            if key not in specs:
                raise TaxonomyError(f"{name}: remove: unknown attribute {key!r}")
            del specs[key]
        categories.update(parsed.categories)
        locales.update(parsed.locales)
        for key, spec in parsed.attributes.items():
            specs[key] = (name, spec)
    if not specs:
        raise TaxonomyError(f"{files[-1][0] if files else 'taxonomy'}: no attributes defined")
    if not locales:
        raise TaxonomyError(f"{files[-1][0]}: no locales defined (each needs country, nationality, language)")
    compiled = {key: _compile(source, key, spec, categories, locales) for key, (source, spec) in specs.items()}
    _check_conditions(compiled, specs)
    ordered = _dependency_order(compiled, specs)
    return Taxonomy(categories, locales, ordered, [name for name, _ in files])


def _template_fields(where: str, template: str) -> set:
    try:
        names = {fname for _, fname, _, _ in string.Formatter().parse(template) if fname is not None}
    except ValueError as exc:
        raise TaxonomyError(f"{where}: bad template {template!r}: {exc}") from None
    unknown = names - FIELDS
    if unknown:
        raise TaxonomyError(f"{where}: template {template!r} uses unknown placeholder "
                            f"{{{sorted(unknown)[0]}}} (allowed: {', '.join(sorted(FIELDS))})")
    return names


def _article(phrase: str) -> str:
    """'an' before a vowel sound for the common cases; values may set `article` where this is wrong."""
    word = phrase.lower()
    if word.startswith(("uni", "use", "eu", "one", "ure")):
        return "a"
    if word.startswith(("hour", "honest", "heir")):
        return "an"
    return "an" if word[:1] in "aeiou" else "a"


def _value(where: str, name: str, raw: Union[float, ValueSpec], *, attr_has_explicit: bool) -> Value:
    spec = raw if isinstance(raw, ValueSpec) else ValueSpec(weight=float(raw))
    phrase = spec.phrase or name
    for i, cue in enumerate(spec.cues):
        _template_fields(f"{where}.cues[{i}]", cue)
    explicit = None
    if spec.explicit is not None:
        for i, tmpl in enumerate(spec.explicit):
            if not _template_fields(f"{where}.explicit[{i}]", tmpl) & SURFACE_FIELDS:
                # A value-level sentence may carry its surface literally ("I don't have kids").
                if not any(s.lower() in tmpl.lower() for s in (phrase, *spec.synonyms)):
                    raise TaxonomyError(f"{where}.explicit[{i}]: {tmpl!r} names neither {{phrase}} nor "
                                        f"the value or one of its synonyms")
        explicit = tuple(spec.explicit)
    surfaces = tuple(dict.fromkeys([phrase, *spec.synonyms]))
    return Value(name=name, weight=spec.weight, phrase=phrase, article=spec.article or _article(phrase),
                 surfaces=surfaces, explicit=explicit, cues=tuple(spec.cues), when=dict(spec.when),
                 locales=frozenset(spec.locales) if spec.locales else None)


def _compile(source: str, key: str, spec: AttributeSpec, categories: dict, locales: dict) -> Attribute:
    where = f"{source}: attributes.{key}"
    if spec.category not in categories:
        raise TaxonomyError(f"{where}.category: unknown category {spec.category!r} "
                            f"(known: {', '.join(sorted(categories))})")
    for loc in (spec.locales or []):
        if loc not in locales:
            raise TaxonomyError(f"{where}.locales: unknown locale {loc!r}")
    _template_fields(f"{where}.statement", spec.statement)
    for i, tmpl in enumerate(spec.explicit):
        if not _template_fields(f"{where}.explicit[{i}]", tmpl) & SURFACE_FIELDS:
            raise TaxonomyError(f"{where}.explicit[{i}]: {tmpl!r} must contain {{phrase}}, {{a_phrase}} or "
                                "{value}: an explicit statement names the value")
    for i, tmpl in enumerate(spec.implicit):
        _template_fields(f"{where}.implicit[{i}]", tmpl)
    values: dict[str, Value] = {}
    by_locale: dict[str, dict[str, Value]] = {}
    rng = None
    sources = [name for name, given in (("values", spec.values or spec.values_by_locale), ("range", spec.range),
                                        ("faker", spec.faker), ("derived", spec.derived)) if given]
    expected = {"categorical": "values", "numeric": "range", "faker": "faker", "derived": "derived"}[spec.kind]
    if sources != [expected]:
        raise TaxonomyError(f"{where}: kind {spec.kind!r} needs exactly '{expected}:' as its value source"
                            + (f" (found: {', '.join(sources)})" if sources else ""))
    if spec.kind == "categorical":
        has_explicit = bool(spec.explicit)
        values = {str(n): _value(f"{where}.values.{n}", str(n), v, attr_has_explicit=has_explicit)
                  for n, v in spec.values.items()}
        for loc, table in spec.values_by_locale.items():
            if loc not in locales:
                raise TaxonomyError(f"{where}.values_by_locale: unknown locale {loc!r}")
            by_locale[loc] = {str(n): _value(f"{where}.values_by_locale.{loc}.{n}", str(n), v,
                                             attr_has_explicit=has_explicit) for n, v in table.items()}
            if not by_locale[loc]:
                raise TaxonomyError(f"{where}.values_by_locale.{loc}: no values")
        for loc, weights in spec.weights_by_locale.items():
            if loc not in locales:
                raise TaxonomyError(f"{where}.weights_by_locale: unknown locale {loc!r}")
            base = by_locale.get(loc, values)
            table = {}
            for n, value in base.items():
                table[n] = Value(**{**value.__dict__, "weight": float(weights.get(n, value.weight))})
            for n in weights:
                if n not in base:
                    raise TaxonomyError(f"{where}.weights_by_locale.{loc}: unknown value {n!r}")
            by_locale[loc] = table
        if not values and not by_locale:
            raise TaxonomyError(f"{where}.values: no values")
    elif spec.kind == "numeric":
        low, high = spec.range
        if low > high:
            raise TaxonomyError(f"{where}.range: minimum {low} is above maximum {high}")
        rng = (int(low), int(high))
        bands = spec.bands or {f"{low}-{high}": 1.0}
        covered = []
        for name, raw in bands.items():
            try:
                a, b = (int(x) for x in str(name).split("-", 1))
            except ValueError:
                raise TaxonomyError(f"{where}.bands.{name}: a band is named 'LOW-HIGH', e.g. '25-34'") from None
            if a > b or a < low or b > high:
                raise TaxonomyError(f"{where}.bands.{name}: band outside the range {low}-{high}")
            band = _value(f"{where}.bands.{name}", str(name), raw, attr_has_explicit=True)
            band.low, band.high = a, b
            values[str(name)] = band
            covered.append((a, b))
        covered.sort()
        for (a1, b1), (a2, b2) in zip(covered, covered[1:]):
            if a2 <= b1:
                raise TaxonomyError(f"{where}.bands: bands {a1}-{b1} and {a2}-{b2} overlap")
    if spec.kind in ("categorical", "numeric"):
        for table in [values, *by_locale.values()]:
            if table and sum(v.weight for v in table.values()) <= 0:
                raise TaxonomyError(f"{where}: all weights are zero")
    return Attribute(key=key, category=spec.category, stability=spec.stability, sensitive=spec.sensitive,
                     statement=spec.statement, kind=spec.kind, values=values, by_locale=by_locale, range=rng,
                     faker=spec.faker, derived=spec.derived, explicit=tuple(spec.explicit),
                     implicit=tuple(spec.implicit), when=dict(spec.when),
                     locales=frozenset(spec.locales) if spec.locales else None, description=spec.description)


def _check_conditions(compiled: dict[str, Attribute], specs: dict) -> None:
    """Every condition names a known attribute, a known value (categorical) or a range (numeric)."""
    for key, attr in compiled.items():
        source = specs[key][0]
        places = [(f"attributes.{key}.when", attr.when)]
        for table_name, table in [("values", attr.values)] + [(f"values_by_locale.{loc}", t)
                                                               for loc, t in attr.by_locale.items()]:
            for name, value in table.items():
                places.append((f"attributes.{key}.{'bands' if attr.kind == 'numeric' else table_name}.{name}.when",
                               value.when))
        deps = set()
        for where, when in places:
            for other, cond in when.items():
                if other not in compiled:
                    raise TaxonomyError(f"{source}: {where}: unknown attribute {other!r}")
                if other == key:
                    raise TaxonomyError(f"{source}: {where}: an attribute cannot depend on itself")
                target = compiled[other]
                if isinstance(cond, NumericCondition):
                    if target.kind != "numeric":
                        raise TaxonomyError(f"{source}: {where}.{other}: min/max needs a numeric attribute, "
                                            f"{other!r} is {target.kind}")
                else:
                    if target.kind == "numeric":
                        raise TaxonomyError(f"{source}: {where}.{other}: {other!r} is numeric: "
                                            "write {min: N, max: M}")
                    known = set(target.values)
                    for table in target.by_locale.values():
                        known |= set(table)
                    if target.kind == "categorical":
                        for v in cond:
                            if str(v) not in known:
                                raise TaxonomyError(f"{source}: {where}.{other}: unknown value {v!r} of {other!r}")
                deps.add(other)
        attr.depends = tuple(sorted(deps))


def _dependency_order(compiled: dict[str, Attribute], specs: dict) -> dict[str, Attribute]:
    """Attributes ordered so that every condition refers to one sampled earlier (file order otherwise)."""
    ordered: dict[str, Attribute] = {}
    visiting: list[str] = []

    def visit(key: str) -> None:
        if key in ordered:
            return
        if key in visiting:
            cycle = " -> ".join(visiting[visiting.index(key):] + [key])
            raise TaxonomyError(f"{specs[key][0]}: attributes.{key}: conditions form a cycle: {cycle}")
        visiting.append(key)
        for dep in compiled[key].depends:
            visit(dep)
        visiting.pop()
        ordered[key] = compiled[key]

    for key in compiled:
        visit(key)
    return ordered


def condition_holds(cond: Any, value: Any) -> bool:
    """Whether a sampled value satisfies one condition (a list of values, or a numeric min/max)."""
    if isinstance(cond, NumericCondition):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        return (cond.min is None or value >= cond.min) and (cond.max is None or value <= cond.max)
    return value in cond or str(value) in {str(c) for c in cond}
