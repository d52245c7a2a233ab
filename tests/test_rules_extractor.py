"""The rules extractor: hand cases on the real spaCy model, third-person statements, evidence in histories,
recall on template conversations with exact disclosure spans, and a smoke run on a real corpus."""

from __future__ import annotations

import itertools
import time
from collections import Counter

import pytest

from synthgap.extractors.rules import Finding, RulesExtractor, extract_histories, third_person
from synthgap.generators.noise import Realism
from synthgap.generators.template import GenerationConfig, TemplateGenerator, TemplateLibrary
from synthgap.personas.sampler import PersonaSampler
from synthgap.records import Conversation, Turn, UserHistory


@pytest.fixture(scope="module")
def extractor():
    """One extractor for the module: it loads en_core_web_sm (the real model, not the blank fallback)."""
    ex = RulesExtractor()
    assert ex.nlp.has_pipe("tagger") or ex.nlp.has_pipe("tok2vec"), "the real spaCy model should be installed"
    return ex


def one(extractor, text: str) -> list[Finding]:
    (found,) = extractor.extract_texts([text])
    for f in found:  # every span indexes into the original text and holds a clause, not padding
        assert 0 <= f.start < f.end <= len(text)
        assert text[f.start:f.end] == text[f.start:f.end].strip()
        assert f.statement.startswith("The user")
    return found


# -- hand cases ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, clause, statement, category, stability", [
    ("I'm a nurse.", "I'm a nurse", "The user is a nurse", "occupation_education", "stable"),
    ("I’m a nurse", "I’m a nurse", "The user is a nurse", "occupation_education", "stable"),  # curly apostrophe
    ("I'm 34 years old", "I'm 34 years old", "The user is 34 years old", "demographics", "stable"),
    ("here in Leeds, any tips?", "here in Leeds", "The user is in Leeds", "demographics", "stable"),
    ("please keep it short", "keep it short", "The user asks the assistant to keep it short", "answer_preferences",
     "stable"),
    ("I'm dealing with a sprained ankle right now", "I'm dealing with a sprained ankle right now",
     "The user is dealing with a sprained ankle right now", "health_body", "situational"),
    ("I have asthma", "I have asthma", "The user has asthma", "health_body", "stable"),
    ("I live in Berlin", "I live in Berlin", "The user lives in Berlin", "demographics", "stable"),
    ("I'm vegan, what should I cook?", "I'm vegan", "The user is vegan", "constraints", "stable"),
    ("I'm moving to a new city", "I'm moving to a new city", "The user is moving to a new city", "life_situation",
     "situational"),
    ("My wife is a doctor.", "My wife is a doctor", "The user's wife is a doctor", "family_relationships", "stable"),
    ("I'd say I'm an introvert", "I'm an introvert", "The user is an introvert", "personality", "stable"),
    ("I've been vegan for years", "I've been vegan for years", "The user has been vegan for years", "constraints",
     "stable"),
])
def test_one_disclosure(extractor, text, clause, statement, category, stability):
    found = one(extractor, text)
    assert len(found) == 1, found
    f = found[0]
    assert text[f.start:f.end] == clause
    assert (f.statement, f.category, f.stability) == (statement, category, stability)


def test_two_disclosures_in_one_unpunctuated_lowercase_turn(extractor):
    text = "im married and ive got two kids"
    found = one(extractor, text)
    assert [text[f.start:f.end] for f in found] == ["im married", "ive got two kids"]
    assert [f.category for f in found] == ["family_relationships"] * 2
    assert found[0].statement == "The user is married"
    assert found[1].statement.startswith("The user has") and found[1].statement.endswith("two kids")
    assert found[0].end <= found[1].start  # clauses do not overlap


def test_disclosures_after_a_greeting_and_before_a_request(extractor):
    text = "Hi! I'm a nurse and I have two dogs. Can you help?"
    found = one(extractor, text)
    assert [(text[f.start:f.end], f.statement, f.category) for f in found] == [
        ("I'm a nurse", "The user is a nurse", "occupation_education"),
        ("I have two dogs", "The user has two dogs", "family_relationships")]


def test_stability_follows_time_words(extractor):
    (stable,), (situational,) = extractor.extract_texts(["I live in Berlin", "I live in Berlin at the moment"])
    assert stable.stability == "stable" and situational.stability == "situational"


def test_requests_about_answers(extractor):
    for text in ("please keep it short", "keep answers short please", "Explain it simply please"):
        (f,) = one(extractor, text)
        assert f.category == "answer_preferences" and f.statement.startswith("The user asks the assistant to ")
        assert "please" not in f.statement.lower()
    text = "Short answers work best for me."
    (f,) = one(extractor, text)
    assert text[f.start:f.end] == "Short answers work best for me" and f.category == "answer_preferences"


