"""The data model: validation, JSONL round trip, stable bytes, exported schemas."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from synthgap.records import (RECORD_TYPES, Attribute, Conversation, Evidence, Persona, RecordError, Turn,
                              UserHistory, dumps, export_schemas, read_jsonl, record_kind, write_jsonl)

from .conftest import REPO


def sample_history() -> UserHistory:
    conv = Conversation(id="c1", user_id="u1", source="test", synthetic=True,
                        turns=[Turn(role="user", content="I'm a nurse, ünïcödé ok"),
                               Turn(role="assistant", content="Nice.")],
                        persona_id="p1", meta={"b": 1, "a": [1, 2]})
    attr = Attribute(id="a1", statement="The user is a nurse", category="occupation_education",
                     stability="stable", confidence=0.9,
                     evidence=[Evidence(conversation_id="c1", turn=0, span=(4, 11))])
    return UserHistory(user_id="u1", source="test", synthetic=True, conversations=[conv], attributes=[attr])


def test_round_trip_is_byte_identical(tmp_path):
    first = tmp_path / "a.jsonl"
    write_jsonl(first, [sample_history(), sample_history().conversations[0]])
    again = tmp_path / "b.jsonl"
    write_jsonl(again, read_jsonl(first))
    assert first.read_bytes() == again.read_bytes()
    assert "ünïcödé".encode() in first.read_bytes()  # UTF-8 text, not \u escapes


def test_key_order_follows_fields_not_insertion():
    line = dumps(Turn(content="hi", role="user"))
    assert line == '{"role":"user","content":"hi"}'


def test_validation_rejects_bad_values():
    with pytest.raises(ValidationError):
        Turn(role="robot", content="x")
    with pytest.raises(ValidationError):
        Attribute(id="a", statement="s", confidence=1.5)
    with pytest.raises(ValidationError):
        Turn(role="user", content="x", extra=1)
    with pytest.raises(ValidationError):
        Turn(role="user", content=3)  # no silent int -> str coercion


def test_record_kind_tells_top_level_records_apart():
    assert record_kind(json.loads(dumps(sample_history()))) is UserHistory
    assert record_kind(json.loads(dumps(sample_history().conversations[0]))) is Conversation
    assert record_kind(json.loads(dumps(Persona(id="p", locale="en_US", name="A", seed=1)))) is Persona
    assert record_kind({"foo": 1}) is None


def test_read_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(dumps(sample_history()) + "\n" + '{"id": 1}\n', encoding="utf-8")
    with pytest.raises(RecordError) as err:
        list(read_jsonl(path))
    assert str(err.value).startswith(f"{path}: line 2: ")


def test_write_is_atomic(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("old\n")

    def broken():
        yield sample_history()
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        write_jsonl(path, broken())
    assert path.read_text() == "old\n"
    assert not [p for p in tmp_path.iterdir() if p.name != "out.jsonl"]


def test_exported_schemas_match_models(tmp_path):
    """docs/schema is generated from the models; regenerate with `make schemas` when they change."""
    export_schemas(tmp_path)
    for name in RECORD_TYPES:
        committed = REPO / "docs" / "schema" / f"{name}.schema.json"
        assert committed.read_text() == (tmp_path / f"{name}.schema.json").read_text(), f"{name} schema is stale"
