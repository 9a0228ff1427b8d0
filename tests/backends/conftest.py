"""Fixtures for the backend suite: every vector backend, opened the same way through Catalog."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from revsearch.catalog.catalog import Catalog
from tests.backends.milvus_server import MilvusServer, milvus_server


@dataclass(frozen=True)
class Backend:
    """How to open a catalog on one backend: its URL and the exact/HNSW switch-over."""

    name: str
    url: str
    exact_search_limit: int = 5000

    def open(self, path: Path, *, create: bool = False) -> Catalog:
        return Catalog.open(
            path, create=create, exact_search_limit=self.exact_search_limit, vector_backend=self.url
        )


@pytest.fixture(scope="session")
def milvus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusServer]:
    """One Milvus server for the session; each test uses its own collection."""
    with milvus_server(tmp_path_factory.mktemp("milvus")) as server:
        yield server


# milvus: a real milvus-lite server, hence slow.
@pytest.fixture(
    params=["embedded-exact", "embedded-hnsw", pytest.param("milvus", marks=pytest.mark.slow)]
)
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "embedded-exact":
        return Backend(request.param, "embedded")
    if request.param == "embedded-hnsw":
        return Backend(request.param, "embedded", exact_search_limit=0)
    server: MilvusServer = request.getfixturevalue("milvus")
    return Backend(request.param, server.url())
