"""One place that turns settings into the image store (no ``if store == ...`` elsewhere).

A catalog can hold images of two kinds at once: files indexed where they lie (absolute
paths) and uploads in the configured store (``<catalog>/images`` or ``s3://...``). Switching
uploads to S3 must not make the indexed files, or earlier local uploads, unreadable, so the
app gets a :class:`RoutingStore` that sends each source to the store for its kind.
"""

from __future__ import annotations

from pathlib import Path

from revsearch.config import Settings
from revsearch.errors import BackendUnavailableError, BadParameterError
from revsearch.stores.base import ImageStore, StoredStream
from revsearch.stores.local import LocalStore
from revsearch.stores.s3 import SCHEME as S3_SCHEME
from revsearch.stores.s3 import S3Store

UPLOADS_DIR = "images"


class RoutingStore:
    """Reads, streams and deletes each source with the store for its kind; puts to ``uploads``.

    Each underlying store deletes only what it wrote itself, so routing a delete never widens
    what can be removed.
    """

    def __init__(self, uploads: ImageStore, local: LocalStore, s3: S3Store | None) -> None:
        self.uploads = uploads
        self.local = local
        self.s3 = s3

    def store_for(self, source: str) -> LocalStore | S3Store:
        if not source.startswith(S3_SCHEME):
            return self.local
        if self.s3 is None:
            raise BackendUnavailableError(
                "this catalog holds images in S3 but no S3 image store is configured "
                "(set REVSEARCH_IMAGE_STORE=s3://bucket/prefix)"
            )
        return self.s3

    def get(self, source: str) -> bytes:
        return self.store_for(source).get(source)

    def put(self, data: bytes, suffix: str, digest: str | None = None) -> str:
        return self.uploads.put(data, suffix, digest)

    def owns(self, source: str) -> bool:
        if source.startswith(S3_SCHEME):
            return self.s3 is not None and self.s3.owns(source)
        return self.local.owns(source)

    def delete(self, source: str) -> bool:
        return self.store_for(source).delete(source)

    def open_stream(self, source: str, chunk_size: int = 64 * 1024) -> StoredStream:
        return self.store_for(source).open_stream(source, chunk_size)


def open_store(settings: Settings, catalog_path: Path) -> RoutingStore:
    """``image_store``: ``local`` (``<catalog>/images``) or ``s3://bucket/prefix``."""
    local = LocalStore(Path(catalog_path) / UPLOADS_DIR)
    spec = settings.image_store.strip()
    if spec in ("", "local"):
        return RoutingStore(local, local, None)
    if spec.startswith(S3_SCHEME):
        s3 = S3Store.from_url(spec, endpoint_url=settings.s3_endpoint_url)
        return RoutingStore(s3, local, s3)
    raise BadParameterError(
        f"REVSEARCH_IMAGE_STORE: unknown image store {spec!r} (known: local, s3://bucket/prefix)"
    )
