"""The extract, compare, verify, agreement and report jobs called from Python (no click) write what the
commands write, and their configs refuse a bad key or value before anything runs."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from synthgap.comparators.jobs import AgreementJobConfig, CompareJobConfig, agreement, compare
from synthgap.verifiers.jobs import TrainVerifierConfig, VerifyJobConfig, verify
from synthgap.extractors.jobs import ExtractJobConfig, ExtractorSettings, extract
from synthgap.reports.jobs import ReportJobConfig, report
from tests.conftest import CORPORA

REAL = CORPORA / "convai2_wild_intermediate.json"
SYNTHETIC = CORPORA / "synthetic_persona_chat_valid.csv"


def cli(*args):
    from synthgap.cli import cli as root

    result = CliRunner().invoke(root, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """One small comparison with rules extraction, by the command and by the job, on the same settings."""
    if not REAL.exists() or not SYNTHETIC.exists():
        pytest.skip(f"real corpora not found at {CORPORA}")
    folder = tmp_path_factory.mktemp("compared")
    cli("compare", "--real", REAL, "--synthetic", f"spc={SYNTHETIC}", "--metrics", "frechet,style", "--sample", 60,
        "--bootstrap", 30, "--extraction", "rules", "--extraction-users", 20, "-o", folder / "cli", "--quiet")
    messages = []
    config = CompareJobConfig(metrics="frechet,style", sample=60, bootstrap=30, extraction="rules",
                              extraction_users=20)
    done = compare(config, str(REAL), [f"spc={SYNTHETIC}"], folder / "py", log=messages.append)
    return folder, done, messages


def test_compare_job_writes_the_commands_results(compared):
    folder, done, messages = compared
    assert (folder / "py" / "results.json").read_bytes() == (folder / "cli" / "results.json").read_bytes()
    assert done.results == json.loads((folder / "py" / "results.json").read_text())
    assert done.results_path == folder / "py" / "results.json" and done.outputs == [done.results_path,
                                                                                    done.manifest_path]
    assert any(m["family"] == "extraction" for m in done.results["metrics"])
    ours, theirs = (json.loads((folder / side / "manifest.json").read_text()) for side in ("py", "cli"))
    assert ours["config"] == theirs["config"] and ours["fingerprint"] == theirs["fingerprint"]
    assert ours["models"] == theirs["models"] and ours["models"]["extraction"]["extractor"] == "rules"
    assert ours["inputs"] == theirs["inputs"] and set(ours["counts"]) == set(theirs["counts"])
    assert any(m.startswith("read spc: ") for m in messages)  # the command's notes, without its prefix


def test_report_job_writes_the_commands_report(compared, tmp_path):
    folder, _, _ = compared  # one results.json for both: the manifests beside them differ in their timings
    cli("report", folder / "cli" / "results.json", "--format", "md", "-o", tmp_path / "cli")
    written = report(ReportJobConfig(formats=["md"]), folder / "cli" / "results.json", tmp_path / "py")
    assert written.written == [tmp_path / "py" / "report.md"]
    assert (tmp_path / "py" / "report.md").read_bytes() == (tmp_path / "cli" / "report.md").read_bytes()


def test_extract_and_verify_jobs_write_what_the_commands_write(tmp_path):
    if not REAL.exists():
        pytest.skip(f"real corpora not found at {CORPORA}")
    cli("extract", REAL, "--sample-users", 15, "--seed", 3, "-o", tmp_path / "cli.jsonl")
    done = extract(ExtractJobConfig(sample_users=15, seed=3), str(REAL), tmp_path / "py.jsonl")
    assert (tmp_path / "py.jsonl").read_bytes() == (tmp_path / "cli.jsonl").read_bytes()
    assert done.users == 15 and done.attributes > 0 and done.manifest.exists()
    shown = cli("verify", tmp_path / "cli.jsonl", "--source", REAL, "--json", "-o", tmp_path / "v-cli")
    checked = verify(VerifyJobConfig(), tmp_path / "py.jsonl", str(REAL), output=tmp_path / "v-py")
    assert checked.data == json.loads(shown.output.strip().splitlines()[-1])
    assert checked.attributes == done.attributes and checked.against_labels is None
    for name in ("assessments.jsonl", "verify.json"):
        assert (tmp_path / "v-py" / name).read_bytes() == (tmp_path / "v-cli" / name).read_bytes()


def test_agreement_job_gives_what_the_command_prints(tmp_path):
    folder = CORPORA / "recenter_pilot" / "relevance"
    humans, models = sorted(folder.glob("human_*.jsonl")), sorted(folder.glob("llm_*.jsonl"))
    if len(humans) < 2 or not models:
        pytest.skip(f"pilot relevance files not found in {folder}")
    shown = cli("agreement", *[x for h in humans for x in ("--human", h)], *[x for m in models for x in ("--model", m)],
                "--bootstrap", 50, "--json")
    done = agreement(AgreementJobConfig(bootstrap=50), humans, models, tmp_path)
    assert done.data == json.loads(shown.output)
    assert json.loads(done.agreement_path.read_text()) == done.data and done.manifest_path.exists()


@pytest.mark.parametrize("model,fields", [
    (CompareJobConfig, {"metrics": "frechet,mmdd"}),
    (CompareJobConfig, {"metric": "frechet"}),
    (CompareJobConfig, {"sample": 3}),
    (CompareJobConfig, {"extractor": {"merge_threshold": 0}}),
    (CompareJobConfig, {"extractor": {"engine": {"kind": "llamacpp", "modle": "x"}}}),
    (ExtractJobConfig, {"extractor": "spacy"}),
    (ExtractorSettings, {"prompt_dirs": ["x"]}),
    (VerifyJobConfig, {"bootstrap": 1}),
    (VerifyJobConfig, {"verifier": {"kind": "rules"}}),
    (TrainVerifierConfig, {"folds": 1}),
    (AgreementJobConfig, {"fmt": "long"}),
    (ReportJobConfig, {"formats": ["pdf"]}),
])
def test_a_bad_key_or_value_fails_when_the_config_is_built(model, fields):
    with pytest.raises(ValidationError):
        model(**fields)


def test_a_bad_metric_names_itself():
    with pytest.raises(ValidationError, match="unknown metric 'mmdd'"):
        CompareJobConfig(metrics="frechet,mmdd")
    assert CompareJobConfig(metrics="embedding").estimators().metrics[0] == "frechet"


def test_llm_extract_job_writes_what_the_command_writes(tmp_path):
    """The LLM extractor through a scripted OpenAI-compatible server: --llm-* options map onto `engine`."""
    from synthgap.llm.factory import BackendSpec

    from .llm_fakes import Script, completion, start_server

    if not REAL.exists():
        pytest.skip(f"real corpora not found at {CORPORA}")
    answer = {"attributes": [{"statement": "The user keeps bees in the garden.", "reason": "says so",
                              "confidence": 0.9, "evidence": ["T1"]}]}
    base, server = start_server(Script(completion(json.dumps(answer))))
    try:
        cli("extract", REAL, "--extractor", "llm", "--sample-users", 3, "--llm-backend", "openai", "--llm-base-url",
            base, "--no-cache", "-o", tmp_path / "cli.jsonl")
        engine = BackendSpec(kind="openai", model="qwen2.5-coder-0.5b", base_url=base)
        config = ExtractJobConfig(extractor="llm", sample_users=3, no_cache=True, llm=ExtractorSettings(engine=engine))
        done = extract(config, str(REAL), tmp_path / "py.jsonl")
    finally:
        server.shutdown()
    assert (tmp_path / "py.jsonl").read_bytes() == (tmp_path / "cli.jsonl").read_bytes()
    assert done.attributes == 3 and done.counts["llm"]["kept"] == 3
    ours, theirs = (json.loads((tmp_path / f"{side}.jsonl.manifest.json").read_text()) for side in ("py", "cli"))
    assert ours["config"] == theirs["config"] and ours["engine"] == theirs["engine"]
