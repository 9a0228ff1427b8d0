"""Milvus goes down mid-run: writes and searches fail clearly, SQLite loses and gains nothing,
and after a restart on the same data everything works again and indexing resumes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import revsearch.indexing
from revsearch.catalog.catalog import Catalog
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.errors import BackendUnavailableError
from revsearch.indexing import Indexer
from revsearch.sources import read_manifest
from tests.backends.milvus_server import MilvusServer, milvus_server
from tests.support.rows import DIM, ids_of, images
from tests.support.rows import unit_vectors as unit
from tests.support.sqlite import sqlite_file

pytestmark = pytest.mark.slow  # each test starts its own milvus-lite server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MilvusServer]:
    """A server of this test's own: the tests stop and restart it."""
    with milvus_server(tmp_path) as running:
        yield running


def sqlite_state(path: Path) -> tuple[int, str, list[int]]:
    """(generation, meta, image ids) read straight from the file."""
    with sqlite_file(path / "catalog.sqlite") as db:
        generation = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]
        ids = [row[0] for row in db.execute("SELECT id FROM images ORDER BY id")]
        vectors = db.execute("SELECT count(*) FROM vectors").fetchone()[0]
    return int(generation), str(vectors), ids


def test_while_milvus_is_down_writes_and_searches_fail_and_sqlite_is_unchanged(
    server: MilvusServer, tmp_path: Path
) -> None:
    vecs = unit(30)
    path = tmp_path / "cat"
    with Catalog.open(path, create=True, vector_backend=server.url(timeout=3)) as catalog:
        catalog.bind_model("model-a", DIM)
        catalog.upsert(images(20), vecs[:20])
        assert ids_of(catalog.search(vecs[5], 1)) == [6]
        before = sqlite_state(path)
        server.stop()
        with pytest.raises(BackendUnavailableError, match=r"Milvus at .* is unavailable"):
            catalog.upsert(images(5, 20), vecs[20:25])
        with pytest.raises(BackendUnavailableError):
            catalog.remove([1, 2])
        with pytest.raises(BackendUnavailableError):
            catalog.search(vecs[5], 3)
        assert sqlite_state(path) == before and len(catalog) == 20
        server.start()  # same data folder and port
        assert ids_of(catalog.search(vecs[5], 1)) == [6]
        catalog.upsert(images(5, 20), vecs[20:25])
        assert catalog.remove([1, 2]) == 2
        assert ids_of(catalog.search(vecs[22], 1)) == [23]
        assert len(catalog.backend) == len(catalog) == 23


def test_an_interrupted_indexing_run_resumes_after_milvus_is_back(
    server: MilvusServer,
    tmp_path: Path,
    small_manifest: Path,
    encoder: OnnxEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sources = read_manifest(small_manifest)[:64]
    monkeypatch.setattr(revsearch.indexing, "COMMIT_EVERY", 16)  # several batches in 64 images
    path = tmp_path / "cat"
    url = server.url(timeout=3)
    progress: list[int] = []

    def stop_after_first_batch(done: int) -> None:
        progress.append(done)
        if len(progress) == 1:
            server.stop()

    with Catalog.open(path, create=True, vector_backend=url) as catalog:
        with pytest.raises(BackendUnavailableError):
            Indexer(catalog, encoder, workers=2).run(sources, on_progress=stop_after_first_batch)
        committed = len(catalog)
        assert 0 < committed < len(sources)
    server.start()
    with Catalog.open(path, vector_backend=url) as catalog:
        report = Indexer(catalog, encoder, workers=2).run(sources)
        assert (report.unchanged, report.added) == (committed, len(sources) - committed)
        assert len(catalog) == len(catalog.backend) == len(sources)
        ids, matrix = catalog.vectors()
        for row in (0, committed, len(ids) - 1):  # before, at and after the interruption
            hit = catalog.search(matrix[row], 1)[0]
            assert hit.record.id == ids[row] and hit.score == pytest.approx(1.0, abs=1e-4)
        assert np.isfinite(matrix).all()
