"""Constructed claims with known labels, from synthgap's own conversations (where the truth is known).

- *supported*: each attribute a conversation disclosed (explicitly or implicitly), with the turns
  that disclose it, stated as the persona carries it;
- *overgeneralized*: a third party's attribute (a `distractors:kind=thirdparty` turn) restated as the
  user's, and a one-off situation or single mention (`distractors:kind=situational`) restated as a
  stable trait or habit, each with the turn it rests on; the same occasion claimed as what it was
  ("The user went hiking last weekend.") is *supported*, so scope, not topic, decides;
- *unsupported*: another persona's attribute that this user does not have (a different value, or an
  attribute the user never had), with no evidence.

A verifier trained or evaluated on these sees the same kinds of error the study names, with the
truth by construction; `balanced` keeps as many claims of each label as the rarest one has.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Iterable, Mapping, Optional, Union

from ..records import Persona, UserHistory
from ..seeds import seeded_random
from .claims import LABELS, Claim


def _third_party_statement(taxonomy, attribute: str, value, locale: str) -> Optional[str]:
    from ..personas.sampler import attribute_statement

    spec = taxonomy.attributes.get(attribute)
    if spec is None or spec.value_spec(value, locale) is None:
        return None
    return attribute_statement(spec, value, locale)


def supported_claims(history: UserHistory, persona: Persona) -> list[Claim]:
    """The persona attributes the user's conversations disclose, each once, with every disclosing turn."""
    turns: dict[str, list[tuple[str, int]]] = defaultdict(list)
    styles: dict[str, str] = {}
    for conv in history.conversations:
        for d in conv.disclosures:
            turns[d.attribute_id].append((conv.id, d.turn))
            styles.setdefault(d.attribute_id, d.style)
    own = {a.id: a for a in persona.attributes}
    return [Claim(user_id=history.user_id, statement=own[key].statement, label="supported",
                  kind=f"disclosed-{styles[key]}", scope="one-off" if own[key].stability == "situational" else "stable",
                  attribute_id=key, evidence=sorted(set(where)))
            for key, where in turns.items() if key in own]


def overgeneralized_claims(history: UserHistory, persona: Persona, taxonomy) -> list[Claim]:
    """Third parties' attributes and one-off situations of the user's conversations, restated as the user's
    stable traits (a third party's value the user also has is left out: that claim would be true)."""
    own = {(a.id, str(a.value)) for a in persona.attributes}
    out = []
    for conv in history.conversations:
        for item in conv.meta.get("distractors", []):
            where = [(conv.id, item["turn"])]
            if item.get("kind") == "thirdparty" and item.get("attribute"):
                if (item["attribute"], str(item.get("value"))) in own:
                    continue
                statement = _third_party_statement(taxonomy, item["attribute"], item.get("value"), persona.locale)
                if statement:
                    out.append(Claim(user_id=history.user_id, statement=statement, label="overgeneralized",
                                     kind="third-party", scope="third-party", attribute_id=item["attribute"],
                                     evidence=where))
            elif item.get("kind") == "situational" and item.get("overgeneralized"):
                scope = item.get("scope", "one-off")
                out.append(Claim(user_id=history.user_id, statement=item["overgeneralized"], label="overgeneralized",
                                 kind="single-mention" if scope == "habit" else "one-off", scope=scope,
                                 evidence=where))
                if item.get("supported"):  # the same occasion, claimed as what it was: supported
                    out.append(Claim(user_id=history.user_id, statement=item["supported"], label="supported",
                                     kind="occasion", scope="one-off", evidence=where))
    return out


def unsupported_claims(history: UserHistory, persona: Persona, others: list[Persona], count: int,
                       seed: int) -> list[Claim]:
    """`count` attributes of other personas that this user does not have (drawn with the seed)."""
    rng = seeded_random(seed, "unsupported", history.user_id)
    own = {a.id: str(a.value) for a in persona.attributes}
    own_statements = {a.statement for a in persona.attributes}
    pool = [(p, a) for p in others if p.id != persona.id for a in p.attributes
            if own.get(a.id) != str(a.value) and a.statement not in own_statements]
    chosen = rng.sample(pool, min(count, len(pool))) if pool else []
    return [Claim(user_id=history.user_id, statement=a.statement, label="unsupported", kind="other-persona",
                  scope="none", attribute_id=a.id) for _, a in chosen]


def constructed_claims(histories: Iterable[UserHistory], personas: Mapping[str, Persona], taxonomy, *,
                       seed: int = 0, unsupported_per_user: int = 2) -> list[Claim]:
    """Every constructed claim of the users in `histories` whose persona is known, in user order."""
    people = [personas[k] for k in sorted(personas)]
    out: list[Claim] = []
    for history in histories:
        persona = personas.get(history.user_id)
        if persona is None:
            continue
        out += supported_claims(history, persona)
        out += overgeneralized_claims(history, persona, taxonomy)
        out += unsupported_claims(history, persona, people, unsupported_per_user, seed)
    return out


def constructed_set(folder: Union[str, Path], *, personas: int, seed: int = 0, per_persona: int = 2, turns: int = 3,
                    pool: str = "all", split: int = 0) -> tuple[list[Claim], dict[str, UserHistory]]:
    """A labelled set made from scratch in `folder`: `personas` personas, their template conversations
    (realistic noise), one third-party and one one-off exchange inserted into each conversation, light noise
    on top; returns the constructed claims and the users' histories.

    `pool` "train" or "test" draws the one-off situations and the third-party attributes from that half of
    the split seeded by `split` (`synthgap.generators.variants.pool_members`): a verifier trained on a
    "train" set and scored on a "test" set meets situations and phrasings it never saw; "all" uses
    every one."""
    from ..corpora import load
    from ..generators.jobs import TemplatesJobConfig, VariantsJobConfig, generate_templates, make_variants
    from ..personas.jobs import SampleJobConfig, sample_personas
    from ..personas.reference import read_persona_file
    from ..personas.taxonomy import load_taxonomy

    from ..generators.variants import pool_members

    pool_members(pool, split)  # refuses an unknown pool before anything is written
    where = "" if pool == "all" else f",pool={pool},split={split}"
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    people = sample_personas(SampleJobConfig(n=personas, seed=seed), folder / "personas.jsonl", restart=True).output
    convs = generate_templates(TemplatesJobConfig(per_persona=per_persona, turns=turns, seed=seed,
                                                  realism="realistic"), people, folder / "templates.jsonl",
                               restart=True).output
    hard = make_variants(VariantsJobConfig(variants=[f"distractors:k=1,kind=thirdparty{where}",
                                                     f"distractors:k=1,kind=situational{where}", "noise:preset=light"],
                                           seed=seed), convs, folder / "constructed.jsonl").output
    by_id = {p.id: p for p in read_persona_file(people, False)}
    histories = {h.user_id: h for h in load(str(hard), unit="user").users()}
    return constructed_claims(histories.values(), by_id, load_taxonomy(), seed=seed), histories


def balanced(claims: list[Claim], seed: int = 0) -> list[Claim]:
    """As many claims of each label as the rarest label has, drawn with the seed, in their original order."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, claim in enumerate(claims):
        by_label[claim.label].append(i)
    if any(label not in by_label for label in LABELS):
        return []
    n = min(len(v) for v in by_label.values())
    rng = seeded_random(seed, "balanced")
    keep = {i for label in LABELS for i in rng.sample(by_label[label], n)}
    return [c for i, c in enumerate(claims) if i in keep]


__all__ = ["balanced", "constructed_claims", "constructed_set", "overgeneralized_claims", "supported_claims",
           "unsupported_claims"]
