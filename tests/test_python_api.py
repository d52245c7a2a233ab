"""The Python API: the README's example runs as written, and a notebook-style session (personas,
template conversations, compare with a real corpus, report) gives the same bytes as the CLI."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

import synthgap
from synthgap.cli import cli

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_example() -> str:
    section = README.read_text(encoding="utf-8").split("### The Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def in_folder(folder: Path, fn):
    here = os.getcwd()
    folder.mkdir(parents=True, exist_ok=True)
    os.chdir(folder)
    try:
        return fn()
    finally:
        os.chdir(here)


def cli_ok(args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output + (repr(result.exception) if result.exception else "")
    return result


def test_every_public_name_resolves():
    for name in synthgap.__all__:
        assert getattr(synthgap, name) is not None, name
    with pytest.raises(AttributeError):
        synthgap.no_such_job  # noqa: B018


def test_the_readme_example_runs_and_matches_the_cli_byte_for_byte(tmp_path, capsys):
    api, shell = tmp_path / "api", tmp_path / "shell"
    in_folder(api, lambda: exec(compile(readme_example(), "README.md", "exec"), {}))
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2 and printed[0].startswith(("frechet", "kid", "c2st")), printed

    def by_hand():
        cli_ok(["personas", "sample", "-n", "30", "--seed", "1", "-o", "runs/api/personas.jsonl"])
        cli_ok(["generate", "templates", "--personas", "runs/api/personas.jsonl", "--per-persona", "2", "--turns", "2",
                "--seed", "1", "-o", "runs/api/templates.jsonl"])
        cli_ok(["compare", "--real", "sharegpt", "--synthetic", "templates=runs/api/templates.jsonl",
                "--metrics", "frechet,c2st,style", "--sample", "60", "--bootstrap", "40", "--seed", "1", "--quiet",
                "-o", "runs/api"])
        cli_ok(["report", "runs/api/results.json", "--format", "md", "--format", "latex", "-o", "runs/api/report"])
    in_folder(shell, by_hand)
    for name in ["personas.jsonl", "templates.jsonl", "results.json", "report/tables/embedding.tex",
                 "report/tables/style.tex"]:
        a, b = api / "runs/api" / name, shell / "runs/api" / name
        assert a.read_bytes() == b.read_bytes(), name
    # report.md ends with its provenance (when, and which command: the CLI's line, or the Python API)
    api_md, shell_md = [(f / "runs/api/report/report.md").read_text().split("## Provenance") for f in (api, shell)]
    assert api_md[0] == shell_md[0] and "command: `(Python API)`" in api_md[1]
    assert "command: `compare --real sharegpt --synthetic templates=runs/api/templates.jsonl" in shell_md[1]


# the verifier's options: fields of the config's `verifier` section (the judge's engine is checked like any engine)
VERIFIER = {"verifier_kind": "verifier.kind", "verifier_model": "verifier.model",
            "verifier_personas": "verifier.train_personas"}
# command -> (its job config, click parameter -> config field where the names differ; None: not a setting)
RENAMES = {"taxonomy_files": "taxonomy", "template_dirs": "templates", "prompt_dirs": "prompts",
           # where a job runs is the executor's (an ExecutorSpec beside the config; tests/test_scale.py checks them)
           "executor": None, "ray_address": None, "ray_workers": None, "shard_size": None}
COMMANDS = [
    (("personas", "sample"), "SampleJobConfig", {"count": "n", "config_file": "sampler_config",
                                                 "n_attributes": "attributes", "restart": None, "output": None}),
    (("personas", "enrich"), "EnrichJobConfig", {"personas_file": None, "resume": None, "force": None,
                                                 "output": None}),
    (("generate", "templates"), "TemplatesJobConfig", {"personas_file": None, "restart": None, "output": None}),
    (("generate", "llm"), "LLMJobConfig", {"personas_file": None, "resume": None, "force": None, "output": None}),
    (("generate", "continue"), "ContinueJobConfig", {"real": None, "fmt": "format", "resume": None, "force": None,
                                                     "output": None}),
    (("variants",), "VariantsJobConfig", {"source": None, "variants_": None, "fmt": "format", "output": None}),
    (("extract",), "ExtractJobConfig", {"source": None, "output": None}),
    (("compare",), "CompareJobConfig", {"no_match": "match", "no_sensitivity": "sensitivity", "outdir": None,
                                        "quiet": None, "real": None, "synthetic": None, "also_real": None,
                                        "persona_files": None, **VERIFIER}),
    (("verify", "attributes"), "VerifyJobConfig", {"label_file": None, "source": None, "as_json": None, "output": None,
                                                   **VERIFIER}),
    (("verify", "train"), "TrainVerifierConfig", {"label_file": None, "attributes": None, "source": None,
                                                  "as_json": None, "output": None}),
]
ENGINE = {"backend": "kind", "model": "model", "base_url": "base_url", "api_key_env": "api_key_env",
          "concurrency": "concurrency", "timeout": "timeout", "n_ctx": "n_ctx", "threads": "threads",
          "max_model_len": "max_model_len", "engine_args": "engine_args"}


def _unset_is_none(value):
    """click 8.3 marks "no default" with a sentinel object rather than None."""
    return None if type(value).__name__ == "Sentinel" else value


@pytest.mark.parametrize("path, config_name, renames", COMMANDS, ids=[" ".join(c[0]) for c in COMMANDS])
def test_a_commands_option_defaults_are_its_job_configs_defaults(path, config_name, renames):
    """The command line run.json records leaves out every setting at its default: that is only the same
    run when each option's default is the job config's default."""
    import click

    command = cli
    for name in path:
        command = command.commands[name]
    config_cls = getattr(synthgap, config_name)
    default = config_cls.model_validate({"variants": ["implicit"]} if config_name == "VariantsJobConfig" else {})
    checked = 0
    ctx = click.Context(command)
    for param in command.params:
        if not isinstance(param, click.Option) or param.name in ("help",):
            continue
        name = renames.get(param.name, RENAMES.get(param.name, param.name))
        value = _unset_is_none(param.get_default(ctx))
        if param.multiple and value is None:
            value = ()
        if name is None:
            continue
        if name.startswith(("llm_", "assistant_", "judge_")) or (name in ENGINE and name not in config_cls.model_fields):
            continue  # engine options: checked against BackendSpec below
        if "." in name:  # a field of a section
            section, field = name.split(".")
            sub = getattr(default, section)
            assert getattr(type(sub).model_validate({field: value}), field) == getattr(sub, field), (path, param.name)
            checked += 1
            continue
        if param.name.startswith("no_") and name != param.name:
            value = not value
        if name not in config_cls.model_fields:
            subs = [k for k in config_cls.model_fields if isinstance(getattr(default, k), BaseModel)
                    and k not in ("engine", "assistant", "verifier")]
            if subs:
                sub_default = getattr(default, subs[0])
                assert name in type(sub_default).model_fields, (path, param.name)
                assert getattr(type(sub_default).model_validate({name: value}), name) == getattr(sub_default, name), \
                    (path, param.name, value)
                checked += 1
                continue
            raise AssertionError(f"{' '.join(path)}: option {param.name} maps to no field of {config_name}")
        made = config_cls.model_validate({**({"variants": ["implicit"]} if config_name == "VariantsJobConfig" else {}),
                                          name: list(value) if isinstance(value, tuple) else value})
        assert getattr(made, name) == getattr(default, name), (path, param.name, value, getattr(default, name))
        checked += 1
    assert checked >= 5, (path, checked)
    if "engine" in config_cls.model_fields:
        spec = getattr(default, "engine")
        for param in command.params:
            value = _unset_is_none(param.get_default(ctx))
            if param.name in ENGINE and value is not None:
                want = dict(value) if param.name == "engine_args" else value
                assert getattr(spec, ENGINE[param.name]) == want, (path, param.name)
