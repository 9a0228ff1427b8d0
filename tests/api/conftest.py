"""Live servers for the API tests: one with a write token, one locked down and small-limited."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.live_server import TOKEN, LiveServer, server_fixture

SMALL_UPLOAD_LIMIT = 64 * 1024

server = server_fixture(
    "server",
    REVSEARCH_API_TOKEN=TOKEN,
    doc="Default limits, writes enabled with ``TOKEN``; on its own copy of the catalog.",
)
locked_server = server_fixture(
    "locked_server",
    REVSEARCH_MAX_UPLOAD_BYTES=str(SMALL_UPLOAD_LIMIT),
    doc="No token configured (writes disabled) and a 64 KiB upload limit.",
)


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http
