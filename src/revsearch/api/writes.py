"""Adding and removing images so that the catalog and the image store never disagree.

Order matters for crash safety: a new file is written (atomically) before its catalog row,
and a row is deleted before its file, so a crash can leave an orphan file but never a row
pointing at nothing. Bad uploads are rejected before anything is written.
"""

from __future__ import annotations

import logging
import threading

from revsearch.catalog.catalog import Catalog
from revsearch.catalog.db import ImageRecord
from revsearch.config import DecodeLimits
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.errors import BackendUnavailableError, NotFoundError, UnsupportedImageError
from revsearch.indexing import Indexer
from revsearch.preprocess import decode
from revsearch.sources import ImageSource, content_hash
from revsearch.stores.base import ImageStore
from revsearch.stores.thumbnails import ThumbnailCache

log = logging.getLogger("revsearch.api")

# PIL format -> file suffix for stored uploads.
SUFFIXES = {
    "JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp",
    "TIFF": "tif", "HEIF": "heic", "AVIF": "avif",
}  # fmt: skip


class CatalogWriter:
    def __init__(
        self,
        catalog: Catalog,
        encoder: OnnxEncoder,
        store: ImageStore,
        thumbnails: ThumbnailCache,
        *,
        limits: DecodeLimits,
    ) -> None:
        self.catalog = catalog
        self.encoder = encoder
        self.store = store
        self.thumbnails = thumbnails
        self.limits = limits
        self._indexer = Indexer(catalog, encoder, workers=1, limits=limits)
        # One write at a time: makes "already there?" -> write file -> index a single step.
        self._lock = threading.Lock()

    def add(self, data: bytes, class_name: str | None) -> tuple[ImageRecord, bool]:
        """Store and index one image; returns its record and whether it is new."""
        digest = content_hash(data)  # once: the store and the indexer are handed it
        with self._lock:
            if existing := self.catalog.find_hash(digest):
                return existing, False
            source = self.store.put(data, self._suffix(data), digest)
            try:
                upload = ImageSource(source, class_name, data, digest)
                report = self._indexer.run([upload], strict=True)
            except BaseException:
                self.store.delete(source)
                raise
            self.catalog.save(force=False)
            record = self.catalog.find_hash(digest)
        assert record is not None
        # Another server process may have added the same bytes meanwhile (same file name).
        return record, report.added + report.updated > 0

    def _suffix(self, data: bytes) -> str:
        """Validate the whole image (limits included), then name its format."""
        fmt = decode(
            data,
            self.limits,
            draft_size=self.encoder.spec.input_size,  # only its validity is needed here
        ).format
        if fmt not in SUFFIXES:
            raise UnsupportedImageError(f"{fmt or 'this'} images cannot be added to the catalog")
        return SUFFIXES[fmt]

    def delete(self, image_id: int) -> ImageRecord:
        with self._lock:
            record = self.catalog.get([image_id]).get(image_id)
            if record is None:
                raise NotFoundError(f"no image with id {image_id}")
            self.catalog.remove([image_id])
            self.catalog.save(force=False)
            try:
                self.store.delete(record.source)  # only files the store wrote itself
            except BackendUnavailableError as exc:  # the row is gone: done, with an orphan file
                log.warning(
                    "image %d removed, its file %s left behind: %s", image_id, record.source, exc
                )
            self.thumbnails.discard(record.content_hash)
        return record
