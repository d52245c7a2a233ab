"""Context-matched twins: each simulated user turn measured against the real user turn it replaces.

`synthgap generate continue` shows a user simulator a real conversation up to a real user turn and lets
it write that turn, or end the conversation (docs/generation.md, "Context-matched continuation"). Each
simulated turn then has a *twin*: the real user's turn in the same context. `compare --paired` reads
those files (`read_twins`, OUT.jsonl and OUT.ended.jsonl), finds every twin in the real corpus
(`pair_twins`: conversation id and turn index; the real text there must be the recorded one) and
measures (`measure_twins`), in the family "paired":

- `twin_similarity`: mean cosine (MiniLM) between the simulated turn and its real twin;
- `paired_c2st_auc`: a classifier telling simulated from real twin turns;
- `twin_delta_<feature>`: the mean paired difference of a style feature, simulated minus real twin;
- `ending_*`: whether the simulator ends where the real user ended (descriptive, no yardstick).

**The yardstick.** Two real users are never seen in one context, so the real-vs-real side is
*context-matched*: for each twin, the real user turn of *another user's* conversation whose context
(the `CONTEXT_WINDOW` turns before it, mean of their embeddings) is most similar to the twin's, at the
same turn index (nearest indices when fewer than `MIN_POOL` other users' conversations reach it), leaving
out near-copies of the twin (cosine >= `NEAR_COPY`). Each metric is then the same statistic with that
turn in place of the simulated one: how close (or how alike in style, or how separable) another real
user, answering a similar context, is to the real twin.

Why this and not the nearest real turn by another user (paraphrase-free): the simulated turn is *one*
answer to the context, so its yardstick must be one answer too. The nearest of thousands of real turns
is a maximum, which a single independent answer cannot reach even when it comes from the same
population: that yardstick would call every simulator, a perfect one included, worse than real. A
context-matched turn is one answer to a similar (not the same) context, so it asks for no more than a
real user would give. Its biases run toward "no verdict": the context only resembles the twin's
(another real user in the very same context would be closer), and near-copies of the twin are left
out (a formulaic "hi" answered by "hi" elsewhere; they are left out so that a corpus's duplicated
conversations do not make the yardstick a copy of the twin), while the simulated turn may be a copy.
So a verdict "beyond" means the simulator's answer is further from its twin than another real user's
answer to a merely similar context: a conservative reading, said in `details.yardstick`.

**Pairs, weights and intervals.** Only twins where neither side ended (the real user wrote a turn, the
simulator wrote one) and that have a yardstick turn enter the text metrics; twins where either ended
enter only the ending metrics. Every real user weighs the same (`user_weights`: a user's pairs share
one unit of weight), as the unpaired comparison's author-balanced subsamples do. Bootstrap replicates
draw whole real users (`yardstick.Bootstrap` on the pairs' real user ids), and value and baseline are
computed on the same draws, so `Result.paired` and Holm's correction (`adjust_verdicts`) treat these
Results like every other metric; the yardstick side's draws are further multiplied by independent
draws of the yardstick turns' authors (`yardstick_counts`), whose own variation would otherwise be
left out. Checked on ConvAI2 with a real-vs-real null (twins of one third of the users; simulated
turns and yardstick turns context-matched from the other two thirds, so exchangeable; 40 splits):
no false "beyond" at the 5% level for any paired metric, whether each conversation is twinned once
(~43 pairs, 30 users) or at every position (~550 pairs, one user holding up to 500 of them); before
the user weights and the yardstick authors' draws, 12-17% of similarity verdicts were false.
The test is conservative, and it is weak where the context says little about the next turn: on
ConvAI2 another user's turn in a similar context is hardly closer to a twin than a random other
user's turn (cosine 0.20 vs 0.18), so a context-blind simulator is not told apart by similarity at
550 pairs; copies of one line, and turns cut to 3 words, are (tests/test_paired.py).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from ..errors import SynthgapError
from ..seeds import numpy_rng
from . import distances as D
from .base import Estimate, Result, adjust_verdicts, round_floats
from .samples import Sample, default_label, parse_source
from .style import TURN_FEATURES
from .yardstick import Bootstrap, interval

FAMILY = "paired"
CONTEXT_WINDOW = 2  # real turns before a position that describe its context (the last exchange)
NEAR_COPY = 0.95  # cosine at or above which a candidate yardstick turn is a near-copy of the twin
MIN_POOL = 20  # other users' candidate turns wanted before the position band widens
MAX_CANDIDATES = 200  # candidate conversations per turn index (a seeded subsample beyond it)
TIE = 1e-6  # context similarities this close to the best are ties (broken by a seeded draw)
STYLE_FEATURES = ("length_tokens", "question", "politeness", "oov_rate")
# verdicts are refused below these numbers of pairs: the classifier as the unpaired C2ST (calibrated at m >= 50);
# the means are plain averages with a t reference on the users, and gave no false verdict at ~42 pairs from 30
# users (benchmarks/paired_null.py), so 20 pairs is a floor, not a calibrated size
MIN_PAIRS = {"twin_similarity": 20, "paired_c2st_auc": 50, **{f"twin_delta_{f}": 20 for f in STYLE_FEATURES}}
NO_YARDSTICK = "descriptive: no yardstick"
EXAMPLES = 5

# why a twin does not pair with the real corpus (counted, never dropped silently)
NO_META = "no continuation meta"
UNKNOWN = "unknown conversation"
OUT_OF_RANGE = "turn index out of range"
NOT_ENDED = "real conversation does not end at the turn index"
NOT_USER = "real turn at the index is not a user turn"
TEXT_DIFFERS = "real turn text differs"
USER_DIFFERS = "real user id differs"


# -- reading ---------------------------------------------------------------------------------------

@dataclass
class Twin:
    """One simulated position: the simulated turn (None when the simulator ended) and its continuation meta."""
    id: str
    user_id: str
    line: str  # "file: line n", for messages
    text: Optional[str]
    conversation_id: str
    turn_index: int
    real_turn: Optional[str]
    real_ended: bool
    simulated_ended: bool
    real_user_id: Optional[str] = None
    user_turn: Optional[int] = None
    context_turns: Optional[int] = None
    corpus: Optional[str] = None


@dataclass
class TwinFile:
    """The twins of one `generate continue` output (OUT.jsonl and, beside it, OUT.ended.jsonl)."""
    label: str
    source: str
    files: list[str]
    twins: list[Twin]
    skipped: Counter = field(default_factory=Counter)  # records that are no twins, by reason
    records: int = 0


def _bad(where: str, reason: str, on_error: str, skipped: Counter) -> None:
    if on_error != "skip":
        raise SynthgapError(f"{where}: {reason}", hint="--skip-bad skips such records (counted by reason)")
    skipped[reason.split(":")[0]] += 1


def _twin(obj, where: str) -> tuple[Optional[Twin], Optional[str]]:
    """A twin from one decoded record, or (None, why): NO_META when it is no continuation record."""
    if not isinstance(obj, dict):
        return None, f"bad record: expected a JSON object, got {type(obj).__name__}"
    meta = obj.get("meta")
    cont = meta.get("continuation") if isinstance(meta, dict) else None
    if cont is None:
        return None, NO_META
    if not isinstance(cont, dict):
        return None, "bad continuation meta: not an object"
    missing = [k for k in ("conversation_id", "turn_index", "real_ended", "simulated_ended") if k not in cont]
    if missing:
        return None, f"bad continuation meta: no {', '.join(missing)}"
    index = cont["turn_index"]
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        return None, f"bad continuation meta: turn_index must be an integer >= 0, got {index!r}"
    if not isinstance(cont["real_ended"], bool) or not isinstance(cont["simulated_ended"], bool):
        return None, "bad continuation meta: real_ended and simulated_ended must be true or false"
    real_turn = cont.get("real_turn")
    if real_turn is not None and not isinstance(real_turn, str):
        return None, "bad continuation meta: real_turn must be text or null"
    if not cont["real_ended"] and real_turn is None:
        return None, "bad continuation meta: real_turn is null but real_ended is false"
    turns = obj.get("turns") or []
    if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
        return None, "bad record: turns must be a list of objects"
    said = [t.get("content") for t in turns if t.get("role") == "user"]
    if any(not isinstance(s, str) for s in said) or len(said) != len(turns):
        return None, "bad record: turns must be user turns with text"
    if cont["simulated_ended"] and said:
        return None, "bad record: simulated_ended but a simulated turn is given"
    if not cont["simulated_ended"] and (len(said) != 1 or not said[0].strip()):
        return None, f"bad record: expected one simulated user turn with text, got {len(said)}"
    ident = obj.get("id")
    if not isinstance(ident, (str, int)) or isinstance(ident, bool):
        return None, "bad record: no id"
    optional = {k: cont.get(k) for k in ("user_turn", "context_turns")}
    return Twin(id=str(ident), user_id=str(obj.get("user_id") or f"sim:{cont.get('user_id')}"), line=where,
                text=None if cont["simulated_ended"] else said[0], conversation_id=str(cont["conversation_id"]),
                turn_index=index, real_turn=real_turn, real_ended=cont["real_ended"],
                simulated_ended=cont["simulated_ended"],
                real_user_id=None if cont.get("user_id") is None else str(cont["user_id"]),
                user_turn=optional["user_turn"] if isinstance(optional["user_turn"], int) else None,
                context_turns=optional["context_turns"] if isinstance(optional["context_turns"], int) else None,
                corpus=None if cont.get("corpus") is None else str(cont["corpus"])), None


def read_twins(spec: str, on_error: str = "fail") -> TwinFile:
    """The twins of "[LABEL=]OUT.jsonl" (a `generate continue` output) and of OUT.ended.jsonl beside it.

    A record without meta["continuation"] is counted (NO_META); a file where no record has it is one
    SynthgapError naming the file. A malformed record (bad JSON, bad continuation meta, a simulated turn
    missing) stops the read with its file and line, or is counted by reason with on_error="skip".
    """
    from ..corpora.containers import open_binary

    label, source = parse_source(spec)
    path = Path(source)
    if not path.is_file():
        raise SynthgapError(f"{source}: no such file (--paired reads the JSONL output of `synthgap generate continue`)")
    from ..generators.continuation import ended_path  # where `generate continue` puts ended twins

    files = [path] + [p for p in (ended_path(path),) if p.is_file() and p != path]
    twins: list[Twin] = []
    skipped: Counter = Counter()
    records = 0
    for file in files:
        with open_binary(file) as fh:
            for number, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                records += 1
                where = f"{file}: line {number}"
                try:
                    obj = json.loads(raw.decode("utf-8-sig"))
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    _bad(where, f"malformed JSON: {exc}", on_error, skipped)
                    continue
                twin, why = _twin(obj, where)
                if twin is not None:
                    twins.append(twin)
                elif why == NO_META:
                    skipped[NO_META] += 1
                else:
                    _bad(where, why, on_error, skipped)
    if not twins:
        if skipped.get(NO_META):
            raise SynthgapError(f"{source}: no record has meta.continuation: --paired needs the output of "
                                f"`synthgap generate continue`")
        raise SynthgapError(f"{source}: no twins to pair (read {records} records)")
    return TwinFile(label or default_label(str(path), []), str(path), [str(f) for f in files], twins, skipped, records)


def twin_sample(twins: TwinFile, unit: str = "turn") -> Sample:
    """The simulated turns of a twin file as a comparison `Sample` (the unpaired comparison's synthetic
    side): every twin with a simulated turn, its author the twin's user id ("sim:<real user id>")."""
    turns, owner, ids, groups = [], [], [], []
    users: dict = {}
    for t in twins.twins:
        if t.text is None:
            continue
        if unit == "user":  # a simulated user's twins form one history
            if t.user_id not in users:
                users[t.user_id] = len(ids)
                ids.append(t.user_id)
                groups.append(t.user_id)
            owner.append(users[t.user_id])
        else:  # a twin is one turn, and one conversation
            owner.append(len(ids))
            ids.append(f"{t.id}#0" if unit == "turn" else t.id)
            groups.append(t.user_id)
        turns.append(t.text)
    ended = sum(1 for t in twins.twins if t.text is None)
    summary = {"sources": twins.files, "formats": ["continuation"], "records": twins.records,
               "twins": len(twins.twins), "simulated_ended": ended, "skipped": dict(twins.skipped)}
    notices = [f"{n} records skipped: {reason}" for reason, n in sorted(twins.skipped.items())]
    if not turns:
        raise SynthgapError(f"{twins.source}: no simulated turns (every simulator ended)")
    return Sample(twins.label, twins.source, unit, turns, np.asarray(owner, dtype=np.int64), ids, groups, True,
                  summary, notices)


