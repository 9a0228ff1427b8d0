"""One behaviour suite for every vector backend, driven through the Catalog as the app uses it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from revsearch.catalog.catalog import Catalog
from revsearch.catalog.db import NewImage
from revsearch.errors import ModelMismatchError
from revsearch.index.base import Filters
from revsearch.vehicles import Vehicle, parse_class_name
from tests.backends.conftest import Backend
from tests.support.rows import DIM, ids_of, images
from tests.support.rows import unit_vectors as unit

ODD_MAKE = "Mc\"Laren's \\ Ünique"  # quotes, a backslash and a non-ASCII letter


@pytest.fixture
def catalog(backend: Backend, tmp_path: Path) -> Iterator[Catalog]:
    cat = backend.open(tmp_path / "cat", create=True)
    cat.bind_model("model-a", DIM)
    yield cat
    cat.close()


def test_add_update_delete(catalog: Catalog) -> None:
    vecs = unit(40)
    assert {status for _, status in catalog.upsert(images(30), vecs[:30])} == {"added"}
    (hit,) = catalog.search(vecs[7], 1)
    assert hit.record.id == 8 and hit.score == pytest.approx(1.0, abs=1e-4)
    # Same source, new content: the row keeps its id and its vector is replaced.
    changed = NewImage("/photos/7.jpg", "hash-new", 100, 80, "BMW M3 Coupe 2007",
                       parse_class_name("BMW M3 Coupe 2007"))  # fmt: skip
    assert catalog.upsert([changed], vecs[35:36]) == [(8, "updated")]
    (hit,) = catalog.search(vecs[35], 1)
    assert hit.record.id == 8 and hit.score == pytest.approx(1.0, abs=1e-4)
    assert all(h.score < 0.99 for h in catalog.search(vecs[7], 5))  # the old vector is gone
    # and its filter fields moved
    assert ids_of(catalog.search(vecs[35], 1, Filters(make="bmw"))) == [8]
    assert catalog.remove([8, 9, 999]) == 2
    remaining = ids_of(catalog.search(vecs[35], 40))
    assert len(catalog) == 28 and len(remaining) == 28 and not {8, 9} & set(remaining)


def test_top_k_is_ordered_with_cosine_scores(catalog: Catalog) -> None:
    vecs = unit(300)
    catalog.upsert(images(300), vecs)
    found = 0
    for query in unit(20, seed=1):
        hits = catalog.search(query, 10)
        scores = np.array([h.score for h in hits])
        assert len(hits) == 10 and np.all(np.diff(scores) <= 1e-6)
        assert np.all((scores >= -1.0) & (scores <= 1.0))
        ids = np.array(ids_of(hits))
        # The embedded HNSW stores half-precision vectors: scores good to about 1e-3.
        half = getattr(catalog.vector_index(), "dtype", "f32") == "f16"
        tolerance = 2e-3 if half else 1e-4
        np.testing.assert_allclose(scores, vecs[ids - 1] @ query, atol=tolerance)
        found += len(set(ids.tolist()) & set((np.argsort(-(vecs @ query))[:10] + 1).tolist()))
    assert found / 200 >= 0.95


def test_filters_on_make_and_year(catalog: Catalog) -> None:
    vecs = unit(28)
    catalog.upsert(images(10, 0, "Audi TTS Coupe 2012"), vecs[:10])  # ids 1-10
    catalog.upsert(images(10, 10, "BMW M3 Coupe 2007"), vecs[10:20])  # ids 11-20
    catalog.upsert(images(5, 20, None), vecs[20:25])  # ids 21-25: unknown make and year
    catalog.upsert(images(3, 25, "odd", Vehicle(make=ODD_MAKE, year=2010)), vecs[25:])
    query = vecs[0]
    for make in ("bmw", "BMW", "bMw"):
        assert sorted(ids_of(catalog.search(query, 30, Filters(make=make)))) == list(range(11, 21))
    assert sorted(ids_of(catalog.search(query, 30, Filters(make=ODD_MAKE.upper())))) == [26, 27, 28]
    assert catalog.search(query, 30, Filters(make="nope")) == []
    # no expression injection
    assert catalog.search(query, 30, Filters(make='" or make != "')) == []
    newer = [*range(1, 11), 26, 27, 28]
    assert sorted(ids_of(catalog.search(query, 30, Filters(year_min=2008)))) == newer
    # Unknown years match no year range, on either side.
    assert sorted(ids_of(catalog.search(query, 30, Filters(year_max=2009)))) == list(range(11, 21))
    both = Filters(year_min=2008, year_max=2011)
    assert sorted(ids_of(catalog.search(query, 30, both))) == [26, 27, 28]
    assert catalog.search(query, 30, Filters(make="audi", year_max=2010)) == []
    hits = catalog.search(vecs[12], 3, Filters(make="BMW", year_min=2007, year_max=2007))
    assert ids_of(hits)[0] == 13 and {h.record.make for h in hits} == {"BMW"}


def test_k_larger_than_the_catalog(catalog: Catalog) -> None:
    vecs = unit(3)
    catalog.upsert(images(3), vecs)
    assert sorted(ids_of(catalog.search(vecs[0], 50))) == [1, 2, 3]


def test_empty_results(backend: Backend, tmp_path: Path) -> None:
    query = unit(1)[0]
    with backend.open(tmp_path / "cat", create=True) as cat:
        cat.bind_model("model-a", DIM)
        assert cat.search(query, 5) == []
        cat.upsert(images(4), unit(4))
        assert cat.remove([1, 2, 3, 4]) == 4
        assert cat.search(query, 5) == [] and len(cat) == 0


def test_reindex_switches_model_behind_a_guard(catalog: Catalog) -> None:
    old = unit(50)
    catalog.upsert(images(50), old)
    assert ids_of(catalog.search(old[3], 1)) == [4]
    new = unit(50, seed=9, dim=8)  # another model, another dimension
    catalog.stage_vectors(list(range(1, 51)), new, "model-b")
    assert ids_of(catalog.search(old[3], 1)) == [4]  # searches use model-a until the switch
    catalog.switch_model("model-b", 8)
    catalog.vector_index()
    (hit,) = catalog.search(new[3], 1)
    assert hit.record.id == 4 and hit.score == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ModelMismatchError):
        catalog.bind_model("model-a", DIM)
    assert catalog.stats()["embedding_dim"] == 8


def test_persists_across_reopen(backend: Backend, tmp_path: Path) -> None:
    vecs = unit(100)
    with backend.open(tmp_path / "cat", create=True) as cat:
        cat.bind_model("model-a", DIM)
        cat.upsert(images(100), vecs)
        cat.vector_index()
        cat.save()
    with backend.open(tmp_path / "cat") as again:
        assert len(again) == 100
        assert ids_of(again.search(vecs[42], 1)) == [43]
        assert again.stats()["vector_backend"] == backend.url.split(":")[0]


def test_writes_of_another_instance_are_seen(backend: Backend, tmp_path: Path) -> None:
    vecs = unit(25)
    with backend.open(tmp_path / "cat", create=True) as first:
        first.bind_model("model-a", DIM)
        first.upsert(images(20), vecs[:20])
        assert ids_of(first.search(vecs[0], 1)) == [1]
        with backend.open(tmp_path / "cat") as second:  # e.g. `revsearch add` beside `serve`
            second.upsert(images(5, 20), vecs[20:])
            second.remove([1])
        assert ids_of(first.search(vecs[22], 1)) == [23]
        assert 1 not in ids_of(first.search(vecs[0], 25))
