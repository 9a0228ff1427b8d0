"""The same behaviour suite for every embedded vector index."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest

from revsearch.index.base import VectorIndex
from revsearch.index.exact import ExactIndex
from revsearch.index.hnsw import HnswIndex
from tests.support import rows

DIM = 32
unit_vectors = partial(rows.unit_vectors, dim=DIM)


@pytest.fixture(params=[ExactIndex, HnswIndex], ids=["exact", "hnsw"])
def index(request: pytest.FixtureRequest) -> VectorIndex:
    return request.param(DIM)


def test_finds_itself_first_with_score_one(index: VectorIndex) -> None:
    vectors = unit_vectors(500)
    index.add(np.arange(1, 501), vectors)
    assert len(index) == 500
    keys, scores = index.search(vectors[41], 5)
    assert keys[0] == 42 and scores[0] == pytest.approx(1.0, abs=1e-5)
    assert np.all(np.diff(scores) <= 1e-6)  # descending


def test_every_stored_vector_is_reachable(index: VectorIndex) -> None:
    """A multithreaded usearch build strands some vectors (USearch#735): with 3,000 of them,
    about half the builds had one no query could reach, so this failed before the fix."""
    vectors = unit_vectors(3000, seed=2)
    index.add(np.arange(3000), vectors)
    found = [index.search(vector, 1) for vector in vectors]
    first_keys = np.array([keys[0] for keys, _ in found])
    assert np.flatnonzero(first_keys != np.arange(3000)).tolist() == []
    np.testing.assert_allclose([scores[0] for _, scores in found], 1.0, atol=1e-5)


def test_matches_brute_force(index: VectorIndex) -> None:
    vectors = unit_vectors(2000)
    index.add(np.arange(2000), vectors)
    queries = unit_vectors(50, seed=1)
    found = 0
    for query in queries:
        expected = set(np.argsort(-(vectors @ query))[:10])
        keys, scores = index.search(query, 10)
        found += len(expected & set(keys.tolist()))
        np.testing.assert_allclose(scores, vectors[keys] @ query, atol=1e-4)
    assert found / 500 >= 0.95


def test_remove_and_overwrite(index: VectorIndex) -> None:
    vectors = unit_vectors(100)
    index.add(np.arange(100), vectors)
    index.remove(np.array([7, 9999]))  # unknown keys are ignored
    assert len(index) == 99
    assert 7 not in index.search(vectors[7], 10)[0]
    index.add(np.array([8]), vectors[50:51])  # overwrite key 8 with vector 50
    keys, _ = index.search(vectors[50], 2)
    assert set(keys.tolist()) == {8, 50}
    assert len(index) == 99


def test_allowed_keys_filter(index: VectorIndex) -> None:
    vectors = unit_vectors(300)
    index.add(np.arange(300), vectors)
    allowed = np.arange(0, 300, 3)
    keys, _ = index.search(vectors[1], 10, allowed)
    assert len(keys) == 10 and set(keys.tolist()) <= set(allowed.tolist())
    expected = allowed[np.argsort(-(vectors[allowed] @ vectors[1]))[:10]]
    assert keys.tolist() == expected.tolist()
    assert len(index.search(vectors[1], 10, np.array([], dtype=np.int64))[0]) == 0


def test_k_larger_than_index(index: VectorIndex) -> None:
    index.add(np.arange(3), unit_vectors(3))
    keys, scores = index.search(unit_vectors(1, seed=5)[0], 10)
    assert len(keys) == len(scores) == 3


def test_empty_index(index: VectorIndex) -> None:
    keys, _ = index.search(unit_vectors(1)[0], 5)
    assert len(keys) == 0


def test_hnsw_save_and_load_round_trip(tmp_path: Path) -> None:
    vectors = unit_vectors(400)
    index = HnswIndex(DIM)
    index.add(np.arange(400), vectors)
    path = tmp_path / "vectors.usearch"
    index.save(path)
    assert not list(tmp_path.glob("*.tmp"))
    loaded = HnswIndex.load(path, DIM)
    assert len(loaded) == 400
    assert loaded.search(vectors[3], 1)[0][0] == 3
