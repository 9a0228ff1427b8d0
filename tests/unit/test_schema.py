"""Catalog schema migrations (revsearch.catalog.schema): a catalog written by any older
RevSearch is brought to the current schema on its first writable open, with every row,
vector and setting kept; a failed step changes nothing; a newer schema is refused."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from revsearch.catalog import schema
from revsearch.catalog.catalog import DB_FILE, Catalog
from revsearch.catalog.db import CatalogDB
from revsearch.catalog.schema import MIGRATIONS, SCHEMA_VERSION, check_readable, migrate
from revsearch.errors import RevSearchError
from tests.support.rows import DIM, images, unit_vectors

IDS = (1, 2, 3, 5)
VECTORS = unit_vectors(len(IDS), seed=3)
# Every column of ``images`` from v1 on, for the rows written at an old version.
IMAGE_ROW = (
    "INSERT INTO images VALUES (?, ?, ?, 'Audi TTS Coupe 2012', 'Audi', 'TTS', 'Coupe', 2012, "
    "224, 224, '2025-06-01T00:00:00+00:00', 'model-a')"
)


def old_catalog(path: Path, version: int) -> None:
    """A catalog database as RevSearch wrote it at schema ``version`` (0: an empty file),
    with images, their vectors and the model settings from v1 on."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        for step in MIGRATIONS[:version]:
            db.executescript(f"BEGIN; {step} COMMIT;")
        db.execute(f"PRAGMA user_version = {version}")
        if version == 0:
            return
        db.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [("model_id", "model-a"), ("embedding_dim", str(DIM)), ("generation", "4")],
        )
        for image_id, vector in zip(IDS, VECTORS, strict=True):
            db.execute(IMAGE_ROW, (image_id, f"/photos/{image_id}.jpg", f"hash-{image_id}"))
            db.execute("INSERT INTO vectors VALUES (?, 'model-a', ?)", (image_id, vector.tobytes()))


def contents(path: Path) -> tuple[list[tuple], list[tuple], dict[str, str]]:
    """(images, vectors, meta) straight from the file."""
    with closing(sqlite3.connect(path)) as db:
        images = db.execute("SELECT * FROM images ORDER BY id").fetchall()
        vectors = db.execute("SELECT * FROM vectors ORDER BY image_id").fetchall()
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    return images, vectors, meta


def user_version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


def test_versions_are_the_migrations() -> None:
    assert SCHEMA_VERSION == len(MIGRATIONS) >= 3
    assert 1 <= schema.MIN_READABLE_VERSION <= SCHEMA_VERSION


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_an_older_catalog_is_migrated_to_the_current_schema_with_its_data(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / "catalog.sqlite"
    old_catalog(path, version)
    images, vectors, meta = contents(path)

    with closing(CatalogDB(path)) as db:
        assert db.model() == ("model-a", DIM)
        assert db.count() == len(IDS)
        ids, matrix = db.vectors("model-a", DIM)
        np.testing.assert_array_equal(ids, IDS)
        np.testing.assert_array_equal(matrix, VECTORS)
        assert db.changes_since(4) == ([], [])  # the change log (v2) is there, and empty

    assert user_version(path) == SCHEMA_VERSION
    after_images, after_vectors, after_meta = contents(path)
    assert after_images == images and after_vectors == vectors
    if version < 2:  # the log starts at the generation the catalog had reached
        meta = {**meta, "changes_since": "4"}
    assert after_meta == meta
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        table = db.execute("SELECT sql FROM sqlite_master WHERE name = 'images'").fetchone()[0]
        assert "AUTOINCREMENT" in table
        (sequence,) = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'images'").fetchone()
        assert sequence == max(IDS)


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_a_migrated_catalog_opens_and_searches(tmp_path: Path, version: int) -> None:
    folder = tmp_path / "cat"
    folder.mkdir()
    old_catalog(folder / DB_FILE, version)
    with Catalog.open(folder) as catalog:
        assert len(catalog) == len(IDS)
        (hit,) = catalog.search(VECTORS[2], 1)
        assert hit.record.id == IDS[2] and hit.score == pytest.approx(1.0, abs=1e-4)
        # New ids follow the highest one the old catalog used (AUTOINCREMENT from v3 on).
        [(new_id, status)] = catalog.upsert(images(1, start=50), unit_vectors(1, seed=9))
        assert status == "added" and new_id == max(IDS) + 1
    assert user_version(folder / DB_FILE) == SCHEMA_VERSION


def test_an_empty_file_gets_the_whole_schema(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    old_catalog(path, 0)
    with closing(CatalogDB(path)) as db:
        assert db.count() == 0 and db.model() == ("", 0)
    assert user_version(path) == SCHEMA_VERSION


def test_migrating_a_current_catalog_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    old_catalog(path, SCHEMA_VERSION)
    before = contents(path)
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        migrate(db)
        migrate(db)
    assert contents(path) == before and user_version(path) == SCHEMA_VERSION


FAILING_STEPS = {
    "an SQL error": (
        "CREATE TABLE half_done (x INTEGER); INSERT INTO no_such_table VALUES (1);",
        sqlite3.OperationalError,
        "no_such_table",
    ),
    "a broken reference": (  # foreign keys are off while a step runs, checked before commit
        "CREATE TABLE half_done (x INTEGER); INSERT INTO vectors VALUES (999, 'model-a', x'00');",
        RevSearchError,
        f"v{SCHEMA_VERSION + 1} broke a reference",
    ),
}


@pytest.mark.parametrize("case", FAILING_STEPS)
def test_a_failed_step_is_rolled_back_and_leaves_the_last_good_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    step, error, message = FAILING_STEPS[case]
    path = tmp_path / "catalog.sqlite"
    old_catalog(path, SCHEMA_VERSION)
    before = contents(path)
    monkeypatch.setattr(schema, "MIGRATIONS", (*MIGRATIONS, step))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        with pytest.raises(error, match=message):
            migrate(db)
        assert not db.in_transaction
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert "half_done" not in tables
    assert user_version(path) == SCHEMA_VERSION and contents(path) == before


def test_a_newer_schema_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    old_catalog(path, SCHEMA_VERSION)
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = contents(path)
    with pytest.raises(RevSearchError, match="newer than this RevSearch"):
        CatalogDB(path)
    with pytest.raises(RevSearchError, match="newer than this RevSearch"):
        CatalogDB(path, read_only=True)
    assert user_version(path) == SCHEMA_VERSION + 1 and contents(path) == before


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION + 1))
def test_read_only_opening_never_migrates(tmp_path: Path, version: int) -> None:
    """A read-only process reads schemas from MIN_READABLE_VERSION on as they are, and
    refuses older ones (it cannot upgrade them)."""
    path = tmp_path / "catalog.sqlite"
    old_catalog(path, version)
    if version < schema.MIN_READABLE_VERSION:
        with pytest.raises(RevSearchError, match="too old to read"):
            CatalogDB(path, read_only=True)
    else:
        with closing(CatalogDB(path, read_only=True)) as db:
            assert db.count() == len(IDS)
            np.testing.assert_array_equal(db.vectors("model-a", DIM)[1], VECTORS)
    with closing(sqlite3.connect(path)) as db:
        if version < schema.MIN_READABLE_VERSION:
            with pytest.raises(RevSearchError, match="too old"):
                check_readable(db)
        else:
            check_readable(db)
    assert user_version(path) == version
