"""Catalog inputs without an encoder: random unit vectors, and images numbered 0, 1, ..."""

from __future__ import annotations

import numpy as np

from revsearch.catalog.db import NewImage
from revsearch.vehicles import Vehicle, parse_class_name

DIM = 16


def unit_vectors(n: int, seed: int = 0, dim: int = DIM) -> np.ndarray:
    """``n`` random L2-normalised float32 vectors, the same for the same seed."""
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def images(
    n: int,
    start: int = 0,
    class_name: str | None = "Audi TTS Coupe 2012",
    vehicle: Vehicle | None = None,
) -> list[NewImage]:
    """Images numbered from ``start``; a fresh catalog gives them ids 1, 2, ... in order."""
    vehicle = vehicle or parse_class_name(class_name)
    return [
        NewImage(f"/photos/{i}.jpg", f"hash-{i}", 224, 224, class_name, vehicle)
        for i in range(start, start + n)
    ]


def ids_of(hits: list) -> list[int]:
    return [hit.record.id for hit in hits]
