"""The Python API: the README's example runs as written, and a notebook-style session (personas,
template conversations, compare with a real corpus, report) gives the same bytes as the CLI."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

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
