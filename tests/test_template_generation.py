"""Template conversations: exact disclosure ground truth, determinism, realism knobs, template errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from synthgap.generators.noise import Realism
from synthgap.generators.template import GenerationConfig, TemplateError, TemplateGenerator, TemplateLibrary
from synthgap.personas.sampler import PersonaSampler
from synthgap.records import Conversation, dumps

from .conftest import REPO


@pytest.fixture(scope="module")
def library():
    return TemplateLibrary()


@pytest.fixture(scope="module")
def personas(taxonomy):
    return list(PersonaSampler(taxonomy).sample(120, 77))


def _generate(taxonomy, library, personas, **cfg):
    return list(TemplateGenerator(taxonomy, library, GenerationConfig(**cfg)).conversations(personas))


def carries(conv, d, taxonomy, persona) -> str:
    """Independent check that a disclosure's span holds the attribute; returns '' or what is wrong."""
    turn = conv.turns[d.turn]
    if turn.role != "user":
        return "disclosure in a non-user turn"
    a, b = d.span
    if not 0 <= a < b <= len(turn.content):
        return f"span {d.span} outside turn of length {len(turn.content)}"
    text = turn.content[a:b].casefold()
    attr = next((x for x in persona.attributes if x.id == d.attribute_id), None)
    if attr is None:
        return "attribute not in the persona"
    spec = taxonomy[d.attribute_id]
    value = spec.value_spec(attr.value, persona.locale) if spec.kind in ("categorical", "numeric") else None
    if d.style == "explicit":
        surfaces = value.surfaces if spec.kind == "categorical" else (str(attr.value),)
        ok = any(s.casefold() in text for s in surfaces)
        return "" if ok else f"explicit span {text!r} names none of {surfaces}"
    surface = value.phrase if value is not None else str(attr.value)
    cues = [c.format(value=surface, phrase=surface, a_phrase=f"{value.article if value else 'a'} {surface}",
                     name=persona.name, first_name=persona.name.split()[0]).casefold()
            for c in ((value.cues if value else ()) + spec.implicit)]
    return "" if any(c in text for c in cues) else f"implicit span {text!r} is none of the declared cues"


def _check_all(convs, taxonomy, personas):
    by_id = {p.id: p for p in personas}
    problems = []
    total = 0
    for conv in convs:
        Conversation.model_validate_json(dumps(conv))  # what was built is a valid record
        persona = by_id[conv.persona_id]
        for d in conv.disclosures:
            total += 1
            wrong = carries(conv, d, taxonomy, persona)
            if wrong:
                problems.append((conv.id, d.attribute_id, wrong))
        assert set(conv.meta["disclosed"]) == {d.attribute_id for d in conv.disclosures}
    assert not problems, problems[:5]
    return total


@pytest.mark.parametrize("mode", ["explicit", "implicit", "mixed"])
@pytest.mark.parametrize("realism", ["clean", "messy"])
def test_every_disclosure_span_is_in_its_turn_and_carries_the_attribute(taxonomy, library, personas, mode, realism):
    convs = _generate(taxonomy, library, personas, per_persona=3, turns=4, disclosure=mode, disclosures=(1, 4),
                      realism=Realism.preset(realism), seed=3)
    total = _check_all(convs, taxonomy, personas)
    assert total > len(convs)  # about 2.5 per conversation
    styles = {d.style for c in convs for d in c.disclosures}
    assert styles == ({"explicit", "implicit"} if mode == "mixed" else {mode})


def test_every_intent_and_many_seeds(taxonomy, library, personas):
    assert len(library.intents) >= 10
    seen = set()
    for intent in library.intents:
        convs = _generate(taxonomy, library, personas[:40], per_persona=2, turns=5, intents=[intent],
                          realism=Realism.preset("realistic"), seed=11)
        _check_all(convs, taxonomy, personas)
        seen |= {c.meta["intent"] for c in convs}
        for c in convs:
            assert all(t.content.strip() == t.content and t.content for t in c.turns)
            assert "  " not in " ".join(t.content for t in c.turns if t.role == "user").replace("\n", " ")
    assert seen == set(library.intents)


def test_structure_counts_and_roles(taxonomy, library, personas):
    convs = _generate(taxonomy, library, personas[:10], per_persona=4, turns=3)
    assert len(convs) == 40
    for c in convs:
        assert [t.role for t in c.turns] == ["user", "assistant"] * 3
        assert c.synthetic and c.user_id == c.persona_id and c.id.startswith(c.persona_id)
    assert len({c.id for c in convs}) == 40


def test_none_mode_is_a_clean_negative_control(taxonomy, library, personas):
    convs = _generate(taxonomy, library, personas, per_persona=2, turns=4, disclosure="none")
    by_id = {p.id: p for p in personas}
    assert all(not c.disclosures and not c.meta["disclosed"] for c in convs)
    for c in convs:
        user_text = " ".join(t.content for t in c.turns if t.role == "user")
        assert by_id[c.persona_id].name not in user_text


def test_same_seed_same_bytes_other_seed_differs(taxonomy, library, personas):
    cfg = dict(per_persona=2, turns=3, realism=Realism.preset("messy"))
    a = [dumps(c) for c in _generate(taxonomy, library, personas, seed=1, **cfg)]
    assert a == [dumps(c) for c in _generate(taxonomy, library, personas, seed=1, **cfg)]
    b = [dumps(c) for c in _generate(taxonomy, library, personas, seed=2, **cfg)]
    assert sum(x != y for x, y in zip(a, b)) > 0.9 * len(a)


