"""The objects one server process shares between requests, built once at startup.

One ONNX session and one catalog serve every request: both are thread-safe, and sharing
them is what keeps memory flat and lets requests run concurrently.

Blocking work (decoding, the ONNX run, SQLite, thumbnails) runs on one long-lived thread
pool owned here, not on the framework's: its size bounds how much runs at once, and so
how many connections the catalog's pool of SQLite readers grows to.
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

from revsearch.api.queries import QueryCache
from revsearch.api.ratelimit import RateLimiter
from revsearch.api.writes import CatalogWriter
from revsearch.catalog.catalog import Catalog
from revsearch.config import Settings
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.errors import DiskFullError
from revsearch.feedback.record import FeedbackRecorder
from revsearch.runtime import QueryRuntime
from revsearch.search import Searcher
from revsearch.stores.base import ImageStore
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
    queries: QueryCache
    feedback: FeedbackRecorder
    feedback_limiter: RateLimiter
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
        runtime = QueryRuntime.open(settings)
        catalog, store, limits = runtime.catalog, runtime.store, runtime.searcher.limits
        if catalog.read_only:
            log.warning("catalog %s is read-only: writes are disabled", catalog.path)
        thumbnails = ThumbnailCache(
            catalog.path / THUMBNAILS_DIR, store, limits=limits, read_only=catalog.read_only
        )
        writer = CatalogWriter(catalog, runtime.encoder, store, thumbnails, limits=limits)
        queries = QueryCache(ttl=settings.query_ttl, max_bytes=settings.query_memory)
        feedback = FeedbackRecorder(catalog)
        limiter = RateLimiter(settings.feedback_per_minute, settings.feedback_burst)
        return cls(
            settings, catalog, runtime.encoder, runtime.searcher, store, thumbnails, writer,
            queries, feedback, limiter,
        )  # fmt: skip

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
