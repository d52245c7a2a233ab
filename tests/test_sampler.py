"""The persona sampler: seeded, locale-consistent, consistent by construction, configurable."""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from collections import Counter

import pytest

from synthgap.errors import SynthgapError
from synthgap.personas.rules import count_violations, violations
from synthgap.personas.sampler import Joint, PersonaSampler, SamplerConfig
from synthgap.records import Attribute, Persona, dumps

from .conftest import REPO


def _lines(taxonomy, n, seed, config=None):
    return [dumps(p) for p in PersonaSampler(taxonomy, config).sample(n, seed)]


def test_same_seed_same_bytes_other_seed_differs(taxonomy):
    a = _lines(taxonomy, 200, 11)
    assert a == _lines(taxonomy, 200, 11)
    b = _lines(taxonomy, 200, 12)
    assert sum(x != y for x, y in zip(a, b)) > 190


def test_same_bytes_across_processes(taxonomy, tmp_path):
    outs = []
    for i in range(2):
        out = tmp_path / f"p{i}.jsonl"
        subprocess.run([sys.executable, "-m", "synthgap.cli", "personas", "sample", "-n", "150", "--seed", "5",
                        "-o", str(out)], check=True, cwd=REPO, env={"PYTHONHASHSEED": str(i + 1), "PATH": ""},
                       capture_output=True)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert outs[0].decode().splitlines() == _lines(taxonomy, 150, 5)


def test_persona_does_not_depend_on_set_size(taxonomy):
    assert _lines(taxonomy, 10, 3) == _lines(taxonomy, 40, 3)[:10]
    later = list(PersonaSampler(taxonomy).sample(40, 3, start=30))
    assert [dumps(p) for p in later] == _lines(taxonomy, 40, 3)[30:]


@pytest.mark.parametrize("n", [10_000, pytest.param(100_000, marks=pytest.mark.slow)])
def test_consistency_rules_hold_on_many_personas(taxonomy, n):
    sampler = PersonaSampler(taxonomy)
    broken = Counter()
    checked = 0

    def personas():
        nonlocal checked
        for persona in sampler.sample(n, 2026):
            checked += 1
            v = {a.id: a.value for a in persona.attributes}
            age = v["age"]
            # Hand-written sanity rules, independent of the taxonomy's own conditions.
            if v.get("occupation") in ("surgeon", "physician", "professor") and (age < 26 or v["education"] != "doctorate"):
                broken["doctor without the training"] += 1
            if v.get("grandchildren") == "yes" and (age < 38 or v.get("children") == "none"):
                broken["young or childless grandparent"] += 1
            if v.get("employment") == "retired" and age < 50:
                broken["retired too young"] += 1
            if v.get("education") in ("master", "doctorate") and age < 22:
                broken["postgraduate teenager"] += 1
            if v.get("life_event") == "new_baby" and v.get("children") == "none":
                broken["new parent without children"] += 1
            if v.get("living_situation") == "with_partner" and v.get("marital_status") in ("single", "divorced", "widowed"):
                broken["partner without one"] += 1
            if "occupation" in v and v.get("employment") not in ("full_time", "part_time", "self_employed"):
                broken["occupation without a job"] += 1
            if v.get("life_stage") in ("raising_kids", "empty_nester") and v.get("children") == "none":
                broken["parent's life stage without children"] += 1
            if v.get("life_stage") == "retired_life" and v.get("employment") != "retired":
                broken["retired life stage while working"] += 1
            if v.get("life_stage") == "starting_out" and age > 25:
                broken["starting out at an older age"] += 1
            yield persona

    report = count_violations(personas(), taxonomy)
    assert checked == n
    assert report["violations"] == 0, report["by_rule"]
    assert not broken, broken
    assert not sampler.dead_ends, sampler.dead_ends


def test_rule_checker_catches_a_19_year_old_surgeon_with_grandchildren(taxonomy):
    def attr(key, value):
        return Attribute(id=key, statement="", value=value)

    persona = Persona(id="x", locale="en_US", name="A B", seed=1, attributes=[
        attr("age", 19), attr("education", "bachelor"), attr("employment", "full_time"), attr("occupation", "surgeon"),
        attr("children", "none"), attr("grandchildren", "yes")])
    found = violations(persona, taxonomy)
    assert any(f.startswith("occupation=surgeon needs education") for f in found), found
    assert any(f.startswith("occupation=surgeon needs age") for f in found), found
    assert any(f.startswith("grandchildren needs age") for f in found), found
    assert any(f.startswith("grandchildren needs children") for f in found), found
    assert violations(Persona(id="y", locale="en_US", name="C", seed=1, attributes=[attr("age", 7)]), taxonomy) \
        == ["age=7 is outside 18..90"]


def _script(text):
    return {unicodedata.name(ch, "").split()[0] for ch in text if ch.isalpha()}


