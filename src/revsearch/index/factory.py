"""One factory from a backend URL to a vector backend (no ``if backend == ...`` elsewhere)."""

from __future__ import annotations

from pathlib import Path

from revsearch.catalog.db import CatalogDB
from revsearch.errors import BadParameterError
from revsearch.index.base import VectorBackend


def open_backend(
    url: str, db: CatalogDB, folder: Path, *, exact_search_limit: int = 5000
) -> VectorBackend:
    """``embedded`` (default): vectors in the catalog's SQLite, exact or HNSW index."""
    if url in ("", "embedded"):
        from revsearch.index.embedded import EmbeddedBackend

        return EmbeddedBackend(db, folder, exact_search_limit=exact_search_limit)
    raise BadParameterError(f"unknown vector backend {url!r} (known: embedded)")
