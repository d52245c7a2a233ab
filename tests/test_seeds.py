"""The one seed helper (synthgap/seeds.py): its scheme, and that every consumer derives from it."""

import hashlib
import random

import numpy as np
import pytest

from synthgap.seeds import derive_seed, numpy_rng, seed_key, seeded_random


def test_the_key_is_the_parts_joined_by_colons():
    assert seed_key(0, "p17", 2, "noise") == "0:p17:2:noise"


def test_seeded_random_is_random_seeded_with_the_key():
    assert seeded_random(5, "p1", 0).random() == random.Random("5:p1:0").random()
    assert seeded_random(5, "p1", 0).random() != seeded_random(5, "p1", 1).random()


def test_derive_seed_is_sha256_cut_to_bits():
    top = int.from_bytes(hashlib.sha256(b"3:7").digest()[:8], "big")
    assert derive_seed(3, 7) == top >> 1 and derive_seed(3, 7, bits=31) == top >> 33
    assert 0 <= derive_seed(1, "x", bits=31) < 2 ** 31 and derive_seed(1, "x", bits=64) == top_of("1:x")
    with pytest.raises(ValueError):
        derive_seed(0, bits=0)


def top_of(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def test_numpy_rng_takes_str_parts_as_their_bytes():
    a = numpy_rng(4, 7001, "halves").integers(0, 1 << 30, 5)
    b = np.random.default_rng([4, 7001, *b"halves"]).integers(0, 1 << 30, 5)
    assert (a == b).all()
    assert (numpy_rng(4).integers(0, 1 << 30, 5) == np.random.default_rng(4).integers(0, 1 << 30, 5)).all()


def test_persona_seeds_come_from_the_helper():
    from synthgap.personas.sampler import persona_seed

    assert persona_seed(9, 12) == derive_seed(9, 12)
