"""Overgeneralization: an extracted attribute that claims more than its evidence shows.

The study behind this tool found most problems with attributes extracted from real users to be
"narrow evidence extrapolated into a stable user trait". For each attribute this module reads:

- the claim's scope, from the spaCy tags of the statement: a stable trait (identity, values,
  likes, "is interested in", habits) or a situation (a task, a plan, a current state, a one-off
  event), or unknown;
- the evidence breadth: how many distinct conversations and turns support it;
- whether the cited turns themselves state a stable fact about the speaker (the rules
  extractor finds a stable self-disclosure in them).

score = claim (1 stable, 0.5 unknown, 0 situational) x (0 if the evidence states a stable fact,
else 1) x 1 / (conversations cited, at least 1); flagged at 0.5 or more. A stable claim from one
request is flagged; "The user is a nurse" from "I'm a nurse" is not; a situational claim never is.

Where humans judged attributes ok / unsure / bad, `verify` cross-validates a logistic regression
on statement embeddings plus these features and reports precision, recall, F1 and Cohen's kappa
of its "bad" calls against the humans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..records import Attribute, UserHistory

FLAG_AT = 0.5
HEDGES = re.compile(r"\b(may|might|could|likely|probably|possibly|perhaps|seems?|appears?|suggests?|potentially|"
                    r"presumably|apparently|maybe)\b", re.I)
_SITUATIONAL_WORDS = re.compile(r"\b(currently|recently|right now|at the moment|this (week|month|year|weekend)|"
                                r"upcoming|next (week|month|year)|soon|today|tonight|planning|plans? to|preparing|"
                                r"working on|looking for|trying to|wants? to|needs? to|needs help|asked|asking|"
                                r"requested|requesting|seeking|is writing|is creating|is developing|is organi[sz]ing|"
                                r"is applying|is studying for|is dealing with|is recovering|is going to)\b", re.I)
_STABLE_VERBS = {"like", "love", "enjoy", "prefer", "hate", "dislike", "value", "care", "believe", "live", "speak",
                 "follow", "practise", "practice", "identify", "own", "work", "tend", "have", "play", "watch",
                 "listen", "read", "eat", "support", "come", "know", "appreciate", "favor", "favour", "avoid"}
_TASK_VERBS = {"need", "want", "ask", "request", "plan", "seek", "look", "try", "write", "prepare", "create",
               "develop", "organize", "organise", "apply", "search", "attend", "visit", "buy", "fix", "draft",
               "struggle", "wonder", "get", "make", "use", "build", "send", "find", "learn"}
_HABITUAL = {"always", "usually", "often", "generally", "regularly", "typically", "frequently", "tends"}


@dataclass
class Assessment:
    """One attribute's overgeneralization reading."""
    scope: str  # stable | situational | unknown
    conversations: int
    turns: int
    evidence_stable: bool
    hedged: bool
    score: float
    flag: bool

    def features(self) -> list[float]:
        return [float(self.scope == "stable"), float(self.scope == "situational"), float(self.evidence_stable),
                float(self.hedged), 1.0 / max(self.conversations, 1), float(self.turns <= 1), self.score]


FEATURE_NAMES = ("claim_stable", "claim_situational", "evidence_stable", "hedged", "narrowness", "single_turn",
                 "score")


def claim_scope(doc) -> str:
    """Stable trait, situation or unknown, from a tagged statement ("The user ...")."""
    text = doc.text
    if _SITUATIONAL_WORDS.search(text):
        return "situational"
    tokens = [t for t in doc if not (t.lower_ in ("the", "user", "user's", "'s") and t.i < 3)]
    for tok in tokens:
        low, lemma, tag = tok.lower_, tok.lemma_.lower(), tok.tag_
        if low in _HABITUAL:
            return "stable"
        if HEDGES.fullmatch(low) or tag in ("RB", "MD") or low in ("to", "not"):
            continue
        if tag == "VBG":
            return "situational" if lemma in _TASK_VERBS or lemma not in _STABLE_VERBS else "stable"
        if tag == "VBD":
            return "situational"
        if lemma == "be" or low in ("is", "are", "'s"):
            nxt = tok.nbor(1) if tok.i + 1 < len(doc) else None
            if nxt is not None and nxt.tag_ == "VBG" and nxt.lower_ not in ("interested",):
                return "situational" if nxt.lemma_.lower() in _TASK_VERBS or nxt.lemma_.lower() not in \
                    _STABLE_VERBS else "stable"
            return "stable"  # identity ("is a nurse"), a trait ("is patient"), "is interested in"
        if tok.pos_ in ("VERB", "AUX"):
            if lemma in _TASK_VERBS:
                return "situational"
            if lemma in _STABLE_VERBS:
                return "stable"
            return "unknown"
    return "unknown"


def breadth(attribute: Attribute) -> tuple[int, int]:
    """(distinct conversations, distinct turns) cited as evidence."""
    places = {(e.conversation_id, e.turn) for e in attribute.evidence}
    return len({c for c, _ in places}), len(places)


def stable_turns(history: UserHistory, findings: dict) -> set:
    """(conversation id, turn) of the user turns in which the rules extractor found a stable self-disclosure.
    `findings`: (conversation id, turn) -> list of rules findings."""
    return {key for key, items in findings.items() if any(f.stability == "stable" for f in items)}


