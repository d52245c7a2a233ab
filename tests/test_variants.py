"""Benchmark variants keep the ground truth exact and record what they did."""

from __future__ import annotations

import pytest

from synthgap.errors import SynthgapError
from synthgap.generators.noise import Realism
from synthgap.generators.template import GenerationConfig, TemplateGenerator, TemplateLibrary
from synthgap.generators.variants import apply_variant, parse_variant
from synthgap.personas.sampler import PersonaSampler
from synthgap.records import dumps

from .test_template_generation import _check_all


@pytest.fixture(scope="module")
def personas(taxonomy):
    return list(PersonaSampler(taxonomy).sample(60, 21))


@pytest.fixture(scope="module")
def convs(taxonomy, personas):
    cfg = GenerationConfig(per_persona=3, turns=3, disclosure="mixed", disclosures=(2, 4), seed=4,
                           realism=Realism.preset("light"))
    return list(TemplateGenerator(taxonomy, TemplateLibrary(), cfg).conversations(personas))


def run(convs, taxonomy, text, seed=0):
    name, params = parse_variant(text)
    stats = {}
    out = list(apply_variant(iter(convs), name, params, taxonomy, seed, stats))
    return out, stats


def test_implicit_rewrites_explicit_disclosures_as_cues(convs, taxonomy, personas):
    out, stats = run(convs, taxonomy, "implicit")
    explicit_before = sum(d.style == "explicit" for c in convs for d in c.disclosures)
    assert stats["converted"] + stats["kept_explicit"] == explicit_before
    assert stats["converted"] > 0.3 * explicit_before
    assert sum(d.style == "explicit" for c in out for d in c.disclosures) == stats["kept_explicit"]
    _check_all(out, taxonomy, personas)
    assert all(c.meta["variants"][-1]["name"] == "implicit" for c in out)
    assert [c.id for c in out] == [c.id for c in convs]


def test_remove_makes_negative_controls(convs, taxonomy, personas):
    out, stats = run(convs, taxonomy, "remove")
    assert stats["removed"] == sum(len(c.disclosures) for c in convs)
    assert all(not c.disclosures and not c.meta["disclosed"] for c in out)
    for before, after in zip(convs, out):
        for d in before.disclosures:
            assert before.turns[d.turn].content[d.span[0]:d.span[1]] not in after.turns[d.turn].content
        assert all(t.content for t in after.turns)
    half, stats = run(convs, taxonomy, "remove:style=implicit")
    assert all(d.style == "explicit" for c in half for d in c.disclosures)
    _check_all(half, taxonomy, personas)


def test_distractors_add_turns_and_move_disclosures(convs, taxonomy, personas):
    out, stats = run(convs, taxonomy, "distractors:k=2,kind=thirdparty")
    assert stats["added"] == 2 * len(convs)
    for before, after in zip(convs, out):
        assert len(after.turns) == len(before.turns) + 4
        assert [t.role for t in after.turns] == ["user", "assistant"] * (len(after.turns) // 2)
        for d0, d1 in zip(before.disclosures, after.disclosures):
            assert before.turns[d0.turn].content[d0.span[0]:d0.span[1]] == \
                after.turns[d1.turn].content[d1.span[0]:d1.span[1]]
        for item in after.meta["distractors"]:
            assert item["about"] == "third party"
            text = after.turns[item["turn"]].content.lower()
            assert text.startswith("my ") and after.turns[item["turn"]].role == "user"
    _check_all(out, taxonomy, personas)


def test_noise_keeps_carriers(convs, taxonomy, personas):
    out, _ = run(convs, taxonomy, "noise:preset=messy,typo_rate=0.3")
    changed = sum(a.turns[0].content != b.turns[0].content for a, b in zip(convs, out))
    assert changed > 0.8 * len(convs)
    assert all(a.turns[1].content == b.turns[1].content for a, b in zip(convs, out))  # assistants untouched
    _check_all(out, taxonomy, personas)


def test_history_and_shuffle(convs, taxonomy):
    out, stats = run(convs, taxonomy, "history:n=2")
    assert len(out) == 2 * 60 and stats["dropped"] == 60
    per_user = {}
    for c in out:
        per_user.setdefault(c.user_id, []).append(c.meta["k"])
    assert all(len(v) == 2 and v == sorted(v) for v in per_user.values())
    shuffled, _ = run(convs, taxonomy, "shuffle")
    assert sorted(c.id for c in shuffled) == sorted(c.id for c in convs)
    assert [c.id for c in shuffled] != [c.id for c in convs]
    users_in_order = list(dict.fromkeys(c.user_id for c in shuffled))
    assert users_in_order == list(dict.fromkeys(c.user_id for c in convs))
    mixed, _ = run(convs, taxonomy, "shuffle:scope=corpus")
    assert list(dict.fromkeys(c.user_id for c in mixed)) != users_in_order


@pytest.mark.parametrize("text", ["implicit:p=0.5", "remove:p=0.5", "distractors:k=1", "noise", "history:n=1",
                                  "shuffle"])
def test_variants_are_deterministic_by_seed(convs, taxonomy, text):
    a = [dumps(c) for c in run(convs, taxonomy, text, seed=3)[0]]
    assert a == [dumps(c) for c in run(convs, taxonomy, text, seed=3)[0]]
    b = [dumps(c) for c in run(convs, taxonomy, text, seed=4)[0]]
    assert a != b
    assert '"variants":[{"name":"' + text.split(":")[0] in a[0]


def test_chained_variants_record_each_step(convs, taxonomy, personas):
    stream = iter(convs)
    for text in ("implicit", "distractors:k=1", "noise:preset=light"):
        name, params = parse_variant(text)
        stream = apply_variant(stream, name, params, taxonomy, 1)
    out = list(stream)
    assert [v["name"] for v in out[0].meta["variants"]] == ["implicit", "distractors", "noise"]
    assert out[0].meta["variants"][2]["params"] == {"preset": "light"}
    _check_all(out, taxonomy, personas)


@pytest.mark.parametrize("text, message", [
    ("paraphrase", "unknown variant 'paraphrase'"),
    ("noise:typo_rate", "is not key=value"),
    ("noise:typo_rate=2", "typo_rate must be a number in [0, 1]"),
    ("history", "give n"),
    ("history:n=0", "n must be a whole number >= 1"),
    ("remove:style=loud", "style must be all, explicit or implicit"),
    ("shuffle:scope=galaxy", "scope must be history or corpus"),
    ("distractors:kind=weird", "kind must be offtopic, thirdparty, situational or mixed"),
    ("distractors:pool=dev", "pool must be all, train, test"),
    ("distractors:split=-1", "split must be a whole number >= 0"),
    ("implicit:q=1", "unknown parameter 'q'"),
    ("noise:preset=wild", "preset must be one of"),
])
def test_bad_variant_specs(convs, taxonomy, text, message):
    with pytest.raises(SynthgapError) as err:
        run(convs[:3], taxonomy, text)
    assert message in str(err.value)