def read_twin_samples(specs: Sequence[str], unit: str = "turn", skip_bad: bool = False,
                      log: Callable[[str], None] = lambda m: None) -> tuple[list[TwinFile], list[Sample]]:
    """Each "[LABEL=]OUT.jsonl" read as twins (`read_twins`) and as the unpaired comparison's sample
    (`twin_sample`), its counts logged."""
    files, samples = [], []
    for spec in specs:
        twins = read_twins(spec, "skip" if skip_bad else "fail")
        sample = twin_sample(twins, unit)
        for line in sample.notices:
            log(f"note: {twins.label}: {line}")
        ended = sum(1 for t in twins.twins if t.simulated_ended)
        log(f"read {twins.label}: {len(twins.twins)} twins ({ended} where the simulator ended), "
            f"{len(sample)} {unit} units")
        files.append(twins)
        samples.append(sample)
    return files, samples


# -- pairing ---------------------------------------------------------------------------------------

@dataclass
class Pair:
    """A twin found in the real corpus."""
    twin: Twin
    conversation: object  # records.Conversation
    author: str  # the real user (else the conversation id): what the bootstrap draws

    @property
    def turn_index(self) -> int:
        return self.twin.turn_index

    @property
    def real_text(self) -> Optional[str]:
        return None if self.twin.real_ended else self.conversation.turns[self.turn_index].content

    @property
    def text_pair(self) -> bool:
        """Both sides wrote a turn (the pair enters the text metrics)."""
        return not self.twin.real_ended and not self.twin.simulated_ended


