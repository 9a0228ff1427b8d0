"""Indexing: sources -> read + hash -> skip known -> decode + encode (parallel) -> upsert.

Workers each decode and encode a chunk with a single-threaded ONNX Runtime session; on
small CPUs that beats one multi-threaded session fed by a decode thread, because both
cores stay busy. The main thread commits batches in order, so a killed run keeps every
committed batch and a re-run skips them by content hash.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from revsearch.catalog.catalog import Catalog
from revsearch.catalog.db import NewImage
from revsearch.encoder.batch import encode_paths
from revsearch.encoder.locating import encode_images
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.errors import BadParameterError, NotFoundError, RevSearchError
from revsearch.parallel import chunked, ordered_map
from revsearch.preprocess import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, decode
from revsearch.stores.reader import S3_SCHEME, SourceReader
from revsearch.vehicles import parse_class_name

IMAGE_SUFFIXES = {
    ".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".heic", ".heif", ".avif",
}  # fmt: skip
CHUNK = 16  # images per worker task
COMMIT_EVERY = 256  # images per SQLite transaction


@dataclass(frozen=True)
class ImageSource:
    """A file to index, with its label when the input carries one (manifests do).

    ``data``: its bytes when already in memory (API uploads, whose ``path`` may be an
    ``s3://`` source that only the image store can read).
    """

    path: str
    class_name: str | None = None
    data: bytes | None = field(default=None, repr=False, compare=False)


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    duplicates: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return self.added + self.updated + self.duplicates + self.unchanged + len(self.failed)


def absolute(path: str | Path) -> str:
    """An absolute, normalised path that keeps symlinks as given (the source "as indexed")."""
    return os.path.abspath(os.path.expanduser(path))


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def scan_folder(folder: Path) -> list[ImageSource]:
    """Every image file below ``folder`` (by extension), in a stable order."""
    files = (p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    return [ImageSource(absolute(p)) for p in sorted(files)]


STANFORD_PREFIX = "stanford-"


def split_column(split: str) -> tuple[str, str]:
    """A split name -> (manifest column, value): ``train``/``eval`` are the open-set protocol's
    ``retrieval_split``; ``stanford-train``/``stanford-test`` the product protocol's
    ``stanford_split``."""
    if split.startswith(STANFORD_PREFIX):
        return "stanford_split", split.removeprefix(STANFORD_PREFIX)
    return "retrieval_split", split


def read_manifest(
    manifest: Path, *, split: str | None = None, limit: int | None = None
) -> list[ImageSource]:
    """Rows of a CSV with an ``image`` column (relative to the CSV) and optional labels."""
    try:
        with open(manifest, newline="") as handle:
            reader = csv.DictReader(handle)
            if "image" not in (reader.fieldnames or []):
                raise BadParameterError(f"{manifest}: a manifest needs an 'image' column")
            column, value = split_column(split) if split else ("", "")
            if split and column not in (reader.fieldnames or []):
                raise BadParameterError(f"{manifest}: no '{column}' column to filter on")
            rows = [r for r in reader if not split or r.get(column) == value]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BadParameterError(f"{manifest}: cannot read manifest ({exc})") from None
    base = Path(absolute(manifest)).parent
    sources = [
        ImageSource(
            row["image"] if row["image"].startswith(S3_SCHEME) else absolute(base / row["image"]),
            row.get("class_name") or None,
        )
        for row in rows
    ]
    return sources[:limit] if limit is not None else sources


def collect_sources(
    path: Path, *, split: str | None = None, limit: int | None = None
) -> list[ImageSource]:
    """A folder, a manifest CSV or a single image file -> sources."""
    if not path.exists():
        raise NotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        sources = scan_folder(path)
        return sources[:limit] if limit is not None else sources
    if path.suffix.lower() == ".csv":
        return read_manifest(path, split=split, limit=limit)
    return [ImageSource(absolute(path))]


@dataclass
class Prepared:
    source: ImageSource
    content_hash: str = ""
    width: int = 0
    height: int = 0
    image: Image.Image | None = None
    error: RevSearchError | None = None
    known: bool = False


class Indexer:
    def __init__(
        self,
        catalog: Catalog,
        encoder: OnnxEncoder,
        *,
        workers: int | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        read: Callable[[str], bytes] | None = None,
    ) -> None:
        self.catalog = catalog
        self.encoder = encoder
        self.workers = workers or os.cpu_count() or 1
        self.chunk_worker = ChunkWorker(
            encoder, max_pixels=max_pixels, max_bytes=max_bytes, read=read
        )

    def run(
        self,
        sources: Sequence[ImageSource],
        *,
        strict: bool = False,
        on_progress: Callable[[int], None] | None = None,
    ) -> IndexReport:
        """Index ``sources``. ``strict``: any unreadable file aborts before anything is written."""
        self.catalog.bind_model(self.encoder.model_id, self.encoder.dim)
        known = self.catalog.db.hashes()
        report = IndexReport()
        if strict:
            chunks = list(self._encoded_chunks(sources, known))
            failures = [p.error for chunk, _ in chunks for p in chunk if p.error]
            if failures:
                raise failures[0]
        else:
            chunks = self._encoded_chunks(sources, known)
        pending: list[tuple[Prepared, np.ndarray]] = []
        for chunk, vectors in chunks:
            rows = iter(vectors)
            for prepared in chunk:
                if prepared.error:
                    report.failed.append((prepared.source.path, str(prepared.error)))
                elif prepared.known:
                    report.unchanged += 1
                else:
                    pending.append((prepared, next(rows)))
            if len(pending) >= COMMIT_EVERY:
                self._commit(pending, report)
            if on_progress:
                on_progress(len(chunk))
        self._commit(pending, report)
        return report

    def _commit(self, pending: list[tuple[Prepared, np.ndarray]], report: IndexReport) -> None:
        if not pending:
            return
        images = [
            NewImage(
                source=p.source.path,
                content_hash=p.content_hash,
                width=p.width,
                height=p.height,
                class_name=p.source.class_name,
                vehicle=parse_class_name(p.source.class_name),
            )
            for p, _ in pending
        ]
        outcome = self.catalog.upsert(images, np.stack([v for _, v in pending]))
        statuses = [status for _, status in outcome]
        report.added += statuses.count("added")
        report.updated += statuses.count("updated")
        report.duplicates += statuses.count("duplicate")
        pending.clear()

    def _encoded_chunks(
        self, sources: Sequence[ImageSource], known: set[str]
    ) -> Iterator[tuple[list[Prepared], np.ndarray]]:
        """Encoded chunks in input order, computed by parallel workers."""
        return ordered_map(
            lambda chunk: self.chunk_worker(chunk, known),
            chunked(list(sources), CHUNK),
            self.workers,
        )


class ChunkWorker:
    """The per-chunk half of indexing: read, hash, skip known content, decode, encode.

    It touches no catalog, so it runs in the indexer's threads here and on Ray actors
    elsewhere (:mod:`revsearch.distributed`).
    """

    def __init__(
        self,
        encoder: OnnxEncoder,
        *,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        read: Callable[[str], bytes] | None = None,
    ) -> None:
        self.encoder = encoder
        self.max_pixels = max_pixels
        self.max_bytes = max_bytes
        self.read = read or SourceReader(max_bytes)

    def __call__(
        self, chunk: Sequence[ImageSource], known: AbstractSet[str]
    ) -> tuple[list[Prepared], np.ndarray]:
        prepared = [self._prepare(source, known) for source in chunk]
        images = [p.image for p in prepared if p.image is not None]
        vectors = (
            np.stack([encoded.vector for encoded in encode_images(self.encoder, images)])
            if images
            else np.empty((0, self.encoder.dim), np.float32)
        )
        for p in prepared:
            p.image = None  # free memory early
        return prepared, vectors

    def _prepare(self, source: ImageSource, known: AbstractSet[str]) -> Prepared:
        try:
            data = self.read(source.path) if source.data is None else source.data
            content_hash = hashlib.sha256(data).hexdigest()
            if content_hash in known:
                return Prepared(source, content_hash, known=True)
            decoded = decode(
                data,
                max_pixels=self.max_pixels,
                max_bytes=self.max_bytes,
                draft_size=self.encoder.draft_size,
                name=source.path,
            )
            return Prepared(source, content_hash, decoded.width, decoded.height, decoded.image)
        except RevSearchError as exc:
            return Prepared(source, error=exc)


def reindex(
    catalog: Catalog,
    encoder: OnnxEncoder,
    *,
    workers: int | None = None,
    read: Callable[[str], bytes] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Re-encode every image with ``encoder`` and switch the catalog to it; returns the count.

    New vectors are stored beside the old ones in committed batches, so an interrupted
    reindex resumes, and searches keep working on the old model until the final switch.
    """
    todo = catalog.db.ids_without_vector(encoder.model_id)
    if on_start:
        on_start(len(todo))
    for batch in chunked(todo, COMMIT_EVERY):
        ids = [image_id for image_id, _ in batch]
        try:
            vectors = encode_paths(
                encoder,
                [source for _, source in batch],
                workers=workers or os.cpu_count() or 1,
                read=read,
            )
        except RevSearchError as exc:
            raise RevSearchError(
                f"cannot reindex: {exc}; restore the file or drop it with 'revsearch remove'"
            ) from None
        catalog.db.put_vectors(ids, vectors, encoder.model_id)
        if on_progress:
            on_progress(len(batch))
    catalog.db.switch_model(encoder.model_id, encoder.dim)
    return len(todo)
