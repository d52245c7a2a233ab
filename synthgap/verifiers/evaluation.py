"""How well a verifier separates claims on a real corpus, where no one labelled them:

- *own vs other*: a user's own gold attributes (e.g. ConvAI2's persona lines, restated in the third
  person by the rules extractor's patterns, or "The user's persona says: ..." where none applies)
  against other users' gold attributes. Own lines are not all mentioned in the chat, so this is a
  ranking: the AUC of "bears on the user" (1 - P(unsupported)) for own over other claims;
- *own vs overgeneralized*: the same users' conversations with a third party's attribute and a
  one-off situation inserted (`distractors` variants), whose restatements as the user's traits are
  overgeneralized by construction; the AUC of P(overgeneralized) for those over the own claims.

Both are AUCs with the user as the unit of a cluster bootstrap interval, and the counts beside them.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

import numpy as np

from ..records import UserHistory
from ..seeds import numpy_rng
from .claims import LABELS, Claim
from .constructed import overgeneralized_claims

_PERSONA_LINE = re.compile(r"^The user's persona says: \"(.*)\"$")


def own_claims(histories: Sequence[UserHistory]) -> list[Claim]:
    """Each user's gold attributes as claims; a quoted first-person persona line is restated as "The user ..."
    where the rules extractor's patterns read it (else kept as it is)."""
    from ..extractors.rules import RulesExtractor

    items = [(h.user_id, a) for h in histories for a in h.attributes]
    lines = [(_PERSONA_LINE.match(a.statement) or [None, None])[1] for _, a in items]
    quoted = [i for i, line in enumerate(lines) if line]
    restated: dict[int, str] = {}
    if quoted:
        found = RulesExtractor().extract_texts([lines[i] for i in quoted], "restating persona lines")
        restated = {i: f[0].statement for i, f in zip(quoted, found) if f}
    return [Claim(user_id=user, statement=restated.get(i, a.statement), kind="own-gold", attribute_id=a.id)
            for i, (user, a) in enumerate(items)]


def other_claims(histories: Sequence[UserHistory], own: Sequence[Claim], per_user: int, seed: int) -> list[Claim]:
    """`per_user` claims of other users per user, labelled unsupported (drawn with the seed)."""
    rng = numpy_rng(seed, "other-claims")
    out = []
    for h in histories:
        pool = [c for c in own if c.user_id != h.user_id]
        mine = {c.statement for c in own if c.user_id == h.user_id}
        pool = [c for c in pool if c.statement not in mine]
        for i in rng.choice(len(pool), min(per_user, len(pool)), replace=False) if pool else []:
            out.append(Claim(user_id=h.user_id, statement=pool[int(i)].statement, label="unsupported",
                             kind="other-user", scope="none"))
    return out


def with_distractors(histories: Sequence[UserHistory], taxonomy, seed: int, pool: str = "all",
                     split: int = 0) -> list[UserHistory]:
    """The histories with one third-party and one one-off exchange inserted into each conversation (drawn
    from one half of the seeded split with `pool` "train" or "test", see `constructed_set`)."""
    from ..generators.variants import add_distractors, pool_members
    from ..seeds import seeded_random

    situations, attributes = pool_members(pool, split)
    out = []
    for h in histories:
        convs = []
        for conv in h.conversations:
            for kind in ("thirdparty", "situational"):
                conv, _ = add_distractors(conv, taxonomy, seeded_random(seed, "real-distractors", kind, conv.id), 1,
                                          kind, situations, attributes)
            convs.append(conv)
        out.append(h.model_copy(update={"conversations": convs}))
    return out


def auc_with_interval(positive: Sequence[float], negative: Sequence[float], pos_users: Sequence[str],
                      neg_users: Sequence[str], replicates: int, seed: int) -> dict:
    """AUC of positive over negative scores, with a 95% interval from a bootstrap over users."""
    from sklearn.metrics import roc_auc_score

    def auc(p_idx, n_idx):
        y = np.r_[np.ones(len(p_idx)), np.zeros(len(n_idx))]
        s = np.r_[np.asarray(positive)[p_idx], np.asarray(negative)[n_idx]]
        return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else np.nan

    users = sorted(set(pos_users) | set(neg_users))
    by_pos = {u: [i for i, x in enumerate(pos_users) if x == u] for u in users}
    by_neg = {u: [i for i, x in enumerate(neg_users) if x == u] for u in users}
    point = auc(np.arange(len(positive)), np.arange(len(negative)))
    rng = numpy_rng(seed, "auc-users")
    draws = []
    for _ in range(replicates):
        pick = rng.choice(len(users), len(users), replace=True)
        p_idx = [i for k in pick for i in by_pos[users[k]]]
        n_idx = [i for k in pick for i in by_neg[users[k]]]
        draws.append(auc(p_idx, n_idx))
    draws = np.asarray([d for d in draws if np.isfinite(d)])
    interval = [round(float(np.percentile(draws, 2.5)), 4), round(float(np.percentile(draws, 97.5)), 4)] \
        if len(draws) else None
    return {"auc": round(point, 4), "ci95": interval, "positive": len(positive), "negative": len(negative),
            "users": len(users)}


def separation(verifier, histories: Sequence[UserHistory], taxonomy, *, others_per_user: int = 2, seed: int = 0,
               replicates: int = 200, max_users: Optional[int] = None, pool: str = "all", split: int = 0) -> dict:
    """Own-vs-other and own-vs-overgeneralized AUCs of `verifier` (anything with `probabilities(claims,
    histories)` in `LABELS` columns) on a real corpus whose users carry gold attributes; `pool`/`split`
    choose the inserted distractors (the "test" half for a verifier trained on a "train" set)."""
    users = [h for h in histories if h.attributes and any(t.role == "user" for c in h.conversations for t in c.turns)]
    if max_users is not None and len(users) > max_users:
        keep = sorted(numpy_rng(seed, "users").choice(len(users), max_users, replace=False))
        users = [users[int(i)] for i in keep]
    own = own_claims(users)
    other = other_claims(users, own, others_per_user, seed)
    inserted = with_distractors(users, taxonomy, seed, pool, split)
    by_id = {h.user_id: h for h in inserted}
    over = [c for h in inserted for c in _overgeneralized(h, taxonomy)]
    p_own, _ = verifier.probabilities(own, by_id)
    p_other, _ = verifier.probabilities(other, by_id)
    p_over, _ = verifier.probabilities(over, by_id)
    unsupported, overgeneralized = LABELS.index("unsupported"), LABELS.index("overgeneralized")
    return {"own_vs_other": auc_with_interval(1 - p_own[:, unsupported], 1 - p_other[:, unsupported],
                                              [c.user_id for c in own], [c.user_id for c in other], replicates, seed),
            "overgeneralized_vs_own": auc_with_interval(p_over[:, overgeneralized], p_own[:, overgeneralized],
                                                        [c.user_id for c in over], [c.user_id for c in own],
                                                        replicates, seed),
            "claims": {"own": len(own), "other": len(other), "overgeneralized": len(over)}}


def _overgeneralized(history: UserHistory, taxonomy) -> list[Claim]:
    """The inserted distractors' claims of one real user (no persona: no own value to leave out)."""
    from ..records import Persona

    nobody = Persona(id=history.user_id, locale="en_US", name="", attributes=[], seed=0)
    return overgeneralized_claims(history, nobody, taxonomy)


__all__ = ["auc_with_interval", "other_claims", "own_claims", "separation", "with_distractors"]
