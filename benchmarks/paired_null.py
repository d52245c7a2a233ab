"""How often `compare --paired` calls a false "beyond" when the simulator is another real user.

A real-vs-real null for the paired metrics (`synthgap.comparators.paired`): the users of a real corpus
are split at random into thirds A, B1 and B2. Every twinnable position of A's conversations is a twin;
its "simulated" turn is the context-matched turn from B1's conversations and its yardstick the
context-matched turn from B2's (the same rule, `context_matched`), so the two are exchangeable and
every "beyond" is false. The null's simulated turns have real authors (a simulator's do not), so
here they are drawn and grouped by those authors too, as the yardstick turns are. Prints, per metric,
the share of splits with a one-sided p-value below 0.05 and 0.01 (no Holm correction: per metric).

    python benchmarks/paired_null.py --splits 40 --positions all     # ~2 min on 2 cores, cached embeddings
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from synthgap.comparators import distances as D  # noqa: E402
from synthgap.comparators import paired as P  # noqa: E402
from synthgap.comparators.yardstick import Bootstrap  # noqa: E402
from synthgap.generators.continuation import eligible_positions  # noqa: E402
from synthgap.seeds import numpy_rng  # noqa: E402

DEFAULT = REPO.parent / "shared" / "corpora" / "convai2_wild_intermediate.json"


def positions(conversation) -> list[int]:
    """User turns after a first exchange with text: the positions `generate continue` twins (its own rule),
    the end and blank turns left out."""
    turns = conversation.turns
    return [i for i in eligible_positions(conversation) if i < len(turns) and turns[i].content.strip()]


def matched(pairs, pool, embed, seed):
    """The context-matched turn of `pool` for each pair (one call per conversation: its own and the pool)."""
    by_conversation = defaultdict(list)
    for i, pair in enumerate(pairs):
        by_conversation[id(pair.conversation)].append(i)
    out = [None] * len(pairs)
    for rows in by_conversation.values():
        own = pairs[rows[0]].conversation
        for i, choice in zip(rows, P.context_matched([pairs[i] for i in rows], [own] + pool, embed, seed=seed)):
            out[i] = choice
    return out


def one_split(conversations, users, split: int, args, embed, features) -> list:
    rng = np.random.default_rng(split)
    third = dict(zip(users, rng.integers(0, 3, len(users))))
    sides = [[c for c in conversations if third[c.user_id] == k] for k in range(3)]
    pairs = []
    for c in sides[0]:
        ks = positions(c)
        if ks and args.positions == "one":
            ks = [ks[rng.integers(len(ks))]]
        for k in ks:
            twin = P.Twin(f"{c.id}@{k}", "sim", "", "", c.id, k, c.turns[k].content, False, False)
            pairs.append(P.Pair(twin, c, c.user_id))
    sims, yards = matched(pairs, sides[1], embed, 1000 + split), matched(pairs, sides[2], embed, 2000 + split)
    keep = [(p, s, y) for p, s, y in zip(pairs, sims, yards) if s.text and y.text]
    n = len(keep)
    groups = [p.author for p, _, _ in keep]
    sim_authors, yard_authors = [s.author for _, s, _ in keep], [y.author for _, _, y in keep]
    texts = [s.text for _, s, _ in keep] + [p.real_text for p, _, _ in keep] + [y.text for _, _, y in keep]
    vectors = P._unit_rows(embed(texts))
    sim, real, yard = vectors[:n], vectors[n:2 * n], vectors[2 * n:]
    settings = P.PairedSettings(seed=split, bootstrap=args.bootstrap)
    users_draw = Bootstrap.draw(groups, args.bootstrap, numpy_rng(split, "users")).counts
    sim_counts = users_draw * Bootstrap.draw(sim_authors, args.bootstrap, numpy_rng(split, "sim")).counts
    yard_counts = users_draw * Bootstrap.draw(yard_authors, args.bootstrap, numpy_rng(split, "yard")).counts
    authors = {"real_a": len(set(groups)), "real_b": len(set(yard_authors)), "synthetic": len(set(sim_authors))}
    results = [P.similarity_result(sim, real, yard, groups, sim_counts, yard_counts, authors, settings, {})]
    rows = features(texts)
    results += P.style_results(rows[:n], rows[n:2 * n], rows[2 * n:], groups, sim_counts, yard_counts, authors,
                               settings)
    c2st = P.c2st_result(sim, real, yard, groups, yard_authors, sim_counts, yard_counts, authors, settings)
    weights = P.user_weights(groups)
    R = min(settings.c2st_refits, args.bootstrap)
    W = np.column_stack([weights, weights[:, None] * sim_counts[:, :R]])
    fit = D.c2st_fit(real, sim, folds=settings.c2st_folds, groups_x=groups, groups_y=sim_authors,
                     counts=np.concatenate([W, W]), joint_groups=True)  # the null's turns by their own authors
    c2st.value, c2st.replicates = float(fit.refit_aucs[0]), fit.refit_aucs[1:]
    return results + [c2st], n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(DEFAULT))
    parser.add_argument("--splits", type=int, default=40)
    parser.add_argument("--positions", choices=["one", "all"], default="all")
    parser.add_argument("--bootstrap", type=int, default=200)
    args = parser.parse_args()

    from synthgap.comparators.style import StyleAnalyzer
    from synthgap.corpora import load
    from synthgap.embedding import Embedder

    started = time.perf_counter()
    conversations = list(load(args.corpus))
    users = sorted({c.user_id for c in conversations})
    embedder, analyzer = Embedder(), StyleAnalyzer()
    p_values, sizes = defaultdict(list), []
    for split in range(args.splits):
        results, n = one_split(conversations, users, split, args, embedder.embed, analyzer.turn_features)
        sizes.append(n)
        for r in results:
            d = r.paired()
            if d is not None:
                p_values[r.name].append(d["p_value"])
    print(f"{args.corpus}: {args.splits} splits, positions {args.positions}, pairs per split median "
          f"{int(np.median(sizes))} ({time.perf_counter() - started:.0f} s)")
    print(f"{'metric':28s} {'tests':>5s} {'p<0.05':>7s} {'p<0.01':>7s}")
    for name, ps in p_values.items():
        ps = np.asarray(ps)
        print(f"{name:28s} {len(ps):5d} {np.mean(ps < 0.05):7.3f} {np.mean(ps < 0.01):7.3f}")


if __name__ == "__main__":
    main()
