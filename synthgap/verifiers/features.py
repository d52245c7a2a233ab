"""Features of a (claim, user history) pair for the lightweight verifier: how close the claim is to the
user's own turns (sentence embeddings), and what the closest turn is (someone else's attribute, a
one-off situation, a first-person statement), beside whether the claim asserts a lasting trait.

Written out rather than learned end to end: a handful of named features train on a few hundred
constructed claims in a second on CPU, and each one can be read (the study's distinctions are
about whose attribute and over what time span, which are words, not topics).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..lexicon import FIRST_PERSON, KIN
from ..records import UserHistory
from .claims import Claim

# a turn about someone else: "my sister is ...", "our neighbour works as ..."
_PETS = {"cat", "cats", "dog", "dogs", "horse", "kitten", "pet", "pets", "puppy"}  # the user's pet is the user's fact
_PEOPLE = sorted((KIN - _PETS) | {"mom", "mum", "mother", "dad", "father", "parents", "brother", "sister", "siblings", "aunt",
                       "uncle", "cousin", "grandma", "grandpa", "grandmother", "grandfather", "friend", "friends",
                       "coworker", "coworkers", "colleague", "colleagues", "neighbour", "neighbor", "roommate",
                       "roommates", "flatmate", "flatmates", "boss", "landlord", "ex", "family", "teenager",
                       "nephew", "niece", "stepson", "stepdaughter"})  # people, not "my hobby" or "my city"
# The relative must be what the clause is about ("my sister works as a nurse"), not an object ("an email to
# my boss"): a verb within a few words of it.
_ABOUT = (r"(?:is|are|was|were|has|have|had|works?|worked|lives?|lived|likes?|liked|loves?|loved|enjoys?|plays?|"
          r"studies|studied|goes|went|does|did|got|gets|became|speaks?|keeps?|owns?|runs?|just|also|really|still|"
          r"always|never)")
THIRD_PARTY = re.compile(r"\b(?:my|our)\s+(?:" + "|".join(map(re.escape, _PEOPLE)) + r")(?:['’]s)?\b"
                         r"(?:\s+[\w'’-]+){0,2}?\s+" + _ABOUT + r"\b"
                         r"|\b(?:my|our)\s+(?:" + "|".join(map(re.escape, _PEOPLE)) + r")['’]s\s+(?!house|place)\w+",
                         re.I)
# a claim that keeps the third party: "The user's sister works as a nurse" restates "my sister works as a nurse"
CLAIM_THIRD_PARTY = re.compile(r"\b(?:the user['’]s|their)\s+(?:\w+\s+)?(?:" + "|".join(map(re.escape, _PEOPLE)) +
                               r")\b", re.I)
# a one-off time span or a first try
ONE_OFF = re.compile(r"\b(?:today|tonight|yesterday|this (?:morning|afternoon|evening|week|weekend|month)|"
                     r"last (?:night|week|weekend|month|time)|right now|at the moment|for the first time|"
                     r"this time|once)\b", re.I)
# a claim that keeps to a situation (a current state, one occasion): it does not overgeneralize one
CLAIM_SITUATIONAL = re.compile(ONE_OFF.pattern[:-3] + r"|currently|recently|these days|for now)\b", re.I)
# a claim that asserts a lasting trait or habit
LASTING = re.compile(r"\b(?:regularly|often|always|usually|frequently|chronic|avid|dedicated|passionate|habitually|"
                     r"every (?:day|week)|lives in|owns)\b", re.I)
_WORD = re.compile(r"[a-z']+")
_STOP = frozenset("the user is a an of to in and or for with has have their they them who as at on by be "
                  "was are it this that".split())

NAMES = ("max_cosine", "top3_cosine", "breadth", "best_third_party", "best_one_off", "best_first_person",
         "claim_lasting", "claim_situational", "scope_mismatch", "overlap", "turns_log")


@dataclass
class PairFeatures:
    """The feature matrix of a list of claims, the turn each claim is closest to, its cosine, and the turns
    that bear on the claim (the closest one and every other at `breadth_at` cosine or more), in history order."""
    matrix: np.ndarray
    best_turn: list[tuple[str, int] | None]
    best_cosine: np.ndarray
    near_turns: list[list[tuple[str, int]]]


def user_turns(history: UserHistory) -> list[tuple[tuple[str, int], str]]:
    """((conversation id, turn index), text) of every user turn of a history (the extractors' walk)."""
    from ..extractors.rules import user_turns as walk

    return [((conv_id, t), text) for conv_id, t, text in walk(history)]


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0, 1, norms)


def pair_features(claims: Sequence[Claim], histories: dict[str, UserHistory],
                  embed: Callable[[list[str]], np.ndarray], breadth_at: float = 0.5) -> PairFeatures:
    """One row of `NAMES` per claim, against the user turns of its user's history (a claim whose user has
    no turns gets zeros and no best turn)."""
    turns = {uid: user_turns(h) for uid, h in histories.items()}
    texts = sorted({text for items in turns.values() for _, text in items} | {c.statement for c in claims})
    index = {text: i for i, text in enumerate(texts)}
    vectors = _unit(np.asarray(embed(texts), dtype=np.float64)) if texts else np.zeros((0, 1))
    rows, best, best_cos, near = [], [], [], []
    for claim in claims:
        items = turns.get(claim.user_id, [])
        lasting = float(bool(LASTING.search(claim.statement)))
        situational = float(bool(CLAIM_SITUATIONAL.search(claim.statement)))
        if not items:
            rows.append([0, 0, 0, 0, 0, 0, lasting, situational, 0, 0, 0])
            best.append(None)
            best_cos.append(0.0)
            near.append([])
            continue
        sims = vectors[[index[t] for _, t in items]] @ vectors[index[claim.statement]]
        order = np.argsort(-sims, kind="stable")
        where, text = items[order[0]]
        words = _content_words(text)
        claim_words = _content_words(claim.statement)
        one_off = float(bool(ONE_OFF.search(text)))
        # the claim drops the time span its closest evidence has: "I have a headache today" -> "has headaches"
        mismatch = one_off * (1.0 - situational)
        rows.append([sims[order[0]], float(np.mean(sims[order[:3]])), float(np.mean(sims >= breadth_at)),
                     # someone else's words, made the user's: not when the claim keeps whose they are
                     float(bool(THIRD_PARTY.search(text)) and not CLAIM_THIRD_PARTY.search(claim.statement)), one_off,
                     float(bool(set(_WORD.findall(text.lower())) & FIRST_PERSON)), lasting, situational, mismatch,
                     len(words & claim_words) / len(claim_words) if claim_words else 0.0,
                     float(np.log1p(len(items)))])
        best.append(where)
        best_cos.append(float(sims[order[0]]))
        near.append([items[i][0] for i in range(len(items)) if i == order[0] or sims[i] >= breadth_at])
    return PairFeatures(np.asarray(rows, dtype=np.float64).reshape(len(claims), len(NAMES)), best,
                        np.asarray(best_cos), near)


__all__ = ["CLAIM_SITUATIONAL", "CLAIM_THIRD_PARTY", "LASTING", "NAMES", "ONE_OFF", "PairFeatures", "THIRD_PARTY", "pair_features",
           "user_turns"]
