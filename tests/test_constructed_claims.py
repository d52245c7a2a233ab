"""Constructed claims (synthgap/verifiers/constructed.py): labels known by construction, evidence that
points at the right turns, deterministic in the seed; and the situational distractors they rest on."""

from __future__ import annotations

import pytest

from synthgap.corpora import load
from synthgap.errors import SynthgapError
from synthgap.generators.jobs import TemplatesJobConfig, VariantsJobConfig, generate_templates, make_variants
from synthgap.generators.variants import (SITUATIONAL, THIRD_PARTY, add_distractors, pool_members, situation_split,
                                          thirdparty_split)
from synthgap.personas.jobs import SampleJobConfig, sample_personas
from synthgap.personas.reference import read_persona_file
from synthgap.personas.taxonomy import load_taxonomy
from synthgap.seeds import seeded_random
from synthgap.verifiers.constructed import balanced, constructed_claims, constructed_set


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    folder = tmp_path_factory.mktemp("claims")
    people = sample_personas(SampleJobConfig(n=24, seed=4), folder / "p.jsonl").output
    convs = generate_templates(TemplatesJobConfig(per_persona=2, turns=2, seed=4, disclosure="mixed"), people,
                               folder / "t.jsonl").output
    return folder, people, convs


def _distracted(templates, name: str, where: str = ""):
    folder, people, convs = templates
    hard = make_variants(VariantsJobConfig(variants=[f"distractors:k=1,kind=thirdparty{where}",
                                                     f"distractors:k=1,kind=situational{where}"], seed=4),
                         convs, folder / name).output
    personas = {p.id: p for p in read_persona_file(people, False)}
    return personas, list(load(str(hard), unit="user").users())


@pytest.fixture(scope="module")
def made(templates):
    return _distracted(templates, "v.jsonl")


def test_every_label_and_kind_is_made_with_its_evidence(made):
    personas, histories = made
    claims = constructed_claims(histories, personas, load_taxonomy(), seed=1)
    by_label = {label: [c for c in claims if c.label == label] for label in ("supported", "overgeneralized",
                                                                              "unsupported")}
    assert all(by_label.values()), {k: len(v) for k, v in by_label.items()}
    assert {c.kind for c in by_label["overgeneralized"]} >= {"third-party"} and \
        {c.kind for c in by_label["overgeneralized"]} & {"one-off", "single-mention"}
    turns = {(conv.id, t): turn.content for h in histories for conv in h.conversations
             for t, turn in enumerate(conv.turns)}
    users = {h.user_id: h for h in histories}
    for claim in claims:
        persona = personas[claim.user_id]
        own = {a.statement for a in persona.attributes}
        if claim.kind == "occasion":  # a one-off situation claimed as what it was
            said = {s[0]: s for s in SITUATIONAL}[turns[claim.evidence[0]]]
            assert claim.label == "supported" and said[3] == claim.statement and claim.scope == "one-off"
        elif claim.label == "supported":
            assert claim.statement in own and claim.evidence
            for conv_id, t in claim.evidence:  # each evidence turn is a user turn that discloses the attribute
                conv = next(c for c in users[claim.user_id].conversations if c.id == conv_id)
                assert conv.turns[t].role == "user" and any(
                    d.attribute_id == claim.attribute_id and d.turn == t for d in conv.disclosures)
        elif claim.label == "unsupported":
            assert claim.statement not in own and not claim.evidence and claim.kind == "other-persona"
        else:
            assert claim.statement not in own and len(claim.evidence) == 1
            text = turns[claim.evidence[0]]
            if claim.kind == "third-party":
                assert text.lower().startswith("my ") and claim.scope == "third-party", text
            else:
                said = {s[0]: s for s in SITUATIONAL}[text]  # the turn is the one-off situation itself
                assert said[1] == claim.statement and said[2] == claim.scope


def test_claims_are_deterministic_in_the_seed_and_balance_keeps_order(made):
    personas, histories = made
    taxonomy = load_taxonomy()
    first = constructed_claims(histories, personas, taxonomy, seed=1)
    assert first == constructed_claims(histories, personas, taxonomy, seed=1)
    assert first != constructed_claims(histories, personas, taxonomy, seed=2)  # other unsupported draws
    even = balanced(first, seed=0)
    counts = {label: sum(c.label == label for c in even) for label in ("supported", "overgeneralized", "unsupported")}
    assert len(set(counts.values())) == 1 and counts["supported"] > 0
    positions = [first.index(c) for c in even]
    assert positions == sorted(positions)


def test_a_third_party_value_the_user_also_has_is_not_called_overgeneralized(made):
    personas, histories = made
    history = next(h for h in histories if any(
        i.get("kind") == "thirdparty" for c in h.conversations for i in c.meta.get("distractors", [])))
    item = next(i for c in history.conversations for i in c.meta.get("distractors", [])
                if i.get("kind") == "thirdparty")
    persona = personas[history.user_id].model_copy(deep=True)
    from synthgap.personas.sampler import attribute_statement

    spec = load_taxonomy().attributes[item["attribute"]]
    persona.attributes = [a for a in persona.attributes if a.id != item["attribute"]] + [
        type(persona.attributes[0])(id=item["attribute"], statement=attribute_statement(spec, item["value"], "en_US"),
                                    value=item["value"])]
    claims = constructed_claims([history], {history.user_id: persona}, load_taxonomy(), seed=1)
    assert not any(c.kind == "third-party" and c.attribute_id == item["attribute"] for c in claims)


