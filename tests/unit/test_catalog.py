from __future__ import annotations

import json
from pathlib import Path

import pytest

from revsearch.catalog.catalog import Catalog
from revsearch.catalog.db import NewImage
from revsearch.config import DEFAULT_SEARCH_EF
from revsearch.errors import (
    BadParameterError,
    CatalogNotFoundError,
    EmptyCatalogError,
    ModelMismatchError,
)
from revsearch.index.base import Filters
from revsearch.index.embedded import HNSW_FILE, HNSW_STATE_FILE
from tests.support.rows import DIM, images
from tests.support.rows import unit_vectors as vectors
from tests.support.sqlite import sqlite_file


def test_open_missing_catalog_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogNotFoundError, match="revsearch index"):
        Catalog.open(tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()


def test_upsert_reports_added_duplicate_updated(catalog: Catalog) -> None:
    vecs = vectors(3)
    assert [s for _, s in catalog.upsert(images(2), vecs[:2])] == ["added", "added"]
    # Same bytes under another name: a duplicate, not indexed twice.
    dup = NewImage("/elsewhere/copy.jpg", "hash-0", 224, 224)
    assert catalog.upsert([dup], vecs[:1])[0][1] == "duplicate"
    # Same source, new content: replaced in place, same id.
    changed = NewImage("/photos/1.jpg", "hash-new", 100, 80)
    ((image_id, status),) = catalog.upsert([changed], vecs[2:3])
    assert status == "updated" and image_id == 2
    assert len(catalog) == 2
    record = catalog.get([2])[2]
    assert (record.content_hash, record.width, record.height) == ("hash-new", 100, 80)
    hits = catalog.search(vecs[2], 1)
    assert hits[0].record.id == 2 and hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_model_guard(catalog: Catalog) -> None:
    catalog.bind_model("model-a", DIM)  # same model: fine
    with pytest.raises(ModelMismatchError, match="reindex"):
        catalog.bind_model("model-b", DIM)


def test_remove(catalog: Catalog) -> None:
    vecs = vectors(5)
    catalog.upsert(images(5), vecs)
    catalog.search(vecs[0], 1)  # load the index, so removal must update it
    assert catalog.remove([1, 2]) == 2
    assert len(catalog) == 3
    assert {h.record.id for h in catalog.search(vecs[0], 10)} == {3, 4, 5}
    with sqlite_file(catalog.path / "catalog.sqlite") as db:
        assert db.execute("SELECT count(*) FROM vectors").fetchone()[0] == 3


def test_filters(catalog: Catalog) -> None:
    vecs = vectors(6)
    catalog.upsert(images(3, 0, "Audi TTS Coupe 2012"), vecs[:3])
    catalog.upsert(images(3, 3, "BMW M3 Coupe 2007"), vecs[3:])
    assert {h.record.make for h in catalog.search(vecs[0], 6, Filters(make="bmw"))} == {"BMW"}
    assert {h.record.year for h in catalog.search(vecs[0], 6, Filters(year_max=2010))} == {2007}
    assert catalog.search(vecs[0], 6, Filters(year_min=2013)) == []


def test_switches_to_hnsw_above_the_limit_and_persists_it(catalog: Catalog) -> None:
    vecs = vectors(120)
    catalog.upsert(images(40), vecs[:40])
    assert catalog.vector_index().kind == "exact"
    catalog.upsert(images(80, 40), vecs[40:])
    assert catalog.vector_index().kind == "hnsw"
    catalog.save()
    state = json.loads((catalog.path / HNSW_STATE_FILE).read_text())
    assert state["generation"] == catalog.generation and state["count"] == 120
    # A new process loads the saved file and finds the same neighbours.
    with Catalog.open(catalog.path, exact_search_limit=50) as again:
        assert again.search(vecs[77], 1)[0].record.id == 78


def test_stale_or_damaged_hnsw_file_is_rebuilt(catalog: Catalog) -> None:
    vecs = vectors(100)
    catalog.upsert(images(100), vecs)
    catalog.vector_index()
    catalog.save()
    # Another writer changes the catalog after the index was saved.
    with Catalog.open(catalog.path, exact_search_limit=50) as other:
        other.remove([5])
    (catalog.path / HNSW_FILE).write_bytes(b"garbage")
    with Catalog.open(catalog.path, exact_search_limit=50) as fresh:
        assert len(fresh.vector_index()) == 99
        assert fresh.search(vecs[10], 1)[0].record.id == 11
    # The long-lived instance notices the other writer too.
    assert len(catalog.vector_index()) == 99
    assert 5 not in {h.record.id for h in catalog.search(vecs[4], 10)}


def test_failed_batch_writes_nothing(catalog: Catalog) -> None:
    before = (len(catalog), catalog.generation)
    with pytest.raises(ValueError):  # 3 images, 2 vectors: fails mid-batch
        catalog.upsert(images(3), vectors(2))
    assert (len(catalog), catalog.generation) == before


def test_stats(catalog: Catalog) -> None:
    catalog.upsert(images(3), vectors(3))
    stats = catalog.stats()
    assert stats["images"] == 3 and stats["model_id"] == "model-a"
    assert stats["index_kind"] == "exact" and stats["embedding_dim"] == DIM


def test_other_writers_are_replayed_from_the_change_log(catalog: Catalog) -> None:
    vecs = vectors(130)
    catalog.upsert(images(100), vecs[:100])
    index = catalog.vector_index()
    assert index.kind == "hnsw"
    with Catalog.open(catalog.path, exact_search_limit=50) as other:
        other.upsert(images(30, 100), vecs[100:])
        other.remove([1, 2])
        other.relabel(3, "BMW M3 Coupe 2007")
    # Same index object, caught up by deltas rather than rebuilt.
    assert catalog.vector_index() is index and len(index) == 128
    assert catalog.search(vecs[120], 1)[0].record.id == 121
    assert {h.record.id for h in catalog.search(vecs[0], 5)}.isdisjoint({1, 2})
    assert catalog.search(vecs[2], 1, Filters(make="BMW"))[0].record.id == 3


def test_saved_index_is_loaded_and_replayed_not_rebuilt(catalog: Catalog) -> None:
    vecs = vectors(110)
    catalog.upsert(images(100), vecs[:100])
    catalog.vector_index()
    catalog.save()
    saved = json.loads((catalog.path / HNSW_STATE_FILE).read_text())
    catalog.upsert(images(10, 100), vecs[100:])
    catalog.save(force=False)  # 10 changes: cheap to replay, the file is not rewritten
    assert json.loads((catalog.path / HNSW_STATE_FILE).read_text()) == saved
    with Catalog.open(catalog.path, exact_search_limit=50) as fresh:
        assert len(fresh.vector_index()) == 110
        assert fresh.search(vecs[105], 1)[0].record.id == 106
    catalog.save()  # forced: the file catches up and the log is pruned
    assert json.loads((catalog.path / HNSW_STATE_FILE).read_text())["count"] == 110
    assert catalog._db.changes_since(saved["generation"]) is None


def test_model_switch_forces_a_rebuild(catalog: Catalog) -> None:
    vecs = vectors(60)
    catalog.upsert(images(60), vecs)
    catalog.vector_index()
    catalog.stage_vectors(list(range(1, 61)), vectors(60, seed=9), "model-b")
    catalog.switch_model("model-b", DIM)
    assert catalog._db.changes_since(0) is None
    assert catalog.search(vectors(60, seed=9)[7], 1)[0].record.id == 8


def test_hnsw_is_stored_in_half_precision(catalog: Catalog) -> None:
    vecs = vectors(80)
    catalog.upsert(images(80), vecs)
    index = catalog.vector_index()
    assert index.kind == "hnsw" and index.dtype == "f16"
    catalog.save()
    assert json.loads((catalog.path / HNSW_STATE_FILE).read_text())["dtype"] == "f16"
    with Catalog.open(catalog.path, exact_search_limit=50) as again:
        hit = again.search(vecs[33], 1)[0]
        assert hit.record.id == 34 and hit.score == pytest.approx(1.0, abs=1e-3)


def test_hnsw_search_breadth_is_the_configured_one_also_when_loaded(catalog: Catalog) -> None:
    vecs = vectors(80)
    catalog.upsert(images(80), vecs)
    assert catalog.vector_index().expansion_search == DEFAULT_SEARCH_EF
    catalog.save()
    with Catalog.open(catalog.path, exact_search_limit=50, search_ef=7) as again:
        assert again.search(vecs[5], 1)[0].record.id == 6
        assert again.vector_index().expansion_search == 7


def test_search_of_a_catalog_that_never_indexed_anything(tmp_path: Path) -> None:
    with Catalog.open(tmp_path / "empty", create=True) as empty:
        assert empty.search(vectors(1)[0], 5) == []


def test_writing_to_a_catalog_with_no_model_is_a_conflict_not_a_crash(tmp_path: Path) -> None:
    with (
        Catalog.open(tmp_path / "empty", create=True) as empty,
        pytest.raises(EmptyCatalogError, match="is empty: index some images first"),
    ):
        empty.upsert(images(1), vectors(1))
    assert EmptyCatalogError.http_status == 409


def test_a_catalog_path_that_is_a_file_is_a_bad_parameter(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(BadParameterError, match="exists and is not a folder"):
        Catalog.open(tmp_path / "file", create=True)