def test_locales_give_locale_consistent_names_and_places(taxonomy):
    tax = taxonomy
    seen = Counter()
    for persona in PersonaSampler(tax).sample(700, 9):
        seen[persona.locale] += 1
        city = next((a.value for a in persona.attributes if a.id == "home_city"), None)
        assert city in tax["home_city"].by_locale[persona.locale], (persona.locale, city)
        nationality = next(a.value for a in persona.attributes if a.id == "nationality")
        assert nationality == tax.locales[persona.locale].nationality
        scripts = _script(persona.name)
        if persona.locale == "ja_JP":
            assert scripts & {"CJK", "HIRAGANA", "KATAKANA"}, persona.name
        elif persona.locale == "hi_IN":
            assert "DEVANAGARI" in scripts or "LATIN" in scripts, persona.name
        else:
            assert scripts == {"LATIN"}, persona.name
    assert set(seen) == {"en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "ja_JP", "hi_IN"}


def test_locale_restriction_and_gendered_first_names(taxonomy):
    cfg = SamplerConfig(locales={"de_DE": 1})
    from faker import Faker

    female = set(Faker("de_DE").first_names_female) if hasattr(Faker("de_DE"), "first_names_female") else None
    for persona in PersonaSampler(taxonomy, cfg).sample(200, 4):
        assert persona.locale == "de_DE"
        gender = next(a.value for a in persona.attributes if a.id == "gender")
        if female and gender == "female":
            assert persona.name.split()[0] in female


def test_weights_override_marginals(taxonomy):
    cfg = SamplerConfig(weights={"gender": {"female": 9, "male": 1, "non-binary": 0}})
    values = Counter(a.value for p in PersonaSampler(taxonomy, cfg).sample(3000, 1) for a in p.attributes
                     if a.id == "gender")
    assert values["non-binary"] == 0
    assert 0.87 < values["female"] / 3000 < 0.93
    ages = [a.value for p in PersonaSampler(taxonomy, SamplerConfig(weights={"age": {"30-34": 1}})).sample(500, 1)
            for a in p.attributes if a.id == "age"]
    assert set(ages) <= set(range(30, 35)) and len(set(ages)) == 5


def test_joint_table_ties_two_attributes(taxonomy):
    cfg = SamplerConfig(locales={"en_US": 1}, joints=[Joint(attributes=["gender", "education"],
                                                            table={"female|master": 1, "male|high_school": 1})])
    pairs = Counter()
    for p in PersonaSampler(taxonomy, cfg).sample(1000, 2):
        v = {a.id: a.value for a in p.attributes}
        pairs[(v["gender"], v.get("education"))] += 1
    assert set(pairs) <= {("female", "master"), ("male", "high_school")}
    assert min(pairs.values()) > 300


def test_number_of_attributes_per_persona(taxonomy):
    cfg = SamplerConfig(n_attributes=(5, 7), always=["age", "gender"])
    for p in PersonaSampler(taxonomy, cfg).sample(200, 3):
        ids = [a.id for a in p.attributes]
        assert 5 <= len(ids) <= 7 and {"age", "gender"} <= set(ids)
        order = list(taxonomy.attributes)
        assert ids == sorted(ids, key=order.index)
    only = SamplerConfig(include=["age", "occupation"], exclude=["occupation"])
    for p in PersonaSampler(taxonomy, only).sample(50, 3):
        assert [a.id for a in p.attributes] == ["age"]


def test_attributes_are_valid_records_with_statements(taxonomy):
    for p in PersonaSampler(taxonomy).sample(300, 8):
        again = Persona.model_validate_json(dumps(p))
        assert again == p
        for a in p.attributes:
            assert a.statement.startswith("The user") and "{" not in a.statement and "_" not in a.statement, a.statement
            assert a.category in taxonomy.categories
            assert a.meta.get("sensitive", False) == taxonomy[a.id].sensitive


@pytest.mark.parametrize("config, message", [
    ({"locales": {"xx_XX": 1}}, "unknown locale 'xx_XX'"),
    ({"weights": {"shoe": {"a": 1}}}, "weights: unknown attribute 'shoe'"),
    ({"weights": {"gender": {"robot": 1}}}, "weights.gender: unknown value 'robot'"),
    ({"weights": {"age": {"10-20": 1}}}, "weights.age.10-20: outside 18-90"),
    ({"weights": {"gender": {"female": 0, "male": 0}}}, "all weights are zero"),
    ({"include": ["nope"]}, "include: unknown attribute 'nope'"),
    ({"joints": [{"attributes": ["gender", "age"], "table": {"female|30": 1}}]}, "'age' is not a categorical"),
    ({"joints": [{"attributes": ["gender", "education"], "table": {"female": 1}}]}, "needs 2 values"),
    ({"n_attributes": (5, 2)}, "n_attributes: bad range"),
])
def test_bad_sampler_config(taxonomy, config, message):
    with pytest.raises(SynthgapError, match=message.replace("(", r"\(").replace(")", r"\)")):
        PersonaSampler(taxonomy, SamplerConfig(**config))