def assess(attribute: Attribute, scope: str, stable: set) -> Assessment:
    conversations, turns = breadth(attribute)
    evidence_stable = any((e.conversation_id, e.turn) in stable for e in attribute.evidence)
    claim = {"stable": 1.0, "unknown": 0.5}.get(scope, 0.0)
    score = claim * (0.0 if evidence_stable else 1.0) / max(conversations, 1)
    return Assessment(scope, conversations, turns, evidence_stable, bool(HEDGES.search(attribute.statement)),
                      round(score, 6), score >= FLAG_AT)


class ScopeReader:
    """Tags statements with spaCy (the rules extractor's pipeline) and reads their scope."""

    def __init__(self, nlp=None):
        self._nlp = nlp

    @property
    def nlp(self):
        if self._nlp is None:
            from ..nlp import load_spacy

            self._nlp = load_spacy(exclude=("ner", "parser"))
        return self._nlp

    def scopes(self, statements: Sequence[str]) -> list[str]:
        return [claim_scope(doc) for doc in self.nlp.pipe(statements, batch_size=256)]


def assess_histories(histories: Sequence[UserHistory], attributes: Sequence[Sequence[Attribute]],
                     findings: Sequence[dict], reader: Optional[ScopeReader] = None) -> list[list[Assessment]]:
    """Assessments per history, per attribute; `findings[h]` maps (conversation id, turn) to rules findings."""
    reader = reader or ScopeReader()
    flat = [a.statement for attrs in attributes for a in attrs]
    scopes = iter(reader.scopes(flat))
    out = []
    for history, attrs, found in zip(histories, attributes, findings):
        stable = stable_turns(history, found)
        out.append([assess(a, next(scopes), stable) for a in attrs])
    return out


# -- the verifier ------------------------------------------------------------------------------------

@dataclass
class VerifierReport:
    n: int
    positives: int
    precision: Optional[float]
    recall: Optional[float]
    f1: Optional[float]
    kappa: Optional[float]
    rule_flag: dict  # the plain flag's scores against the same labels, for comparison
    folds: int
    dropped_unsure: int

    def to_json(self) -> dict:
        r = lambda v: None if v is None else round(float(v), 6)  # noqa: E731
        return {"n": self.n, "bad": self.positives, "precision": r(self.precision), "recall": r(self.recall),
                "f1": r(self.f1), "kappa": r(self.kappa), "folds": self.folds, "dropped_unsure": self.dropped_unsure,
                "rule_flag": {k: r(v) for k, v in self.rule_flag.items()},
                "anchors": {"prompted_llm_f1": 0.63, "fine_tuned_roberta_f1": 0.726}}


def _scores(y, pred) -> tuple:
    from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support

    p, r, f, _ = precision_recall_fscore_support(y, pred, average="binary", zero_division=0)
    kappa = cohen_kappa_score(y, pred) if len(set(y)) > 1 or len(set(pred)) > 1 else None
    return p, r, f, kappa


def verify(embeddings: np.ndarray, assessments: Sequence[Assessment], labels: Sequence[str],
           groups: Optional[Sequence[str]] = None, folds: int = 5, seed: int = 0,
           unsure: str = "drop") -> VerifierReport:
    """Cross-validated logistic regression predicting the humans' "bad" from embeddings plus features.

    labels: "ok" / "unsure" / "bad" per attribute; unsure is dropped, or counted as "bad" or "ok".
    groups: a user per attribute, so that no user is in both a training and a test fold.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ..errors import SynthgapError

    labels = [str(v).strip().lower() for v in labels]
    bad_label = [lab for lab in labels if lab not in ("ok", "unsure", "bad")]
    if bad_label:
        raise SynthgapError(f"verifier labels must be ok, unsure or bad, got {bad_label[0]!r}")
    keep = [i for i, lab in enumerate(labels) if not (lab == "unsure" and unsure == "drop")]
    y = np.array([1 if labels[i] == "bad" or (labels[i] == "unsure" and unsure == "bad") else 0 for i in keep])
    if len(keep) < 2 * folds or len(set(y.tolist())) < 2 or min(np.bincount(y)) < folds:
        raise SynthgapError(f"the verifier needs at least {folds} ok and {folds} bad labels "
                            f"(got {int((y == 0).sum())} ok, {int((y == 1).sum())} bad)")
    X = np.hstack([np.asarray(embeddings, dtype=float)[keep],
                   np.array([assessments[i].features() for i in keep])])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced", C=0.5))
    if groups is not None and len({groups[i] for i in keep}) >= folds:
        cv = GroupKFold(n_splits=folds)
        pred = cross_val_predict(model, X, y, cv=cv, groups=[groups[i] for i in keep])
    else:
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        pred = cross_val_predict(model, X, y, cv=cv)
    p, r, f, k = _scores(y, pred)
    rp, rr, rf, rk = _scores(y, np.array([int(assessments[i].flag) for i in keep]))
    return VerifierReport(len(keep), int(y.sum()), p, r, f, k,
                          {"precision": rp, "recall": rr, "f1": rf, "kappa": rk}, folds,
                          sum(1 for lab in labels if lab == "unsure") if unsure == "drop" else 0)


__all__ = ["Assessment", "FEATURE_NAMES", "FLAG_AT", "HEDGES", "ScopeReader", "VerifierReport", "assess",
           "assess_histories", "breadth", "claim_scope", "stable_turns", "verify"]