@dataclass
class Pairing:
    pairs: list[Pair]
    skipped: Counter
    examples: dict  # reason -> a few "twin id (file: line)" strings


def author_of(conversation) -> str:
    return conversation.user_id or conversation.id


def pair_twins(twins: Sequence[Twin], conversations: Mapping[str, object]) -> Pairing:
    """Each twin looked up in the real conversations (by id): the turn at its index must be a user turn
    with the recorded text, or the conversation must end there when the real user ended. The others are
    counted by reason (UNKNOWN, OUT_OF_RANGE, NOT_ENDED, NOT_USER, TEXT_DIFFERS, USER_DIFFERS)."""
    pairs, skipped, examples = [], Counter(), {}
    for t in twins:
        conv = conversations.get(t.conversation_id)
        reason = None
        if conv is None:
            reason = UNKNOWN
        elif t.real_user_id is not None and conv.user_id != t.real_user_id:
            reason = USER_DIFFERS
        elif t.turn_index > len(conv.turns) or (t.turn_index == len(conv.turns) and not t.real_ended):
            reason = OUT_OF_RANGE
        elif t.real_ended:
            if t.turn_index != len(conv.turns):
                reason = NOT_ENDED
        elif conv.turns[t.turn_index].role != "user":
            reason = NOT_USER
        elif conv.turns[t.turn_index].content.strip() != (t.real_turn or "").strip():
            reason = TEXT_DIFFERS
        if reason:
            skipped[reason] += 1
            shown = examples.setdefault(reason, [])
            if len(shown) < 3:
                shown.append(f"{t.id} ({t.line})")
            continue
        pairs.append(Pair(t, conv, author_of(conv)))
    return Pairing(pairs, skipped, examples)


def real_conversations(conversations) -> tuple[dict, int]:
    """Real conversations by id (the first of a repeated id kept) and how many ids repeated."""
    out, repeated = {}, 0
    for conv in conversations:
        if conv.id in out:
            repeated += 1
            continue
        out[conv.id] = conv
    return out, repeated


# -- the context-matched yardstick -----------------------------------------------------------------

def _window(conv, k: int, window: int) -> list[str]:
    return [t.content for t in conv.turns[max(0, k - window):k] if t.content.strip()]


def candidate_positions(conversations: Sequence) -> dict[int, list[tuple[int, int]]]:
    """Every real user turn a yardstick may come from, by turn index: (conversation number, index) of each
    user turn with text after a first exchange (a user turn, then an assistant turn), the positions
    `generate continue` twins."""
    out: dict[int, list[tuple[int, int]]] = {}
    for c, conv in enumerate(conversations):
        seen_user = exchange = False
        for k, turn in enumerate(conv.turns):
            if turn.role == "user":
                if exchange and turn.content.strip():
                    out.setdefault(k, []).append((c, k))
                seen_user = True
            elif turn.role == "assistant" and seen_user:
                exchange = True
    return out


@dataclass
class YardstickChoice:
    """The yardstick turn of one pair (None when no other user's turn could serve)."""
    conversation: Optional[int]
    index: Optional[int]
    text: Optional[str]
    author: Optional[str]
    context_similarity: Optional[float]
    pool: int
    band: int  # how far from the twin's index the candidates had to be sought
    near_copy_best: bool  # the candidate with the most similar context was a near-copy of the twin


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    v = np.asarray(vectors, np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms > 0, norms, 1.0)


