"""The one way synthgap derives randomness: from the run seed and the parts that name one item.

Every random choice is keyed by `(seed, *parts)` (e.g. seed 0, persona "p17", conversation 2,
"noise"), so an item's randomness does not depend on set size, batch, process or order, and a
resumed or sharded run gives the same bytes. The key is the parts written out and joined by ":"
("0:p17:2:noise"); from it:

- `seeded_random(seed, *parts)`: a `random.Random` seeded with the key (CPython hashes a string
  seed with SHA-512, the same in every process, unlike `hash()`);
- `derive_seed(seed, *parts, bits=63)`: an integer seed for engines and libraries that take one
  (Faker, llama.cpp, vLLM): the first 8 bytes of SHA-256(key), big-endian, cut to `bits` bits;
- `numpy_rng(seed, *parts)`: a numpy `Generator` from `default_rng([seed, *parts])`, where an int
  part enters as itself and a str part as its UTF-8 bytes (numpy hashes the whole sequence).
"""

from __future__ import annotations

import hashlib
import random
from typing import Union

import numpy as np

Part = Union[int, str]


def seed_key(seed: int, *parts: Part) -> str:
    """The text every derivation hashes: the seed and the parts joined by ':'."""
    return ":".join(map(str, (seed, *parts)))


def seeded_random(seed: int, *parts: Part) -> random.Random:
    """A `random.Random` for the item named by `parts` under run seed `seed`."""
    return random.Random(seed_key(seed, *parts))


def derive_seed(seed: int, *parts: Part, bits: int = 63) -> int:
    """A non-negative integer seed of at most `bits` bits (1..64) for the item named by `parts`."""
    if not 1 <= bits <= 64:
        raise ValueError(f"bits must be 1..64, got {bits}")
    value = int.from_bytes(hashlib.sha256(seed_key(seed, *parts).encode("utf-8")).digest()[:8], "big")
    return value >> (64 - bits)


def numpy_rng(seed: int, *parts: Part) -> np.random.Generator:
    """A numpy Generator for the computation named by `parts` (str parts enter as their UTF-8 bytes)."""
    entropy: list[int] = [int(seed)]
    for part in parts:
        if isinstance(part, str):
            entropy.extend(part.encode("utf-8"))
        elif isinstance(part, (bytes, bytearray)):
            entropy.extend(part)
        else:
            entropy.append(int(part))
    return np.random.default_rng(entropy)


__all__ = ["derive_seed", "numpy_rng", "seed_key", "seeded_random"]
