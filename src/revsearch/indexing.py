"""Indexing: sources -> read + hash -> skip known -> decode + encode (parallel) -> upsert.

Workers each decode and encode a chunk with a single-threaded ONNX Runtime session; on
small CPUs that beats one multi-threaded session fed by a decode thread, because both
cores stay busy. Which workers is the indexer's chunk engine: threads here, Ray actors in
:mod:`revsearch.distributed`. The main thread commits batches in order, so a killed run
keeps every committed batch and a re-run skips them by content hash.

Where sources come from (folders, manifests, S3) is :mod:`revsearch.sources`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from PIL import Image

from revsearch.catalog.catalog import Catalog
from revsearch.catalog.db import NewImage
from revsearch.config import DecodeLimits
from revsearch.encoder.batch import encode_paths
from revsearch.encoder.locating import encode_images
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.errors import RevSearchError
from revsearch.parallel import chunked, ordered_map
from revsearch.preprocess import DEFAULT_LIMITS, decode
from revsearch.sources import ImageSource, content_hash
from revsearch.stores.reader import SourceReader
from revsearch.vehicles import parse_class_name

CHUNK = 16  # images per worker task
COMMIT_EVERY = 256  # images per SQLite transaction


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


@dataclass
class Prepared:
    source: ImageSource
    content_hash: str = ""
    width: int = 0
    height: int = 0
    image: Image.Image | None = None
    error: RevSearchError | None = None
    known: bool = False


Chunks = Iterator[tuple[list[Prepared], np.ndarray]]


class ChunkEngine(Protocol):
    """Runs ``worker`` over ``sources``, :data:`CHUNK` at a time, yielding in input order."""

    def __call__(
        self, worker: ChunkWorker, sources: Sequence[ImageSource], known: AbstractSet[str]
    ) -> Chunks: ...


@dataclass(frozen=True)
class ThreadEngine:
    """Chunks on a pool of ``workers`` threads in this process (default: one per core)."""

    workers: int | None = None

    def __call__(
        self, worker: ChunkWorker, sources: Sequence[ImageSource], known: AbstractSet[str]
    ) -> Chunks:
        return ordered_map(
            lambda chunk: worker(chunk, known),
            chunked(list(sources), CHUNK),
            self.workers or os.cpu_count() or 1,
        )


class Indexer:
    """Sources in, committed catalog rows out: the part that must happen once and in order
    (the model guard, skipping known content, batched commits, the report); the per-chunk
    work runs on ``engine`` (default: threads, ``workers`` of them)."""

    def __init__(
        self,
        catalog: Catalog,
        encoder: OnnxEncoder,
        *,
        workers: int | None = None,
        limits: DecodeLimits = DEFAULT_LIMITS,
        read: Callable[[str], bytes] | None = None,
        engine: ChunkEngine | None = None,
    ) -> None:
        self.catalog = catalog
        self.encoder = encoder
        self.engine: ChunkEngine = engine or ThreadEngine(workers)
        self.chunk_worker = ChunkWorker(encoder, limits=limits, read=read)

    def run(
        self,
        sources: Sequence[ImageSource],
        *,
        strict: bool = False,
        on_progress: Callable[[int], None] | None = None,
    ) -> IndexReport:
        """Index ``sources``. ``strict``: any unreadable file aborts before anything is written."""
        self.catalog.bind_model(self.encoder.model_id, self.encoder.dim)
        known = self._known(sources)
        report = IndexReport()
        chunks: Iterable[tuple[list[Prepared], np.ndarray]]
        if strict:
            chunks = list(self.engine(self.chunk_worker, sources, known))
            failures = [p.error for chunk, _ in chunks for p in chunk if p.error]
            if failures:
                raise failures[0]
        else:
            chunks = self.engine(self.chunk_worker, sources, known)
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

    def _known(self, sources: Sequence[ImageSource]) -> set[str]:
        """The stored hashes that matter: when every source brings its own (uploads), only
        which of those are stored, else the whole column (read once, then a set lookup)."""
        given = [source.known_hash for source in sources]
        if all(given):
            return self.catalog.known_hashes(among=[h for h in given if h])
        return self.catalog.known_hashes()


class ChunkWorker:
    """The per-chunk half of indexing: read, hash, skip known content, decode, encode.

    It touches no catalog, so it runs in the indexer's threads here and on Ray actors
    elsewhere (:mod:`revsearch.distributed`).
    """

    def __init__(
        self,
        encoder: OnnxEncoder,
        *,
        limits: DecodeLimits = DEFAULT_LIMITS,
        read: Callable[[str], bytes] | None = None,
    ) -> None:
        self.encoder = encoder
        self.limits = limits
        self.read = read or SourceReader(limits.max_bytes)

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
            digest = source.known_hash or content_hash(data)
            if digest in known:
                return Prepared(source, digest, known=True)
            decoded = decode(
                data, self.limits, draft_size=self.encoder.draft_size, name=source.path
            )
            return Prepared(source, digest, decoded.width, decoded.height, decoded.image)
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
    todo = catalog.missing_vectors(encoder.model_id)
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
            # Same class (so the same status and exit code), with the reindex hint added.
            exc.message = (
                f"cannot reindex: {exc.message}; restore the file or drop it with "
                "'revsearch remove'"
            )
            raise exc from None
        catalog.stage_vectors(ids, vectors, encoder.model_id)
        if on_progress:
            on_progress(len(batch))
    catalog.switch_model(encoder.model_id, encoder.dim)
    return len(todo)
