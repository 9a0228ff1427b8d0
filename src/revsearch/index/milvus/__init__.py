"""Milvus as the vector backend, in three parts: :mod:`.address` (the URL), :mod:`.client`
(one collection, every failure a BackendUnavailableError) and :mod:`.backend` (keeping the
collection in step with the catalog). Importing it needs the ``milvus`` extra."""

from revsearch.index.milvus.address import (
    DEFAULT_COLLECTION,
    DEFAULT_PORT,
    DEFAULT_TIMEOUT_S,
    MilvusAddress,
    parse_url,
)
from revsearch.index.milvus.backend import (
    FLUSH_AFTER,
    FORMAT,
    FORMAT_KEY,
    GENERATION_KEY,
    MODEL_KEY,
    PENDING_KEY,
    MilvusBackend,
    entity,
    filter_expression,
    make_key,
)
from revsearch.index.milvus.client import (
    HNSW_EF_CONSTRUCTION,
    HNSW_M,
    INDEX_TYPE,
    MilvusCollection,
)

__all__ = [
    "DEFAULT_COLLECTION", "DEFAULT_PORT", "DEFAULT_TIMEOUT_S", "FLUSH_AFTER", "FORMAT",
    "FORMAT_KEY", "GENERATION_KEY", "HNSW_EF_CONSTRUCTION", "HNSW_M", "INDEX_TYPE", "MODEL_KEY",
    "PENDING_KEY", "MilvusAddress", "MilvusBackend", "MilvusCollection", "entity",
    "filter_expression", "make_key", "parse_url",
]  # fmt: skip
