"""The catalog's own operations for what callers used to do on its database directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from revsearch.catalog.catalog import Catalog
from revsearch.catalog.db import NewImage
from revsearch.errors import BadParameterError
from revsearch.index.base import Filters
from revsearch.sources import ImageSource, content_hash

DIM = 8


def opened(tmp_path: Path, n: int = 4) -> Catalog:
    catalog = Catalog.open(tmp_path / "cat", create=True)
    catalog.bind_model("model-a", DIM)
    vectors = np.eye(DIM, dtype=np.float32)[:n]
    catalog.upsert(
        [
            NewImage(f"/photos/{i}.jpg", f"hash-{i}", 10, 10, "Audi TTS Coupe 2012")
            for i in range(n)
        ],
        vectors,
    )
    return catalog


def test_lookups_and_relabel(tmp_path: Path) -> None:
    with opened(tmp_path) as catalog:
        assert catalog.find_hash("hash-2").source == "/photos/2.jpg"  # type: ignore[union-attr]
        assert catalog.find_source("/photos/3.jpg").id == 4  # type: ignore[union-attr]
        assert catalog.find_hash("nope") is None
        assert catalog.known_hashes() == {f"hash-{i}" for i in range(4)}
        assert catalog.known_hashes(among=["hash-1", "other"]) == {"hash-1"}
        assert catalog.known_hashes(among=[]) == set()
        before = catalog.generation
        catalog.relabel(1, "BMW M3 Coupe 2007")
        assert catalog.generation == before + 1
        assert catalog.get([1])[1].make == "BMW"
        assert [h.record.id for h in catalog.search(np.eye(DIM)[0], 4, Filters("bmw"))] == [1]


def test_staged_vectors_switch_the_model(tmp_path: Path) -> None:
    with opened(tmp_path) as catalog:
        assert catalog.missing_vectors("model-b") == [(i + 1, f"/photos/{i}.jpg") for i in range(4)]
        catalog.stage_vectors([1, 2, 3, 4], np.eye(DIM, dtype=np.float32)[4:], "model-b")
        assert catalog.missing_vectors("model-b") == []
        catalog.switch_model("model-b", DIM)
        ids, matrix = catalog.vectors()
        assert catalog.model_id == "model-b" and ids.tolist() == [1, 2, 3, 4]
        np.testing.assert_array_equal(matrix, np.eye(DIM, dtype=np.float32)[4:])


def test_filters_are_checked_where_they_are_made() -> None:
    assert Filters(make="").make is None and not Filters(make="")
    with pytest.raises(BadParameterError, match="after year_max"):
        Filters(year_min=2012, year_max=2000)


def test_a_source_with_its_bytes_brings_its_hash() -> None:
    data = b"bytes of a photo"
    assert ImageSource("s3://b/k.jpg", data=data, content_hash=content_hash(data)).known_hash
    assert ImageSource("/a.jpg", content_hash="abc").known_hash is None  # no bytes: read them
