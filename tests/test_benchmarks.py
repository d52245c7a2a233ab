"""The benchmark scripts stay runnable (on a small file; the real run is `make bench`)."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import REPO, write_json


def test_bench_corpora_runs_on_a_small_truncated_file(tmp_path):
    records = [{"id": f"b{i}_0", "conversations": [{"from": "human", "value": f"q{i}"}, {"from": "gpt", "value": "a"}]}
               for i in range(50)]
    path = write_json(tmp_path / "small.json", records)
    path.write_text(path.read_text()[:-40])  # cut inside the last record
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_corpora.py"), "--source", str(path),
                          "--repeat", "1", "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    ours, naive = result["results"]["synthgap"], result["results"]["naive"]
    assert ours["conversations"] == naive["conversations"] == 49  # complete records before the cut
    assert ours["truncated"] and result["counts_match"] and result["records_match"]
    assert ours["peak_rss_mb"] > 0 and ours["seconds"] > 0
