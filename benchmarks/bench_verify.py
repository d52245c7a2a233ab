"""Verifier throughput on this machine, claims/s for each implementation, with its held-out scores.

1. constructed claims: personas (``--personas``, default 60, ``--quick`` 20, seed 0) with template
   conversations (2 per persona, 3 turns, realistic noise), one third-party and one one-off
   distractor each, light noise on top; a second set from other personas (seed 1, two thirds the
   size) is the held-out test set (synthgap/verifiers/constructed.py). Those two draw from the same
   one-off situations and third-party attributes, so a second pair of sets draws them from disjoint
   halves (`pool=train` / `pool=test` of the split seeded 0, synthgap/generators/variants.py).
2. trained: the pair-feature logistic regression (synthgap/verifiers/trained.py) with the packaged
   MiniLM: fit seconds, claims/s of `verify` (embeddings cached after a first pass, and cold),
   and macro F1 / overgeneralized F1 / kappa / AUC on the held-out set: with the same situations
   (the earlier figure) and with held-out situations and third-party attributes, side by side.
3. real corpora (when ../shared/corpora is there): the trained verifier on ConvAI2 and Persuasion
   For Good users (``--real-users``, default 150, ``--quick`` 40): AUC of own gold attributes over
   other users' (1 - P(unsupported)), and of inserted third-party / one-off restatements over own
   attributes (P(overgeneralized)), each with a user-bootstrap interval (synthgap/verifiers/evaluation.py);
   the latter also for a verifier trained on the train half with test-half distractors inserted.
4. llm: the LLM judge through llama.cpp with the packaged Qwen2.5-Coder-0.5B (``--llm-model``) on
   the first ``--llm-claims`` held-out claims (default 12, ``--quick`` 4), no cache: claims/s,
   the share that parsed, and agreement with the constructed labels. ``--no-llm`` skips it.

Run:  .venv/bin/python benchmarks/bench_verify.py [--quick] [--no-llm] [--json figures.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CORPORA = REPO.parent / "shared" / "corpora"
REAL = {"convai2": CORPORA / "convai2_wild_intermediate.json", "persuasionforgood": CORPORA / "persuasionforgood_dev"}


def constructed(folder: Path, seed: int, n: int, pool: str = "all"):
    from synthgap.verifiers.constructed import constructed_set

    return constructed_set(folder, personas=n, seed=seed, pool=pool, split=SPLIT)


SPLIT = 0  # the seed of the train/test halves of situations and third-party attributes


def bench_trained(train, test, cache: Path) -> dict:
    from synthgap.embedding import Embedder
    from synthgap.verifiers.trained import TrainedVerifier, scores

    cold = Embedder(cache_path=cache / "cold", cache=False)
    started = time.perf_counter()
    verifier = TrainedVerifier(cold.embed).fit(*train)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    verifier.verify(*test)
    cold_s = time.perf_counter() - started
    warm = Embedder(cache_path=cache / "warm")
    verifier.embed = warm.embed
    verifier.verify(*test)  # fills the cache
    started = time.perf_counter()
    verdicts = verifier.verify(*test)
    warm_s = time.perf_counter() - started
    probabilities, _ = verifier.probabilities(*test)
    claims = test[0]
    return {"claims_train": len(train[0]), "claims_test": len(claims), "fit_s": round(fit_s, 3),
            "claims_per_s_cold": round(len(claims) / cold_s, 1), "claims_per_s_warm": round(len(claims) / warm_s, 1),
            "scores": scores([c.label for c in claims], [v.label for v in verdicts], probabilities),
            "coefficients": verifier.coefficients()}


def held_out_scores(train, test, cache: Path) -> dict:
    """Scores on `test` of a verifier fitted on `train` (no timing)."""
    from synthgap.embedding import Embedder
    from synthgap.verifiers.trained import TrainedVerifier, scores

    verifier = TrainedVerifier(Embedder(cache_path=cache / "warm").embed).fit(*train)
    probabilities, _ = verifier.probabilities(*test)
    verdicts = verifier.verify(*test)
    return {"claims_train": len(train[0]), "claims_test": len(test[0]),
            "scores": scores([c.label for c in test[0]], [v.label for v in verdicts], probabilities)}


def bench_real(train, users: int, pool: str = "all") -> dict:
    from synthgap.corpora import load
    from synthgap.embedding import Embedder
    from synthgap.personas.taxonomy import load_taxonomy
    from synthgap.verifiers.evaluation import separation
    from synthgap.verifiers.trained import TrainedVerifier

    verifier = TrainedVerifier(Embedder().embed).fit(*train)
    out = {}
    for name, path in REAL.items():
        if path.exists():
            histories = list(load(str(path), unit="user").users())
            out[name] = separation(verifier, histories, load_taxonomy(), seed=0, max_users=users, pool=pool,
                                   split=SPLIT)
    return out


def bench_llm(test, n: int, model: str, cache: Path) -> dict:
    from synthgap.embedding import Embedder
    from synthgap.llm.factory import BackendSpec
    from synthgap.llm.job import open_engines
    from synthgap.verifiers.llm_judge import LLMJudge

    claims = test[0][:n]
    engines = open_engines(BackendSpec(kind="llamacpp", model=model), no_cache=True, cache_dir=cache)
    try:
        judge = LLMJudge(engines.main, embed=Embedder(cache_path=cache).embed)
        started = time.perf_counter()
        verdicts = judge.verify(claims, test[1])
        seconds = time.perf_counter() - started
    finally:
        engines.close()
    done = [(c, v) for c, v in zip(claims, verdicts) if v is not None]
    return {"model": model, "claims": len(claims), "parsed": len(done), "seconds": round(seconds, 2),
            "claims_per_s": round(len(claims) / seconds, 3), "retried": judge.stats["retried"],
            "agreement": round(sum(c.label == v.label for c, v in done) / len(done), 3) if done else None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--personas", type=int, default=60)
    parser.add_argument("--llm-claims", type=int, default=12)
    parser.add_argument("--real-users", type=int, default=150)
    parser.add_argument("--llm-model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--quick", action="store_true", help="20 personas, 4 LLM claims")
    parser.add_argument("--no-llm", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.quick:
        args.personas, args.llm_claims, args.real_users = 20, 4, 40
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        train = constructed(work / "train", 0, args.personas)
        test = constructed(work / "test", 1, max(6, args.personas * 2 // 3))
        train_half = constructed(work / "train-half", 0, args.personas, "train")
        test_half = constructed(work / "test-half", 1, max(6, args.personas * 2 // 3), "test")
        figures = {"personas": args.personas, "trained": bench_trained(train, test, work / "cache"),
                   "trained_held_out": held_out_scores(train_half, test_half, work / "cache"),
                   "real": bench_real(train, args.real_users),
                   "real_held_out": bench_real(train_half, args.real_users, "test")}
        if not args.no_llm:
            figures["llm"] = bench_llm(test, args.llm_claims, args.llm_model, work / "cache")
    t = figures["trained"]
    s = t["scores"]
    print(f"constructed claims: {t['claims_train']} to train ({args.personas} personas), {t['claims_test']} held out")
    print(f"{'verifier':<28}{'claims/s':>12}{'macro F1':>10}{'over. F1':>10}{'kappa':>8}{'AUC':>8}")
    print(f"{'trained (warm embeddings)':<28}{t['claims_per_s_warm']:>12}{s['macro_f1']:>10}"
          f"{s['overgeneralized_f1']:>10}{s['kappa']:>8}{s.get('auc_ovr', float('nan')):>8}")
    print(f"{'trained (cold)':<28}{t['claims_per_s_cold']:>12}   (fit {t['fit_s']} s)")
    h = figures["trained_held_out"]
    print(f"held-out constructed scores{'':<13}{'macro F1':>10}{'over. F1':>10}{'kappa':>8}{'AUC':>8}"
          f"{'train/test claims':>19}")
    for label, r in (("same situations (earlier)", t), ("held-out situations+3rd-party", h)):
        q = r["scores"]
        print(f"{label:<40}{q['macro_f1']:>10}{q['overgeneralized_f1']:>10}{q['kappa']:>8}"
              f"{q.get('auc_ovr', float('nan')):>8}{str(r['claims_train']) + '/' + str(r['claims_test']):>19}")
    for name, r in figures["real"].items():
        a, b = r["own_vs_other"], r["overgeneralized_vs_own"]
        print(f"{name}: own vs other users' attributes AUC {a['auc']} {a['ci95']} ({a['positive']} vs "
              f"{a['negative']} claims, {a['users']} users); inserted overgeneralizations vs own AUC {b['auc']} "
              f"{b['ci95']}")
        if name in figures["real_held_out"]:
            c = figures["real_held_out"][name]["overgeneralized_vs_own"]
            print(f"{name}: held-out (train-half verifier, test-half insertions) overgeneralizations vs own AUC "
                  f"{c['auc']} {c['ci95']} (same situations: {b['auc']})")
    if "llm" in figures:
        q = figures["llm"]
        print(f"{'llm judge ' + q['model']:<28}{q['claims_per_s']:>12}   parsed {q['parsed']}/{q['claims']}, "
              f"agreement {q['agreement']}")
    print("study anchors (human labels): prompted LLM F1 0.63, fine-tuned RoBERTa F1 0.726")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
