"""Benchmark variants of a synthetic set: harder disclosures, negative controls, distractors,
noise, shorter histories, shuffled order. Each keeps the ground truth exact (disclosure spans
and turn indices are moved with every edit), records itself in `meta["variants"]`, and is
deterministic in its seed and the conversation id.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

from ..errors import SynthgapError
from ..personas.taxonomy import Taxonomy
from ..records import Conversation, Disclosure, Turn
from . import noise
from .noise import Realism, Segment
from ..seeds import seeded_random

# Off-topic exchanges: no persona facts, so they add length and noise but no ground truth.
OFFTOPIC = [
    ("what's the difference between a virus and bacteria?",
     "Bacteria are single-celled living organisms; viruses are much smaller and need a host cell to reproduce."),
    ("quick one: how many tablespoons in a cup?", "There are 16 tablespoons in a US cup."),
    ("can you recommend a good podcast about history?",
     "Narrative history podcasts that cover one period in depth are a good start; pick an era you enjoy."),
    ("why is the sky blue?", "Air scatters shorter blue wavelengths of sunlight more than red ones."),
    ("what's a good name for a goldfish?", "Something short and fun works well, like Bubbles or Goldie."),
    ("how do I convert celsius to fahrenheit?", "Multiply by 9/5 and add 32."),
    ("what does 'ubiquitous' mean?", "It means found everywhere."),
    ("is it true we only use 10% of our brain?",
     "No, that's a myth; brain imaging shows activity across the whole brain."),
]

# Third-party mentions: someone else's attribute, which an extractor must not give to the user.
RELATIONS = ["sister", "brother", "friend", "coworker", "neighbour", "cousin", "mum", "dad", "flatmate", "boss"]
THIRD_PARTY = {
    "occupation": "my {relation} works as {a_phrase}",
    "diet": "my {relation} is {phrase}",
    "hobby": "my {relation} is really into {phrase}",
    "home_city": "my {relation} lives in {phrase}",
    "health_condition": "my {relation} has {phrase}",
    "religion": "my {relation} is {phrase}",
    "employment": "my {relation} is {phrase}",
    "education": "my {relation} has {phrase}",
    "life_event": "my {relation} is {phrase}",
}

# One-off situations and single mentions: (what the user says, the stable claim that would
# overgeneralize it, the scope of what was said, a claim that keeps to that scope). An extractor that
# turns the first into the second overgeneralizes; the last is supported. The verifier's constructed
# labels are built from these (synthgap/verifiers); `situation_split` halves them into train and test
# pools so a held-out score is on situations (and phrasings) the verifier never saw. The stable claims
# vary in form: many carry no word of lasting ("often", "chronic", "lives in"), only a generic trait.
SITUATIONAL = [
    # one-off states and circumstances restated as lasting ones
    ("I have a terrible headache today, so please keep it short.", "The user has chronic headaches.", "one-off",
     "The user has a headache today."),
    ("I'm in Lisbon this week for a conference.", "The user lives in Lisbon.", "one-off",
     "The user is in Lisbon this week for a conference."),
    ("My flight got delayed this morning, so I'm killing time.", "The user travels frequently.", "one-off",
     "The user's flight was delayed this morning."),
    ("It's raining here today so I'm staying in.", "The user prefers staying indoors.", "one-off",
     "The user is staying in today because of the rain."),
    ("I stayed up late last night watching a documentary about whales.",
     "The user is passionate about marine biology.", "one-off",
     "The user watched a documentary about whales last night."),
    ("I'm borrowing a friend's car this weekend.", "The user owns a car.", "one-off",
     "The user is borrowing a car this weekend."),
    ("I'm covering a colleague's night shift tonight, so I'll be up late.", "The user works night shifts.",
     "one-off", "The user is covering a night shift tonight."),
    ("I've got a cold right now and my voice is almost gone.", "The user has a weak immune system.", "one-off",
     "The user has a cold right now."),
    ("The internet at home is down, so I'm working from a café this afternoon.", "The user works remotely.",
     "one-off", "The user is working from a café this afternoon."),
    ("A train strike left me stuck in a hotel in Rotterdam tonight.", "The user is based in Rotterdam.", "one-off",
     "The user is staying in a hotel in Rotterdam tonight because of a train strike."),
    ("I'm so nervous right now, I have to give a talk in an hour.", "The user has stage fright.", "one-off",
     "The user is nervous right now about giving a talk."),
    ("My knees are aching this morning after yesterday's long walk.", "The user has bad knees.", "one-off",
     "The user's knees are aching this morning after a long walk."),
    ("I'm sleeping on a friend's sofa this week while the flat gets repainted.", "The user is homeless.",
     "one-off", "The user is sleeping on a friend's sofa this week while the flat is repainted."),
    ("I'm looking after a neighbour's dog this weekend.", "The user has a dog.", "one-off",
     "The user is looking after a neighbour's dog this weekend."),
    ("I'm skipping dinner tonight because lunch was huge.", "The user skips meals.", "one-off",
     "The user is skipping dinner tonight."),
    ("I barely slept last night, so I'm running on coffee today.", "The user has insomnia.", "one-off",
     "The user slept badly last night."),
    ("I'm feeling pretty down today, nothing seems to go right.", "The user is an unhappy person.", "one-off",
     "The user is feeling down today."),
    ("I'm sitting in a hospital waiting room at the moment for a routine check.",
     "The user has a serious illness.", "one-off", "The user is at a hospital at the moment for a routine check."),
    ("I'm house-sitting a place with a big garden this month.", "The user has a garden.", "one-off",
     "The user is house-sitting a place with a garden this month."),
    # single occasions and first tries restated as habits, tastes or identities
    ("I had sushi for lunch yesterday.", "The user eats sushi regularly.", "habit", "The user had sushi yesterday."),
    ("I went hiking last weekend with some friends.", "The user hikes regularly.", "habit",
     "The user went hiking last weekend."),
    ("I tried yoga for the first time yesterday.", "The user practises yoga.", "habit",
     "The user tried yoga for the first time yesterday."),
    ("I cooked a curry for the first time last night.", "The user often cooks curry.", "habit",
     "The user cooked a curry for the first time last night."),
    ("I watched a football match on TV last night.", "The user is a dedicated football fan.", "habit",
     "The user watched a football match last night."),
    ("I read a sci-fi novel on the train this morning.", "The user is an avid science fiction reader.", "habit",
     "The user read a sci-fi novel this morning."),
    ("I went to the opera last weekend because someone gave me a ticket.", "The user likes opera.", "habit",
     "The user went to the opera last weekend."),
    ("I played poker for the first time last night and lost ten euros.", "The user is a poker player.", "habit",
     "The user played poker for the first time last night."),
    ("I brewed a batch of beer for the first time this weekend.", "The user is a home brewer.", "habit",
     "The user brewed beer for the first time this weekend."),
    ("I saw a stand-up comedy show yesterday.", "The user loves stand-up comedy.", "habit",
     "The user saw a stand-up comedy show yesterday."),
    ("I played a round of golf yesterday with some clients.", "The user plays golf.", "habit",
     "The user played golf yesterday."),
    ("I'm having a glass of wine with dinner tonight.", "The user drinks alcohol every day.", "habit",
     "The user is having a glass of wine with dinner tonight."),
    ("I took the bus to work today because my bike had a flat tyre.", "The user usually commutes by bus.", "habit",
     "The user took the bus to work today."),
    ("I needed three coffees this morning to get through a deadline.", "The user is addicted to coffee.", "habit",
     "The user drank three coffees this morning."),
    ("I went kayaking on the lake this afternoon.", "The user goes kayaking every week.", "habit",
     "The user went kayaking this afternoon."),
    ("I helped out at a food bank yesterday.", "The user does charity work.", "habit",
     "The user helped at a food bank yesterday."),
    ("I visited a modern art museum last weekend.", "The user is an art lover.", "habit",
     "The user visited a modern art museum last weekend."),
]
SITUATIONAL_REPLIES = ["Got it.", "Sure, I'll keep that in mind.", "Thanks for the context!", "Understood."]

POOLS = ("all", "train", "test")


def situation_split(seed: int = 0) -> tuple[list[int], list[int]]:
    """Indices into SITUATIONAL, half to a train pool and half to a test pool (sorted), by a shuffle seeded
    with `seed`; one-off and habit entries are halved separately, so each pool has both scopes."""
    train: list[int] = []
    test: list[int] = []
    for scope in sorted({s[2] for s in SITUATIONAL}):
        items = [i for i, s in enumerate(SITUATIONAL) if s[2] == scope]
        seeded_random(seed, "situation-split", scope).shuffle(items)
        half = (len(items) + 1) // 2
        train += items[:half]
        test += items[half:]
    return sorted(train), sorted(test)


def thirdparty_split(seed: int = 0) -> tuple[list[str], list[str]]:
    """The attribute ids of THIRD_PARTY (each with its own phrasing), half to a train pool and half to a test
    pool (in THIRD_PARTY's order), by a shuffle seeded with `seed`."""
    keys = list(THIRD_PARTY)
    seeded_random(seed, "thirdparty-split").shuffle(keys)
    half = (len(keys) + 1) // 2
    train, test = set(keys[:half]), set(keys[half:])
    return [k for k in THIRD_PARTY if k in train], [k for k in THIRD_PARTY if k in test]


def pool_members(pool: str = "all", split: int = 0) -> tuple[Optional[list[int]], Optional[list[str]]]:
    """(SITUATIONAL indices, THIRD_PARTY attribute ids) of a pool: None, None (everything) for "all", else
    the "train" or "test" half of `situation_split(split)` and `thirdparty_split(split)`."""
    if pool not in POOLS:
        raise SynthgapError(f"distractor pool must be one of {', '.join(POOLS)}, not {pool!r}")
    if pool == "all":
        return None, None
    side = 0 if pool == "train" else 1
    return situation_split(split)[side], thirdparty_split(split)[side]


def _copy(conv: Conversation) -> Conversation:
    return conv.model_copy(deep=True)


def _record(conv: Conversation, name: str, params: dict, seed: int, **found: Any) -> None:
    conv.meta = dict(conv.meta)
    conv.meta["variants"] = list(conv.meta.get("variants", [])) + [{"name": name, "params": params, "seed": seed,
                                                                    **found}]


def replace_text(conv: Conversation, turn: int, start: int, end: int, new: str) -> None:
    """Replace turn text [start, end) and move the spans of the turn's other disclosures."""
    text = conv.turns[turn].content
    conv.turns[turn] = Turn(role=conv.turns[turn].role, content=text[:start] + new + text[end:])
    shift = len(new) - (end - start)
    for i, d in enumerate(conv.disclosures):
        if d.turn == turn and d.span[0] >= end:
            conv.disclosures[i] = Disclosure(attribute_id=d.attribute_id, turn=d.turn, style=d.style,
                                             span=(d.span[0] + shift, d.span[1] + shift))


def insert_turns(conv: Conversation, at: int, turns: list[Turn]) -> None:
    """Insert turns before index `at`, moving later disclosures and the turns earlier distractor steps
    recorded in `meta` (so a second step does not leave the first one's indices pointing elsewhere)."""
    conv.turns[at:at] = turns
    conv.disclosures = [d if d.turn < at else Disclosure(attribute_id=d.attribute_id, turn=d.turn + len(turns),
                                                         style=d.style, span=d.span) for d in conv.disclosures]
    if conv.meta.get("distractors"):
        conv.meta = dict(conv.meta)
        conv.meta["distractors"] = [dict(e, turn=e["turn"] + len(turns)) if e["turn"] >= at else e
                                    for e in conv.meta["distractors"]]


def _rng(seed: int, name: str, key: str) -> random.Random:
    return seeded_random(seed, name, key)


# ---------------------------------------------------------------------------- per conversation
def to_implicit(conv: Conversation, taxonomy: Taxonomy, rng: random.Random,
                p: float = 1.0) -> tuple[Conversation, dict]:
    """Rewrite explicit disclosures as implicit cues declared for the same value."""
    from .disclosure import Disclosable

    out = _copy(conv)
    values = conv.meta.get("disclosed", {})
    converted = kept = 0
    for i in sorted(range(len(out.disclosures)), key=lambda i: -out.disclosures[i].span[0]):
        d = out.disclosures[i]
        if d.style != "explicit" or rng.random() >= p:
            continue
        spec = taxonomy.attributes.get(d.attribute_id)
        value = values.get(d.attribute_id)
        item = _disclosable(spec, value, d.attribute_id, Disclosable)
        if item is None or not item.can("implicit"):
            kept += 1
            continue
        cue = rng.choice(item.cues())
        surface = item.surfaces()[0]
        text = cue.format(value=surface, phrase=surface, a_phrase=f"a {surface}", name="", first_name="")
        old = out.turns[d.turn].content[d.span[0]:d.span[1]]
        if old[:1].isupper():
            text = text[:1].upper() + text[1:]
        if old[-1:] in ".!?," and text[-1:] not in ".!?,":
            text += old[-1]
        replace_text(out, d.turn, d.span[0], d.span[1], text)
        out.disclosures[i] = Disclosure(attribute_id=d.attribute_id, turn=d.turn, style="implicit",
                                        span=(d.span[0], d.span[0] + len(text)))
        converted += 1
    return out, {"converted": converted, "kept_explicit": kept}


def _disclosable(spec, value, key, cls):
    if spec is None or value is None:
        return None
    from ..records import Attribute

    attr = Attribute(id=key, statement="", value=value)
    v = spec.value_spec(value) if spec.kind in ("categorical", "numeric") else None
    if spec.kind in ("categorical", "numeric") and v is None:
        return None
    return cls(attr, spec, v)


def remove_disclosures(conv: Conversation, rng: random.Random, p: float = 1.0,
                       style: str = "all") -> tuple[Conversation, dict]:
    """Cut disclosure sentences out of the text (negative controls): the facts are no longer there."""
    out = _copy(conv)
    removed = 0
    keep = []
    for d in sorted(out.disclosures, key=lambda d: (d.turn, -d.span[0])):
        if (style != "all" and d.style != style) or rng.random() >= p:
            keep.append(d)
            continue
        text = out.turns[d.turn].content
        start, end = d.span
        while end < len(text) and text[end] in ".,!?;: -":
            end += 1
        out.disclosures = [x for x in out.disclosures if x is not d]
        replace_text(out, d.turn, start, end, "")
        removed += 1
    for t, turn in enumerate(out.turns):
        stripped = turn.content.strip()
        if stripped != turn.content:
            lead = len(turn.content) - len(turn.content.lstrip())
            out.turns[t] = Turn(role=turn.role, content=stripped or "ok")
            out.disclosures = [Disclosure(attribute_id=d.attribute_id, turn=d.turn, style=d.style,
                                          span=(d.span[0] - lead, d.span[1] - lead)) if d.turn == t else d
                               for d in out.disclosures]
        elif not stripped:
            out.turns[t] = Turn(role=turn.role, content="ok")
    out.disclosures.sort(key=lambda d: (d.turn, d.span[0]))
    out.meta = dict(out.meta)
    remaining = {d.attribute_id for d in out.disclosures}
    out.meta["disclosed"] = {k: v for k, v in out.meta.get("disclosed", {}).items() if k in remaining}
    return out, {"removed": removed}


def add_distractors(conv: Conversation, taxonomy: Taxonomy, rng: random.Random, k: int = 1,
                    kind: str = "mixed", situations: Optional[Sequence[int]] = None,
                    attributes: Optional[Sequence[str]] = None) -> tuple[Conversation, dict]:
    """Insert k user/assistant exchanges: off-topic questions, facts about someone else, or one-off situations
    ("situational": never part of "mixed", so mixed outputs stay what they were). `situations` (indices into
    SITUATIONAL) and `attributes` (THIRD_PARTY attribute ids) restrict what is drawn (None: all of them;
    see `pool_members` for held-out halves)."""
    if kind not in ("offtopic", "thirdparty", "situational", "mixed"):
        raise SynthgapError(f"variant distractors: kind must be offtopic, thirdparty, situational or mixed, "
                            f"not {kind!r}")
    if situations is None:
        chosen = SITUATIONAL
    else:
        bad = [i for i in situations if not (isinstance(i, int) and 0 <= i < len(SITUATIONAL))]
        if bad or not situations:
            raise SynthgapError(f"distractors: situations must be indices 0..{len(SITUATIONAL) - 1}, "
                                f"got {list(situations)!r}")
        chosen = [SITUATIONAL[i] for i in situations]
    if attributes is not None:
        unknown = sorted(set(attributes) - set(THIRD_PARTY))
        if unknown or not attributes:
            raise SynthgapError(f"distractors: third-party attributes must be some of {', '.join(THIRD_PARTY)}, "
                                f"got {list(attributes)!r}")
    out = _copy(conv)
    added = []
    for _ in range(k):
        which = kind if kind != "mixed" else rng.choice(["offtopic", "thirdparty"])
        if which == "thirdparty":
            made = _third_party(taxonomy, rng, attributes)
            if made is None:
                which = "offtopic"
            else:
                user_text, attr_key, value = made
                reply = rng.choice(["That's nice to hear.", "Good to know.", "Thanks for sharing that.",
                                    "Sounds like they keep busy!"])
        situation = None
        if which == "situational":
            situation = rng.choice(chosen)
            user_text, reply = situation[0], rng.choice(SITUATIONAL_REPLIES)
            attr_key = value = None
        if which == "offtopic":
            user_text, reply = rng.choice(OFFTOPIC)
            attr_key = value = None
        exchanges = len(out.turns) // 2
        at = 2 * rng.randint(0, exchanges)
        insert_turns(out, at, [Turn(role="user", content=user_text), Turn(role="assistant", content=reply)])
        for item in added:
            if item["turn"] >= at:
                item["turn"] += 2
        entry = {"turn": at, "kind": which}
        if attr_key:
            entry.update({"attribute": attr_key, "value": value, "about": "third party"})
        if situation is not None:
            entry.update({"text": user_text, "overgeneralized": situation[1], "scope": situation[2],
                          "supported": situation[3]})
        added.append(entry)
    out.meta = dict(out.meta)
    out.meta["distractors"] = list(out.meta.get("distractors", [])) + added
    return out, {"added": len(added)}


def _third_party(taxonomy: Taxonomy, rng: random.Random,
                 attributes: Optional[Sequence[str]] = None) -> Optional[tuple[str, str, Any]]:
    def candidates(key):
        attr = taxonomy[key]
        tables = [attr.values, *[attr.by_locale[loc] for loc in sorted(attr.by_locale)]]
        found = {v.name: v for t in tables for v in t.values()
                 if v.weight > 0 and v.name not in ("none", "nothing_special")}
        return [found[n] for n in sorted(found)]

    usable = [k for k in THIRD_PARTY if (attributes is None or k in attributes) and k in taxonomy
              and taxonomy[k].kind == "categorical" and candidates(k)]
    if not usable:
        return None
    key = rng.choice(usable)
    value = rng.choice(candidates(key))
    text = THIRD_PARTY[key].format(relation=rng.choice(RELATIONS), phrase=value.phrase,
                                   a_phrase=f"{value.article} {value.phrase}")
    tail = rng.choice([", anyway, random question", " - just saying", ", so I was wondering about that", ""])
    return text[:1].upper() + text[1:] + tail + ".", key, value.name


def add_noise(conv: Conversation, taxonomy: Taxonomy, rng: random.Random,
              realism: Realism) -> tuple[Conversation, dict]:
    """Typos, lowercase, missing punctuation, fillers in user turns; disclosure carriers stay intact."""
    out = _copy(conv)
    values = conv.meta.get("disclosed", {})
    for t, turn in enumerate(out.turns):
        if turn.role != "user":
            continue
        mine = [(i, d) for i, d in enumerate(out.disclosures) if d.turn == t]
        segments: list[Segment] = []
        pos = 0
        for i, d in sorted(mine, key=lambda x: x[1].span[0]):
            a, b = d.span
            if a < pos:
                continue  # overlapping spans: keep the earlier one's text as is
            if a > pos:
                segments.append(Segment(turn.content[pos:a]))
            segments.extend(_carrier_segments(turn.content[a:b], d, values.get(d.attribute_id), taxonomy, i))
            pos = b
        segments.append(Segment(turn.content[pos:]))
        joined = noise.join(noise.apply(segments, realism, rng))
        out.turns[t] = Turn(role="user", content=joined.text or "ok")
        for i, d in mine:
            if i in joined.spans:
                out.disclosures[i] = Disclosure(attribute_id=d.attribute_id, turn=t, style=d.style,
                                                span=joined.spans[i])
    return out, {}


def _carrier_segments(text: str, d: Disclosure, value: Any, taxonomy: Taxonomy, index: int) -> list[Segment]:
    """Protect the value's surface inside an explicit span (or the whole span when not found)."""
    spec = taxonomy.attributes.get(d.attribute_id)
    if d.style == "explicit" and spec is not None and value is not None:
        v = spec.value_spec(value) if spec.kind in ("categorical", "numeric") else None
        surfaces = v.surfaces if v is not None and spec.kind == "categorical" else (str(value),)
        low = text.lower()
        for surface in sorted(surfaces, key=len, reverse=True):
            at = low.find(surface.lower())
            if at >= 0:
                parts = [Segment(text[:at], False, index), Segment(text[at:at + len(surface)], True, index),
                         Segment(text[at + len(surface):], False, index)]
                return [p for p in parts if p.text]
    return [Segment(text, True, index)]


# ---------------------------------------------------------------------------- per user
def shorten_history(convs: list[Conversation], rng: random.Random, n: int) -> list[Conversation]:
    """Keep n conversations of a user's history (a seeded subset, in the original order)."""
    if len(convs) <= n:
        return convs
    keep = sorted(rng.sample(range(len(convs)), n))
    return [convs[i] for i in keep]


VARIANTS = ("implicit", "remove", "distractors", "noise", "history", "shuffle")


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """'name:k=v,k2=v2' -> (name, params) with numbers parsed."""
    name, _, rest = text.partition(":")
    name = name.strip()
    if name not in VARIANTS:
        raise SynthgapError(f"unknown variant {name!r} (known: {', '.join(VARIANTS)})")
    params: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            raise SynthgapError(f"variant {name}: parameter {part!r} is not key=value")
        try:
            params[key.strip()] = int(value) if value.strip().lstrip("-").isdigit() else float(value)
        except ValueError:
            params[key.strip()] = value.strip()
    return name, params


_ALLOWED = {
    "implicit": {"p"}, "remove": {"p", "style"}, "distractors": {"k", "kind", "pool", "split"},
    "noise": {"preset", "typo_rate", "lowercase", "no_punct", "filler"}, "history": {"n"},
    "shuffle": {"scope"},
}


def apply_variant(conversations: Iterable[Conversation], name: str, params: dict, taxonomy: Taxonomy,
                  seed: int = 0, stats: Optional[dict] = None) -> Iterator[Conversation]:
    """Apply one variant to a stream of conversations (history/shuffle group them by user)."""
    check_variant(name, params)
    stats = stats if stats is not None else {}
    if name in ("history", "shuffle"):
        yield from _per_user(conversations, name, params, seed, stats)
        return
    realism = None
    if name == "noise":
        base = Realism.preset(params.get("preset", "realistic")) if "preset" in params or len(params) == 0 \
            else Realism()
        realism = base.model_copy(update={k: float(v) for k, v in params.items() if k != "preset"})
    members = pool_members(str(params.get("pool", "all")), int(params.get("split", 0))) \
        if name == "distractors" else (None, None)
    step: Callable = {
        "implicit": lambda c, r: to_implicit(c, taxonomy, r, float(params.get("p", 1.0))),
        "remove": lambda c, r: remove_disclosures(c, r, float(params.get("p", 1.0)), str(params.get("style", "all"))),
        "distractors": lambda c, r: add_distractors(c, taxonomy, r, int(params.get("k", 1)),
                                                    str(params.get("kind", "mixed")), *members),
        "noise": lambda c, r: add_noise(c, taxonomy, r, realism),
    }[name]
    for conv in conversations:
        out, found = step(conv, _rng(seed, name, conv.id))
        for key, value in found.items():
            stats[key] = stats.get(key, 0) + value
        _record(out, name, params, seed, **found)
        yield out


def check_variant(name: str, params: dict) -> None:
    """Refuse an unknown parameter or a bad value of one variant (before anything is read)."""
    unknown = set(params) - _ALLOWED[name]
    if unknown:
        raise SynthgapError(f"variant {name}: unknown parameter {sorted(unknown)[0]!r} "
                            f"(known: {', '.join(sorted(_ALLOWED[name]))})")
    for key in ("p", "typo_rate", "lowercase", "no_punct", "filler"):
        if key in params and not (isinstance(params[key], (int, float)) and 0 <= params[key] <= 1):
            raise SynthgapError(f"variant {name}: {key} must be a number in [0, 1], got {params[key]!r}")
    for key in ("k", "n", "split"):
        if key in params and not (isinstance(params[key], int) and params[key] >= (1 if key == "n" else 0)):
            raise SynthgapError(f"variant {name}: {key} must be a whole number >= {1 if key == 'n' else 0}, "
                                f"got {params[key]!r}")
    if name == "history" and "n" not in params:
        raise SynthgapError("variant history: give n, the conversations to keep per user (history:n=2)")
    if name == "distractors" and params.get("pool", "all") not in POOLS:
        raise SynthgapError(f"variant distractors: pool must be {', '.join(POOLS)}, not {params['pool']!r}")
    if name == "remove" and params.get("style", "all") not in ("all", "explicit", "implicit"):
        raise SynthgapError(f"variant remove: style must be all, explicit or implicit, not {params['style']!r}")
    if name == "shuffle" and params.get("scope", "history") not in ("history", "corpus"):
        raise SynthgapError(f"variant shuffle: scope must be history or corpus, not {params['scope']!r}")
    if name == "noise" and "preset" in params and params["preset"] not in noise.PRESETS:
        raise SynthgapError(f"variant noise: preset must be one of {', '.join(noise.PRESETS)}")


def _per_user(conversations: Iterable[Conversation], name: str, params: dict, seed: int,
              stats: dict) -> Iterator[Conversation]:
    """History and shuffle work on whole user histories (held in memory, grouped by user)."""
    users: dict[str, list[Conversation]] = defaultdict(list)
    order: list[str] = []
    for conv in conversations:
        if conv.user_id not in users:
            order.append(conv.user_id)
        users[conv.user_id].append(conv)
    if name == "shuffle" and params.get("scope", "history") == "corpus":
        everything = [c for u in order for c in users[u]]
        seeded_random(seed, "shuffle", "corpus").shuffle(everything)
        for conv in everything:
            conv = _copy(conv)
            _record(conv, name, params, seed)
            yield conv
        stats["conversations"] = len(everything)
        return
    for user in order:
        convs = users[user]
        rng = _rng(seed, name, user)
        if name == "history":
            n = int(params["n"])
            if len(convs) < n:
                stats["users_shorter_than_n"] = stats.get("users_shorter_than_n", 0) + 1
            kept = shorten_history(convs, rng, n)
            stats["dropped"] = stats.get("dropped", 0) + len(convs) - len(kept)
            convs = kept
        else:
            convs = list(convs)
            rng.shuffle(convs)
        for conv in convs:
            conv = _copy(conv)
            _record(conv, name, params, seed)
            yield conv
