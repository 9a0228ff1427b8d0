"""The embedded backend: vectors live in the catalog's SQLite; the index is derived from them.

Exact search (numpy/SIMD) up to ``exact_search_limit`` vectors, HNSW (usearch) above. The
HNSW file is saved atomically together with the catalog generation it reflects, and rebuilt
from SQLite whenever it is missing, damaged or stale (after a crash, or when another process
wrote to the catalog).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from revsearch.catalog.db import CatalogDB
from revsearch.index.base import Filters, VectorIndex, VectorRow
from revsearch.index.exact import ExactIndex
from revsearch.index.hnsw import HnswIndex

HNSW_FILE = "vectors.usearch"
HNSW_STATE_FILE = "vectors.json"


class EmbeddedBackend:
    def __init__(self, db: CatalogDB, folder: Path, *, exact_search_limit: int = 5000) -> None:
        self.db = db
        self.folder = folder
        self.exact_search_limit = exact_search_limit
        self._lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._index_generation = -1

    @property
    def kind(self) -> str:
        return "exact" if self.db.count() <= self.exact_search_limit else "hnsw"

    def stage(self, upserts: Sequence[VectorRow], deletes: Sequence[int]) -> None:
        """Nothing to do: the vectors are written in the same SQLite transaction."""

    def committed(
        self, generation_before: int, upserts: Sequence[VectorRow], deletes: Sequence[int]
    ) -> None:
        """Mirror a committed write into the loaded index, or drop the index if it was stale."""
        with self._lock:
            if self._index is None:
                return
            if self._index_generation != generation_before or self._index.kind != self.kind:
                self._index = None  # stale, or the catalog crossed the exact/HNSW threshold
                return
            if deletes:
                self._index.remove(np.asarray(deletes, dtype=np.int64))
            if upserts:
                self._index.add(
                    np.array([row.id for row in upserts]), np.stack([row.vector for row in upserts])
                )
            self._index_generation = self.db.generation

    def search(
        self, query: np.ndarray, k: int, filters: Filters | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        allowed = None
        if filters:
            allowed = self.db.filter_ids(filters.make, filters.year_min, filters.year_max)
        with self._lock:
            return self.load().search(query, k, allowed)

    def load(self) -> VectorIndex:
        """The loaded index, (re)built if missing or behind the database."""
        with self._lock:
            generation = self.db.generation
            if self._index is None or self._index_generation != generation:
                self._index = self._load_index(generation)
                self._index_generation = generation
            return self._index

    def _load_index(self, generation: int) -> VectorIndex:
        model_id, dim = (
            self.db.get_meta("model_id") or "",
            int(self.db.get_meta("embedding_dim") or 0),
        )
        if self.kind == "exact":
            index: VectorIndex = ExactIndex(dim)
            index.add(*self.db.vectors(model_id, dim))
            return index
        state = self._read_state()
        hnsw_path = self.folder / HNSW_FILE
        if (
            state.get("generation") == generation
            and state.get("model_id") == model_id
            and hnsw_path.is_file()
        ):
            try:
                return HnswIndex.load(hnsw_path, dim)
            except Exception:  # a damaged file is rebuilt, never trusted
                pass
        index = HnswIndex(dim)
        index.add(*self.db.vectors(model_id, dim))
        self._save_hnsw(index, generation, model_id)
        return index

    def save(self) -> None:
        """Persist the HNSW index if it is loaded and current (exact indexes need nothing)."""
        with self._lock:
            if isinstance(self._index, HnswIndex) and self._index_generation == self.db.generation:
                model_id = self.db.get_meta("model_id") or ""
                self._save_hnsw(self._index, self._index_generation, model_id)

    def _save_hnsw(self, index: HnswIndex, generation: int, model_id: str) -> None:
        index.save(self.folder / HNSW_FILE)
        state = json.dumps({"generation": generation, "model_id": model_id, "count": len(index)})
        tmp = self.folder / (HNSW_STATE_FILE + ".tmp")
        tmp.write_text(state)
        os.replace(tmp, self.folder / HNSW_STATE_FILE)

    def _read_state(self) -> dict:
        try:
            return json.loads((self.folder / HNSW_STATE_FILE).read_text())
        except (OSError, ValueError):
            return {}

    def describe(self) -> dict[str, object]:
        return {"vector_backend": "embedded", "index_kind": self.kind}

    def close(self) -> None:
        with self._lock:
            self._index = None
