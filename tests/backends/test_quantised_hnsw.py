"""The embedded HNSW index's storage types measured by benchmarks/bench_ann.py: f16 and i8
keep vectors in less memory and must still find neighbours with cosine scores."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest

from revsearch.index.hnsw import HnswIndex
from tests.support.rows import unit_vectors

unit = partial(unit_vectors, dim=64)


@pytest.mark.parametrize("dtype", ["f16", "i8"])
def test_quantised_storage_finds_neighbours_with_cosine_scores(dtype: str, tmp_path: Path) -> None:
    vectors = unit(1000)
    index = HnswIndex(64, dtype=dtype, connectivity=24)
    index.add(np.arange(1000), vectors)
    found = 0
    for query in unit(30, seed=1):
        keys, scores = index.search(query, 10)
        np.testing.assert_allclose(scores, vectors[keys] @ query, atol=0.03)
        found += len(set(keys.tolist()) & set(np.argsort(-(vectors @ query))[:10].tolist()))
    assert found / 300 >= 0.9
    # The exact path under a filter renormalises what the index stored.
    allowed = np.arange(0, 1000, 7)
    keys, scores = index.search(vectors[14], 5, allowed)
    assert keys[0] == 14 and scores[0] == pytest.approx(1.0, abs=0.01)
    assert set(keys.tolist()) <= set(allowed.tolist())
    index.save(tmp_path / "index.usearch")
    loaded = HnswIndex.load(tmp_path / "index.usearch", 64, dtype=dtype)
    assert loaded.search(vectors[3], 1)[0][0] == 3
