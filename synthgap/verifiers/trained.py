"""The lightweight trained verifier: a multinomial logistic regression on the pair features of
`features.py` (standardized), trained on labelled claims (constructed ones, or human labels mapped to
the three labels), and evaluated with folds that keep each user's claims together.

Chosen over fine-tuning MiniLM as a cross-encoder: it trains in about a second on 2 CPU cores, is
deterministic, and its coefficients say which evidence it relies on; the embedding model it reads is
the packaged one every other part of synthgap already loads.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from ..records import UserHistory
from .claims import LABELS, Claim, Verdict
from .features import NAMES, pair_features

Embed = Callable[[list[str]], np.ndarray]


class TrainedVerifier:
    """`fit` on labelled claims, then `verify` any claims against their users' histories."""

    name = "trained"

    def __init__(self, embed: Embed, c: float = 1.0, seed: int = 0):
        self.embed = embed
        self.c = c
        self.seed = seed
        self.model = None

    def _pipeline(self):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(C=self.c, max_iter=2000, class_weight="balanced",
                                                                  random_state=self.seed))

    def fit(self, claims: Sequence[Claim], histories: dict[str, UserHistory]) -> "TrainedVerifier":
        labelled = [c for c in claims if c.label is not None]
        if len({c.label for c in labelled}) < 2:
            raise ValueError("the trained verifier needs labelled claims of at least two labels")
        features = pair_features(labelled, histories, self.embed)
        self.model = self._pipeline().fit(features.matrix, [c.label for c in labelled])
        return self

    def probabilities(self, claims: Sequence[Claim], histories: dict[str, UserHistory]) -> tuple[np.ndarray, object]:
        """P(label) per claim, columns in `LABELS` order (a label unseen in training gets 0), and the features."""
        if self.model is None:
            raise ValueError("fit the verifier first")
        features = pair_features(claims, histories, self.embed)
        raw = self.model.predict_proba(features.matrix)
        out = np.zeros((len(claims), len(LABELS)))
        for j, label in enumerate(self.model.classes_):
            out[:, LABELS.index(label)] = raw[:, j]
        return out, features

    def verify(self, claims: Sequence[Claim], histories: dict[str, UserHistory]) -> list[Verdict]:
        """A verdict per claim: the most probable label, the closest user turn as evidence, the evidence's scope."""
        probs, features = self.probabilities(claims, histories)
        third, one_off = NAMES.index("best_third_party"), NAMES.index("best_one_off")
        verdicts = []
        for i, row in enumerate(probs):
            best = features.best_turn[i]
            label = LABELS[int(np.argmax(row))] if best is not None else "unsupported"  # no turns, no support
            if label == "unsupported":
                scope, evidence = "none", []
            else:
                f = features.matrix[i]
                scope = "third-party" if f[third] else "one-off" if f[one_off] else "stable"
                evidence = [best]
            verdicts.append(Verdict(label=label, evidence=evidence, scope=scope, confidence=round(float(row.max()), 6)))
        return verdicts

    def coefficients(self) -> dict[str, dict[str, float]]:
        """The fitted weights per label and feature (standardized features), for reading what it relies on."""
        model = self.model[-1]
        return {label: {name: round(float(w), 4) for name, w in zip(NAMES, model.coef_[j])}
                for j, label in enumerate(model.classes_)}


def scores(truth: Sequence[str], predicted: Sequence[str], probabilities: Optional[np.ndarray] = None) -> dict:
    """Macro F1 over the three labels, F1 of "overgeneralized" against the rest (the study's flag), Cohen's
    kappa, one-vs-rest AUC where probabilities are given, and the confusion counts."""
    from sklearn.metrics import cohen_kappa_score, confusion_matrix, f1_score, roc_auc_score

    out = {"n": len(truth), "macro_f1": round(float(f1_score(truth, predicted, labels=list(LABELS), average="macro",
                                                             zero_division=0)), 4),
           "overgeneralized_f1": round(float(f1_score([t == "overgeneralized" for t in truth],
                                                      [p == "overgeneralized" for p in predicted],
                                                      zero_division=0)), 4),
           "kappa": round(float(cohen_kappa_score(truth, predicted, labels=list(LABELS))), 4),
           "confusion": {"labels": list(LABELS),
                         "counts": confusion_matrix(truth, predicted, labels=list(LABELS)).tolist()}}
    if probabilities is not None and len(set(truth)) == len(LABELS):
        order = sorted(LABELS)  # sklearn wants the probability columns in sorted label order
        columns = probabilities[:, [LABELS.index(label) for label in order]]
        out["auc_ovr"] = round(float(roc_auc_score(truth, columns, labels=order, multi_class="ovr")), 4)
    return out


def cross_validate(claims: Sequence[Claim], histories: dict[str, UserHistory], embed: Embed, *, folds: int = 5,
                   seed: int = 0) -> dict:
    """Held-out scores of the trained verifier: folds by user (a user's claims are never split between
    training and test), predictions pooled over the folds."""
    from sklearn.model_selection import GroupKFold

    labelled = [c for c in claims if c.label is not None]
    users = [c.user_id for c in labelled]
    folds = min(folds, len(set(users)))
    predicted: list[Optional[str]] = [None] * len(labelled)
    probs = np.zeros((len(labelled), len(LABELS)))
    for train, test in GroupKFold(n_splits=folds).split(labelled, groups=users):
        verifier = TrainedVerifier(embed, seed=seed).fit([labelled[i] for i in train], histories)
        p, _ = verifier.probabilities([labelled[i] for i in test], histories)
        probs[test] = p
        for k, i in enumerate(test):
            predicted[i] = LABELS[int(np.argmax(p[k]))]
    result = scores([c.label for c in labelled], predicted, probs)
    result.update({"folds": folds, "users": len(set(users))})
    return result


__all__ = ["TrainedVerifier", "cross_validate", "scores"]
