"""Validity of `compare --by-topic` on constructed cases from real corpora (author thirds, as in
calibration.py): the "synthetic" third with its largest topic cluster removed should show a topic-mix
gap beyond real-vs-real and no within-topic gap; with the same boilerplate around every turn, no
topic-mix gap and a within-topic gap. Cases: none (the null), topic (the largest of 8 k-means clusters
removed: on a corpus with weak structure its catch-all centre), coherent_topic (the most coherent of
the 8 clusters that hold at least 1/16 of the turns, `calibration.coherent_cluster`), boilerplate.
Prints one row per corpus and case.

    .venv/bin/python benchmarks/topic_validity.py [--corpus FILE_OR_NAME ...] [--max-turns 3000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
DEFAULT = [str(CORPORA / "convai2_wild_intermediate.json"), "sharegpt"]


def cell(m: dict) -> str:
    verdict = {True: "beyond", False: "within", None: "n/a"}[m.get("beyond_baseline")]
    return f"{m['real_vs_synthetic']:.4f} vs {m['real_vs_real']:.4f} ({verdict})"


def main() -> None:
    from synthgap.comparators.calibration import Corpus, MemoEmbedder, compare_once, load_turns
    from synthgap.comparators.comparison import CompareConfig
    from synthgap.embedding import Embedder

    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", action="append")
    parser.add_argument("--max-turns", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    embedder = MemoEmbedder(Embedder(None))
    config = CompareConfig(metrics=["frechet", "c2st"], bootstrap=200, sensitivity=False, by_topic=True)
    print(f"{'corpus':28} {'case':15} {'m':>5} {'k':>3}  {'topic_mix_jsd':32} {'kid within topic':34} "
          f"{'c2st within topic':32} explained (kid, c2st)")
    for spec in args.corpus or DEFAULT:
        corpus = Corpus(Path(spec).stem, *load_turns(spec)).limited(args.max_turns, args.seed)
        for case in ("none", "topic", "coherent_topic", "boilerplate"):
            start = time.perf_counter()
            r = compare_once(corpus, args.seed, 100000, config, embedder, None, None if case == "none" else case)
            topic = {m["name"]: m for m in r["metrics"] if m["family"] == "topic"}
            part = r["topics"]["decomposition"]["synthetic"]
            shares = {e["metric"]: e for e in part["explained"]}

            def share(name):
                e = shares.get(name)
                if not e or e["share"] is None:
                    return "n/a"
                lo, hi = e["ci95"] or (float("nan"), float("nan"))
                return f"{e['share']:.2f} [{lo:.2f}, {hi:.2f}]"

            print(f"{corpus.name[:28]:28} {case:15} {topic['topic_mix_jsd']['m']:>5} "
                  f"{r['topics']['method']['k']:>3}  {cell(topic['topic_mix_jsd']):32} "
                  f"{cell(topic['kid_within_topic']):34} {cell(topic['c2st_auc_within_topic']):32} "
                  f"{share('kid')}, {share('c2st_auc')}  ({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
