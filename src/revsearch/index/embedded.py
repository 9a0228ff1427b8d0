"""The embedded backend: vectors live in the catalog's SQLite; the index is derived from them.

Exact search up to ``exact_search_limit`` vectors, HNSW (usearch) above. A loaded index
catches up with writes made by other processes by replaying the catalog's change log. The
HNSW file is saved atomically with the generation it reflects; on open it is loaded and the
changes since then are replayed, or, when it is missing, damaged or older than the log,
the index is rebuilt from SQLite.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from revsearch.config import DEFAULT_EXACT_SEARCH_LIMIT, DEFAULT_SEARCH_EF
from revsearch.errors import DiskFullError, disk_full
from revsearch.index.base import BackendInfo, Filters, VectorIndex, VectorRow, VectorSource
from revsearch.index.exact import ExactIndex
from revsearch.index.hnsw import HnswIndex

HNSW_FILE = "vectors.usearch"
HNSW_STATE_FILE = "vectors.json"
# Half-precision storage: same Recall@10 as f32 on our embeddings, half the memory and
# about 1.7x the queries per second (benchmarks/results/ann.md).
HNSW_DTYPE = "f16"

log = logging.getLogger("revsearch.index")


class EmbeddedBackend:
    def __init__(
        self,
        source: VectorSource,
        folder: Path,
        *,
        exact_search_limit: int = DEFAULT_EXACT_SEARCH_LIMIT,
        search_ef: int = DEFAULT_SEARCH_EF,
    ) -> None:
        self.source = source
        self.folder = folder
        self.exact_search_limit = exact_search_limit
        self.search_ef = search_ef
        self._lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._index_generation = -1

    @property
    def kind(self) -> str:
        return "exact" if self.source.count() <= self.exact_search_limit else "hnsw"

    def stage(self, upserts: Sequence[VectorRow], deletes: Sequence[int]) -> None:
        """Nothing to do: the vectors are written in the same SQLite transaction."""

    def committed(
        self, generation_before: int, upserts: Sequence[VectorRow], deletes: Sequence[int]
    ) -> None:
        """Mirror our own committed write into the loaded index without touching SQLite."""
        with self._lock:
            if self._index is None or self._index_generation != generation_before:
                return  # not loaded, or behind anyway: load() replays the log
            if self._index.kind != self.kind:
                self._index = None  # crossed the exact/HNSW threshold: rebuild on next use
                return
            if deletes:
                self._index.remove(np.asarray(deletes, dtype=np.int64))
            if upserts:
                self._index.add(
                    np.array([row.id for row in upserts]), np.stack([row.vector for row in upserts])
                )
            self._index_generation = self.source.generation

    def search(
        self, query: np.ndarray, k: int, filters: Filters | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        allowed = None
        if filters:
            allowed = self.source.filter_ids(filters)
        with self._lock:
            return self.load().search(query, k, allowed)

    def load(self) -> VectorIndex:
        """The loaded index, caught up with the database by deltas, or (re)built."""
        with self._lock:
            index = self._index
            if index is not None and self._index_generation == self.source.generation:
                return index  # the common case: no count(*) on the query path
            if index is None or index.kind != self.kind or not self._catch_up(index):
                index = self._index = self._load_index()
            return index

    def _catch_up(self, index: VectorIndex) -> bool:
        """Replay the changes since the index's generation; False if the log is too short."""
        generation = self.source.generation
        if self._index_generation == generation:
            return True
        delta = self.source.changes_since(self._index_generation)
        if delta is None:
            return False
        changed, deleted = delta
        model_id, dim = self.source.model()
        ids, vectors = self.source.vectors_of(changed, model_id, dim)
        gone = set(deleted) | (set(changed) - set(ids.tolist()))
        index.remove(np.asarray(sorted(gone), dtype=np.int64))
        index.add(ids, vectors)
        self._index_generation = generation
        return True

    def _load_index(self) -> VectorIndex:
        model_id, dim = self.source.model()
        if not model_id:  # nothing was ever indexed
            self._index_generation = self.source.generation
            return ExactIndex(1)
        if self.kind == "hnsw":
            state = self._read_state()
            hnsw_path = self.folder / HNSW_FILE
            if state.get("model_id") == model_id and hnsw_path.is_file():
                try:
                    saved = HnswIndex.load(
                        hnsw_path,
                        dim,
                        dtype=state.get("dtype", "f32"),
                        expansion_search=self.search_ef,
                    )
                    self._index_generation = int(state["generation"])
                    if self._catch_up(saved):
                        return saved
                except Exception:  # a damaged file is rebuilt, never trusted
                    pass
        self._index_generation = self.source.generation
        index: VectorIndex = (
            ExactIndex(dim)
            if self.kind == "exact"
            else HnswIndex(dim, dtype=HNSW_DTYPE, expansion_search=self.search_ef)
        )
        index.add(*self.source.vectors(model_id, dim))
        if isinstance(index, HnswIndex) and not self.source.read_only:
            try:
                self._save_hnsw(index)
            except DiskFullError as exc:  # the file only saves a rebuild: keep serving
                log.warning("vector index not saved: %s", exc)
        return index

    def save(self, *, force: bool = True) -> None:
        """Persist a loaded HNSW index (exact indexes need nothing).

        With ``force=False`` only when many changes piled up since the saved file: a few
        writes are cheap to replay from the change log, while rewriting a large index is not.
        """
        with self._lock:
            index = self._index
            if (
                self.source.read_only
                or not isinstance(index, HnswIndex)
                or not self._catch_up(index)
            ):
                return
            if not force:
                saved_at = int(self._read_state().get("generation", -1))
                delta = self.source.changes_since(saved_at) if saved_at >= 0 else None
                if delta is not None and sum(map(len, delta)) < max(1000, len(index) // 100):
                    return
            self._save_hnsw(index)

    def _save_hnsw(self, index: HnswIndex) -> None:
        generation, model_id = self._index_generation, self.source.model()[0]
        state = json.dumps(
            {
                "generation": generation,
                "model_id": model_id,
                "count": len(index),
                "dtype": index.dtype,
            }
        )
        tmp = self.folder / (HNSW_STATE_FILE + ".tmp")
        try:
            index.save(self.folder / HNSW_FILE)
            tmp.write_text(state)
            os.replace(tmp, self.folder / HNSW_STATE_FILE)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if full := disk_full(exc):
                raise full from exc
            raise
        # The file now holds every change up to ``generation``; a process whose index is
        # older reloads the file and replays from there.
        self.source.prune_changes(generation)

    def _read_state(self) -> dict:
        try:
            return json.loads((self.folder / HNSW_STATE_FILE).read_text())
        except (OSError, ValueError):
            return {}

    def describe(self) -> BackendInfo:
        return {"vector_backend": "embedded", "index_kind": self.kind}

    def close(self) -> None:
        with self._lock:
            self._index = None
