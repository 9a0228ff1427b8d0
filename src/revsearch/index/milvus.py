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

URL: ``milvus://[TOKEN@]HOST[:PORT][/COLLECTION][?timeout=SECONDS]``; ``milvus+https://`` for
TLS. TOKEN is Milvus's ``user:password`` or API key (URL-quoted). One collection per catalog.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import grpc
import numpy as np
from pymilvus import DataType, MilvusClient
from pymilvus.exceptions import MilvusException

from revsearch.catalog.db import CatalogDB
from revsearch.errors import BackendUnavailableError, BadParameterError
from revsearch.index.base import DEFAULT_SEARCH_EF, Filters, VectorRow

# Every failure becomes one BackendUnavailableError with a clear message; pymilvus would
# also print each failed call with a traceback on stderr.
logging.getLogger("pymilvus").setLevel(logging.CRITICAL)

DEFAULT_PORT = 19530
DEFAULT_COLLECTION = "revsearch"
DEFAULT_TIMEOUT_S = 10.0
SLOW_TIMEOUT_S = 3600.0  # loading or flushing builds indexes: minutes for millions of rows
# HNSW over COSINE; chosen against IVF_FLAT by benchmarks/bench_ann.py (see docs/scaling.md).
INDEX_TYPE = "HNSW"
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 200
UNKNOWN_YEAR = -1  # Milvus scalars cannot be NULL here; -1 never matches a year filter
MAKE_BYTES, CLASS_BYTES = 128, 512
BATCH = 1000  # rows per upsert/delete call during a re-sync
FLUSH_AFTER = 10_000  # rows written by a re-sync before flushing and reloading the index
LOCK_TIMEOUT_S = 30.0  # as long as the catalog's own writers wait for each other
PRUNE_AFTER = 1000  # change-log entries that make save(force=False) prune the log
COLLECTION_NOT_FOUND, COLLECTION_NOT_LOADED = 100, 101
MAX_TOP_K = 16_384  # Milvus's largest search limit

FORMAT_KEY, FORMAT = "revsearch.format", "1"
GENERATION_KEY = "revsearch.generation"
PENDING_KEY = "revsearch.pending"
MODEL_KEY = "revsearch.model_id"

T = TypeVar("T")


@dataclass(frozen=True)
class MilvusAddress:
    uri: str
    collection: str
    token: str = ""
    timeout: float = DEFAULT_TIMEOUT_S

    @property
    def display(self) -> str:
        """Where, without the token: safe for messages and stats."""
        return f"{self.uri}/{self.collection}"


