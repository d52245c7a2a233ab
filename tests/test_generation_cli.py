"""The personas, generate and variants commands: outputs, manifests, resume, and bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from synthgap.cli import cli
from synthgap.outputs import ResumableJsonl


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def personas_file(tmp_path):
    out = tmp_path / "p.jsonl"
    result = invoke("personas", "sample", "-n", 40, "--seed", 3, "-o", out)
    assert result.exit_code == 0, result.output
    return out


def test_sample_writes_personas_and_manifest(personas_file):
    lines = personas_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 40 and json.loads(lines[0])["id"] == "persona-3-000000"
    manifest = json.loads(personas_file.with_name("p.jsonl.manifest.json").read_text())
    assert manifest["counts"]["personas"] == 40 and manifest["config"]["seed"] == 3
    assert "faker" in manifest["versions"] and manifest["fingerprint"]
    assert not personas_file.with_name("p.jsonl.partial").exists()


def test_sample_options(tmp_path):
    out = tmp_path / "x.jsonl"
    result = invoke("personas", "sample", "-n", 30, "--locale", "fr_FR", "--attributes", "4-6", "--exclude", "name",
                    "-o", out)
    assert result.exit_code == 0, result.output
    for line in out.read_text(encoding="utf-8").splitlines():
        p = json.loads(line)
        assert p["locale"] == "fr_FR" and 4 <= len(p["attributes"]) <= 6
        assert "name" not in {a["id"] for a in p["attributes"]}


def test_sample_resumes_after_a_crash_without_duplicates(tmp_path):
    full = tmp_path / "full.jsonl"
    invoke("personas", "sample", "-n", 100, "--seed", 8, "-o", full)
    out = tmp_path / "out.jsonl"
    invoke("personas", "sample", "-n", 40, "--seed", 8, "-o", out)
    fp = json.loads(out.with_name("out.jsonl.manifest.json").read_text())["resume_fingerprint"]
    # What a crash leaves: 40 complete lines, half of the 41st, and the state file.
    partial = out.with_name("out.jsonl.partial")
    partial.write_bytes(out.read_bytes() + full.read_bytes().splitlines(keepends=True)[40][:50])
    out.with_name("out.jsonl.partial.json").write_text(json.dumps({"fingerprint": fp}))
    out.unlink()
    result = invoke("personas", "sample", "-n", 100, "--seed", 8, "-o", out)
    assert result.exit_code == 0 and "resuming: 40 personas already written" in result.output
    assert out.read_bytes() == full.read_bytes()
    # A different configuration refuses to continue someone else's partial file.
    partial.write_bytes(full.read_bytes()[:500])
    out.with_name("out.jsonl.partial.json").write_text(json.dumps({"fingerprint": fp}))
    result = invoke("personas", "sample", "-n", 100, "--seed", 9, "-o", out)
    assert result.exit_code == 1 and "different configuration" in result.output and "--restart" in result.output
    result = invoke("personas", "sample", "-n", 100, "--seed", 9, "--restart", "-o", out)
    assert result.exit_code == 0 and len(out.read_text().splitlines()) == 100


def test_resumable_writer_unit(tmp_path):
    path = tmp_path / "a.jsonl"
    w = ResumableJsonl(path, "f1", batch=2)
    for i in range(5):
        w.write(json.dumps({"i": i}))
    w.close()  # interrupted: the partial file stays
    assert not path.exists()
    again = ResumableJsonl(path, "f1")
    assert again.done == 5
    again.write(json.dumps({"i": 5}))
    assert again.complete() == 6
    assert [json.loads(x)["i"] for x in path.read_text().splitlines()] == list(range(6))


def test_generate_templates_and_variants_end_to_end(tmp_path, personas_file):
    convs = tmp_path / "c.jsonl"
    result = invoke("generate", "templates", "--personas", personas_file, "--per-persona", 2, "--turns", 2,
                    "--disclosure", "explicit", "--realism", "messy", "--typo-rate", 0, "-o", convs)
    assert result.exit_code == 0, result.output
    records = [json.loads(x) for x in convs.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 80 and all(len(r["turns"]) == 4 for r in records)
    assert {d["style"] for r in records for d in r["disclosures"]} == {"explicit"}
    manifest = json.loads((tmp_path / "c.jsonl.manifest.json").read_text())
    assert manifest["config"]["config"]["realism"]["typo_rate"] == 0
    assert manifest["config"]["config"]["realism"]["lowercase"] == 0.7
    out = tmp_path / "v.jsonl"
    result = invoke("variants", convs, "--variant", "implicit", "--variant", "remove:style=explicit", "-o", out)
    assert result.exit_code == 0, result.output
    assert "implicit: converted=" in result.output
    variants = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert all(d["style"] == "implicit" for v in variants for d in v["disclosures"])
    assert [s["name"] for s in variants[0]["meta"]["variants"]] == ["implicit", "remove"]


def test_variants_on_a_real_corpus(corpora, tmp_path):
    """Disclosure-free variants work on any corpus the readers accept."""
    out = tmp_path / "v.jsonl"
    result = invoke("variants", corpora / "convai2_wild_intermediate.json", "--variant", "noise:preset=messy",
                    "--variant", "shuffle:scope=corpus", "-o", out)
    assert result.exit_code == 0, result.output
    assert len(out.read_text(encoding="utf-8").splitlines()) == 291


def test_audit_command_on_the_real_survey(corpora, tmp_path, personas_file):
    report = tmp_path / "audit.json"
    result = invoke("personas", "audit", personas_file, "--reference", corpora / "persuasionforgood_dev",
                    "--bootstrap", 30, "--json", report)
    assert result.exit_code == 0, result.output
    assert "Persona audit" in result.output and "political_ideology" in result.output
    data = json.loads(report.read_text())
    assert data["reference"]["mapping"] == "persuasionforgood" and len(data["marginals"]) == 9


def test_audit_against_another_persona_set(tmp_path, personas_file):
    other = tmp_path / "o.jsonl"
    invoke("personas", "sample", "-n", 60, "--seed", 4, "-o", other)
    result = invoke("personas", "audit", personas_file, "--reference", other, "--bootstrap", 20)
    assert result.exit_code == 0, result.output
    assert "none: same taxonomy" in result.output and "occupation" in result.output


def test_taxonomy_command():
    result = invoke("personas", "taxonomy", "--json")
    data = json.loads(result.output)
    assert len(data["attributes"]) >= 40 and "answer_preferences" in data["categories"]
    assert "occupation" in invoke("personas", "taxonomy").output


BAD = [
    (["personas", "sample", "-n", 5, "--attributes", "x", "-o", "{tmp}/o.jsonl"], "--attributes 'x'"),
    (["personas", "sample", "-n", 5, "--locale", "xx_XX", "-o", "{tmp}/o.jsonl"], "unknown locale 'xx_XX'"),
    (["personas", "sample", "-n", 5, "--fit-joint", "a,b", "-o", "{tmp}/o.jsonl"], "--fit-joint needs --fit-to"),
    (["personas", "sample", "-n", 5, "--taxonomy", "{tmp}/missing.yaml", "-o", "{tmp}/o.jsonl"],
     "taxonomy file not found"),
    (["personas", "audit", "{tmp}/bad.jsonl", "--reference", "{tmp}/bad.jsonl"], "bad.jsonl: line 2: malformed JSON"),
    (["personas", "audit", "{tmp}/nope.jsonl", "--reference", "{tmp}/bad.jsonl"], "no such persona file"),
    (["generate", "templates", "--personas", "{tmp}/bad.jsonl", "-o", "{tmp}/c.jsonl"], "line 2: malformed JSON"),
    (["generate", "templates", "--personas", "{tmp}/wrong.jsonl", "-o", "{tmp}/c.jsonl"], "wrong.jsonl: line 1: invalid"),
    (["generate", "templates", "--personas", "{tmp}/good.jsonl", "--intent", "karaoke", "-o", "{tmp}/c.jsonl"],
     "unknown intent 'karaoke'"),
    (["generate", "templates", "--personas", "{tmp}/good.jsonl", "--templates", "{tmp}/nodir", "-o", "{tmp}/c.jsonl"],
     "template directory not found"),
    (["variants", "{tmp}/good.jsonl", "--variant", "remix", "-o", "{tmp}/v.jsonl"], "unknown variant 'remix'"),
]


@pytest.mark.parametrize("args, message", BAD)
def test_bad_input_is_one_line(tmp_path, personas_file, args, message):
    good = personas_file.read_text(encoding="utf-8").splitlines()
    (tmp_path / "good.jsonl").write_text("\n".join(good[:3]) + "\n", encoding="utf-8")
    (tmp_path / "bad.jsonl").write_text(good[0] + "\n{broken\n", encoding="utf-8")
    (tmp_path / "wrong.jsonl").write_text('{"id": "x", "locale": "en_US", "name": "A", "seed": "s"}\n', encoding="utf-8")
    result = invoke(*[a.format(tmp=tmp_path) if isinstance(a, str) else a for a in args])
    assert result.exit_code != 0
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert any(message in x for x in lines), result.output
    assert "Traceback" not in result.output


def test_skip_bad_persona_lines_are_counted_and_nothing_else_is_lost(tmp_path, personas_file):
    good = personas_file.read_text(encoding="utf-8").splitlines()
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join([good[0], "{broken", good[1], '{"id": 1}', good[2]]) + "\n", encoding="utf-8")
    out = tmp_path / "c.jsonl"
    result = invoke("generate", "templates", "--personas", mixed, "--per-persona", 1, "--skip-bad", "-o", out)
    assert result.exit_code == 0, result.output
    assert "skipped 2 bad lines" in result.output and "malformed JSON: 1" in result.output
    assert "invalid record: 1" in result.output and "mixed.jsonl: line 2" in result.output
    assert len(out.read_text().splitlines()) == 3
    result = invoke("generate", "templates", "--personas", mixed, "-o", out)
    assert result.exit_code == 1 and "line 2: malformed JSON" in result.output and "--skip-bad" in result.output


def test_fit_to_saves_a_config_that_reproduces_the_personas(corpora, tmp_path):
    fitted = tmp_path / "fitted.jsonl"
    config = tmp_path / "fitted.yaml"
    result = invoke("personas", "sample", "-n", 200, "--seed", 2, "--fit-to", corpora / "persuasionforgood_dev",
                    "--fit-joint", "education,income", "--save-config", config, "-o", fitted)
    assert result.exit_code == 0, result.output
    assert "fitted to" in result.output and "mapping persuasionforgood" in result.output
    assert {json.loads(x)["locale"] for x in fitted.read_text().splitlines()} == {"en_US"}
    again = tmp_path / "again.jsonl"
    result = invoke("personas", "sample", "-n", 200, "--seed", 2, "--config", config, "-o", again)
    assert result.exit_code == 0, result.output
    assert again.read_bytes() == fitted.read_bytes()
    manifest = json.loads((tmp_path / "fitted.jsonl.manifest.json").read_text())
    assert manifest["fit"]["log"][-1]["tv_to_target"]["education"] < 0.1


def test_bad_sampler_config_file(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("weights: {gender: {female: 1}}\nlocals: [en_US]\n", encoding="utf-8")
    result = invoke("personas", "sample", "-n", 5, "--config", config, "-o", tmp_path / "o.jsonl")
    assert result.exit_code == 1 and f"{config}: locals: extra inputs are not permitted" in result.output


def test_fit_to_another_persona_set(tmp_path):
    """Fitting to a persona file (same taxonomy) moves the marginals towards it."""
    target = tmp_path / "target.jsonl"
    invoke("personas", "sample", "-n", 300, "--locale", "de_DE", "--config", _write_config(tmp_path), "-o", target)
    fitted = tmp_path / "fitted.jsonl"
    result = invoke("personas", "sample", "-n", 300, "--seed", 5, "--fit-to", target, "-o", fitted)
    assert result.exit_code == 0, result.output
    share = sum(json.loads(x)["attributes"][1]["value"] == "female" for x in fitted.read_text().splitlines()) / 300
    assert share > 0.85


def _write_config(tmp_path):
    path = tmp_path / "skewed.yaml"
    path.write_text("weights: {gender: {female: 9, male: 1, non-binary: 0}}\n", encoding="utf-8")
    return path