def context_matched(pairs: Sequence[Pair], conversations: Sequence, embed: Callable[[list[str]], np.ndarray],
                    seed: int = 0, window: int = CONTEXT_WINDOW, near_copy: float = NEAR_COPY,
                    min_pool: int = MIN_POOL, max_candidates: int = MAX_CANDIDATES) -> list[YardstickChoice]:
    """For each pair, the real user turn by another user whose context is most similar (see the module
    docstring): candidates at the pair's turn index (at most `max_candidates` conversations per index, a
    seeded subsample), widened to the nearest indices until `min_pool` other users' turns are in reach;
    near-copies of the twin (cosine >= `near_copy`) left out; context similarity the cosine between the
    normalized means of the last `window` turns' embeddings; ties broken by a draw seeded by the pair."""
    by_index = candidate_positions(conversations)
    for k, items in by_index.items():
        if len(items) > max_candidates:
            keep = np.sort(numpy_rng(seed, "paired-candidates", k).choice(len(items), max_candidates, replace=False))
            by_index[k] = [items[i] for i in keep]
    position = {id(conv): c for c, conv in enumerate(conversations)}
    authors = [author_of(conv) for conv in conversations]
    top = max(by_index) if by_index else 0
    pools = []
    for pair in pairs:
        k, own = pair.turn_index, pair.author
        pool, band = [], 0
        while True:
            for j in sorted({k - band, k + band}):
                pool.extend(item for item in by_index.get(j, ()) if authors[item[0]] != own)
            if len(pool) >= min_pool or (k - band <= 0 and k + band >= top):
                break
            band += 1
        pools.append((pool, band))
    needed = {item for pool, _ in pools for item in pool}
    needed |= {(position[id(p.conversation)], p.turn_index) for p in pairs}
    texts: dict[str, int] = {}
    for c, k in needed:
        conv = conversations[c]
        for text in (conv.turns[k].content, *_window(conv, k, window)):
            texts.setdefault(text, len(texts))
    vectors = _unit_rows(embed(list(texts))) if texts else np.zeros((0, 1))

    def turn_vector(c: int, k: int) -> np.ndarray:
        return vectors[texts[conversations[c].turns[k].content]]

    context_cache: dict = {}

    def context_vector(c: int, k: int) -> np.ndarray:
        if (c, k) not in context_cache:
            rows = [texts[t] for t in _window(conversations[c], k, window)]
            mean = vectors[rows].mean(axis=0) if rows else np.zeros(vectors.shape[1])
            norm = np.linalg.norm(mean)
            context_cache[c, k] = mean / norm if norm > 0 else mean
        return context_cache[c, k]

    out = []
    for pair, (pool, band) in zip(pairs, pools):
        if not pool:
            out.append(YardstickChoice(None, None, None, None, None, 0, band, False))
            continue
        c0, k0 = position[id(pair.conversation)], pair.turn_index
        twin = turn_vector(c0, k0)
        cand_turns = np.stack([turn_vector(c, k) for c, k in pool])
        contexts = np.stack([context_vector(c, k) for c, k in pool]) @ context_vector(c0, k0)
        copies = cand_turns @ twin >= near_copy - 1e-6
        best_any = contexts.max()
        near_copy_best = bool(copies[contexts >= best_any - TIE].any())
        ok = ~copies
        if not ok.any():
            out.append(YardstickChoice(None, None, None, None, None, len(pool), band, near_copy_best))
            continue
        best = contexts[ok].max()
        ties = np.flatnonzero(ok & (contexts >= best - TIE))
        pick = int(ties[numpy_rng(seed, "paired-yardstick", pair.twin.conversation_id, k0).integers(len(ties))]) \
            if len(ties) > 1 else int(ties[0])
        c, k = pool[pick]
        out.append(YardstickChoice(c, k, conversations[c].turns[k].content, authors[c], float(contexts[pick]),
                                   len(pool), band, near_copy_best))
    return out


# -- the metrics -----------------------------------------------------------------------------------

@dataclass
class PairedSettings:
    """What decides the paired numbers (recorded in results.json's paired section)."""
    seed: int = 0
    bootstrap: int = 200
    c2st_folds: int = 5
    c2st_refits: int = 30
    size_rule: bool = True


class DescriptiveResult(Result):
    """A Result with no yardstick: value and interval only, never a verdict."""

    @property
    def status(self) -> Optional[str]:
        return NO_YARDSTICK


def user_weights(groups: Sequence) -> np.ndarray:
    """1 / (the user's pairs) for each pair: every real user weighs the same, however many twins they have
    (one 500-turn conversation twinned at every position is one user, not 250 of them). The cluster
    bootstrap then rests on the users; unweighted, one such user set the mean and its interval, and a
    real-vs-real null (simulated turns from other real users, exchangeable with the yardstick's) came out
    "beyond" 17% of the time at the 5% level on ConvAI2 twinned at every position."""
    size = Counter(groups)
    return np.array([1.0 / size[g] for g in groups], dtype=np.float64)


