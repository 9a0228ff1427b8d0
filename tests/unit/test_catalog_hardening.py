"""Catalog edge cases from issue 15: ids never reused (and the migration that makes it so),
ids outside 64 bits, read-only opening, and a rollback that never hides the real error."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from revsearch.catalog.catalog import DB_FILE, Catalog
from revsearch.catalog.db import CatalogDB
from revsearch.catalog.schema import MIGRATIONS, SCHEMA_VERSION
from revsearch.errors import DiskFullError, ReadOnlyCatalogError
from revsearch.index.embedded import HNSW_FILE, HNSW_STATE_FILE
from tests.support.rows import DIM, images
from tests.support.rows import unit_vectors as vectors
from tests.support.sqlite import sqlite_file


def test_ids_are_never_reused(catalog: Catalog) -> None:
    [(first, _), (last, _)] = catalog.upsert(images(2), vectors(2))
    catalog.remove([last])  # the highest id: SQLite's rowid would hand it out again
    [(again, status)] = catalog.upsert(images(1, start=10), vectors(1, seed=1))
    assert status == "added" and again > last > first
    assert catalog.get([last]) == {}


def build_v2_catalog(path: Path) -> None:
    """A catalog as RevSearch wrote it before ids were made unique (schema v2), with rows,
    vectors and a change log in which the highest id ever used is a deleted one."""
    db = sqlite3.connect(path, isolation_level=None)
    for step in MIGRATIONS[:2]:
        db.executescript(f"BEGIN; {step} COMMIT;")
    db.execute("PRAGMA user_version = 2")
    db.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [("model_id", "model-a"), ("embedding_dim", str(DIM)), ("generation", "3")],
    )
    for image_id in (1, 2, 3, 7):
        db.execute(
            "INSERT INTO images VALUES (?, ?, ?, 'Audi TTS Coupe 2012', 'Audi', 'TTS', 'Coupe', "
            "2012, 224, 224, '2026-01-01T00:00:00+00:00', 'model-a')",
            (image_id, f"/photos/{image_id}.jpg", f"hash-{image_id}"),
        )
        db.execute(
            "INSERT INTO vectors VALUES (?, 'model-a', ?)",
            (image_id, vectors(1, seed=image_id)[0].tobytes()),
        )
    db.execute("DELETE FROM images WHERE id = 7")  # foreign keys off: its vector stays...
    db.execute("DELETE FROM vectors WHERE image_id = 7")  # ...so remove it as RevSearch did
    db.executemany(
        "INSERT INTO changes VALUES (?, ?, ?)", [(1, 1, 0), (1, 2, 0), (2, 7, 0), (3, 7, 1)]
    )
    db.close()


def test_migration_to_unique_ids_keeps_every_row_and_vector(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    build_v2_catalog(path)
    with sqlite_file(path) as before:
        rows = before.execute("SELECT * FROM images ORDER BY id").fetchall()
        stored = before.execute("SELECT * FROM vectors ORDER BY image_id").fetchall()

    db = CatalogDB(path)
    try:
        assert db._writer.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        with sqlite_file(path) as after:
            assert after.execute("SELECT * FROM images ORDER BY id").fetchall() == rows
            assert after.execute("SELECT * FROM vectors ORDER BY image_id").fetchall() == stored
            assert after.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert after.execute("PRAGMA foreign_key_check").fetchall() == []
            table = after.execute("SELECT sql FROM sqlite_master WHERE name = 'images'").fetchone()
            assert "AUTOINCREMENT" in table[0]
            indexes = after.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'images'"
            ).fetchall()
            assert {("images_make",), ("images_year",)} <= set(indexes)
        assert db.changes_since(0) == ([1, 2], [7])  # the log survived too
        # New ids start after every id the catalog still knows of (7, in the change log).
        [(new_id, status)] = db.upsert(images(1, start=20), vectors(1), "model-a")
        assert status == "added" and new_id == 8
        # Deleting a row still deletes its vector (the foreign key survived the rebuild).
        db.delete([1])
        with sqlite_file(path) as after:
            assert (
                after.execute("SELECT count(*) FROM vectors WHERE image_id = 1").fetchone()[0] == 0
            )
    finally:
        db.close()


def test_ids_outside_64_bits_name_no_image(catalog: Catalog) -> None:
    catalog.upsert(images(1), vectors(1))
    for image_id in (2**63, -(2**63) - 1, 10**30):
        assert catalog.get([image_id]) == {}
        assert catalog.remove([image_id]) == 0
    assert len(catalog) == 1


def test_rollback_does_not_hide_the_real_error(catalog: Catalog) -> None:
    """SQLite rolls a transaction back by itself on a full disk; the ROLLBACK that follows
    used to fail with 'cannot rollback - no transaction is active' and hide it."""
    writer = catalog._db._writer

    def full_disk(outcome: object) -> None:
        writer.execute("ROLLBACK")  # what SQLite does itself on SQLITE_FULL
        raise sqlite3.OperationalError("database or disk is full")

    with pytest.raises(DiskFullError, match="disk full"):
        catalog._db.upsert(images(1), vectors(1), "model-a", before_commit=full_disk)
    assert len(catalog) == 0 and not writer.in_transaction
    catalog.upsert(images(1), vectors(1))  # and the catalog is still usable
    assert len(catalog) == 1


def test_a_read_only_open_reads_but_never_writes(tmp_path: Path) -> None:
    folder = tmp_path / "cat"
    with Catalog.open(folder, create=True, exact_search_limit=2) as writable:
        writable.bind_model("model-a", DIM)
        writable.upsert(images(5), vectors(5))
    (folder / HNSW_FILE).unlink(missing_ok=True)  # the saved index is missing: rebuilt
    (folder / HNSW_STATE_FILE).unlink(missing_ok=True)
    files = sorted(p.name for p in folder.iterdir())
    mtime = (folder / DB_FILE).stat().st_mtime_ns

    with Catalog.open(folder, read_only=True, exact_search_limit=2) as reader:
        assert reader.read_only and len(reader) == 5
        hits = reader.search(vectors(5)[2], 1)
        assert hits[0].record.source == "/photos/2.jpg"
        reader.save()  # a no-op, not an error
        np.testing.assert_array_equal(reader.vectors()[1], vectors(5))
        with pytest.raises(ReadOnlyCatalogError, match="read-only"):
            reader.upsert(images(1, start=9), vectors(1))
        with pytest.raises(ReadOnlyCatalogError):
            reader.remove([1])
    assert sorted(p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm"))) == [
        f for f in files if not f.endswith(("-wal", "-shm"))
    ]
    assert (folder / DB_FILE).stat().st_mtime_ns == mtime
    assert not (folder / HNSW_FILE).exists()
