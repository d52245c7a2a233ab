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


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Embedding and style caches go to a fresh folder for the run, never to ~/.cache."""
    folder = tmp_path_factory.mktemp("synthgap-cache")
    old = os.environ.get("SYNTHGAP_CACHE_DIR")
    os.environ["SYNTHGAP_CACHE_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("SYNTHGAP_CACHE_DIR", None)
    else:
        os.environ["SYNTHGAP_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def embedder():
    """The packaged all-MiniLM-L6-v2, loaded once (real model, cached vectors in the run's cache folder)."""
    from synthgap.embedding import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def analyzer():
    """The spaCy style analyzer, loaded once."""
    from synthgap.comparators.style import StyleAnalyzer

    return StyleAnalyzer()
