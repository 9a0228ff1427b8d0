"""The Milvus backend: vectors and filter fields live in a Milvus collection, SQLite stays the
source of truth.

Writes go to Milvus in ``stage``, inside the catalog's SQLite transaction, so SQLite commits
only what Milvus accepted. The collection's properties record the catalog generation and model
it holds, and the generation a write was started for (``pending``). ``load`` brings Milvus up
to SQLite while holding SQLite's write lock: by the catalog's change log when it is merely
behind (a write that bypassed the backend, or a ``committed`` that never ran), else by a full
re-sync: missing collection, another model, a pending write SQLite never committed (a crash),
or a log that no longer reaches back. Each row carries a signature of its vector and filter
fields, so a full re-sync writes only rows that differ and deletes ids SQLite no longer has.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from revsearch.config import DEFAULT_SEARCH_EF
from revsearch.errors import BackendUnavailableError, CatalogBusyError
from revsearch.index.base import BackendInfo, Filters, VectorRow, VectorSource
from revsearch.index.milvus.address import MilvusAddress
from revsearch.index.milvus.client import (
    BATCH,
    CLASS_BYTES,
    INDEX_TYPE,
    MAKE_BYTES,
    MilvusCollection,
)

UNKNOWN_YEAR = -1  # Milvus scalars cannot be NULL here; -1 never matches a year filter
FLUSH_AFTER = 10_000  # rows written by a re-sync before flushing and reloading the index
PRUNE_AFTER = 1000  # change-log entries that make save(force=False) prune the log
MAX_TOP_K = 16_384  # Milvus's largest search limit

FORMAT_KEY, FORMAT = "revsearch.format", "1"
GENERATION_KEY = "revsearch.generation"
PENDING_KEY = "revsearch.pending"
MODEL_KEY = "revsearch.model_id"
# A new collection holds no generation and no model yet.
NEW_PROPERTIES = {FORMAT_KEY: FORMAT, GENERATION_KEY: "-1", PENDING_KEY: "0", MODEL_KEY: ""}


def filter_expression(filters: Filters | None) -> str:
    """Filters as a Milvus boolean expression; make is stored lower-cased, so compare that."""
    if not filters:
        return ""
    clauses = []
    if filters.make:
        literal = make_key(filters.make).replace("\\", "\\\\").replace('"', '\\"')
        clauses.append(f'make == "{literal}"')
    if filters.year_min is not None or filters.year_max is not None:
        clauses.append(f"year != {UNKNOWN_YEAR}")  # unknown years match no range, as in SQL
    if filters.year_min is not None:
        clauses.append(f"year >= {int(filters.year_min)}")
    if filters.year_max is not None:
        clauses.append(f"year <= {int(filters.year_max)}")
    return " and ".join(clauses)


def make_key(make: str | None) -> str:
    """The stored, compared form of a make: lower-case, no control characters, clipped."""
    text = "".join(ch for ch in (make or "").lower() if ch >= " ")
    return _clip(text, MAKE_BYTES)


def _clip(text: str, limit: int) -> str:
    """At most ``limit`` UTF-8 bytes (Milvus VARCHAR lengths), never splitting a character."""
    return text.encode()[:limit].decode(errors="ignore")


def entity(row: VectorRow) -> dict[str, Any]:
    """A Milvus row: the vector, the filter fields and the signature of all of them."""
    vector = np.asarray(row.vector, dtype=np.float32).ravel()
    make = make_key(row.make)
    year = UNKNOWN_YEAR if row.year is None else int(row.year)
    class_name = _clip(row.class_name or "", CLASS_BYTES)
    digest = hashlib.blake2b(vector.tobytes(), digest_size=8)
    digest.update(json.dumps([make, year, class_name]).encode())
    sig = int.from_bytes(digest.digest(), "little", signed=True)
    return {
        "id": int(row.id), "vector": vector, "make": make, "year": year,
        "class_name": class_name, "sig": sig,
    }  # fmt: skip


class MilvusBackend:
    kind = INDEX_TYPE.lower()

    def __init__(
        self, address: MilvusAddress, source: VectorSource, *, search_ef: int = DEFAULT_SEARCH_EF
    ) -> None:
        self.address = address
        self.source = source
        self.search_ef = search_ef
        self._lock = threading.RLock()
        self._milvus = MilvusCollection(address)
        self._checked_generation: int | None = None  # the generation known to be in Milvus

    # -- VectorBackend --------------------------------------------------------------------
    def stage(self, upserts: Sequence[VectorRow], deletes: Sequence[int]) -> None:
        """Write to Milvus before SQLite commits; raising aborts the catalog write."""
        if not upserts and not deletes:
            return
        with self._lock:
            # The catalog's transaction holds SQLite's write lock: sync first (this creates the
            # collection on the first write); the write will commit as generation + 1.
            self._sync()
            self._milvus.set_properties({PENDING_KEY: str(self.source.generation + 1)})
            if deletes:
                self._milvus.call("delete", ids=[int(i) for i in deletes])
            if upserts:
                self._milvus.call("upsert", [entity(row) for row in upserts])

    def committed(
        self, generation_before: int, upserts: Sequence[VectorRow], deletes: Sequence[int]
    ) -> None:
        """Record the new generation, unless another write got in between (``load`` catches up).

        Never raises: SQLite has committed, so a Milvus failure here only leaves the record
        behind, which the next ``load`` repairs.
        """
        with self._lock:
            try:
                properties = self._milvus.properties()
                if properties and properties.get(GENERATION_KEY) == str(generation_before):
                    self._milvus.set_properties({GENERATION_KEY: str(generation_before + 1)})
                    if self._checked_generation == generation_before:
                        self._checked_generation = generation_before + 1
            except BackendUnavailableError:
                self._checked_generation = None

    def search(
        self, query: np.ndarray, k: int, filters: Filters | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        self.load()
        if k <= 0 or self._checked_generation is None:  # no model yet: an empty catalog
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        query = np.asarray(query, dtype=np.float32).ravel()
        params = {"metric_type": "COSINE", "params": {"ef": max(self.search_ef, k)}}
        (hits,) = self._milvus.call(
            "search", [query], limit=min(k, MAX_TOP_K), filter=filter_expression(filters),
            output_fields=["id"], search_params=params, reload=True,
        )  # fmt: skip
        keys = np.array([hit["id"] for hit in hits], dtype=np.int64)
        scores = np.clip(np.array([hit["distance"] for hit in hits], dtype=np.float32), -1, 1)
        order = np.lexsort((keys, -scores))
        return keys[order], scores[order]

    def load(self) -> MilvusBackend:
        """Make sure Milvus reflects the committed catalog (see ``_sync``)."""
        if self.source.generation != self._checked_generation:
            # SQLite's write lock, held while Milvus is synced: a write of another process
            # must not land between our read of SQLite and our write to Milvus.
            try:
                with self.source.write_lock(), self._lock:
                    self._sync()
            except CatalogBusyError as exc:
                raise BackendUnavailableError(f"{exc}: cannot sync Milvus now") from None
        return self

    def _sync(self) -> None:
        """Catch up by the catalog's change log when Milvus is merely behind, else re-sync
        everything from SQLite. The caller holds SQLite's write lock, so no other write is
        between its Milvus write and its commit: what Milvus holds beyond SQLite is a crash's."""
        generation = self.source.generation
        if generation == self._checked_generation:
            return
        model_id, dim = self.source.model()
        if not model_id:
            return  # nothing indexed yet: the collection is made on the first write
        properties = self._milvus.properties()
        recorded = _recorded_generation(properties, model_id, generation)
        delta = None
        if recorded is not None and recorded < generation:
            delta = self.source.changes_since(recorded)
        if recorded is None or (recorded != generation and delta is None):
            self._resync(properties, generation, model_id, dim)
        else:
            self._milvus.call("load_collection", slow=True)  # a restarted server has released it
            if delta is not None:
                changed, deleted = delta
                self._write(sorted(set(changed)), sorted(set(deleted)), model_id, dim)
                self._milvus.set_properties({GENERATION_KEY: str(generation)})
        self._checked_generation = generation

    def __len__(self) -> int:
        return self._milvus.row_count()

    def save(self, *, force: bool = True) -> None:
        """Milvus persists every accepted write itself; here the catalog's change log is
        pruned up to the generation Milvus holds (with ``force``, or once it grows long)."""
        with self._lock:
            held = self._checked_generation
            if held is None:
                return
            if not force and self.source.logged_changes() < PRUNE_AFTER:
                return
            self.source.prune_changes(held)

    def describe(self) -> BackendInfo:
        return {
            "vector_backend": "milvus",
            "index_kind": self.kind,
            "milvus": self.address.display,
        }

    def close(self) -> None:
        with self._lock:
            self._milvus.close()

    # -- re-sync --------------------------------------------------------------------------
    def _resync(
        self, properties: dict[str, str] | None, generation: int, model_id: str, dim: int
    ) -> None:
        """Make the collection equal to SQLite's rows of ``model_id``: a diff by row signature,
        so only rows that differ are written and ids SQLite no longer has are deleted."""
        if properties is not None and properties.get(FORMAT_KEY) != FORMAT:
            raise BackendUnavailableError(
                f"Milvus collection {self.address.display} exists but was not made by "
                "RevSearch: choose another collection name in the backend URL"
            )
        if properties is None or self._milvus.dim() != dim:
            self._milvus.create(dim, NEW_PROPERTIES)
        self._milvus.call("load_collection", slow=True)
        stored = dict(self._milvus.signatures())
        keep = self._write_all(stored, model_id, dim)
        self._delete(sorted(set(stored) - keep))
        self._milvus.set_properties(
            {GENERATION_KEY: str(generation), MODEL_KEY: model_id, PENDING_KEY: str(generation)}
        )

    def _write_all(self, stored: dict[int, int], model_id: str, dim: int) -> set[int]:
        """Upsert every SQLite row whose signature differs from Milvus's; returns all ids."""
        ids, matrix = self.source.vectors(model_id, dim)
        written = 0
        for rows in self._rows(ids, matrix):
            changed = [e for e in map(entity, rows) if stored.get(e["id"]) != e["sig"]]
            if changed:
                self._milvus.call("upsert", changed)
                written += len(changed)
        if written >= FLUSH_AFTER:
            # milvus-lite searches a freshly flushed segment without its index until reloaded.
            for step in ("flush", "release_collection", "load_collection"):
                self._milvus.call(step, slow=True)
        return set(ids.tolist())

    def _write(self, changed: list[int], deleted: list[int], model_id: str, dim: int) -> None:
        """Apply the change log's ids: upsert those with a vector, delete the others."""
        found: set[int] = set()
        for start in range(0, len(changed), BATCH):
            ids, matrix = self.source.vectors_of(changed[start : start + BATCH], model_id, dim)
            for rows in self._rows(ids, matrix):
                self._milvus.call("upsert", [entity(row) for row in rows])
                found.update(row.id for row in rows)
        self._delete(sorted(set(deleted) | (set(changed) - found)))

    def _delete(self, ids: list[int]) -> None:
        for start in range(0, len(ids), BATCH):
            self._milvus.call("delete", ids=ids[start : start + BATCH])

    def _rows(self, ids: np.ndarray, matrix: np.ndarray) -> Iterator[list[VectorRow]]:
        """SQLite's vectors with their filter fields, a batch at a time."""
        for start in range(0, len(ids), BATCH):
            yield self.source.vector_rows(ids[start : start + BATCH], matrix[start : start + BATCH])


def _recorded_generation(
    properties: dict[str, str] | None, model_id: str, generation: int
) -> int | None:
    """The catalog generation the collection holds, or None when it must be re-synced: missing,
    not ours, another model, or dirty (a write reached Milvus that SQLite never committed)."""
    if not properties or properties.get(FORMAT_KEY) != FORMAT:
        return None
    if properties.get(MODEL_KEY) != model_id:
        return None
    try:
        recorded, pending = int(properties[GENERATION_KEY]), int(properties[PENDING_KEY])
    except (KeyError, ValueError):
        return None
    if recorded < 0 or recorded > generation or pending > generation:
        return None
    return recorded
