"""The attribute taxonomy: the built-in file is complete and valid; bad files fail with one clear line."""

from __future__ import annotations

import pytest

from synthgap.personas.taxonomy import TaxonomyError, load_taxonomy

REQUIRED_CATEGORIES = {"demographics", "occupation_education", "family_relationships", "health_body",
                       "interests_hobbies", "skills_expertise", "values_beliefs", "personality", "life_situation",
                       "answer_preferences", "constraints"}


def test_builtin_covers_every_category_the_issue_names(taxonomy):
    assert REQUIRED_CATEGORIES <= set(taxonomy.categories)
    used = {a.category for a in taxonomy}
    assert REQUIRED_CATEGORIES <= used, f"categories without attributes: {REQUIRED_CATEGORIES - used}"


def test_builtin_has_the_demographics_and_preferences_researchers_use(taxonomy):
    for key in ("age", "gender", "home_city", "nationality", "native_language", "occupation", "education",
                "marital_status", "children", "diet", "budget", "accessibility", "answer_length", "answer_tone",
                "answer_format", "answer_detail", "religion", "political_ideology", "health_condition"):
        assert key in taxonomy, key


def test_every_attribute_declares_stability_and_sensitivity(taxonomy):
    for attr in taxonomy:
        assert attr.stability in ("stable", "situational")
        assert isinstance(attr.sensitive, bool)
    sensitive = {a.key for a in taxonomy if a.sensitive}
    assert {"religion", "political_ideology", "health_condition", "sexual_orientation"} <= sensitive
    assert not taxonomy["hobby"].sensitive
    assert taxonomy["life_event"].stability == "situational" and taxonomy["age"].stability == "stable"


def test_value_sources_cover_faker_weighted_lists_and_ranges(taxonomy):
    kinds = {a.kind for a in taxonomy}
    assert {"categorical", "numeric", "faker", "derived"} <= kinds
    assert taxonomy["age"].range[0] >= 18


def test_explicit_and_implicit_forms_exist(taxonomy):
    nurse = taxonomy["occupation"].values["nurse"]
    assert any("night shift" in cue for cue in nurse.cues)
    assert "RN" in nurse.surfaces
    with_cues = [a for a in taxonomy if any(v.cues for v in a.values.values()) or a.implicit]
    assert len(with_cues) >= 20


def test_dependency_order_puts_conditions_first(taxonomy):
    order = list(taxonomy.attributes)
    for attr in taxonomy:
        for dep in attr.depends:
            assert order.index(dep) < order.index(attr.key), (attr.key, dep)


def test_user_file_adds_overrides_and_removes(tmp_path):
    extra = tmp_path / "mine.yaml"
    extra.write_text("""
categories: {pets_extra: Pets in more detail.}
remove: [life_event]
attributes:
  favourite_animal:
    category: pets_extra
    stability: stable
    statement: The user's favourite animal is the {phrase}.
    explicit: ["my favourite animal is the {phrase}."]
    values:
      otter: {weight: 2, cues: ["I watched the river webcam for three hours again"]}
      owl: 1
  gender:
    category: demographics
    stability: stable
    statement: The user is {a_phrase}.
    explicit: ["I'm {a_phrase}."]
    values: {female: {phrase: woman}, male: {phrase: man}, non-binary: {weight: 0, phrase: non-binary person}}
""", encoding="utf-8")
    tax = load_taxonomy(extra)
    assert "favourite_animal" in tax and "life_event" not in tax
    assert set(tax["gender"].values) == {"female", "male", "non-binary"}
    assert tax["gender"].values["non-binary"].weight == 0
    assert tax.sources[-1] == str(extra)


def _write(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    return path


ATTR = """
attributes:
  pet:
    category: family_relationships
    stability: stable
    statement: The user has a {phrase}.
    explicit: ["I have a {phrase}."]
    values: {dog: 1, cat: 1}
"""

HEIGHT = """
attributes:
  height:
    category: health_body
    stability: stable
    kind: numeric
    statement: The user is {value} cm tall.
"""

BAD = {
    "yaml syntax": ("attributes: [unclosed", "invalid YAML"),
    "not a mapping": ("- a\n- b\n", "a taxonomy file is a mapping"),
    "unknown top key": ("atributes: {}\n", "atributes: extra inputs are not permitted"),
    "unknown category": (ATTR.replace("family_relationships", "famly"), "attributes.pet.category: unknown category 'famly'"),
    "bad stability": (ATTR.replace("stability: stable", "stability: forever"), "attributes.pet.stability"),
    "explicit without value": (ATTR.replace("I have a {phrase}.", "I have one."), "attributes.pet.explicit[0]"),
    "unknown placeholder": (ATTR.replace("{phrase}.\"]", "{animal}.\"]"), "unknown placeholder {animal}"),
    "condition on unknown attribute": (ATTR.replace("cat: 1", "cat: {when: {agee: {min: 3}}}"),
                                       "attributes.pet.values.cat.when: unknown attribute 'agee'"),
    "unknown condition value": (ATTR.replace("cat: 1", "cat: {when: {children: [seven]}}"),
                                "unknown value 'seven' of 'children'"),
    "range on categorical": (ATTR.replace("cat: 1", "cat: {when: {children: {min: 1}}}"),
                             "min/max needs a numeric attribute"),
    "list on numeric": (ATTR.replace("cat: 1", "cat: {when: {age: [30]}}"), "'age' is numeric"),
    "all zero weights": (ATTR.replace("{dog: 1, cat: 1}", "{dog: 0, cat: 0}"), "all weights are zero"),
    "negative weight": (ATTR.replace("dog: 1", "dog: {weight: -1}"), "attributes.pet.values.dog"),
    "numeric without range": (HEIGHT, "kind 'numeric' needs exactly 'range:'"),
    "overlapping bands": (HEIGHT + "    range: [140, 200]\n    bands: {140-170: 1, 165-200: 1}\n", "overlap"),
    "band outside range": (HEIGHT + "    range: [140, 200]\n    bands: {100-170: 1}\n", "band outside the range"),
    "cycle": ("""
attributes:
  a1:
    category: personality
    stability: stable
    statement: The user is {phrase}.
    values: {x: {when: {a2: [y]}}}
  a2:
    category: personality
    stability: stable
    statement: The user is {phrase}.
    values: {y: {when: {a1: [x]}}}
""", "conditions form a cycle"),
    "remove unknown": ("remove: [shoe_size]\n", "remove: unknown attribute 'shoe_size'"),
    "unknown locale": (ATTR.replace("values: {dog: 1, cat: 1}", "values: {dog: 1}\n    locales: [xx_XX]"),
                       "unknown locale 'xx_XX'"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_taxonomy_files_fail_with_file_and_key(tmp_path, name):
    text, expected = BAD[name]
    path = _write(tmp_path, text)
    with pytest.raises(TaxonomyError) as err:
        load_taxonomy(path)
    message = str(err.value)
    assert message.startswith(str(path)), message
    assert expected in message, message
    assert "\n" not in message


def test_missing_taxonomy_file(tmp_path):
    with pytest.raises(TaxonomyError, match="taxonomy file not found"):
        load_taxonomy(tmp_path / "nope.yaml")
