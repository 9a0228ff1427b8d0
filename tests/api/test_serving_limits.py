"""``revsearch serve`` against slow and greedy clients: header and body deadlines, idle
keep-alive connections closed, a cap on concurrent connections (raw sockets on loopback)."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.support.live_server import LiveServer, server_fixture

pytestmark = pytest.mark.slow

HEADER_TIMEOUT = 2
BODY_TIMEOUT = 2
KEEP_ALIVE_TIMEOUT = 1
MAX_CONNECTIONS = 6
SLOW_CLIENTS = 20
GRACE = 3.0  # seconds of slack on a busy machine


limited_server = server_fixture(
    "limited_server", scope="module", serve=True,
    REVSEARCH_HEADER_TIMEOUT=str(HEADER_TIMEOUT), REVSEARCH_BODY_TIMEOUT=str(BODY_TIMEOUT),
    REVSEARCH_KEEP_ALIVE_TIMEOUT=str(KEEP_ALIVE_TIMEOUT),
    REVSEARCH_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
)  # fmt: skip


def connect(server: LiveServer) -> socket.socket:
    address = urlsplit(server.url)
    sock = socket.create_connection((address.hostname, address.port), timeout=10)
    sock.settimeout(HEADER_TIMEOUT + BODY_TIMEOUT + 2 * GRACE)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def request(sock: socket.socket, text: str) -> None:
    sock.sendall(text.replace("\n", "\r\n").encode())


def test_clients_that_never_finish_their_headers_are_cut_off(limited_server: LiveServer) -> None:
    started = time.monotonic()
    slow = [connect(limited_server) for _ in range(SLOW_CLIENTS)]
    for sock in slow:
        request(sock, "GET /healthz HTTP/1.1\nHost: 127.0.0.1\n")  # no blank line: never done
    trickle = slow[0]
    for _ in range(4):  # sending more, slowly, does not buy more time
        time.sleep(0.4)
        request(trickle, "X-Slow: 1\n")
    for sock in slow:
        assert read_all(sock) == b""  # closed by the server, without an answer
        sock.close()
    elapsed = time.monotonic() - started
    assert HEADER_TIMEOUT - 0.5 < elapsed < HEADER_TIMEOUT + GRACE
    with limited_server.client() as client:  # and the server is fine
        assert client.get("/healthz").json() == {"status": "ok"}


def test_a_body_that_does_not_arrive_is_answered_408(limited_server: LiveServer) -> None:
    sock = connect(limited_server)
    started = time.monotonic()
    request(
        sock,
        "POST /api/search HTTP/1.1\nHost: 127.0.0.1\nContent-Length: 100000\n"
        "Content-Type: multipart/form-data; boundary=xyz\n\n--xyz\n",
    )
    answer = read_all(sock)
    sock.close()
    elapsed = time.monotonic() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body)["error"]["code"] == "request_timeout"
    assert BODY_TIMEOUT - 0.5 < elapsed < BODY_TIMEOUT + GRACE


def test_oversized_headers_are_refused(limited_server: LiveServer) -> None:
    """Headers still incomplete past 16 KiB: refused (sent in pieces, as a network would)."""
    sock = connect(limited_server)
    request(sock, "GET /healthz HTTP/1.1\nHost: 127.0.0.1\nX-Big: ")
    try:
        for _ in range(40):
            sock.sendall(b"a" * 1024)
            time.sleep(0.01)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close before the last piece
    assert read_all(sock).startswith(b"HTTP/1.1 400")
    sock.close()


def test_idle_keep_alive_connections_are_closed(limited_server: LiveServer) -> None:
    sock = connect(limited_server)
    request(sock, "GET /healthz HTTP/1.1\nHost: 127.0.0.1\n\n")
    started = time.monotonic()
    answer = read_all(sock)  # the answer, then the close once the connection is idle
    sock.close()
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"status":"ok"}')
    assert time.monotonic() - started < KEEP_ALIVE_TIMEOUT + GRACE


def test_connections_over_the_cap_are_refused_503(limited_server: LiveServer) -> None:
    held = [connect(limited_server) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.2)  # let the server accept them
        extra = connect(limited_server)
        request(extra, "GET /healthz HTTP/1.1\nHost: 127.0.0.1\nConnection: close\n\n")
        assert read_all(extra).startswith(b"HTTP/1.1 503")
        extra.close()
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    with limited_server.client() as client:
        assert client.get("/healthz").status_code == 200
