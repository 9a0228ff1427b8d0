"""Catalog schema as numbered migrations; ``PRAGMA user_version`` records the last applied."""

from __future__ import annotations

import sqlite3

from revsearch.errors import CatalogSchemaError

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL UNIQUE,
        content_hash TEXT NOT NULL UNIQUE,
        class_name TEXT,
        make TEXT,
        model TEXT,
        body TEXT,
        year INTEGER,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        added_at TEXT NOT NULL,
        model_id TEXT NOT NULL
    );
    CREATE INDEX images_make ON images (make COLLATE NOCASE);
    CREATE INDEX images_year ON images (year);
    CREATE TABLE vectors (
        image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        model_id TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (image_id, model_id)
    ) WITHOUT ROWID;
    """,
    # A log of which images changed in which generation, so a loaded vector index (another
    # process's, or a saved HNSW file) catches up by applying deltas instead of a rebuild.
    """
    CREATE TABLE changes (
        generation INTEGER NOT NULL,
        image_id INTEGER NOT NULL,
        deleted INTEGER NOT NULL
    );
    CREATE INDEX changes_generation ON changes (generation);
    INSERT INTO meta SELECT 'changes_since', COALESCE(
        (SELECT value FROM meta WHERE key = 'generation'), '0');
    """,
    # Ids are never reused (AUTOINCREMENT): a deleted image's URL, cached by a browser or
    # proxy, or a stale DELETE, must never reach another image. SQLite cannot add
    # AUTOINCREMENT to a table, so it is rebuilt (foreign keys are off meanwhile, so the
    # vectors are not cascaded away). The sequence starts after every id still known:
    # current rows and deleted ones in the change log.
    """
    CREATE TABLE images_v3 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        source TEXT NOT NULL UNIQUE,
        content_hash TEXT NOT NULL UNIQUE,
        class_name TEXT,
        make TEXT,
        model TEXT,
        body TEXT,
        year INTEGER,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        added_at TEXT NOT NULL,
        model_id TEXT NOT NULL
    );
    INSERT INTO images_v3 SELECT id, source, content_hash, class_name, make, model, body, year,
        width, height, added_at, model_id FROM images;
    DROP TABLE images;
    ALTER TABLE images_v3 RENAME TO images;
    CREATE INDEX images_make ON images (make COLLATE NOCASE);
    CREATE INDEX images_year ON images (year);
    DELETE FROM sqlite_sequence WHERE name = 'images';
    INSERT INTO sqlite_sequence (name, seq) SELECT 'images', max(
        COALESCE((SELECT max(id) FROM images), 0),
        COALESCE((SELECT max(image_id) FROM changes), 0));
    """,
    # Users' verdicts on searches (revsearch.feedback). No reference to images: feedback
    # outlives a deleted image, and ids are never reused (v3), so result_id stays its own.
    """
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('up', 'down')),
        query_id TEXT,
        query_image INTEGER,
        photo TEXT,
        result_id INTEGER,
        result_class TEXT,
        class_name TEXT,
        predicted_class TEXT,
        CHECK ((query_id IS NULL) <> (query_image IS NULL))
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
# The oldest schema a read-only process can read as it is (it cannot migrate): v3 only
# changed how new ids are chosen, v4 added feedback (read as none where it is missing).
MIN_READABLE_VERSION = 2


def version(connection: sqlite3.Connection) -> int:
    return connection.execute("PRAGMA user_version").fetchone()[0]


def migrate(connection: sqlite3.Connection) -> None:
    """Apply pending migrations, each in its own transaction.

    Foreign keys are off while they run (a table rebuild must not cascade deletes) and are
    checked before each commit.
    """
    current = version(connection)
    _check_not_newer(current)
    if current == SCHEMA_VERSION:
        return
    connection.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction
    try:
        for step in range(current, SCHEMA_VERSION):
            try:
                # executescript leaves the transaction open (it only commits *before* it runs)
                connection.executescript(f"BEGIN IMMEDIATE; {MIGRATIONS[step]}")
                if connection.execute("PRAGMA foreign_key_check").fetchall():
                    raise CatalogSchemaError(f"catalog migration to v{step + 1} broke a reference")
                connection.execute(f"PRAGMA user_version = {step + 1}")
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
    finally:
        connection.execute("PRAGMA foreign_keys = ON")


def check_readable(connection: sqlite3.Connection) -> None:
    """For read-only use, which cannot migrate: is this schema one we can read as it is?"""
    current = version(connection)
    _check_not_newer(current)
    if current < MIN_READABLE_VERSION:
        raise CatalogSchemaError(
            f"catalog schema v{current} is too old to read without upgrading it, and this "
            "catalog is read-only: open it once with write access to upgrade it"
        )


def _check_not_newer(current: int) -> None:
    if current > SCHEMA_VERSION:
        raise CatalogSchemaError(
            f"catalog schema v{current} is newer than this RevSearch (v{SCHEMA_VERSION})"
        )
