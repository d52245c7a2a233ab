"""The command line: version, fast help, inspect and convert end to end."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from synthgap import __version__
from synthgap.cli import cli
from synthgap.corpora import load

from .conftest import write_json

CONVS = [{"id": f"s{i}", "conversations": [{"from": "human", "value": f"question {i} ünï"},
                                             {"from": "gpt", "value": "answer"}]} for i in range(5)]


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.output


def test_help_imports_nothing_heavy():
    code = ("import sys, synthgap.cli; "
            "heavy = [m for m in ('torch', 'sentence_transformers', 'spacy', 'vllm', 'llama_cpp', 'numpy', 'pydantic')"
            " if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_inspect_json(tmp_path):
    path = write_json(tmp_path / "s.json", CONVS)
    result = run("corpus", "inspect", path, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["conversations"] == 5 and report["users"] == 5
    assert report["turns"] == {"user": 5, "assistant": 5, "system": 0}
    assert report["skipped"] == {} and report["truncated"] is False
    assert report["user_turn_words"]["median"] == 3 and report["scripts"] == {"Latin": 5}


def test_inspect_table(tmp_path):
    path = write_json(tmp_path / "s.json", CONVS)
    result = run("corpus", "inspect", path)
    assert result.exit_code == 0 and "conversations" in result.output and "user turn words" in result.output


def test_convert_to_each_format_and_back(tmp_path):
    src = write_json(tmp_path / "s.json", CONVS)
    original = [(c.id, [(t.role, t.content) for t in c.turns]) for c in load(src)]
    for to, name in (("native", "n.jsonl"), ("sharegpt", "sg.json"), ("sharegpt", "sg.jsonl"), ("openai", "o.jsonl")):
        out = tmp_path / name
        result = run("corpus", "convert", src, "-o", out, "--to", to)
        assert result.exit_code == 0, result.output
        back = [(c.id, [(t.role, t.content) for t in c.turns]) for c in load(out)]
        if to == "openai":  # OpenAI messages carry no ids
            back = [(o[0], b[1]) for o, b in zip(original, back)]
        assert back == original, to
    assert load(tmp_path / "n.jsonl").summary.formats == ["native"]


def test_convert_user_unit_refused_for_conversation_formats(tmp_path):
    src = write_json(tmp_path / "s.json", CONVS)
    result = run("corpus", "convert", src, "-o", tmp_path / "x.jsonl", "--to", "openai", "--unit", "user")
    assert result.exit_code == 1 and "user histories" in result.stderr
    assert not (tmp_path / "x.jsonl").exists()


def test_formats_lists_every_reader():
    from synthgap.corpora import FORMATS

    result = run("corpus", "formats")
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()] == list(FORMATS)
    assert "persuadee|persuader|both" in result.output
