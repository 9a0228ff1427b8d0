"""Milvus returns what exact search returns, on real embeddings of the test catalog."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from revsearch.catalog.catalog import Catalog
from revsearch.catalog.db import NewImage
from revsearch.index import milvus as milvus_backend
from revsearch.index.base import Filters
from revsearch.vehicles import Vehicle
from tests.backends.milvus_server import MilvusServer

K = 10


def overlap(
    exact: Catalog, served: Catalog, queries: np.ndarray, filters: Filters | None = None
) -> float:
    """Mean top-K overlap between the two catalogs' answers (ties in score count as found)."""
    found = total = 0
    for query in queries:
        truth = exact.search(query, K, filters)
        hits = {h.record.id for h in served.search(query, K, filters)}
        cutoff = truth[-1].score - 1e-5 if truth else 1.0
        found += sum(1 for h in truth if h.record.id in hits or h.score >= cutoff)
        total += len(truth)
    return found / max(total, 1)


def test_milvus_agrees_with_exact_search(
    built_catalog: Path, milvus: MilvusServer, tmp_path: Path
) -> None:
    path = tmp_path / "catalog"
    shutil.copytree(built_catalog, path)
    with Catalog.open(path) as exact, Catalog.open(path, vector_backend=milvus.url()) as served:
        _, matrix = exact.vectors()
        assert exact.stats()["index_kind"] == "exact" and len(matrix) == 240
        assert overlap(exact, served, matrix) >= 0.95
        make = exact.get([1])[1].make
        assert overlap(exact, served, matrix[::4], Filters(make=make.upper())) >= 0.95
        assert overlap(exact, served, matrix[::4], Filters(year_min=2009, year_max=2011)) >= 0.95
        for query in matrix[:20]:  # same scores, not only the same ids
            a, b = exact.search(query, K), served.search(query, K)
            common = {h.record.id: h.score for h in a}
            for hit in b:
                if hit.record.id in common:
                    assert abs(common[hit.record.id] - hit.score) < 1e-4


def test_milvus_hnsw_keeps_recall_on_a_larger_catalog(
    built_catalog: Path, milvus: MilvusServer, tmp_path: Path
) -> None:
    """Enough rows that the re-sync flushes them into indexed segments (the HNSW path)."""
    path = tmp_path / "catalog"
    shutil.copytree(built_catalog, path)
    rng = np.random.default_rng(0)
    with Catalog.open(path, exact_search_limit=10**9) as exact:
        _, real = exact.vectors()
        n = milvus_backend.FLUSH_AFTER + 2000
        # Real vectors plus noise shaped by the real per-dimension spread, renormalised.
        noisy = real[rng.integers(0, len(real), n)] + rng.normal(size=(n, real.shape[1])).astype(
            np.float32
        ) * real.std(axis=0)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        vehicle = Vehicle(make="Synthetic", year=2000)
        exact.upsert(
            [NewImage(f"/synthetic/{i}", f"syn-{i}", 1, 1, None, vehicle) for i in range(n)], noisy
        )
        with Catalog.open(path, vector_backend=milvus.url()) as served:
            served.vector_index()  # the re-sync: 12k rows, flushed and indexed
            queries = np.concatenate([real[::8], noisy[:30]])
            assert overlap(exact, served, queries) >= 0.95
            assert overlap(exact, served, queries, Filters(make="synthetic")) >= 0.95
