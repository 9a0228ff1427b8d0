"""Small JPEG previews for the results grid, made once per image and cached on disk.

The cache key is the image's content hash, so a thumbnail can never be stale (a changed
file is a new hash) and the hash doubles as the HTTP ETag.
"""

from __future__ import annotations

import errno
import io
import os
import tempfile
from pathlib import Path

from PIL import Image

from revsearch.config import DecodeLimits
from revsearch.errors import disk_full
from revsearch.preprocess import DEFAULT_LIMITS, decode
from revsearch.stores.base import ImageStore

THUMBNAIL_SIZE = 256
JPEG_QUALITY = 85


def jpeg_preview(data: bytes, size: int, limits: DecodeLimits = DEFAULT_LIMITS) -> bytes:
    """The image upright, at most ``size`` px on its longer side, as JPEG: what any browser
    can show, whatever the original's format (HEIC, AVIF, 16-bit TIFF...)."""
    image = decode(data, limits, draft_size=size).image
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


class ThumbnailCache:
    def __init__(
        self,
        folder: Path,
        store: ImageStore,
        *,
        size: int = THUMBNAIL_SIZE,
        limits: DecodeLimits = DEFAULT_LIMITS,
        read_only: bool = False,
    ) -> None:
        self.read_only = read_only
        self.folder = Path(folder)
        self.store = store
        self.size = size
        self.limits = limits

    def etag(self, content_hash: str) -> str:
        return f'"{content_hash}-{self.size}"'

    def path(self, content_hash: str) -> Path:
        if not content_hash.isalnum():  # hashes are hex; never let one name a path
            raise ValueError(f"bad content hash {content_hash!r}")
        return self.folder / f"{content_hash}-{self.size}.jpg"

    def get(self, source: str, content_hash: str) -> Path | bytes:
        """The cached thumbnail, made from the stored original on first use.

        Its bytes instead of a path when the cache cannot be written (a read-only catalog);
        DiskFullError when the disk is full.
        """
        path = self.path(content_hash)
        if path.is_file():
            return path
        data = self.render(self.store.get(source))
        if self.read_only:
            return data
        try:
            self._write(path, data)
        except OSError as exc:
            if full := disk_full(exc):
                raise full from None
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                return data  # not ours to write: serve it uncached
            raise
        return path

    def render(self, data: bytes) -> bytes:
        return jpeg_preview(data, self.size, self.limits)

    def _write(self, path: Path, data: bytes) -> None:
        """Temporary file + rename: concurrent requests may both render, neither sees half."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".thumb-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def discard(self, content_hash: str) -> None:
        self.path(content_hash).unlink(missing_ok=True)
