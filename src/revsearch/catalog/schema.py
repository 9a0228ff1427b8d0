"""Catalog schema as numbered migrations; ``PRAGMA user_version`` records the last applied."""

from __future__ import annotations

import sqlite3

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
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(connection: sqlite3.Connection) -> None:
    """Apply pending migrations, each in its own transaction."""
    current = connection.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        from revsearch.errors import RevSearchError

        raise RevSearchError(
            f"catalog schema v{current} is newer than this RevSearch (v{SCHEMA_VERSION})"
        )
    for version in range(current, SCHEMA_VERSION):
        connection.executescript(
            f"BEGIN IMMEDIATE; {MIGRATIONS[version]} PRAGMA user_version = {version + 1}; COMMIT;"
        )