def test_situational_distractors_are_recorded_and_mixed_is_unchanged(made):
    _, histories = made
    entries = [i for h in histories for c in h.conversations for i in c.meta.get("distractors", [])
               if i["kind"] == "situational"]
    assert entries and all({"text", "overgeneralized", "scope", "supported", "turn"} <= set(e) for e in entries)


def _inserted(histories, kind):
    return [i for h in histories for c in h.conversations for i in c.meta.get("distractors", []) if i["kind"] == kind]


def test_the_splits_are_disjoint_halves_deterministic_in_their_seed():
    train, test = situation_split(0)
    assert (train, test) == situation_split(0) and (train, test) != situation_split(1)
    assert not set(train) & set(test) and sorted(train + test) == list(range(len(SITUATIONAL)))
    assert abs(len(train) - len(test)) <= 2
    for half in (train, test):  # both scopes on each side
        assert {SITUATIONAL[i][2] for i in half} == {"one-off", "habit"}
    a, b = thirdparty_split(0)
    assert (a, b) == thirdparty_split(0) and a and b and not set(a) & set(b) and set(a) | set(b) == set(THIRD_PARTY)
    assert pool_members("all") == (None, None) and pool_members("test", 3) == (situation_split(3)[1],
                                                                               thirdparty_split(3)[1])
    with pytest.raises(SynthgapError):
        pool_members("dev")


def test_a_pool_restricts_situations_and_third_party_attributes(templates, made):
    test_situations, test_attributes = pool_members("test", 0)
    texts = {SITUATIONAL[i][0] for i in test_situations}
    _, held_out = _distracted(templates, "test.jsonl", ",pool=test,split=0")
    situational, third = _inserted(held_out, "situational"), _inserted(held_out, "thirdparty")
    assert len(situational) == 48 and {e["text"] for e in situational} <= texts
    assert len({e["text"] for e in situational}) > len(texts) // 2  # spread over the half, not one entry
    assert third and {e["attribute"] for e in third} <= set(test_attributes)
    _, trained = _distracted(templates, "train.jsonl", ",pool=train,split=0")
    assert not {e["text"] for e in _inserted(trained, "situational")} & texts
    assert not {e["attribute"] for e in _inserted(trained, "thirdparty")} & set(test_attributes)
    # the default draws from the whole list: both halves show up
    _, everything = made
    drawn = {e["text"] for e in _inserted(everything, "situational")}
    assert drawn & texts and drawn - texts
    assert {e["attribute"] for e in _inserted(everything, "thirdparty")} - set(test_attributes)


def test_add_distractors_takes_explicit_indices_and_covers_the_list_by_default(templates):
    from synthgap.personas.taxonomy import load_taxonomy

    _, _, convs = templates
    conv = next(iter(load(str(convs), unit="conversation")))
    taxonomy = load_taxonomy()
    seen, only = set(), set()
    for n in range(300):
        out, _ = add_distractors(conv, taxonomy, seeded_random(0, "cover", n), 1, "situational")
        seen.add(out.meta["distractors"][-1]["text"])
        out, _ = add_distractors(conv, taxonomy, seeded_random(0, "cover", n), 1, "situational", [3, 20])
        only.add(out.meta["distractors"][-1]["text"])
    assert seen == {s[0] for s in SITUATIONAL} and only == {SITUATIONAL[3][0], SITUATIONAL[20][0]}
    with pytest.raises(SynthgapError):
        add_distractors(conv, taxonomy, seeded_random(0, "x"), 1, "situational", [len(SITUATIONAL)])


def test_constructed_set_keeps_to_its_pool(tmp_path):
    claims, histories = constructed_set(tmp_path, personas=6, seed=2, pool="test", split=5)
    situations, attributes = pool_members("test", 5)
    entries = _inserted(histories.values(), "situational")
    assert entries and {e["text"] for e in entries} <= {SITUATIONAL[i][0] for i in situations}
    assert {e["attribute"] for e in _inserted(histories.values(), "thirdparty")} <= set(attributes)
    stable = {SITUATIONAL[i][1] for i in situations}
    assert {c.statement for c in claims if c.kind in ("one-off", "single-mention")} <= stable
    with pytest.raises(SynthgapError):
        constructed_set(tmp_path / "bad", personas=2, pool="dev")


def test_the_situations_vary_their_wording_and_keep_their_time_span():
    from synthgap.verifiers.features import CLAIM_SITUATIONAL, LASTING, ONE_OFF

    assert len(SITUATIONAL) >= 30 and len({s[0] for s in SITUATIONAL}) == len(SITUATIONAL)
    assert sum(not LASTING.search(s[1]) for s in SITUATIONAL) >= len(SITUATIONAL) // 2  # plain generic traits
    for said, stable, scope, faithful in SITUATIONAL:
        assert scope in ("one-off", "habit") and ONE_OFF.search(said), said
        assert CLAIM_SITUATIONAL.search(faithful) and not CLAIM_SITUATIONAL.search(stable), (faithful, stable)