def parse_url(url: str) -> MilvusAddress:
    parts = urlsplit(url)
    if parts.scheme not in ("milvus", "milvus+http", "milvus+https") or not parts.hostname:
        raise BadParameterError(f"bad Milvus URL {url!r}: expected milvus://HOST:PORT/COLLECTION")
    try:
        port = parts.port or DEFAULT_PORT
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        timeout = float(query.pop("timeout", DEFAULT_TIMEOUT_S))
    except ValueError as exc:
        raise BadParameterError(f"bad Milvus URL {url!r}: {exc}") from None
    if query or timeout <= 0:
        raise BadParameterError(f"bad Milvus URL {url!r}: only ?timeout=SECONDS (> 0) is known")
    collection = parts.path.strip("/") or DEFAULT_COLLECTION
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,254}", collection):
        raise BadParameterError(f"bad Milvus collection name {collection!r}")
    token = unquote(parts.netloc.rpartition("@")[0]) if "@" in parts.netloc else ""
    scheme = "https" if parts.scheme == "milvus+https" else "http"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return MilvusAddress(f"{scheme}://{host}:{port}", collection, token, timeout)


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
        self, address: MilvusAddress, db: CatalogDB, *, search_ef: int = DEFAULT_SEARCH_EF
    ) -> None:
        self.address = address
        self.db = db
        self.search_ef = search_ef
        self._lock = threading.RLock()
        self._client: MilvusClient | None = None
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
            self._set_properties({PENDING_KEY: str(self.db.generation + 1)})
            if deletes:
                self._call("delete", ids=[int(i) for i in deletes])
            if upserts:
                self._call("upsert", [entity(row) for row in upserts])

    def committed(
        self, generation_before: int, upserts: Sequence[VectorRow], deletes: Sequence[int]
    ) -> None:
        """Record the new generation, unless another write got in between (``load`` catches up).

        Never raises: SQLite has committed, so a Milvus failure here only leaves the record
        behind, which the next ``load`` repairs.
        """
        with self._lock:
            try:
                properties = self._properties()
                if properties and properties.get(GENERATION_KEY) == str(generation_before):
                    self._set_properties({GENERATION_KEY: str(generation_before + 1)})
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
        (hits,) = self._call(
            "search", [query], limit=min(k, MAX_TOP_K), filter=filter_expression(filters),
            output_fields=["id"], search_params=params, reload=True,
        )  # fmt: skip
        keys = np.array([hit["id"] for hit in hits], dtype=np.int64)
        scores = np.clip(np.array([hit["distance"] for hit in hits], dtype=np.float32), -1, 1)
        order = np.lexsort((keys, -scores))
        return keys[order], scores[order]

    def load(self) -> MilvusBackend:
        """Make sure Milvus reflects the committed catalog (see ``_sync``)."""
        if self.db.generation != self._checked_generation:
            with self._catalog_write_lock(), self._lock:
                self._sync()
        return self

    def _sync(self) -> None:
        """Catch up by the catalog's change log when Milvus is merely behind, else re-sync
        everything from SQLite. The caller holds SQLite's write lock, so no other write is
        between its Milvus write and its commit: what Milvus holds beyond SQLite is a crash's."""
        generation = self.db.generation
        if generation == self._checked_generation:
            return
        model_id, dim = self._model()
        if not model_id:
            return  # nothing indexed yet: the collection is made on the first write
        properties = self._properties()
        recorded = _recorded_generation(properties, model_id, generation)
        delta = None
        if recorded is not None and recorded < generation:
            delta = self.db.changes_since(recorded)
        if recorded is None or (recorded != generation and delta is None):
            self._resync(properties, generation, model_id, dim)
        else:
            self._call("load_collection", slow=True)  # a restarted server has released it
            if delta is not None:
                changed, deleted = delta
                self._write(sorted(set(changed)), sorted(set(deleted)), model_id, dim)
                self._set_properties({GENERATION_KEY: str(generation)})
        self._checked_generation = generation

    @contextmanager
    def _catalog_write_lock(self) -> Iterator[None]:
        """SQLite's write lock, held while Milvus is synced: a write of another process must
        not land between our read of SQLite and our write to Milvus."""
        connection = sqlite3.connect(self.db.path, timeout=LOCK_TIMEOUT_S, isolation_level=None)
        try:
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise BackendUnavailableError(
                    f"catalog {self.db.path} is busy ({exc}): cannot sync Milvus now"
                ) from None
            yield
        finally:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            connection.close()

    def __len__(self) -> int:
        stats = self._call("get_collection_stats")
        return int(stats["row_count"])

    def save(self, *, force: bool = True) -> None:
        """Milvus persists every accepted write itself; here the catalog's change log is
        pruned up to the generation Milvus holds (with ``force``, or once it grows long)."""
        with self._lock:
            held = self._checked_generation
            if held is None:
                return
            if not force:
                since = int(self.db.get_meta("changes_since") or 0)
                delta = self.db.changes_since(since)
                if delta is not None and sum(map(len, delta)) < PRUNE_AFTER:
                    return
            self.db.prune_changes(held)

    def describe(self) -> dict[str, object]:
        return {
            "vector_backend": "milvus",
            "index_kind": self.kind,
            "milvus": self.address.display,
        }

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- re-sync --------------------------------------------------------------------------
    def _model(self) -> tuple[str, int]:
        return self.db.get_meta("model_id") or "", int(self.db.get_meta("embedding_dim") or 0)

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
        if properties is None or self._dim() != dim:
            self._create_collection(dim)
        self._call("load_collection", slow=True)
        stored = dict(self._stored_signatures())
        keep = self._write_all(stored, model_id, dim)
        self._delete(sorted(set(stored) - keep))
        self._set_properties(
            {GENERATION_KEY: str(generation), MODEL_KEY: model_id, PENDING_KEY: str(generation)}
        )

    def _write_all(self, stored: dict[int, int], model_id: str, dim: int) -> set[int]:
        """Upsert every SQLite row whose signature differs from Milvus's; returns all ids."""
        ids, matrix = self.db.vectors(model_id, dim)
        written = 0
        for rows in self._rows(ids, matrix):
            changed = [e for e in map(entity, rows) if stored.get(e["id"]) != e["sig"]]
            if changed:
                self._call("upsert", changed)
                written += len(changed)
        if written >= FLUSH_AFTER:
            # milvus-lite searches a freshly flushed segment without its index until reloaded.
            for step in ("flush", "release_collection", "load_collection"):
                self._call(step, slow=True)
        return set(ids.tolist())

    def _write(self, changed: list[int], deleted: list[int], model_id: str, dim: int) -> None:
        """Apply the change log's ids: upsert those with a vector, delete the others."""
        found: set[int] = set()
        for start in range(0, len(changed), BATCH):
            ids, matrix = self.db.vectors_of(changed[start : start + BATCH], model_id, dim)
            for rows in self._rows(ids, matrix):
                self._call("upsert", [entity(row) for row in rows])
                found.update(row.id for row in rows)
        self._delete(sorted(set(deleted) | (set(changed) - found)))

    def _delete(self, ids: list[int]) -> None:
        for start in range(0, len(ids), BATCH):
            self._call("delete", ids=ids[start : start + BATCH])

    def _rows(self, ids: np.ndarray, matrix: np.ndarray) -> Iterator[list[VectorRow]]:
        """SQLite's vectors with their filter fields, a batch at a time."""
        for start in range(0, len(ids), BATCH):
            chunk = [int(i) for i in ids[start : start + BATCH]]
            records = self.db.get(chunk)
            yield [
                VectorRow(i, matrix[start + n], records[i].make, records[i].year,
                          records[i].class_name)
                for n, i in enumerate(chunk)
                if i in records
            ]  # fmt: skip

    def _stored_signatures(self) -> Iterator[tuple[int, int]]:
        iterator = self._call("query_iterator", batch_size=BATCH, output_fields=["sig"])
        try:
            while batch := self._guard(iterator.next):
                yield from ((int(row["id"]), int(row["sig"])) for row in batch)
        finally:
            iterator.close()

    def _create_collection(self, dim: int) -> None:
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("make", DataType.VARCHAR, max_length=MAKE_BYTES)
        schema.add_field("year", DataType.INT64)
        schema.add_field("class_name", DataType.VARCHAR, max_length=CLASS_BYTES)
        schema.add_field("sig", DataType.INT64)
        index = MilvusClient.prepare_index_params()
        index.add_index(
            field_name="vector", index_type=INDEX_TYPE, metric_type="COSINE",
            params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION},
        )  # fmt: skip
        properties = {FORMAT_KEY: FORMAT, GENERATION_KEY: "-1", PENDING_KEY: "0", MODEL_KEY: ""}

        if self._call("has_collection"):
            self._call("drop_collection")
        self._call(
            "create_collection", schema=schema, index_params=index,
            consistency_level="Strong", properties=properties,
        )  # fmt: skip

    # -- Milvus calls ---------------------------------------------------------------------
    def _properties(self) -> dict[str, str] | None:
        """The collection's properties, or None if it does not exist."""
        try:
            info = self._call("describe_collection")
        except _MissingCollection:
            return None
        return {str(k): str(v) for k, v in (info.get("properties") or {}).items()}

    def _dim(self) -> int | None:
        info = self._call("describe_collection")
        for field in info.get("fields", []):
            if field.get("name") == "vector":
                return int(field.get("params", {}).get("dim", 0))
        return None

    def _set_properties(self, values: dict[str, str]) -> None:
        self._call("alter_collection_properties", properties=values)

    def _call(
        self, method: str, *args: Any, reload: bool = False, slow: bool = False, **kwargs: Any
    ) -> Any:
        """One MilvusClient call on our collection, bounded by the URL's timeout (``slow``:
        by ``SLOW_TIMEOUT_S``, for loads and flushes that build indexes).

        ``reload``: a collection released by a server restart is loaded and the call retried.
        """
        timeout = SLOW_TIMEOUT_S if slow else self.address.timeout

        def run() -> Any:
            client = self._connect()
            try:
                return getattr(client, method)(
                    self.address.collection, *args, timeout=timeout, **kwargs
                )
            except MilvusException as exc:
                if not (reload and exc.code == COLLECTION_NOT_LOADED):
                    raise
            client.load_collection(self.address.collection, timeout=SLOW_TIMEOUT_S)
            return getattr(client, method)(
                self.address.collection, *args, timeout=timeout, **kwargs
            )

        return self._guard(run)

    def _guard(self, fn: Callable[[], T]) -> T:
        """Run ``fn``; any Milvus or connection failure becomes a BackendUnavailableError.

        After a failure the client is dropped: a gRPC channel that saw the server go away
        waits out a growing back-off before it reconnects, a fresh one connects at once.
        """
        try:
            return fn()
        except MilvusException as exc:
            if exc.code == COLLECTION_NOT_FOUND:
                raise _MissingCollection(self._unavailable(exc.message)) from None
            self.close()
            raise BackendUnavailableError(self._unavailable(exc.message)) from None
        except (grpc.RpcError, OSError) as exc:
            self.close()
            raise BackendUnavailableError(self._unavailable(str(exc))) from None

    def _connect(self) -> MilvusClient:
        with self._lock:
            if self._client is None:
                self._client = MilvusClient(  # dedicated: close() really closes the channel
                    uri=self.address.uri,
                    token=self.address.token,
                    timeout=self.address.timeout,
                    dedicated=True,
                )
            return self._client

    def _unavailable(self, reason: str) -> str:
        return f"vector backend Milvus at {self.address.display} is unavailable: {reason}"


class _MissingCollection(BackendUnavailableError):
    """The collection does not exist (yet): the first write or a re-sync creates it."""


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
