"""A verifier's reading of extracted attributes: per attribute (label, evidence turns and conversations,
evidence scope, whether the claim outruns that scope), and per corpus (supported share, overgeneralization
and unsupported rates with a cluster-bootstrap interval over users, by history size).

The verifier sees the claim and the user's whole history, never which turns the extractor cited nor
which extractor made the claim, so an extractor cannot clear its own attributes.

History size: a user with one conversation has less to go on than one with twenty, and corpora differ in
that (every ShareGPT share is one conversation). Rates are therefore also given per history-size bin
(conversations, user turns), and `matched_difference` compares two corpora within the bins both have,
weighted by the first corpus's attribute mix over them (direct standardization).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional, Sequence

import numpy as np

from ..records import Attribute, UserHistory
from .claims import Claim, Verdict

CONVERSATION_BINS = ((1, 1, "1"), (2, 3, "2-3"), (4, None, "4+"))  # conversations in the history
TURN_BINS = ((1, 2, "1-2"), (3, 5, "3-5"), (6, 10, "6-10"), (11, None, "11+"))  # user turns in the history
LASTING_SCOPES = ("one-off", "third-party")  # evidence scopes a stable claim outruns


@dataclass
class AttributeReading:
    """One extracted attribute as the verifier read it (None label: the verifier could not answer)."""
    user_id: str
    attribute_id: str
    statement: str
    label: Optional[str]
    scope: Optional[str]  # the evidence's: stable | habit | one-off | third-party | none
    evidence: list  # [conversation id, turn] the verifier found bearing on the claim
    conversations: int  # distinct conversations among them
    scope_mismatch: bool  # overgeneralized from one-off or third-party evidence
    confidence: Optional[float]

    def to_json(self) -> dict:
        return asdict(self)


def attribute_claims(histories: Sequence[UserHistory], attributes: Sequence[Sequence[Attribute]]) -> list[Claim]:
    """Every extracted attribute as an unlabelled claim of its user (the extractor's cited turns kept as
    `evidence` for the record, not shown to the verifier)."""
    return [Claim(user_id=h.user_id, statement=a.statement, attribute_id=a.id,
                  evidence=[(e.conversation_id, e.turn) for e in a.evidence])
            for h, attrs in zip(histories, attributes) for a in attrs]


def read_attributes(verify, histories: Sequence[UserHistory], attributes: Sequence[Sequence[Attribute]]
                    ) -> list[list[AttributeReading]]:
    """The verifier's reading of every attribute, per history (`verify(claims, histories_by_user)` is any
    verifier's method: trained or LLM judge)."""
    claims = attribute_claims(histories, attributes)
    verdicts: list[Optional[Verdict]] = verify(claims, {h.user_id: h for h in histories}) if claims else []
    flat = iter(zip(claims, verdicts))
    out = []
    for attrs in attributes:
        row = []
        for _ in attrs:
            claim, v = next(flat)
            if v is None:
                row.append(AttributeReading(claim.user_id, claim.attribute_id or "", claim.statement, None, None, [],
                                            0, False, None))
                continue
            row.append(AttributeReading(claim.user_id, claim.attribute_id or "", claim.statement, v.label, v.scope,
                                        [list(e) for e in v.evidence], len({c for c, _ in v.evidence}),
                                        v.label == "overgeneralized" and v.scope in LASTING_SCOPES, v.confidence))
        out.append(row)
    return out


def history_size(history: UserHistory) -> tuple[int, int]:
    """(conversations with a user turn, user turns) of a history."""
    turns = [sum(t.role == "user" for t in c.turns) for c in history.conversations]
    return sum(1 for n in turns if n), sum(turns)


def size_bin(value: int, bins) -> str:
    for low, high, name in bins:
        if value >= low and (high is None or value <= high):
            return name
    return bins[0][2]


def reading_counts(readings: Sequence[AttributeReading]) -> dict[str, int]:
    """Counts of one user's readings: answered, supported, overgeneralized, unsupported, scope mismatches."""
    answered = [r for r in readings if r.label is not None]
    return {"answered": len(answered), "supported": sum(r.label == "supported" for r in answered),
            "overgeneralized": sum(r.label == "overgeneralized" for r in answered),
            "unsupported": sum(r.label == "unsupported" for r in answered),
            "scope_mismatch": sum(r.scope_mismatch for r in answered), "unanswered": len(readings) - len(answered)}


RATES = {"supported_share": "supported", "overgeneralization_rate": "overgeneralized",
         "unsupported_rate": "unsupported"}


