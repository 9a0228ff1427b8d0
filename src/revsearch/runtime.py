"""The runtime objects built from settings: one assembly for the CLI and the API server.

Defaults live in :mod:`revsearch.config`; this module only puts the pieces together, so a
new setting is wired once and both entry points get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from revsearch.catalog.catalog import Catalog
from revsearch.config import DecodeLimits, Settings
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.encoder.registry import resolve_model_path
from revsearch.memory import DECODE_BUDGET
from revsearch.search import Searcher
from revsearch.stores.base import ImageStore
from revsearch.stores.factory import open_store
from revsearch.stores.reader import SourceReader


def decode_limits(settings: Settings) -> DecodeLimits:
    """The limits on one image; also sizes this process's decoding memory to the settings."""
    DECODE_BUDGET.resize(settings.decode_memory)
    return settings.decode_limits


def open_catalog(
    settings: Settings,
    folder: Path | None = None,
    *,
    create: bool = False,
    read_only: bool | None = None,
) -> Catalog:
    """The configured catalog (``folder`` instead when given); see :meth:`Catalog.open`."""
    return Catalog.open(
        folder or settings.catalog,
        create=create,
        read_only=read_only,
        exact_search_limit=settings.exact_search_limit,
        search_ef=settings.search_ef,
        vector_backend=settings.vector_backend,
    )


def load_encoder(
    settings: Settings,
    model: Path | None = None,
    *,
    threads: int | None = None,
    locate: bool = True,
    spin: bool = True,
) -> OnnxEncoder:
    """The configured encoder (``model`` instead when given); ``locate=False`` turns the
    localiser off whatever the settings say."""
    return OnnxEncoder(
        resolve_model_path(model or settings.model),
        threads=settings.threads if threads is None else threads,
        locate=settings.locate and locate,
        spin=spin,
    )


def source_reader(settings: Settings) -> SourceReader:
    """Reads local and s3:// sources, as indexing does."""
    return SourceReader(settings.max_upload_bytes, settings.s3_endpoint_url)


@dataclass
class QueryRuntime:
    """What answering searches needs: the catalog, the encoder, the image store, a searcher."""

    settings: Settings
    catalog: Catalog
    encoder: OnnxEncoder
    store: ImageStore
    searcher: Searcher

    @classmethod
    def open(
        cls, settings: Settings, *, catalog: Path | None = None, model: Path | None = None
    ) -> QueryRuntime:
        """Open the catalog (read-only when it cannot be written) and load the model;
        fails fast on a bad path, a bad store setting or a model mismatch."""
        limits = decode_limits(settings)
        opened = open_catalog(settings, catalog)
        try:
            # The same-photo check runs on these cores right after the model's passes: ONNX
            # Runtime's threads spinning meanwhile slowed it (bench_api, 2 cores: 35 instead
            # of 43 ms in process, 16 clients 33 instead of 27 req/s), while a search without
            # it is faster with them spinning (bench_locate, tight crops: 1.32-1.41x the
            # headless encoder's query time instead of 1.52x).
            checks = settings.same_image_candidates > 0
            encoder = load_encoder(settings, model, spin=not checks)
            store = open_store(settings, opened.path)  # checks REVSEARCH_IMAGE_STORE
            searcher = Searcher(
                opened,
                encoder,
                limits=limits,
                originals=store,
                same_image_candidates=settings.same_image_candidates,
            )
        except BaseException:
            opened.close()
            raise
        return cls(settings, opened, encoder, store, searcher)

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> QueryRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
