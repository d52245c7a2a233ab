"""The lightweight trained verifier: a multinomial logistic regression on the pair features of
`features.py` (standardized), trained on labelled claims (constructed ones, or human labels mapped to
the three labels), and evaluated with folds that keep each user's claims together.

Chosen over fine-tuning MiniLM as a cross-encoder: it trains in about a second on 2 CPU cores, is
deterministic, and its coefficients say which evidence it relies on; the embedding model it reads is
the packaged one every other part of synthgap already loads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from ..records import UserHistory
from .claims import LABELS, Claim, Verdict
from .features import NAMES, pair_features

Embed = Callable[[list[str]], np.ndarray]
ANCHORS = {"prompted_llm_f1": 0.63, "fine_tuned_roberta_f1": 0.726}  # the study's, on human ok/bad labels


@dataclass
class LinearModel:
    """The fitted model as numbers: feature standardization and one weight row per label (one row for two
    labels, as a logistic regression has). Kept as plain arrays so a trained verifier saves to JSON and
    loads without pickling, and predicts the same probabilities as the scikit-learn model it came from."""
    classes: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray

    @classmethod
    def from_pipeline(cls, pipeline) -> "LinearModel":
        scaler, model = pipeline[0], pipeline[-1]
        return cls([str(c) for c in model.classes_], scaler.mean_.copy(), scaler.scale_.copy(), model.coef_.copy(),
                   model.intercept_.copy())

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """P(class) per row, columns in `classes` order (softmax over the rows of `coef`; a sigmoid for two)."""
        z = ((matrix - self.mean) / self.scale) @ self.coef.T + self.intercept
        if len(self.classes) == 2:
            p = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.column_stack([1.0 - p, p])
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def to_json(self) -> dict:
        return {"classes": self.classes, "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept.tolist()}

    @classmethod
    def from_json(cls, data: dict) -> "LinearModel":
        arr = lambda k: np.asarray(data[k], dtype=np.float64)  # noqa: E731
        return cls(list(data["classes"]), arr("mean"), arr("scale"), np.atleast_2d(arr("coef")), arr("intercept"))


# The two questions a verdict answers, each a logistic regression on its own features. Does the claim bear
# on anything the user said (unsupported or not)? reads similarity. Does it keep to the scope of what was
# said (overgeneralized or supported)? reads only whose words and over what time span, never similarity or
# how many turns the user has: a near-verbatim restatement of "my sister is a nurse" is as overgeneralized
# as a loose one, and "I'm a nurse" supports "The user is a nurse" in a one-conversation history as in a
# long one. One multinomial model on all features learned both confounds from constructed claims.
RELATED = ("max_cosine", "top3_cosine", "breadth", "overlap", "best_first_person")
SCOPE = ("best_third_party", "best_one_off", "best_first_person", "claim_lasting", "claim_situational",
         "scope_mismatch")


class TrainedVerifier:
    """`fit` on labelled claims, then `verify` any claims against their users' histories; `save`/`load` keep
    the fitted weights (and what they were trained on) in a small JSON file.

    P(unsupported) = r, P(overgeneralized) = (1 - r) s, P(supported) = (1 - r)(1 - s), with r from the
    `RELATED` model and s from the `SCOPE` model (see above). Claims labelled ok/bad by people train the
    scope model (bad read as overgeneralized) when no unsupported labels are among them; the related model
    then comes from `related_claims` (constructed ones)."""

    name = "trained"
    FORMAT = "synthgap-trained-verifier/2"

    def __init__(self, embed: Embed, c: float = 1.0, seed: int = 0):
        self.embed = embed
        self.c = c
        self.seed = seed
        self.related: Optional[LinearModel] = None
        self.scope: Optional[LinearModel] = None
        self.trained_on: dict = {}

    @property
    def model(self):
        return self.scope

    def _fit_stage(self, matrix: np.ndarray, y: list, names: tuple) -> LinearModel:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        cols = [NAMES.index(n) for n in names]
        pipe = make_pipeline(StandardScaler(), LogisticRegression(C=self.c, max_iter=2000, class_weight="balanced",
                                                                  random_state=self.seed))
        return LinearModel.from_pipeline(pipe.fit(matrix[:, cols], y))

    def fit(self, claims: Sequence[Claim], histories: dict[str, UserHistory], *,
            related_claims: Optional[Sequence[Claim]] = None,
            related_histories: Optional[dict[str, UserHistory]] = None) -> "TrainedVerifier":
        labelled = [c for c in claims if c.label is not None]
        labels = {c.label for c in labelled}
        if not {"supported", "overgeneralized"} <= labels:
            raise ValueError("the trained verifier needs supported and overgeneralized (or ok and bad) claims")
        features = pair_features(labelled, histories, self.embed).matrix
        related = np.array([c.label != "unsupported" for c in labelled])
        self.scope = self._fit_stage(features[related], [c.label for c, r in zip(labelled, related) if r], SCOPE)
        if "unsupported" in labels:
            self.related = self._fit_stage(features, ["related" if r else "unsupported" for r in related], RELATED)
        elif related_claims:
            other = [c for c in related_claims if c.label is not None]
            m = pair_features(other, related_histories or histories, self.embed).matrix
            self.related = self._fit_stage(m, ["unsupported" if c.label == "unsupported" else "related" for c in other],
                                           RELATED)
        else:
            raise ValueError("without unsupported claims, give related_claims (e.g. constructed ones) to learn "
                             "what bears on a user at all")
        self.trained_on = {"claims": len(labelled), "users": len({c.user_id for c in labelled}),
                           "labels": {k: sum(c.label == k for c in labelled) for k in LABELS},
                           "related_from": "the same claims" if "unsupported" in labels else
                           f"{len(related_claims)} other claims"}
        return self

    def _stage(self, model: LinearModel, matrix: np.ndarray, names: tuple, positive: str) -> np.ndarray:
        cols = [NAMES.index(n) for n in names]
        return model.probabilities(matrix[:, cols])[:, model.classes.index(positive)]

    def probabilities(self, claims: Sequence[Claim], histories: dict[str, UserHistory]) -> tuple[np.ndarray, object]:
        """P(label) per claim, columns in `LABELS` order, and the features."""
        if self.scope is None:
            raise ValueError("fit the verifier first")
        features = pair_features(claims, histories, self.embed)
        if not len(claims):
            return np.zeros((0, len(LABELS))), features
        r = self._stage(self.related, features.matrix, RELATED, "unsupported")
        s = self._stage(self.scope, features.matrix, SCOPE, "overgeneralized")
        out = np.column_stack([(1 - r) * (1 - s), (1 - r) * s, r])
        return out[:, [("supported", "overgeneralized", "unsupported").index(label) for label in LABELS]], features

    def verify(self, claims: Sequence[Claim], histories: dict[str, UserHistory]) -> list[Verdict]:
        """A verdict per claim: the most probable label, the user turns that bear on the claim as evidence
        (closest first), the evidence's scope."""
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
                evidence = [best] + [t for t in features.near_turns[i] if t != best]
            verdicts.append(Verdict(label=label, evidence=evidence, scope=scope, confidence=round(float(row.max()), 6)))
        return verdicts

    def coefficients(self) -> dict[str, dict[str, float]]:
        """The fitted weights (standardized features) of "unsupported" (related model) and "overgeneralized"
        (scope model), for reading what each relies on."""
        out = {}
        for model, names, positive in ((self.related, RELATED, "unsupported"), (self.scope, SCOPE, "overgeneralized")):
            sign = 1.0 if model.classes.index(positive) == 1 else -1.0  # one row: the weights of classes[1]
            out[positive] = {n: round(sign * float(w), 4) for n, w in zip(names, model.coef[0])}
        return out

    def to_json(self) -> dict:
        return {"format": self.FORMAT, "features": {"related": list(RELATED), "scope": list(SCOPE)}, "c": self.c,
                "seed": self.seed, "trained_on": self.trained_on, "related": self.related.to_json(),
                "scope": self.scope.to_json(), "coefficients": self.coefficients()}

    def save(self, path) -> Path:
        from ..records import AtomicWriter

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with AtomicWriter(path) as fh:
            fh.write(json.dumps(self.to_json(), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path, embed: Embed) -> "TrainedVerifier":
        """A verifier saved by `save` (or `synthgap verify train`); refuses a file of other features."""
        from ..errors import SynthgapError

        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SynthgapError(f"{path}: not a trained verifier file ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != cls.FORMAT:
            raise SynthgapError(f"{path}: not a trained verifier file (format {cls.FORMAT} expected)")
        if data.get("features") != {"related": list(RELATED), "scope": list(SCOPE)}:
            raise SynthgapError(f"{path}: trained on other features than this synthgap reads; train it again with "
                                f"`synthgap verify train`")
        verifier = cls(embed, c=data.get("c", 1.0), seed=data.get("seed", 0))
        verifier.related = LinearModel.from_json(data["related"])
        verifier.scope = LinearModel.from_json(data["scope"])
        verifier.trained_on = data.get("trained_on", {})
        return verifier


def scores(truth: Sequence[str], predicted: Sequence[str], probabilities: Optional[np.ndarray] = None) -> dict:
    """Macro F1 over the three labels, F1 of "overgeneralized" against the rest (the study's flag), Cohen's
    kappa, one-vs-rest AUC where probabilities are given, and the confusion counts."""
    from sklearn.metrics import cohen_kappa_score, confusion_matrix, f1_score, roc_auc_score

    present = [label for label in LABELS if label in set(truth) | set(predicted)]  # human labels may have two
    out = {"n": len(truth), "macro_f1": round(float(f1_score(truth, predicted, labels=present, average="macro",
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


def bad_scores(truth: Sequence[str], predicted: Sequence[str]) -> dict:
    """The study's reading: "bad" is any label but supported (overgeneralized or unsupported); precision,
    recall and F1 of the bad calls and Cohen's kappa, as the anchors (F1 0.63 prompted LLM, 0.726 fine-tuned
    RoBERTa, on human ok/bad labels) are stated."""
    from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support

    y = [t != "supported" for t in truth]
    p = [x != "supported" for x in predicted]
    prec, rec, f1, _ = precision_recall_fscore_support(y, p, average="binary", zero_division=0)
    kappa = cohen_kappa_score(y, p) if len(set(y)) > 1 or len(set(p)) > 1 else float("nan")
    return {"n": len(y), "bad": int(sum(y)), "precision": round(float(prec), 4), "recall": round(float(rec), 4),
            "f1": round(float(f1), 4), "kappa": None if kappa != kappa else round(float(kappa), 4),
            "anchors": dict(ANCHORS)}


def cross_validate(claims: Sequence[Claim], histories: dict[str, UserHistory], embed: Embed, *, folds: int = 5,
                   seed: int = 0, related_claims: Optional[Sequence[Claim]] = None,
                   related_histories: Optional[dict[str, UserHistory]] = None) -> dict:
    """Held-out scores of the trained verifier: folds by user (a user's claims are never split between
    training and test), predictions pooled over the folds (`related_claims` as in `TrainedVerifier.fit`)."""
    from sklearn.model_selection import GroupKFold

    labelled = [c for c in claims if c.label is not None]
    users = [c.user_id for c in labelled]
    folds = min(folds, len(set(users)))
    predicted: list[Optional[str]] = [None] * len(labelled)
    probs = np.zeros((len(labelled), len(LABELS)))
    for train, test in GroupKFold(n_splits=folds).split(labelled, groups=users):
        verifier = TrainedVerifier(embed, seed=seed).fit([labelled[i] for i in train], histories,
                                                         related_claims=related_claims,
                                                         related_histories=related_histories)
        p, _ = verifier.probabilities([labelled[i] for i in test], histories)
        probs[test] = p
        for k, i in enumerate(test):
            predicted[i] = LABELS[int(np.argmax(p[k]))]
    result = scores([c.label for c in labelled], predicted, probs)
    result.update({"folds": folds, "users": len(set(users)), "bad_vs_ok": bad_scores([c.label for c in labelled],
                                                                                      predicted)})
    return result


__all__ = ["ANCHORS", "LinearModel", "RELATED", "SCOPE", "TrainedVerifier", "bad_scores", "cross_validate", "scores"]
