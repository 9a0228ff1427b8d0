"""Interfaces of the vector layer.

``VectorIndex`` is an in-memory nearest-neighbour structure (exact or HNSW).
``VectorBackend`` is what the catalog talks to: it keeps vectors in step with the catalog's
SQLite rows and answers filtered searches. The embedded backend holds an index built from
SQLite; a server backend (Milvus) holds the vectors and filter fields itself.
``VectorSource`` is all a backend may ask of the catalog it serves: ``index/`` imports
nothing of ``catalog/``, the catalog's database implements it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import NotRequired, Protocol, TypedDict

import numpy as np

from revsearch.errors import BadParameterError


class BackendInfo(TypedDict):
    """What a backend says of itself in the catalog's stats (``revsearch stats``)."""

    vector_backend: str  # "embedded" or "milvus"
    index_kind: str  # "exact" or "hnsw"
    milvus: NotRequired[str]  # the Milvus server and collection, without the token


@dataclass(frozen=True)
class Filters:
    """Metadata conditions on a search (all optional, combined with AND).

    Built where a request enters (CLI options, API form fields) and checked there: an
    empty make means none, and a year range that ends before it starts is refused.
    """

    make: str | None = None
    year_min: int | None = None
    year_max: int | None = None

    def __post_init__(self) -> None:
        if not self.make:
            object.__setattr__(self, "make", None)
        low, high = self.year_min, self.year_max
        if low is not None and high is not None and low > high:
            raise BadParameterError(f"year_min {low} is after year_max {high}")

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


class VectorSource(Protocol):
    """The catalog as a backend sees it: committed vectors, filter fields and the change log.

    ``generation`` counts committed writes; ``changes_since`` says what they touched, so a
    backend catches up by deltas, or returns None when the log no longer reaches back.
    """

    read_only: bool

    @property
    def generation(self) -> int: ...

    def model(self) -> tuple[str, int]:
        """(model id, dimension) of the current vectors; ("", 0) before the first write."""
        ...

    def count(self) -> int: ...

    def vectors(self, model_id: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """All (ids, matrix) of one model."""
        ...

    def vectors_of(
        self, ids: Sequence[int], model_id: str, dim: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, matrix) of some images; those without a vector are left out."""
        ...

    def vector_rows(self, ids: np.ndarray, matrix: np.ndarray) -> list[VectorRow]:
        """These vectors with their images' filter fields; ids no longer there are left out."""
        ...

    def filter_ids(self, filters: Filters) -> np.ndarray:
        """Ids of the images that pass ``filters``."""
        ...

    def changes_since(self, generation: int) -> tuple[list[int], list[int]] | None: ...

    def logged_changes(self) -> int:
        """How many images the change log still lists (what pruning it would forget)."""
        ...

    def prune_changes(self, through: int) -> None: ...

    def write_lock(self) -> AbstractContextManager[None]:
        """The catalog's write lock, across processes: no write commits while it is held."""
        ...


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

    @property
    def kind(self) -> str:
        """The kind of index searches use now: "exact" or "hnsw"."""
        ...

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

    def describe(self) -> BackendInfo: ...

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