def _means(values: np.ndarray, weights: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The weighted mean under each bootstrap count column (NaN where a column draws none of the rows)."""
    total = weights @ counts
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, ((values * weights) @ counts) / np.where(total > 0, total, 1.0), np.nan)


def _mean_estimate(values: np.ndarray, weights: np.ndarray, counts: np.ndarray) -> Estimate:
    """The user-weighted mean of per-pair values, with its user-bootstrap replicates."""
    if not len(values):
        return Estimate(float("nan"), None, {})
    return Estimate(float(values @ weights / weights.sum()), _means(values, weights, counts), {})


def _result(name: str, goal: str, bounds: tuple, value: Estimate, baseline: Estimate, n: int, authors: dict,
            kind: str, settings: PairedSettings, ideal: Optional[float] = None, details: Optional[dict] = None
            ) -> Result:
    info = {**value.details, **(details or {}), "interval": kind, "weights": "each real user equally"}
    if value.replicates is not None:
        info["replicates"] = int(np.isfinite(value.replicates).sum())
    if baseline.details:
        info["real_vs_real"] = baseline.details
    return Result(name=name, family=FAMILY, goal=goal, range=bounds, value=value.value,
                  ci95=interval(kind, value.replicates, value.value, bounds), baseline=baseline.value,
                  baseline_ci95=interval(kind, baseline.replicates, baseline.value, bounds), n=n, ideal=ideal,
                  details=info, authors=authors, min_items=MIN_PAIRS.get(name) if settings.size_rule else None,
                  replicates=value.replicates, baseline_replicates=baseline.replicates)


def similarity_result(sim: np.ndarray, real: np.ndarray, yard: np.ndarray, groups: Sequence, counts: np.ndarray,
                      base_counts: np.ndarray, authors: dict, settings: PairedSettings, yardstick: dict) -> Result:
    """Mean cosine simulated-vs-twin beside mean cosine yardstick-vs-twin (rows: unit vectors of the pairs;
    `groups`: each pair's real user; `counts` and `base_counts`: bootstrap counts per pair, see
    `yardstick_counts`)."""
    s, y = (sim * real).sum(axis=1), (yard * real).sum(axis=1)
    w = user_weights(groups)
    return _result("twin_similarity", "higher", (-1.0, 1.0), _mean_estimate(s, w, counts),
                   _mean_estimate(y, w, base_counts),
                   len(s), authors, "percentile", settings,
                   details={"description": "mean cosine (MiniLM) between the simulated turn and its real twin; "
                                           "real vs real: another user's turn in the most similar context "
                                           "against the same twin", "yardstick": yardstick})


def c2st_result(sim: np.ndarray, real: np.ndarray, yard: np.ndarray, groups: Sequence, yard_groups: Sequence,
                counts: np.ndarray, base_counts: np.ndarray, authors: dict, settings: PairedSettings) -> Result:
    """A classifier telling simulated from real twin turns beside the same classifier telling yardstick turns
    from the same twins (`distances.c2st_fit`: ridge discriminant, cross-fitted, AUC within folds).

    Folds hold whole real users: a simulated turn goes with its twin (its group is the twin's user), a
    yardstick turn with every other turn of its own author (grouped with the twin's user instead, a
    yardstick author's own twins, label 0, teach the classifier that author and its yardstick turns,
    label 1, score as real: the real-vs-real AUC fell to 0.34 on ConvAI2). Rows are weighted like the
    means (each real user equally, both turns of a pair with the pair's weight), in fitting and in the
    AUC, so the point estimate is the fit under those weights; each refit multiplies them by the
    bootstrap draws (the first `c2st_refits` columns of `counts`, and of `base_counts` for the yardstick
    side, see `yardstick_counts`), both turns of a pair alike."""
    R = min(settings.c2st_refits, counts.shape[1])
    w = user_weights(groups)

    def fit(other: np.ndarray, other_groups: Sequence, unit: str, draws: np.ndarray) -> Estimate:
        weighted = np.column_stack([w, w[:, None] * draws[:, :R]])
        info = {"folds": settings.c2st_folds, "fold_unit": unit, "refits": R,
                "classifier": "ridge linear discriminant"}
        try:
            f = D.c2st_fit(real, other, seed=settings.seed, folds=settings.c2st_folds, groups_x=list(groups),
                           groups_y=list(other_groups), counts=np.concatenate([weighted, weighted]),
                           joint_groups=True)
        except SynthgapError as exc:
            return Estimate(float("nan"), None, {**info, "note": str(exc)})
        return Estimate(float(f.refit_aucs[0]), f.refit_aucs[1:] if R else None, info)

    return _result("paired_c2st_auc", "lower", (0.0, 1.0),
                   fit(sim, groups, "real user (a simulated turn with its twin)", counts),
                   fit(yard, yard_groups, "real user (a yardstick turn with its own author's turns)", base_counts),
                   len(sim), authors, "normal", settings, ideal=0.5,
                   details={"description": "cross-fitted AUC of telling simulated turns from their real twins; "
                                           "real vs real: yardstick turns from the same twins"})


def style_results(f_sim: np.ndarray, f_real: np.ndarray, f_yard: np.ndarray, groups: Sequence, counts: np.ndarray,
                  base_counts: np.ndarray, authors: dict, settings: PairedSettings,
                  names: Sequence[str] = STYLE_FEATURES) -> list[Result]:
    """Per style feature (columns in TURN_FEATURES order): the mean paired difference simulated minus twin
    beside yardstick minus twin, over the pairs where all three values are defined.

    Signed, with ideal 0, so the value says which way the simulator leans ("3 tokens shorter than its
    twins"); the verdict compares the sizes |mean| of the two: a systematic shift from the twins beyond
    the one another real user's turn shows. The mean absolute per-pair differences (how far each turn
    is from its twin, either way) are kept in details, without a verdict: a simulator cannot track
    its twins turn by turn, nor can another user, so that number mostly measures the feature's spread."""
    out = []
    column = {f.name: j for j, f in enumerate(TURN_FEATURES)}
    groups = np.asarray(list(groups), dtype=object)
    for name in names:
        j = column[name]
        feature = TURN_FEATURES[j]
        ok = np.isfinite(f_sim[:, j]) & np.isfinite(f_real[:, j]) & np.isfinite(f_yard[:, j])
        d_sim, d_yard = (f_sim[ok, j] - f_real[ok, j]), (f_yard[ok, j] - f_real[ok, j])
        w = user_weights(list(groups[ok]))

        def mean(v):
            return float(v @ w / w.sum()) if ok.any() else None

        details = {"description": f"{feature.description}: mean of simulated minus real twin; real vs real: "
                                  f"yardstick turn minus the same twin",
                   "feature": name, "kind": feature.kind, "pairs_undefined": int((~ok).sum()),
                   "mean_abs_difference": mean(np.abs(d_sim)), "mean_abs_difference_real_vs_real": mean(np.abs(d_yard)),
                   "simulated_mean": mean(f_sim[ok, j]), "twin_mean": mean(f_real[ok, j]),
                   "yardstick_mean": mean(f_yard[ok, j])}
        out.append(_result(f"twin_delta_{name}", "lower", (None, None), _mean_estimate(d_sim, w, counts[ok]),
                           _mean_estimate(d_yard, w, base_counts[ok]), int(ok.sum()), authors, "percentile", settings,
                           ideal=0.0, details=details))
    return out


def ending_results(pairs: Sequence[Pair], counts: np.ndarray, settings: PairedSettings) -> tuple[list[Result], dict]:
    """Does the simulator end where the real user ended? Sensitivity (the share of real ends the simulator
    ended too), specificity (the share of real continuations it continued), and the ending rates of both
    sides and their difference, each over its own twins with n, each real user weighing the same (the
    plain share of twins beside it), and a user-bootstrap interval.

    There is no real-vs-real yardstick (two real users are never seen at one position, so no real
    ending rate can be set beside the simulator's): the Results are descriptive, with baseline None and
    status NO_YARDSTICK, and claim no verdict. Results: `ending_sensitivity`, `ending_specificity` and
    `ending_rate_difference` (simulated minus real ending rate on the same twins, ideal 0); the section
    keeps each rate too."""
    real = np.array([p.twin.real_ended for p in pairs], dtype=bool)
    sim = np.array([p.twin.simulated_ended for p in pairs], dtype=bool)
    groups = np.asarray([p.author for p in pairs], dtype=object)
    everyone = np.ones(len(pairs), dtype=bool)
    no_yardstick = ("none: two real users are never seen at one position, so there is no real-vs-real "
                    "ending figure; descriptive, no verdict")

    def share(values: np.ndarray, rows: np.ndarray, bounds: tuple) -> tuple[Estimate, dict]:
        n = int(rows.sum())
        if not n:
            return Estimate(float("nan"), None, {}), {"value": None, "ci95": None, "n": 0, "users": 0}
        e = _mean_estimate(values[rows].astype(np.float64), user_weights(list(groups[rows])), counts[rows])
        e = Estimate(float(np.clip(e.value, *bounds)), np.clip(e.replicates, *bounds), {})
        ci = interval("percentile", e.replicates, e.value, bounds)
        return e, {"value": e.value, "ci95": ci, "n": n, "users": len(set(groups[rows])),
                   "pair_share": float(values[rows].mean())}

    specs = [("sensitivity", sim, real, (0.0, 1.0), "higher", None,
              "share of twins where the real user ended that the simulator ended too"),
             ("specificity", ~sim, ~real, (0.0, 1.0), "higher", None,
              "share of twins where the real user went on that the simulator went on too"),
             ("rate_difference", sim.astype(float) - real.astype(float), everyone, (-1.0, 1.0), "lower", 0.0,
              "simulated minus real ending rate on the same twins")]
    results, section = [], {}
    for key, values, rows, bounds, goal, ideal, description in specs:
        estimate, summary = share(values, rows, bounds)
        summary["description"] = description
        section[key] = summary
        results.append(DescriptiveResult(
            name=f"ending_{key}", family=FAMILY, goal=goal, range=bounds, value=estimate.value, ci95=summary["ci95"],
            baseline=None, baseline_ci95=None, n=summary["n"], ideal=ideal,
            details={"description": description, "weights": "each real user equally",
                     "pair_share": summary.get("pair_share"), "interval": "percentile", "yardstick": no_yardstick},
            authors={"real_a": summary["users"], "real_b": 0, "synthetic": summary["users"]},
            replicates=estimate.replicates))
    for key, flags, description in (("simulated_rate", sim, "share of twins where the simulator ended"),
                                    ("real_rate", real, "share of twins where the real user ended")):
        section[key] = {**share(flags, everyone, (0.0, 1.0))[1], "description": description}
    section["both_ended"] = int((sim & real).sum())
    return results, section


def yardstick_counts(counts: np.ndarray, yard_authors: Sequence, settings: PairedSettings, label: str) -> np.ndarray:
    """The bootstrap counts of the yardstick side: the pairs' user draws (`counts`, shared with the simulated
    side, so the difference is paired) times independent draws of the yardstick turns' authors.

    The yardstick turns come from a finite set of other users, each serving several pairs (a prolific
    user's long conversation reaches turn indices few others do), and which users those happen to be moves
    the baseline as much as which twins were drawn. Drawing the pairs' users alone left that out; the
    product of the two draws (a two-way cluster bootstrap for a crossed design, Owen's pigeonhole
    bootstrap) holds both. The simulated side has no such authors: one simulator wrote every turn."""
    rng = numpy_rng(settings.seed, "paired-yardstick-authors", label)
    return counts * Bootstrap.draw(list(yard_authors), counts.shape[1], rng).counts


def measure_twins(label: str, pairs: Sequence[Pair], conversations: Sequence,
                  embed: Callable[[list[str]], np.ndarray], turn_features: Callable[[list[str]], np.ndarray],
                  settings: PairedSettings, yardstick: Optional[Sequence[YardstickChoice]] = None
                  ) -> tuple[list[Result], dict]:
    """Every paired metric of one twin file's pairs: the Results (family "paired") and the section
    results.json keeps under paired.<label> (without the reading counts, which the caller adds).

    `conversations`: the real corpus (the pairs' conversations among them); `embed` and `turn_features`:
    texts to unit vectors and to style rows (TURN_FEATURES columns). `yardstick`: one choice per text pair,
    to measure against other yardstick turns than `context_matched`'s (a calibration's null)."""
    groups_all = [p.author for p in pairs]
    boot = Bootstrap.draw(groups_all, settings.bootstrap, numpy_rng(settings.seed, "paired", label))
    ending, ending_section = ending_results(pairs, boot.counts, settings) if pairs else ([], {})
    text_rows = [i for i, p in enumerate(pairs) if p.text_pair]
    texted = [pairs[i] for i in text_rows]
    if yardstick is None:
        choices = context_matched(texted, conversations, embed, settings.seed) if texted else []
    else:
        choices = list(yardstick)
        if len(choices) != len(texted):
            raise ValueError(f"{len(choices)} yardstick choices for {len(texted)} text pairs")
    rows = [i for i, ch in zip(text_rows, choices) if ch.text is not None]
    chosen = [ch for ch in choices if ch.text is not None]
    used = [pairs[i] for i in rows]
    per_user = Counter(p.author for p in used)
    section = {"pairs": len(pairs), "text_pairs": len(used), "ended_pairs": len(pairs) - len(text_rows),
               "no_yardstick_turn": len(texted) - len(used), "users": len(per_user),
               "most_pairs_per_user": max(per_user.values(), default=0), "ending": ending_section}
    section["yardstick"] = yardstick_info(choices)
    results: list[Result] = []
    if used:
        sim_t = [p.twin.text for p in used]
        real_t = [p.real_text for p in used]
        yard_t = [ch.text for ch in chosen]
        vectors = _unit_rows(embed(sim_t + real_t + yard_t))
        n = len(used)
        sim, real, yard = vectors[:n], vectors[n:2 * n], vectors[2 * n:]
        counts = boot.counts[rows]
        base_counts = yardstick_counts(counts, [ch.author for ch in chosen], settings, label)
        groups = [p.author for p in used]
        authors = {"real_a": len(set(groups)), "real_b": len({ch.author for ch in chosen}),
                   "synthetic": len(set(groups))}
        results.append(similarity_result(sim, real, yard, groups, counts, base_counts, authors, settings,
                                         section["yardstick"]))
        results.append(c2st_result(sim, real, yard, groups, [ch.author for ch in chosen], counts, base_counts,
                                   authors, settings))
        features = turn_features(sim_t + real_t + yard_t)
        results.extend(style_results(features[:n], features[n:2 * n], features[2 * n:], groups, counts, base_counts,
                                     authors, settings))
        section["examples"] = examples(used, chosen, (sim * real).sum(axis=1), (yard * real).sum(axis=1),
                                       settings.seed, label)
    results.extend(ending)
    return results, section


def yardstick_info(choices: Sequence[YardstickChoice]) -> dict:
    """How the yardstick turns were found, for results.json (see the module docstring)."""
    found = [c for c in choices if c.text is not None]
    sims = [c.context_similarity for c in found]
    return {"kind": "context-matched",
            "rule": f"per pair, the real user turn by another user whose context (the last {CONTEXT_WINDOW} turns, "
                    f"mean embedding) is most similar, at the same turn index (nearest indices when fewer than "
                    f"{MIN_POOL} other users reach it; at most {MAX_CANDIDATES} conversations per index), "
                    f"near-copies of the twin (cosine >= {NEAR_COPY}) left out; ties drawn with the seed",
            "reading": "conservative: the context is only similar (the same context would bring another user's "
                       "turn closer) and near-copies of the twin are left out for the yardstick only",
            "window": CONTEXT_WINDOW, "near_copy": NEAR_COPY, "min_pool": MIN_POOL, "max_candidates": MAX_CANDIDATES,
            "pairs": len(choices), "found": len(found),
            "context_similarity": {"mean": float(np.mean(sims)), "min": float(np.min(sims)),
                                   "median": float(np.median(sims))} if sims else None,
            "same_index": sum(1 for c in found if c.band == 0),
            "widened": {"pairs": sum(1 for c in found if c.band > 0),
                        "max_distance": max((c.band for c in found), default=0)},
            "pool_median": float(np.median([c.pool for c in choices])) if choices else None,
            "near_copy_best": sum(1 for c in choices if c.near_copy_best),
            "users": len({c.author for c in found})}


def examples(used: Sequence[Pair], chosen: Sequence[YardstickChoice], sim_cos: np.ndarray, yard_cos: np.ndarray,
             seed: int, label: str, k: int = EXAMPLES) -> list[dict]:
    """A few pairs (a seeded draw) with their texts, to read beside the numbers."""
    pick = np.sort(numpy_rng(seed, "paired-examples", label).permutation(len(used))[:k])
    out = []
    for i in pick.tolist():
        p, ch = used[i], chosen[i]
        before = p.conversation.turns[max(0, p.turn_index - CONTEXT_WINDOW):p.turn_index]
        out.append({"twin": p.twin.id, "context": [f"{t.role}: {t.content[:200]}" for t in before],
                    "real": p.real_text[:300], "simulated": p.twin.text[:300], "yardstick": ch.text[:300],
                    "similarity": float(sim_cos[i]), "yardstick_similarity": float(yard_cos[i])})
    return out


# -- the compare job's paired run ------------------------------------------------------------------

def compare_paired(comparison, samples: list[Sample], roles: list[str], twin_files: list[TwinFile], config,
                   log: Callable[[str], None] = lambda m: None) -> dict:
    """`compare --paired`: the unpaired comparison of every source (skipped, with a note, for a twin file
    it cannot measure), then the paired metrics of each twin file against the real corpus, added to the
    results (metrics of family "paired", `paired.<label>`), verdicts corrected again over all metrics.

    `samples` are the real sample, the twin files' samples (`twin_sample`) in `twin_files` order, then any
    --also-real samples; `config` is the job's CompareJobConfig (read options, seed, bootstrap, model)."""
    from ..corpora import load
    from ..embedding import Embedder
    from .style import StyleAnalyzer
    from .yardstick import make_plan

    cfg = comparison.config
    real, others = samples[0], samples[1:]
    twin_labels = {t.label for t in twin_files}
    skipped: dict[str, str] = {}
    for s in others:
        if s.label not in twin_labels:
            continue
        try:  # what the unpaired comparison would refuse: too few units or turns
            if any(m != "style" for m in cfg.metrics):
                make_plan(real.unit_groups, len(s), cfg.seed, cfg.sample, cfg.match, f"{cfg.unit} units",
                          s.unit_groups)
            if "style" in cfg.metrics:
                make_plan(real.turn_groups, len(s.turns), cfg.seed, cfg.sample, cfg.match, "user turns",
                          s.turn_groups)
        except SynthgapError as exc:
            skipped[s.label] = str(exc)
    kept = [(s, r) for s, r in zip(others, roles) if s.label not in skipped]
    try:
        results = comparison.measure([s for s, _ in kept], [r for _, r in kept])
    except SynthgapError as exc:  # e.g. too few authors for the classifier's folds: measure the others
        for s, _ in kept:
            if s.label in twin_labels:
                skipped[s.label] = str(exc)
        kept = [(s, r) for s, r in kept if s.label not in skipped]
        for part in comparison.distributions.values():  # what the failed attempt drew for a skipped file
            for label in skipped:
                part.pop(label, None)
        results = comparison.measure([s for s, _ in kept], [r for _, r in kept])
        results["notes"][:] = list(dict.fromkeys(results["notes"]))
    for s, role in zip(others, roles):
        if s.label in skipped:
            results["synthetic"].append(dict(s.describe(), role=role))
            results["samples"][s.label] = {"role": role, "embedding": {}, "style": {}}
            results["notes"].append(f"{s.label}: unpaired comparison skipped ({skipped[s.label]}); "
                                    f"the paired metrics are measured")
            log(f"note: {s.label}: unpaired comparison skipped: {skipped[s.label]}")

    started = time.perf_counter()
    corpus = load(real.source, on_error="skip" if config.skip_bad else "fail", empty_turns=config.empty_turns)
    conversations, repeated = real_conversations(corpus)
    ordered = list(conversations.values())
    if comparison.embedder is None:
        comparison.embedder = Embedder(config.model, cache=not config.no_cache, cache_path=config.cache_dir)
        results["models"]["embedding"] = {"path": str(comparison.embedder.path),
                                          "identity": comparison.embedder.identity}
    if comparison.analyzer is None:
        comparison.analyzer = StyleAnalyzer(cache=not config.no_cache, cache_path=config.cache_dir)
        results["models"]["spacy"] = comparison.analyzer.identity
    settings = PairedSettings(seed=cfg.seed, bootstrap=cfg.bootstrap, c2st_folds=cfg.c2st_folds,
                              c2st_refits=cfg.c2st_refits, size_rule=cfg.size_rule)
    sections = {}
    role_of = dict(zip([s.label for s in others], roles))
    for tf in twin_files:
        pairing = pair_twins(tf.twins, conversations)
        lost = sum(pairing.skipped.values())
        log(f"{tf.label}: {len(pairing.pairs)} of {len(tf.twins)} twins found in {real.label}"
            + (f" ({', '.join(f'{n} {r}' for r, n in sorted(pairing.skipped.items()))})" if lost else ""))
        if lost:
            results["notes"].append(f"{tf.label}: {lost} of {len(tf.twins)} twins not found in {real.label}: "
                                    + ", ".join(f"{n} {r}" for r, n in sorted(pairing.skipped.items())))
        emb = comparison.embedder
        metrics, section = measure_twins(tf.label, pairing.pairs, ordered,
                                         lambda texts: emb.embed(texts, f"embedding {tf.label} (paired)"),
                                         lambda texts: comparison.analyzer.turn_features(texts, f"style {tf.label} "
                                                                                                f"(paired)"),
                                         settings)
        for r in metrics:
            item = r.to_json(tf.label)
            item["role"] = role_of.get(tf.label, "synthetic")
            results["metrics"].append(item)
        reads = dict(pairing.skipped)
        for reason, n in tf.skipped.items():
            reads[reason] = reads.get(reason, 0) + n
        sections[tf.label] = round_floats({
            "files": tf.files, "records": tf.records, "twins": len(tf.twins), **section,
            "skipped": reads, "skipped_examples": pairing.examples,
            "corpus": sorted({t.corpus for t in tf.twins if t.corpus}),
            "unpaired": "skipped: " + skipped[tf.label] if tf.label in skipped else "measured",
            "settings": {"seed": settings.seed, "bootstrap": settings.bootstrap, "c2st_folds": settings.c2st_folds,
                         "c2st_refits": settings.c2st_refits, "style_features": list(STYLE_FEATURES),
                         "bootstrap_unit": "real user", "min_pairs": MIN_PAIRS},
            "note": "twins where the real user or the simulator ended enter only the ending metrics"})
        results["samples"].setdefault(tf.label, {})["paired"] = {
            "per_side": section["text_pairs"], "what": "twin pairs", "pairs": section["pairs"]}
    if repeated:
        results["notes"].append(f"{real.label}: {repeated} conversation ids repeat; twins pair with the first")
    results["paired"] = sections
    results["config"]["paired"] = True
    results["verdicts"] = adjust_verdicts(results["metrics"])
    comparison.timings["paired"] = time.perf_counter() - started
    return results


__all__ = ["CONTEXT_WINDOW", "DescriptiveResult", "FAMILY", "MAX_CANDIDATES", "MIN_PAIRS", "MIN_POOL", "NEAR_COPY",
           "NO_META", "NOT_ENDED", "NOT_USER", "OUT_OF_RANGE", "Pair", "PairedSettings", "Pairing", "STYLE_FEATURES",
           "TEXT_DIFFERS", "Twin", "TwinFile", "UNKNOWN", "USER_DIFFERS", "YardstickChoice", "c2st_result",
           "candidate_positions", "compare_paired", "context_matched", "ending_results", "measure_twins",
           "pair_twins", "read_twin_samples", "read_twins", "real_conversations", "similarity_result", "style_results",
           "twin_sample",
           "user_weights", "yardstick_counts"]
