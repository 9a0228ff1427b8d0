"""Approximate search with usearch's HNSW graph, persisted to one file.

usearch was chosen over FAISS and hnswlib because it supports deletes and overwrites by key,
filtered exact fallback via ``get``, memory-mapped loading, and ships small wheels with no BLAS.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import TypedDict, Unpack

import numpy as np
from usearch.index import Index

from revsearch.config import DEFAULT_SEARCH_EF
from revsearch.index.base import top_k


class HnswOptions(TypedDict, total=False):
    """:class:`HnswIndex`'s keyword options, as :meth:`HnswIndex.load` passes them on."""

    expansion_search: int
    dtype: str
    connectivity: int


# Build and search parameters; benchmarks/bench_ann.py measures recall and speed per setting.
CONNECTIVITY = 16
EXPANSION_ADD = 128
# With a filter, over-fetch this many times k before falling back to exact search.
FILTER_OVERFETCH = 16


class HnswIndex:
    """``dtype`` is how vectors are stored: "f32", or "f16" / "i8" for half / a quarter of the
    memory and bandwidth. Measured by benchmarks/bench_ann.py on the catalog's embeddings:
    f16 keeps f32's recall and is faster; i8 tops out near Recall@10 0.93."""

    kind = "hnsw"

    def __init__(
        self,
        dim: int,
        *,
        expansion_search: int = DEFAULT_SEARCH_EF,
        dtype: str = "f32",
        connectivity: int = CONNECTIVITY,
    ) -> None:
        self.dim = dim
        self.dtype = dtype
        self._index = Index(
            ndim=dim,
            metric="cos",
            dtype=dtype,
            connectivity=connectivity,
            expansion_add=EXPANSION_ADD,
            expansion_search=expansion_search,
        )

    def __len__(self) -> int:
        return len(self._index)

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.uint64)
        if len(keys) == 0:
            return
        self.remove(keys)
        # One thread: usearch's concurrent add can leave a stored vector that no search reaches
        # (unum-cloud/USearch#735, open in 2.25.3); seen in CI as an image missing its own query.
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        self._index.add(keys, vectors, threads=1)

    def remove(self, keys: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.uint64)
        present = [key for key in keys if self._index.contains(int(key))]
        if present:
            self._index.remove(np.asarray(present, dtype=np.uint64))

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        query = np.asarray(query, dtype=np.float32).ravel()
        if allowed is None:
            return self._ann(query, k)
        allowed = np.asarray(allowed, dtype=np.int64)
        if len(allowed) > FILTER_OVERFETCH * k * 4:
            keys, scores = self._ann(query, FILTER_OVERFETCH * k)
            mask = np.isin(keys, allowed)
            if mask.sum() >= k:
                return keys[mask][:k], scores[mask][:k]
        # Small or very selective filter: score the allowed vectors exactly.
        allowed = allowed[np.array([self._index.contains(int(key)) for key in allowed], bool)]
        if len(allowed) == 0:
            return top_k(np.empty(0, np.float32), np.empty(0, np.int64), k)
        vectors: np.ndarray = np.asarray(self._index.get(allowed.astype(np.uint64)), np.float32)
        if self.dtype != "f32":  # stored rounded (i8: scaled by 127): renormalise for cosine
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.where(norms > 0, norms, 1.0)
        return top_k(vectors @ query, allowed, k)

    def _ann(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self._index) == 0 or k <= 0:  # usearch crashes on an empty search
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        matches = self._index.search(query, min(k, len(self._index)), threads=1)
        scores = 1.0 - np.asarray(matches.distances, dtype=np.float32)
        return np.asarray(matches.keys, dtype=np.int64), np.clip(scores, -1.0, 1.0)

    def save(self, path: Path) -> None:
        """Write to a temporary file, then atomically replace: never a half-written index."""
        tmp = path.with_suffix(path.suffix + ".tmp")
        try:
            self._index.save(str(tmp))
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException as exc:
            # usearch reports a failed write as a bare RuntimeError: say "no space" when the
            # disk is what ran out, so callers can tell a full disk from a bug.
            full = isinstance(exc, RuntimeError) and (
                shutil.disk_usage(path.parent).free < self._index.serialized_length
            )
            tmp.unlink(missing_ok=True)
            if full:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from exc
            raise

    @classmethod
    def load(cls, path: Path, dim: int, **options: Unpack[HnswOptions]) -> HnswIndex:
        """``options``: the constructor's, as the index was built with."""
        index = cls(dim, **options)
        breadth = index.expansion_search
        index._index.load(str(path))
        # A setting of the reader, not of the file. usearch's stub declares it read-only, but
        # Index.expansion_search has a setter.
        index._index.expansion_search = breadth  # type: ignore[misc]
        return index

    @property
    def expansion_search(self) -> int:
        return int(self._index.expansion_search)
