"""Looking at a catalog's SQLite file straight, behind RevSearch's back."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path


@contextmanager
def sqlite_file(path: Path, **options: object) -> Iterator[sqlite3.Connection]:
    """``with sqlite3.connect(...)`` commits (or rolls back) but never closes the connection;
    this does both, so no connection is left for the garbage collector."""
    with closing(sqlite3.connect(path, **options)) as db, db:  # type: ignore[arg-type]
        yield db
