"""Milvus stays in step with SQLite: the recorded generation, crashes, lost data, other writers."""

from __future__ import annotations

from pathlib import Path

import pytest

from revsearch.catalog.catalog import Catalog
from revsearch.errors import BackendUnavailableError
from revsearch.index.base import Filters, VectorRow
from tests.backends.milvus_server import MilvusServer, milvus_unavailable
from tests.support.rows import DIM, ids_of, images
from tests.support.rows import unit_vectors as unit

try:
    from revsearch.index.milvus import GENERATION_KEY, MODEL_KEY, PENDING_KEY, MilvusBackend
except ImportError as missing:  # skip locally, fail on CI
    milvus_unavailable(f"the 'milvus' extra is not installed ({missing})")


@pytest.fixture
def url(milvus: MilvusServer) -> str:
    return milvus.url()


def open_catalog(path: Path, url: str, *, create: bool = False) -> Catalog:
    return Catalog.open(path, create=create, vector_backend=url)


def filled(path: Path, url: str, n: int = 30) -> Catalog:
    catalog = open_catalog(path, url, create=True)
    catalog.bind_model("model-a", DIM)
    catalog.upsert(images(n), unit(n))
    return catalog


def properties(milvus: MilvusServer, url: str) -> dict:
    collection = url.rsplit("/", 1)[1].split("?")[0]
    client = milvus.client()
    try:
        return client.describe_collection(collection)["properties"]
    finally:
        client.close()


def milvus_ids(milvus: MilvusServer, url: str) -> set[int]:
    collection = url.rsplit("/", 1)[1].split("?")[0]
    client = milvus.client()
    try:
        return {row["id"] for row in client.query(collection, filter="id >= 0", limit=10_000)}
    finally:
        client.close()


def test_the_collection_records_the_generation_it_holds(
    milvus: MilvusServer, url: str, tmp_path: Path
) -> None:
    with filled(tmp_path / "cat", url) as catalog:
        catalog.remove([3])
        props = properties(milvus, url)
        assert props[GENERATION_KEY] == str(catalog.generation)
        assert int(props[PENDING_KEY]) <= catalog.generation
        assert props[MODEL_KEY] == "model-a"
        assert milvus_ids(milvus, url) == set(range(1, 31)) - {3}
        stats = catalog.stats()
        assert stats["vector_backend"] == "milvus" and stats["index_kind"] == "hnsw"


def test_a_crash_between_the_milvus_write_and_the_sqlite_commit_is_repaired(
    milvus: MilvusServer, url: str, tmp_path: Path
) -> None:
    vecs = unit(40)
    with filled(tmp_path / "cat", url) as catalog:
        backend = catalog.backend
        assert isinstance(backend, MilvusBackend)
        # What a process leaves behind when it dies after ``stage`` and before COMMIT: a new
        # id, a replaced vector and a deletion that SQLite never saw.
        backend.stage([VectorRow(31, vecs[35]), VectorRow(5, vecs[36])], [7])
        generation = catalog.generation
    assert milvus_ids(milvus, url) == (set(range(1, 32)) - {7})
    with open_catalog(tmp_path / "cat", url) as restarted:
        assert restarted.generation == generation and len(restarted) == 30
        assert ids_of(restarted.search(vecs[4], 1)) == [5]  # its own vector is back
        assert all(h.score < 0.99 for h in restarted.search(vecs[36], 5))
        assert 7 in ids_of(restarted.search(vecs[6], 3))
        assert milvus_ids(milvus, url) == set(range(1, 31))  # the ghost id is gone
        props = properties(milvus, url)
        assert props[GENERATION_KEY] == str(generation) and int(props[PENDING_KEY]) <= generation


def test_writes_that_bypass_the_backend_are_caught_up_from_the_change_log(
    url: str, tmp_path: Path
) -> None:
    vecs = unit(30)
    with filled(tmp_path / "cat", url) as catalog:
        assert catalog.search(vecs[0], 3, Filters(make="bmw")) == []
        # `revsearch add --class-name` relabels through SQLite only.
        relabel = "BMW M3 Coupe 2007"
        catalog.relabel(1, relabel)
        assert ids_of(catalog.search(vecs[0], 3, Filters(make="bmw"))) == [1]
        assert ids_of(catalog.search(vecs[0], 3, Filters(year_max=2008))) == [1]


def test_without_a_change_log_a_full_resync_repairs_milvus(url: str, tmp_path: Path) -> None:
    vecs = unit(30)
    with filled(tmp_path / "cat", url) as catalog:
        catalog.search(vecs[0], 1)
        catalog.save()  # prunes the log up to what Milvus holds
    with Catalog.open(tmp_path / "cat") as embedded:  # a writer that does not use Milvus
        relabel = "BMW M3 Coupe 2007"
        embedded.relabel(2, relabel)
        embedded.remove([4])
        embedded._db.prune_changes(embedded.generation)  # the log no longer reaches back
    with open_catalog(tmp_path / "cat", url) as catalog:
        assert ids_of(catalog.search(vecs[1], 3, Filters(make="BMW"))) == [2]
        assert 4 not in ids_of(catalog.search(vecs[3], 30))


def test_lost_milvus_data_is_rebuilt_from_sqlite(
    milvus: MilvusServer, url: str, tmp_path: Path
) -> None:
    vecs = unit(30)
    with filled(tmp_path / "cat", url) as catalog:
        assert ids_of(catalog.search(vecs[9], 1)) == [10]
    client = milvus.client()
    client.drop_collection(url.rsplit("/", 1)[1].split("?")[0])
    client.close()
    with open_catalog(tmp_path / "cat", url) as catalog:
        assert ids_of(catalog.search(vecs[9], 1)) == [10]
        assert len(catalog.backend) == 30


def test_a_collection_not_made_by_revsearch_is_left_alone(
    milvus: MilvusServer, tmp_path: Path
) -> None:
    client = milvus.client()
    client.create_collection("foreign_data", dimension=DIM)
    client.insert("foreign_data", [{"id": 1, "vector": unit(1)[0].tolist()}])
    url = milvus.url("foreign_data")
    try:
        with open_catalog(tmp_path / "cat", url, create=True) as catalog:
            catalog.bind_model("model-a", DIM)
            with pytest.raises(BackendUnavailableError, match="not made by RevSearch"):
                catalog.upsert(images(2), unit(2))
            assert len(catalog) == 0
        assert client.get_collection_stats("foreign_data")["row_count"] == 1
    finally:
        client.drop_collection("foreign_data")
        client.close()
