"""Images on the local disk: indexed files where they are, uploads under ``<catalog>/images``."""

from __future__ import annotations

import mimetypes
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from revsearch.errors import NotFoundError, disk_full
from revsearch.stores.base import StoredStream, content_name

# Types the stdlib table may not know on every platform.
EXTRA_TYPES = {".heic": "image/heic", ".heif": "image/heif", ".avif": "image/avif"}


def media_type(path: Path) -> str:
    suffix = path.suffix.lower()
    return (
        EXTRA_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )


class LocalStore:
    """Reads catalog sources (absolute paths) and owns the files it writes below ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, source: str) -> Path:
        path = Path(source)
        if not path.is_absolute():  # catalog sources are always resolved paths
            raise NotFoundError(f"image file {source!r} is not a stored path")
        return path

    def get(self, source: str) -> bytes:
        try:
            return self._path(source).read_bytes()
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            raise NotFoundError("the image file is missing from the store") from None

    def put(self, data: bytes, suffix: str, digest: str | None = None) -> str:
        """Write to a temporary file and rename it, so a crash never leaves half a file."""
        target = self.root / content_name(data, suffix, digest)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-", suffix=".tmp")
        except OSError as exc:
            if full := disk_full(exc):
                raise full from None
            raise
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if full := disk_full(exc):
                raise full from None
            raise
        return str(target)

    def owns(self, source: str) -> bool:
        path = Path(source).resolve()
        return path.parent == self.root

    def delete(self, source: str) -> bool:
        if not self.owns(source):
            return False
        try:
            Path(source).unlink()
        except FileNotFoundError:
            return False
        return True

    def open_stream(self, source: str, chunk_size: int = 64 * 1024) -> StoredStream:
        path = self._path(source)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            raise NotFoundError("the image file is missing from the store") from None
        size = os.fstat(handle.fileno()).st_size
        return StoredStream(size, media_type(path), _chunks(handle, chunk_size), handle.close)


def _chunks(handle: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(chunk_size):
            yield chunk
