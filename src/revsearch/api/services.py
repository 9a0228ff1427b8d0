"""The objects one server process shares between requests, built once at startup.

One ONNX session and one catalog serve every request: both are thread-safe, and sharing
them is what keeps memory flat and lets requests run concurrently.

Blocking work (decoding, the ONNX run, SQLite, thumbnails) runs on one long-lived thread
pool owned here, not on the framework's: the catalog keeps one SQLite connection per
thread, and the framework's pool retires idle threads and starts new ones, which would
open a new connection with every burst of traffic and never close the old ones.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

import numpy as np
from fastapi import Request

from revsearch.api.writes import CatalogWriter
from revsearch.catalog.catalog import Catalog
from revsearch.config import Settings
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.encoder.registry import resolve_model_path
from revsearch.errors import DiskFullError
from revsearch.memory import DECODE_BUDGET
from revsearch.search import Searcher
from revsearch.stores.base import ImageStore
from revsearch.stores.factory import open_store
from revsearch.stores.thumbnails import ThumbnailCache

THUMBNAILS_DIR = "thumbnails"
# Enough to overlap I/O with compute; ONNX Runtime already spreads one run over the cores.
WORKER_THREADS = min(32, 4 * (os.cpu_count() or 1))

log = logging.getLogger("revsearch.api")

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    encoder: OnnxEncoder
    searcher: Searcher
    store: ImageStore
    thumbnails: ThumbnailCache
    writer: CatalogWriter
    ready: threading.Event = field(default_factory=threading.Event)
    warmup_error: str | None = None
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="revsearch")
    )

    @classmethod
    def build(cls, settings: Settings) -> Services:
        """Open the catalog and load the model; fails fast (bad path, model mismatch).

        A catalog this process cannot write is served read-only: searches and images work,
        writes answer 403 (said once, in the log, at startup).
        """
        DECODE_BUDGET.resize(settings.decode_memory)
        catalog = Catalog.open(
            settings.catalog,
            exact_search_limit=settings.exact_search_limit,
            search_ef=settings.search_ef,
            vector_backend=settings.vector_backend,
        )
        if catalog.read_only:
            log.warning("catalog %s is read-only: writes are disabled", catalog.path)
        try:
            encoder = OnnxEncoder(
                resolve_model_path(settings.model), threads=settings.threads, locate=settings.locate
            )
            store = open_store(settings, catalog.path)  # checks REVSEARCH_IMAGE_STORE
            searcher = Searcher(
                catalog,
                encoder,
                max_pixels=settings.max_pixels,
                max_bytes=settings.max_upload_bytes,
                originals=store,
                same_image_candidates=settings.same_image_candidates,
            )
        except BaseException:
            catalog.close()
            raise
        thumbnails = ThumbnailCache(
            catalog.path / THUMBNAILS_DIR,
            store,
            max_pixels=settings.max_pixels,
            max_bytes=settings.max_upload_bytes,
            read_only=catalog.read_only,
        )
        writer = CatalogWriter(
            catalog,
            encoder,
            store,
            thumbnails,
            max_pixels=settings.max_pixels,
            max_bytes=settings.max_upload_bytes,
        )
        return cls(settings, catalog, encoder, searcher, store, thumbnails, writer)

    def warm_up(self) -> None:
        """Load the vector index and run the model once, so the first query is not slow.

        Runs in a thread at startup; /readyz answers 200 only once it is done.
        """
        try:
            self.catalog.vector_index()
            size = self.encoder.spec.input_size
            self.encoder.encode_arrays(np.zeros((1, 3, size, size), dtype=np.float32))
        except Exception as exc:  # reported by /readyz instead of killing the server
            self.warmup_error = f"warm-up failed: {exc}"
            return
        self.ready.set()

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run blocking work on the service threads, off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        try:
            self.catalog.save(force=False)  # only if many writes piled up since the last save
        except DiskFullError as exc:  # the index file is derived: the next start replays
            log.warning("vector index not saved at shutdown: %s", exc)
        finally:
            self.catalog.close()


async def get_services(request: Request) -> Services:
    """FastAPI dependency: the app's shared services."""
    return request.app.state.services