def test_same_bytes_across_processes(tmp_path):
    def run(args, env_seed):
        subprocess.run([sys.executable, "-m", "synthgap.cli", *args], check=True, cwd=REPO, capture_output=True,
                       env={"PYTHONHASHSEED": env_seed, "PATH": ""})

    run(["personas", "sample", "-n", "30", "--seed", "2", "-o", str(tmp_path / "p.jsonl")], "1")
    for i in range(2):
        run(["generate", "templates", "--personas", str(tmp_path / "p.jsonl"), "--realism", "messy", "--seed", "9",
             "-o", str(tmp_path / f"c{i}.jsonl")], str(i + 3))
    assert (tmp_path / "c0.jsonl").read_bytes() == (tmp_path / "c1.jsonl").read_bytes()


def test_realism_knobs_change_user_turns_only(taxonomy, library, personas):
    clean = _generate(taxonomy, library, personas[:40], per_persona=1, turns=3, seed=5)
    lower = _generate(taxonomy, library, personas[:40], per_persona=1, turns=3, seed=5,
                      realism=Realism(lowercase=1.0, no_punct=1.0))
    for c in lower:
        for t in c.turns:
            if t.role == "user":
                assert t.content == t.content.lower()
                assert t.content[-1] not in ".!?" or any(d.turn == c.turns.index(t) for d in c.disclosures)
    typos = _generate(taxonomy, library, personas[:40], per_persona=1, turns=3, seed=5, realism=Realism(typo_rate=0.5))
    changed = sum(a.turns[0].content != b.turns[0].content for a, b in zip(clean, typos))
    assert changed > 30
    assert all(a.turns[1].content == b.turns[1].content or a.meta["intent"] != b.meta["intent"]
               for a, b in zip(clean, typos))
    _check_all(typos, taxonomy, personas)


def test_topic_change_is_recorded(taxonomy, library, personas):
    convs = _generate(taxonomy, library, personas[:20], per_persona=1, turns=4, realism=Realism(topic_change=1.0))
    for c in convs:
        changes = c.meta["topic_changes"]
        assert len(changes) == 3 and all(ch["intent"] != c.meta["intent"] or i > 0 for i, ch in enumerate(changes))


def test_unknown_intent_and_bad_disclosure_range(taxonomy, library):
    from synthgap.errors import SynthgapError

    with pytest.raises(SynthgapError, match="unknown intent 'karaoke'"):
        TemplateGenerator(taxonomy, library, GenerationConfig(intents=["karaoke"]))
    with pytest.raises(SynthgapError, match="bad range"):
        TemplateGenerator(taxonomy, library, GenerationConfig(disclosures=(3, 1)))


GOOD = """{#-
relevant: [diet]
-#}
{% set dish = pick(["soup", "stew"]) %}
{% macro user(n) %}{{ disclose() }} how do I make {{ dish }}?{% endmacro %}
{% macro assistant(n) %}Here is a simple {{ dish }} recipe.{% endmacro %}
"""


def test_user_template_directory_adds_and_overrides(tmp_path, taxonomy, personas):
    (tmp_path / "soup.j2").write_text(GOOD, encoding="utf-8")
    (tmp_path / "travel.j2").write_text(GOOD.replace("recipe", "trip plan"), encoding="utf-8")
    lib = TemplateLibrary([tmp_path])
    assert "soup" in lib.intents and lib.intents["travel"].path == str(tmp_path / "travel.j2")
    assert "cooking" in lib.intents  # built-ins still there
    convs = _generate(taxonomy, lib, personas[:20], intents=["soup"], turns=2)
    assert all("how do i make" in c.turns[0].content.lower() for c in convs)
    _check_all(convs, taxonomy, personas)
    only = TemplateLibrary([tmp_path], builtin=False)
    assert set(only.intents) == {"soup", "travel"}


BROKEN = {
    "syntax": (GOOD.replace("{% endmacro %}\n{% macro assistant", "{% endmacr %}\n{% macro assistant"), "line 5"),
    "undefined": (GOOD.replace("{{ dish }}?", "{{ dishh }}?"), "line 5: UndefinedError: 'dishh' is undefined"),
    "missing macro": (GOOD.replace("macro assistant(n)", "macro reply(n)"), "assistant(n) is missing"),
    "front matter": (GOOD.replace("relevant: [diet]", "relevant: [diet"), "front matter is not valid YAML"),
    "front matter key": (GOOD.replace("relevant:", "relevent:"), "unknown key 'relevent'"),
    "sandbox": (GOOD.replace("{{ dish }}?", "{{ ''.__class__.__mro__[1].__subclasses__() }}?"), "line 5"),
    "bad call": (GOOD.replace('pick(["soup", "stew"])', "pick([])"), "line 4: ValueError: pick() needs"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_template_errors_name_the_file_and_line(tmp_path, name):
    text, expected = BROKEN[name]
    path = tmp_path / f"{name.replace(' ', '_')}.j2"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError) as err:
        TemplateLibrary([tmp_path], builtin=False).check()
    message = str(err.value)
    assert message.startswith(str(path)) and expected in message, message
    assert "\n" not in message


def test_missing_template_directory(tmp_path):
    with pytest.raises(TemplateError, match="template directory not found"):
        TemplateLibrary([tmp_path / "nope"])