@pytest.mark.parametrize("text", [
    "I'm not sure what you mean",
    "I have a question about Python",
    "I'd like to know more",
    "Can you help me write an email?",
    "I'm looking for a recipe",
    "I'm trying to understand this",
    "I have to go",
    "I'm going to the store",
    "I think so",
    "I have no idea",
    "I'm just curious",
    "I'm a bit confused",
    "Do I need a visa?",
    "If I'm a student, can I apply?",
    "What if I have kids?",
    "Thanks, I'm good",
    "I'm using Python 3",
    "I love that idea",
    "I'm in a hurry",
    "I'm working on a script",
    "I have a presentation tomorrow",
    "",
])
def test_small_talk_questions_and_requests_are_no_disclosure(extractor, text):
    assert one(extractor, text) == []


def test_texts_are_independent_and_in_order(extractor):
    texts = ["I'm a nurse.", "I'm not sure what you mean", "I have asthma"]
    together = extractor.extract_texts(texts)
    assert [len(x) for x in together] == [1, 0, 1]
    assert together == [extractor.extract_texts([t])[0] for t in texts]


def test_long_texts_are_cut(extractor):
    text = "x " * 3000 + "I'm a nurse."
    assert extractor.extract_texts([text]) == [[]]
    (found,) = RulesExtractor(nlp=extractor.nlp, max_chars=len(text)).extract_texts([text])
    assert [text[f.start:f.end] for f in found] == ["I'm a nurse"]


# -- third person ----------------------------------------------------------------------------------

@pytest.mark.parametrize("verb, expected", [
    ("have", "has"), ("watch", "watches"), ("study", "studies"), ("play", "plays"), ("go", "goes"),
    ("do", "does"), ("fix", "fixes"), ("wash", "washes"), ("miss", "misses"), ("enjoy", "enjoys"),
    ("try", "tries"), ("live", "lives"), ("am", "is"), ("'m", "is"), ("'ve", "has"), ("can", "can"),
    ("Watch", "Watches"),
])
def test_third_person(verb, expected):
    assert third_person(verb) == expected


def test_statements_inflect_the_verb_after_the_user(extractor):
    texts = ["I watch a lot of anime", "I study biology", "I play the guitar", "I go to the gym every day",
             "I don't drink", "I've got a dog"]
    statements = [f.statement for found in extractor.extract_texts(texts) for f in found]
    assert statements == ["The user watches a lot of anime", "The user studies biology", "The user plays the guitar",
                          "The user goes to the gym every day", "The user does not drink", "The user has got a dog"]


# -- histories -------------------------------------------------------------------------------------

def conv(cid: str, *turns: tuple[str, str]) -> Conversation:
    return Conversation(id=cid, user_id="u", source="hand", synthetic=True,
                        turns=[Turn(role=r, content=c) for r, c in turns])


def history(user_id: str, *convs: Conversation) -> UserHistory:
    return UserHistory(user_id=user_id, source="hand", synthetic=True, conversations=list(convs))


def hand_histories() -> list[UserHistory]:
    a = history("a",
                conv("a1", ("system", "I'm a helpful assistant."),
                     ("user", "Hi, what's a good stretch for runners?"),
                     ("assistant", "I'm a nurse, so try calf raises."),  # assistant turns are never read
                     ("user", "Thanks. I'm a teacher and I have two dogs.")),
                conv("a2", ("user", "   "),
                     ("assistant", "Hello!"),
                     ("user", "Quick one: I'm a teacher, how do I grade faster?")))
    b = history("b", conv("b1", ("assistant", "I have asthma."), ("user", "I'm not sure what you mean")))
    c = history("c", conv("c1", ("user", "I live in Berlin")))
    return [a, b, c]


def test_evidence_points_at_user_turns_and_merges_across_conversations(extractor):
    histories = hand_histories()
    per_user = extract_histories(extractor, histories)
    assert len(per_user) == 3
    a, b, c = per_user
    assert [x.statement for x in a] == ["The user is a teacher", "The user has two dogs"]
    assert [x.id for x in a] == ["rules-0", "rules-1"] and [x.id for x in c] == ["rules-0"]
    teacher, dogs = a
    # the same statement in two conversations: one attribute, two pieces of evidence, in reading order
    assert [(e.conversation_id, e.turn) for e in teacher.evidence] == [("a1", 3), ("a2", 2)]
    assert [(e.conversation_id, e.turn) for e in dogs.evidence] == [("a1", 3)]
    assert teacher.category == "occupation_education" and dogs.category == "family_relationships"
    assert teacher.stability == "stable" and teacher.meta == {"pattern": "identity"}
    content = {x.id: x.turns for h in histories for x in h.conversations}
    for attr in a + c:
        for ev in attr.evidence:
            turn = content[ev.conversation_id][ev.turn]
            assert turn.role == "user"
            start, end = ev.span
            assert 0 <= start < end <= len(turn.content)
    assert [content[e.conversation_id][e.turn].content[slice(*e.span)] for e in teacher.evidence] == \
        ["I'm a teacher", "I'm a teacher"]
    assert b == []  # only the assistant disclosed anything
    assert c[0].statement == "The user lives in Berlin" and c[0].evidence[0].turn == 0


