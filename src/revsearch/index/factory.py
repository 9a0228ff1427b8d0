"""One factory from a backend URL to a vector backend (no ``if backend == ...`` elsewhere).

Backends are found by URL scheme in ``BACKENDS``; each constructor imports its own optional
dependencies, so the embedded backend never needs a server client installed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from revsearch.config import DEFAULT_EXACT_SEARCH_LIMIT, DEFAULT_SEARCH_EF
from revsearch.errors import BadParameterError, MissingExtraError
from revsearch.index.base import VectorBackend, VectorSource

Constructor = Callable[[str, VectorSource, Path, int, int], VectorBackend]


def _embedded(
    url: str, source: VectorSource, folder: Path, exact_search_limit: int, search_ef: int
) -> VectorBackend:
    from revsearch.index.embedded import EmbeddedBackend

    return EmbeddedBackend(
        source, folder, exact_search_limit=exact_search_limit, search_ef=search_ef
    )


def _milvus(
    url: str, source: VectorSource, folder: Path, exact_search_limit: int, search_ef: int
) -> VectorBackend:
    try:
        from revsearch.index.milvus import MilvusBackend, parse_url
    except ImportError as exc:
        raise MissingExtraError("milvus", exc.name or "pymilvus") from None
    return MilvusBackend(parse_url(url), source, search_ef=search_ef)


BACKENDS: dict[str, Constructor] = {
    "embedded": _embedded,
    "milvus": _milvus,
    "milvus+http": _milvus,
    "milvus+https": _milvus,
}


def open_backend(
    url: str,
    source: VectorSource,
    folder: Path,
    *,
    exact_search_limit: int = DEFAULT_EXACT_SEARCH_LIMIT,
    search_ef: int = DEFAULT_SEARCH_EF,
) -> VectorBackend:
    """``embedded`` (default): vectors in the catalog's SQLite, exact or HNSW index;
    ``milvus://HOST:PORT/COLLECTION``: a Milvus server (the ``milvus`` extra)."""
    scheme = "embedded" if url in ("", "embedded") else urlsplit(url).scheme
    constructor = BACKENDS.get(scheme)
    if constructor is None:
        known = ", ".join(["embedded", *(f"{s}://..." for s in BACKENDS if s != "embedded")])
        raise BadParameterError(f"unknown vector backend {url!r} (known: {known})")
    return constructor(url, source, folder, exact_search_limit, search_ef)
