"""Interfaces of the vector layer.

``VectorIndex`` is an in-memory nearest-neighbour structure (exact or HNSW).
``VectorBackend`` is what the catalog talks to: it keeps vectors in step with the catalog's
SQLite rows and answers filtered searches. The embedded backend holds an index built from
SQLite; a server backend (Milvus) holds the vectors and filter fields itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

# HNSW search breadth (usearch's expansion_search, Milvus's ef) unless configured: more recall
# than the cheapest setting that reaches Recall@10 0.95 in benchmarks/results/ann.md.
DEFAULT_SEARCH_EF = 96


@dataclass(frozen=True)
class Filters:
    """Metadata conditions on a search (all optional, combined with AND)."""

    make: str | None = None
    year_min: int | None = None
    year_max: int | None = None

    def __bool__(self) -> bool:
        return bool(self.make) or self.year_min is not None or self.year_max is not None


@dataclass(frozen=True)
class VectorRow:
    """A vector and the fields a backend may filter on."""

    id: int
    vector: np.ndarray
    make: str | None = None
    year: int | None = None
    class_name: str | None = None


class VectorIndex(Protocol):
    """Cosine-similarity index over L2-normalised float32 vectors keyed by image id."""

    kind: str

    def __len__(self) -> int: ...

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or overwrite vectors."""

    def remove(self, keys: np.ndarray) -> None:
        """Drop keys; unknown keys are ignored."""

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (keys, cosine scores), best first; ``allowed`` restricts the keys."""
        ...


class VectorBackend(Protocol):
    """Where the catalog's vectors are searched. Every write goes through two steps:

    ``stage`` runs inside the catalog's SQLite write transaction, before it commits: a
    backend that stores vectors elsewhere writes them there and raises to abort the whole
    write. ``committed`` runs after the commit, for backends that mirror SQLite in memory.
    """

    kind: str

    def stage(self, upserts: Sequence[VectorRow], deletes: Sequence[int]) -> None: ...

    def committed(
        self, generation_before: int, upserts: Sequence[VectorRow], deletes: Sequence[int]
    ) -> None: ...

    def search(
        self, query: np.ndarray, k: int, filters: Filters | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def load(self) -> object:
        """Make the backend ready to search (load or rebuild an index); returns the index."""
        ...

    def save(self, *, force: bool = True) -> None:
        """Persist derived state; ``force=False`` lets a backend skip it when it is cheap to
        recover (e.g. a few changes to replay)."""

    def describe(self) -> dict[str, object]: ...

    def close(self) -> None: ...


def top_k(scores: np.ndarray, keys: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best k (keys, scores) of a score vector, sorted descending (ties by key)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order = np.lexsort((keys[part], -scores[part]))
    best = part[order]
    return keys[best].astype(np.int64), np.clip(scores[best], -1.0, 1.0).astype(np.float32)
