"""The image-store interface, so the API can serve originals from disk today and elsewhere later.

A store only ever receives ``source`` strings that come from the catalog (never from a
request), which is what keeps the image endpoints from becoming an open file or URL proxy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from revsearch.errors import BadParameterError


def content_name(data: bytes, suffix: str, digest: str | None = None) -> str:
    """``<sha256>.<suffix>``: the same bytes always get the same name (no duplicates).

    ``digest``: the bytes' SHA-256 (hex) when the caller has it already.
    """
    if not suffix.isalnum():
        raise BadParameterError(f"bad file suffix {suffix!r}")
    return f"{digest or hashlib.sha256(data).hexdigest()}.{suffix.lower()}"


def _nothing_to_close() -> None:
    pass


@dataclass
class StoredStream:
    """An opened image: its size and type up front (for headers), then its bytes in chunks.

    ``close`` lets go of it unread (a HEAD request needs only the headers).
    """

    size: int
    media_type: str
    chunks: Iterator[bytes]
    close: Callable[[], None] = _nothing_to_close


class ImageStore(Protocol):
    def get(self, source: str) -> bytes:
        """The whole file; raises NotFoundError when it is gone."""
        ...

    def put(self, data: bytes, suffix: str, digest: str | None = None) -> str:
        """Store new bytes (atomically, content-addressed) and return their ``source``;
        ``digest``: their SHA-256 when already known (not hashed again)."""
        ...

    def delete(self, source: str) -> bool:
        """Remove a file this store wrote; files it does not own are left alone (False)."""
        ...

    def open_stream(self, source: str, chunk_size: int = 64 * 1024) -> StoredStream:
        """Open for streaming; raises NotFoundError before any byte is sent."""
        ...
