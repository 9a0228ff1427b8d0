"""Mutation fuzz of ``decode``: a fixed number of damaged files per seed, every format.

Each mutated file must either decode to an RGB image or raise one of the project's image
errors (400/413/415 on the API, a skipped file in ``revsearch index``); anything else is a
500 waiting to happen and fails the build. Deterministic (seeded per format), so a failure
reproduces; the failing files are written to the test's tmp folder for the corpus.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from revsearch.errors import ImageTooLargeError, InvalidImageError, UnsupportedImageError
from revsearch.preprocess import decode
from tests.crafted import mutate, seeds

# 28,000 decodes in all, ~10 s on 2 cores; REVSEARCH_FUZZ_CASES=100000 for a long hunt.
CASES_PER_SEED = int(os.environ.get("REVSEARCH_FUZZ_CASES", "2000"))
SEEDS = seeds()
EXPECTED = (InvalidImageError, UnsupportedImageError, ImageTooLargeError)


def test_every_seed_decodes() -> None:
    for name, data in SEEDS.items():
        decoded = decode(data, draft_size=224)
        assert decoded.image.mode == "RGB" and min(decoded.image.size) > 0, name


@pytest.mark.parametrize("seed", list(SEEDS))
def test_mutated_files_raise_only_image_errors(seed: str, tmp_path: Path) -> None:
    rng = random.Random(f"revsearch-decode-fuzz-{seed}")
    failures = []
    for case in range(CASES_PER_SEED):
        data = mutate(SEEDS[seed], rng)
        try:
            decoded = decode(data, draft_size=rng.choice([None, 224]))
        except EXPECTED:
            continue
        except Exception as exc:  # the bug this test exists to find
            path = tmp_path / f"{seed}-{case}.bin"
            path.write_bytes(data)
            failures.append(f"{path}: {type(exc).__name__}: {exc}")
            continue
        assert decoded.image.mode == "RGB" and min(decoded.image.size) > 0
    assert not failures, "\n".join(failures)