def _rates(counts: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """counts: users x (answered, supported, overgeneralized, unsupported); weights: users x replicates."""
    total = counts[:, 0] @ weights
    safe = np.where(total > 0, total, 1)
    return {name: np.where(total > 0, (counts[:, 1 + i] @ weights) / safe, np.nan)
            for i, name in enumerate(RATES)}


def _interval(reps: np.ndarray) -> Optional[list]:
    reps = reps[np.isfinite(reps)]
    return [round(float(np.percentile(reps, 2.5)), 6), round(float(np.percentile(reps, 97.5)), 6)] if len(reps) else None


def user_matrix(readings: Sequence[Sequence[AttributeReading]]) -> np.ndarray:
    rows = [reading_counts(r) for r in readings]
    return np.array([[c["answered"], c["supported"], c["overgeneralized"], c["unsupported"]] for c in rows],
                    dtype=np.float64).reshape(len(rows), 4)


def bootstrap_weights(n: int, replicates: int, seed: int, tag: str) -> np.ndarray:
    """users x replicates draw counts of a bootstrap over users (the cluster is the user)."""
    from ..seeds import numpy_rng

    rng = numpy_rng(seed, "verifier-bootstrap", tag)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=replicates).T.astype(np.float64) if n else np.zeros((0, 0))


def summarize(readings: Sequence[Sequence[AttributeReading]], histories: Sequence[UserHistory], *,
              replicates: int = 200, seed: int = 0, tag: str = "") -> dict:
    """Per-corpus rates with 95% percentile intervals from a bootstrap over users, the counts behind them,
    the evidence-scope mix of the overgeneralized ones, and the rates per history-size bin."""
    counts = user_matrix(readings)
    point = _rates(counts, np.ones((len(counts), 1)))
    reps = _rates(counts, bootstrap_weights(len(counts), replicates, seed, tag))
    flat = [r for per in readings for r in per]
    totals = reading_counts(flat)
    out = {"users": len(counts), "attributes": len(flat), **totals,
           "rates": {k: {"value": _value(point[k]), "ci95": _interval(reps[k])} for k in RATES},
           "overgeneralized_scope": _tally(r.scope for r in flat if r.label == "overgeneralized"),
           "by_history": {}}
    sizes = [history_size(h) for h in histories]
    for name, index, bins in (("conversations", 0, CONVERSATION_BINS), ("user_turns", 1, TURN_BINS)):
        table = {}
        for _, _, b in bins:
            members = [i for i, s in enumerate(sizes) if size_bin(s[index], bins) == b]
            if not members:
                continue
            sub = counts[members]
            p = _rates(sub, np.ones((len(sub), 1)))
            table[b] = {"users": len(members), "attributes": int(sub[:, 0].sum()),
                        **{k: _value(p[k]) for k in RATES}}
        out["by_history"][name] = table
    return out


def _tally(values) -> dict:
    out: dict = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return dict(sorted(out.items()))


def _value(x) -> Optional[float]:
    v = float(np.asarray(x).ravel()[0])
    return round(v, 6) if np.isfinite(v) else None


def joint_bins(histories: Sequence[UserHistory]) -> list[str]:
    """Each user's history-size bin: conversations x user turns."""
    out = []
    for h in histories:
        conversations, turns = history_size(h)
        out.append(f"{size_bin(conversations, CONVERSATION_BINS)} conv / {size_bin(turns, TURN_BINS)} turns")
    return out


def standardized(counts: np.ndarray, bins: Sequence[str], reference: dict[str, np.ndarray], column: int,
                 weights: np.ndarray) -> np.ndarray:
    """sum over bins b of reference[b] x rate(b), per replicate: `reference` maps each bin to its weight per
    replicate (summing to 1 over the bins used); rate(b) = column count / answered among the users in b."""
    total = np.zeros(weights.shape[1])
    for b, share in reference.items():
        members = [i for i, x in enumerate(bins) if x == b]
        answered = counts[members, 0] @ weights[members]
        hits = counts[members, column] @ weights[members]
        total = total + share * np.where(answered > 0, hits / np.where(answered > 0, answered, 1), np.nan)
    return total


def matched_shares(counts: np.ndarray, bins: Sequence[str], common: Sequence[str], weights: np.ndarray
                   ) -> dict[str, np.ndarray]:
    """Each common bin's share of the answered attributes over the common bins, per replicate."""
    per = {b: counts[[i for i, x in enumerate(bins) if x == b], 0] @ weights[[i for i, x in enumerate(bins) if x == b]]
           for b in common}
    total = sum(per.values())
    return {b: np.where(total > 0, v / np.where(total > 0, total, 1), np.nan) for b, v in per.items()}


__all__ = ["AttributeReading", "CONVERSATION_BINS", "RATES", "TURN_BINS", "attribute_claims", "bootstrap_weights",
           "history_size", "joint_bins", "matched_shares", "read_attributes", "reading_counts", "size_bin",
           "standardized", "summarize", "user_matrix"]