def test_same_input_same_output(extractor):
    first = [[x.model_dump(mode="json") for x in attrs] for attrs in extract_histories(extractor, hand_histories())]
    again = [[x.model_dump(mode="json") for x in attrs] for attrs in extract_histories(extractor, hand_histories())]
    fresh = RulesExtractor(nlp=extractor.nlp, batch_size=1)
    other = [[x.model_dump(mode="json") for x in attrs] for attrs in extract_histories(fresh, hand_histories())]
    assert first == again == other
    assert extract_histories(extractor, []) == []


# -- recall on template conversations --------------------------------------------------------------

@pytest.fixture(scope="module")
def personas(taxonomy):
    return list(PersonaSampler(taxonomy).sample(150, 2024))


def recall(extractor, taxonomy, personas, disclosure: str, realism: str, seed: int) -> dict:
    """Per disclosure style: (found, total, found with the taxonomy's category) over two conversations each."""
    config = GenerationConfig(per_persona=2, disclosure=disclosure, realism=Realism.preset(realism), seed=seed)
    convs = list(TemplateGenerator(taxonomy, TemplateLibrary(), config).conversations(personas))
    places = [(c.id, t, turn.content) for c in convs for t, turn in enumerate(c.turns) if turn.role == "user"]
    findings = dict(zip(((cid, t) for cid, t, _ in places), extractor.extract_texts([p[2] for p in places])))
    found, total, same_category = Counter(), Counter(), Counter()
    for c in convs:
        for d in c.disclosures:
            total[d.style] += 1
            hits = [f for f in findings[c.id, d.turn] if f.start < d.span[1] and d.span[0] < f.end]
            if hits:
                found[d.style] += 1
                same_category[d.style] += any(f.category == taxonomy[d.attribute_id].category for f in hits)
    return {style: (found[style], total[style], same_category[style]) for style in total}


def test_recall_on_template_conversations(extractor, taxonomy, personas):
    started = time.perf_counter()
    explicit = recall(extractor, taxonomy, personas, "explicit", "light", seed=1)
    mixed = recall(extractor, taxonomy, personas, "mixed", "light", seed=1)
    assert set(explicit) == {"explicit"} and set(mixed) == {"explicit", "implicit"}
    found = explicit["explicit"][0] + mixed["explicit"][0]
    total = explicit["explicit"][1] + mixed["explicit"][1]
    assert total > 500
    explicit_recall = found / total
    implicit_found, implicit_total, _ = mixed["implicit"]
    implicit_recall = implicit_found / implicit_total
    category_agreement = (explicit["explicit"][2] + mixed["explicit"][2]) / found
    print(f"rules extractor, template conversations (light): explicit recall {explicit_recall:.3f} "
          f"({found}/{total}), implicit recall {implicit_recall:.3f} ({implicit_found}/{implicit_total}), "
          f"category agreement on found explicit {category_agreement:.3f}, {time.perf_counter() - started:.1f} s")
    assert explicit_recall >= 0.90
    assert mixed["explicit"][0] / mixed["explicit"][1] >= 0.90  # also where implicit ones share the turns
    assert 0.1 < implicit_recall < 1  # some implicit cues name the attribute, most are beyond rules
    assert category_agreement >= 0.75


def test_recall_with_typos(extractor, taxonomy, personas):
    found, total, _ = recall(extractor, taxonomy, personas, "explicit", "messy", seed=2)["explicit"]
    print(f"rules extractor, template conversations (messy): explicit recall {found / total:.3f} ({found}/{total})")
    assert found / total >= 0.85


# -- a real corpus ---------------------------------------------------------------------------------

def test_real_corpus_smoke(extractor, corpora, taxonomy):
    from synthgap.corpora import load

    path = corpora / "convai2_wild_intermediate.json"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    histories = list(itertools.islice(load(path).histories(), 100))
    assert len(histories) == 100
    per_user = extract_histories(extractor, histories)
    assert len(per_user) == len(histories)
    attrs = [a for attrs in per_user for a in attrs]
    assert len(attrs) >= 20 and sum(bool(x) for x in per_user) >= 10
    allowed = set(taxonomy.categories) | {"other"}
    turns = {c.id: c.turns for h in histories for c in h.conversations}
    for history_, attrs_ in zip(histories, per_user):
        ids = {c.id for c in history_.conversations}
        assert [a.id for a in attrs_] == [f"rules-{k}" for k in range(len(attrs_))]
        for a in attrs_:
            assert a.statement.startswith("The user"), a.statement
            assert a.category in allowed, a.category
            assert a.stability in ("stable", "situational")
            assert a.evidence
            for ev in a.evidence:
                assert ev.conversation_id in ids  # evidence stays within its own user's history
                turn = turns[ev.conversation_id][ev.turn]
                assert turn.role == "user"
                start, end = ev.span
                assert 0 <= start < end <= len(turn.content)
                assert turn.content[start:end].strip() == turn.content[start:end]
