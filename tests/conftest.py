"""Shared fixtures: where the real corpora live, and small helpers to write test files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("SYNTHGAP_CORPORA", REPO.parent / "shared" / "corpora"))


@pytest.fixture
def corpora() -> Path:
    """../shared/corpora, or skip: the real corpora are third-party data kept outside the repo."""
    if not CORPORA.is_dir():
        pytest.skip(f"real corpora not found at {CORPORA} (set SYNTHGAP_CORPORA to their folder)")
    return CORPORA


@pytest.fixture(scope="session")
def taxonomy():
    """The built-in attribute taxonomy, loaded once for the whole run."""
    from synthgap.personas.taxonomy import load_taxonomy

    return load_taxonomy()


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def write_json(path: Path, value) -> Path:
    path.write_text(json.dumps(value, indent=2), encoding="utf-8")
    return path
