"""Live servers for the API tests: one with a write token, one locked down and small-limited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.server import TOKEN, LiveServer, copy_catalog, live_server

SMALL_UPLOAD_LIMIT = 64 * 1024


@pytest.fixture(scope="package")
def server(
    built_catalog: Path, model_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """Default limits, writes enabled with ``TOKEN``; on its own copy of the catalog."""
    folder = tmp_path_factory.mktemp("api-server")
    catalog = copy_catalog(built_catalog, folder / "catalog")
    with live_server(catalog, model_path, folder, REVSEARCH_API_TOKEN=TOKEN) as live:
        yield live


@pytest.fixture(scope="package")
def locked_server(
    built_catalog: Path, model_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """No token configured (writes disabled) and a 64 KiB upload limit."""
    folder = tmp_path_factory.mktemp("api-locked")
    catalog = copy_catalog(built_catalog, folder / "catalog")
    with live_server(
        catalog, model_path, folder, REVSEARCH_MAX_UPLOAD_BYTES=str(SMALL_UPLOAD_LIMIT)
    ) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http
