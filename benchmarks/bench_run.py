"""`synthgap run` end to end on this machine: the built-in default from cold caches (target: under
10 minutes on 2 cores after installation), the second run (every stage reused), and a run after
one compare setting changed (personas and conversations reused, compare onwards redone).

Each run is a separate `synthgap run` process with its own fresh cache folder
(SYNTHGAP_CACHE_DIR), so nothing computed before the benchmark is reused; the embedding model,
spaCy and the GGUF model load inside the timing, as they do for a user. Per-stage times come
from the run's run.json. No peer is named for this: the figures are the run itself.

``--quick``: a small config (40 personas, 4 LLM personas, 60 items per side, 40 bootstrap
replicates) for the test suite.

Run:  .venv/bin/python benchmarks/bench_run.py [--quick] [--keep DIR] [--json figures.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 600.0
QUICK = """seed: 0
personas: {n: 40}
templates: {per_persona: 1, turns: 2}
llm: {personas: 5, turns: 2, user_max_tokens: 24, assistant_max_tokens: 24}
compare: {sample: 60, bootstrap: 40, extraction_users: 20, mauve_seeds: 2, permutations: 50}
"""


def synthgap_run(args: list[str], cache: Path) -> tuple[float, str]:
    env = dict(os.environ, SYNTHGAP_CACHE_DIR=str(cache))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", "from synthgap.cli import main; main()", "run", *args],
                          env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench_run: synthgap run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds, proc.stderr


def stage_times(folder: Path) -> dict:
    state = json.loads((folder / "run.json").read_text())
    return {r["stage"]: (r["status"], r["seconds"]) for r in state["last_run"]["stages"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--keep", type=Path, help="run folder to keep (default: a temporary one)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = args.keep or tmp / "run"
        config_args, changed_args = [], []
        if args.quick:
            (tmp / "quick.yaml").write_text(QUICK)
            (tmp / "changed.yaml").write_text(QUICK.replace("bootstrap: 40", "bootstrap: 30"))
            config_args, changed_args = [str(tmp / "quick.yaml")], [str(tmp / "changed.yaml")]
        else:
            from synthgap.pipeline.config import example_text

            (tmp / "changed.yaml").write_text(example_text().replace("bootstrap: 200 ", "bootstrap: 150 "))
            changed_args = [str(tmp / "changed.yaml")]
        cache = tmp / "cache"
        first, _ = synthgap_run([*config_args, "-o", str(folder)], cache)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        stages_first = stage_times(folder)
        second, _ = synthgap_run([*config_args, "-o", str(folder)], cache)
        stages_second = stage_times(folder)
        third, _ = synthgap_run([*changed_args, "-o", str(folder)], cache)
        stages_third = stage_times(folder)
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    figures = {"config": "quick" if args.quick else "built-in default", "first_run_s": round(first, 1),
               "second_run_s": round(second, 2), "after_compare_change_s": round(third, 1),
               "peak_rss_mb": round(peak_mb), "stages_first": stages_first, "stages_second": stages_second,
               "stages_after_change": stages_third, "files": len(files), "target_s": TARGET_S,
               "within_target": first < TARGET_S}
    print(f"synthgap run ({figures['config']}), {os.cpu_count()} cores, fresh caches")
    print(f"{'stage':<12}{'first run':>14}{'second run':>16}{'compare changed':>20}")
    for stage, (status, seconds) in stages_first.items():
        s2, t2 = stages_second[stage]
        s3, t3 = stages_third[stage]
        print(f"{stage:<12}{seconds:>9.1f} s {status:<4}{t2:>9.1f} s {s2:<6}{t3:>11.1f} s {s3:<8}")
    print(f"{'total':<12}{first:>9.1f} s     {second:>9.2f} s       {third:>11.1f} s")
    print(f"peak memory of a run: {peak_mb:.0f} MB; {len(files)} files written")
    print(f"first run {'within' if first < TARGET_S else 'OVER'} the {TARGET_S:.0f} s target")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
