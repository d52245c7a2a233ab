"""Constructed claims (synthgap/verifiers/constructed.py): labels known by construction, evidence that
points at the right turns, deterministic in the seed; and the situational distractors they rest on."""

from __future__ import annotations

import pytest

from synthgap.corpora import load
from synthgap.generators.jobs import TemplatesJobConfig, VariantsJobConfig, generate_templates, make_variants
from synthgap.generators.variants import SITUATIONAL
from synthgap.personas.jobs import SampleJobConfig, sample_personas
from synthgap.personas.reference import read_persona_file
from synthgap.personas.taxonomy import load_taxonomy
from synthgap.verifiers.constructed import balanced, constructed_claims


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    folder = tmp_path_factory.mktemp("claims")
    people = sample_personas(SampleJobConfig(n=24, seed=4), folder / "p.jsonl").output
    convs = generate_templates(TemplatesJobConfig(per_persona=2, turns=2, seed=4, disclosure="mixed"), people,
                               folder / "t.jsonl").output
    hard = make_variants(VariantsJobConfig(variants=["distractors:k=1,kind=thirdparty",
                                                     "distractors:k=1,kind=situational"], seed=4),
                         convs, folder / "v.jsonl").output
    personas = {p.id: p for p in read_persona_file(people, False)}
    histories = list(load(str(hard), unit="user").users())
    return personas, histories


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
