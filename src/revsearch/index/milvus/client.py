"""One Milvus collection on one server, as the backend uses it.

Every call names our collection, is bounded by a timeout, and turns any Milvus or
connection failure into one :class:`BackendUnavailableError` with a clear message (pymilvus
would also print each failed call with a traceback on stderr, so its logger is silenced).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc
from pymilvus import DataType, MilvusClient
from pymilvus.exceptions import MilvusException

from revsearch.errors import BackendUnavailableError
from revsearch.index.milvus.address import MilvusAddress

logging.getLogger("pymilvus").setLevel(logging.CRITICAL)

SLOW_TIMEOUT_S = 3600.0  # loading or flushing builds indexes: minutes for millions of rows
# HNSW over COSINE; chosen against IVF_FLAT by benchmarks/bench_ann.py (see docs/scaling.md).
INDEX_TYPE = "HNSW"
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 200
MAKE_BYTES, CLASS_BYTES = 128, 512  # VARCHAR lengths of the filter fields
BATCH = 1000  # rows per call when reading or writing many
COLLECTION_NOT_FOUND, COLLECTION_NOT_LOADED = 100, 101

T = TypeVar("T")


class MissingCollection(BackendUnavailableError):
    """The collection does not exist (yet): the first write or a re-sync creates it."""


class MilvusCollection:
    """Our collection: its rows, its properties, and a client made on first use."""

    def __init__(self, address: MilvusAddress) -> None:
        self.address = address
        self._lock = threading.Lock()
        self._client: MilvusClient | None = None

    def call(
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

        return self.guard(run)

    def guard(self, fn: Callable[[], T]) -> T:
        """Run ``fn``; any Milvus or connection failure becomes a BackendUnavailableError.

        After a failure the client is dropped: a gRPC channel that saw the server go away
        waits out a growing back-off before it reconnects, a fresh one connects at once.
        """
        try:
            return fn()
        except MilvusException as exc:
            if exc.code == COLLECTION_NOT_FOUND:
                raise MissingCollection(self._unavailable(exc.message)) from None
            self.close()
            raise BackendUnavailableError(self._unavailable(exc.message)) from None
        except (grpc.RpcError, OSError) as exc:
            self.close()
            raise BackendUnavailableError(self._unavailable(str(exc))) from None

    def properties(self) -> dict[str, str] | None:
        """The collection's properties, or None if it does not exist."""
        try:
            info = self.call("describe_collection")
        except MissingCollection:
            return None
        return {str(k): str(v) for k, v in (info.get("properties") or {}).items()}

    def set_properties(self, values: dict[str, str]) -> None:
        self.call("alter_collection_properties", properties=values)

    def dim(self) -> int | None:
        info = self.call("describe_collection")
        for field in info.get("fields", []):
            if field.get("name") == "vector":
                return int(field.get("params", {}).get("dim", 0))
        return None

    def row_count(self) -> int:
        return int(self.call("get_collection_stats")["row_count"])

    def create(self, dim: int, properties: dict[str, str]) -> None:
        """(Re)create the collection empty: vectors of ``dim``, the filter fields, a row
        signature, and an HNSW index over cosine."""
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
        if self.call("has_collection"):
            self.call("drop_collection")
        self.call(
            "create_collection", schema=schema, index_params=index,
            consistency_level="Strong", properties=properties,
        )  # fmt: skip

    def signatures(self) -> Iterator[tuple[int, int]]:
        """(id, signature) of every stored row."""
        iterator = self.call("query_iterator", batch_size=BATCH, output_fields=["sig"])
        try:
            while batch := self.guard(iterator.next):
                yield from ((int(row["id"]), int(row["sig"])) for row in batch)
        finally:
            iterator.close()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

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
