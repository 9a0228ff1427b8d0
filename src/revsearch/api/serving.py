"""How ``revsearch serve`` runs uvicorn: timeouts and limits against slow or greedy clients.

Uvicorn closes idle keep-alive connections, refuses connections over ``limit_concurrency``
(503) and bounds the header size (h11), but it waits forever for a client that opens a
connection and then sends its headers slowly, or never: :class:`GuardedH11Protocol` closes a
connection whose request line and headers are not complete ``header_timeout`` seconds after
it opened or after its previous response. A slow body has its own deadline
(:class:`revsearch.api.uploads.BodyLimitMiddleware`, ``body_timeout``).
"""

from __future__ import annotations

import asyncio
import functools

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from revsearch.config import Settings

# h11 refuses (400) a request whose line and headers are still incomplete after this many
# bytes; h11's own default, set here so it is a documented limit.
MAX_HEADER_BYTES = 16 * 1024
# Seconds a stopping server waits for requests in flight before closing their connections.
GRACEFUL_SHUTDOWN_S = 10


@functools.cache
def header_timeout() -> float:
    """Read once per process: worker processes get their settings from the environment."""
    return Settings.from_env().header_timeout


class GuardedH11Protocol(H11Protocol):
    """Uvicorn's h11 protocol plus a deadline on receiving each request's headers."""

    _header_timer: asyncio.TimerHandle | None = None

    # uvicorn's own H11Protocol narrows asyncio.Protocol's BaseTransport to Transport (and
    # silences mypy likewise): the override follows uvicorn's signature.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request's headers are complete
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # the next request on this connection has the same time

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(header_timeout(), self._header_timed_out)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def run(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve the app with uvicorn, its timeouts and limits taken from ``settings``."""
    import uvicorn

    uvicorn.run(
        "revsearch.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        http=GuardedH11Protocol,
        timeout_keep_alive=settings.keep_alive_timeout,
        limit_concurrency=settings.max_connections,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
