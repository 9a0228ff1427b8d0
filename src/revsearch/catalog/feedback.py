"""Feedback rows in the catalog's SQLite: what users said about searches (SQL only).

Only :class:`revsearch.catalog.db.CatalogDB` calls these, inside its own transactions and
reader connections; the rest of the code goes through :class:`revsearch.catalog.catalog.Catalog`.
Feedback is not part of what a search sees, so writing it never bumps the catalog's
generation (no vector index or cached page has to notice).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, fields

TABLE = "feedback"


@dataclass(frozen=True)
class NewFeedback:
    """One verdict, checked and ready to store (see :mod:`revsearch.feedback.record`).

    ``query_id``: an uploaded search, or ``query_image``: a "more like this" search from that
    catalog image (exactly one of them). ``result_id`` None: the verdict is on the answer
    (the predicted class), else on that result, whose class then was ``result_class``.
    ``photo``: the kept upload, relative to the catalog folder (``feedback/<sha256>.<ext>``).
    """

    verdict: str  # "up" | "down"
    query_id: str | None = None
    query_image: int | None = None
    photo: str | None = None
    result_id: int | None = None
    result_class: str | None = None
    class_name: str | None = None  # the class the user named (a correction, or a confirmation)
    predicted_class: str | None = None  # the answer the page showed


@dataclass(frozen=True)
class FeedbackRecord:
    id: int
    created_at: str
    verdict: str
    query_id: str | None
    query_image: int | None
    photo: str | None
    result_id: int | None
    result_class: str | None
    class_name: str | None
    predicted_class: str | None

    @property
    def on_answer(self) -> bool:
        return self.result_id is None


NEW_COLUMNS = [f.name for f in fields(NewFeedback)]
COLUMNS = ", ".join(f.name for f in fields(FeedbackRecord))


def insert(db: sqlite3.Connection, feedback: NewFeedback, created_at: str) -> int:
    marks = ", ".join("?" * (len(NEW_COLUMNS) + 1))
    cursor = db.execute(
        f"INSERT INTO {TABLE} (created_at, {', '.join(NEW_COLUMNS)}) VALUES ({marks})",
        (created_at, *(getattr(feedback, name) for name in NEW_COLUMNS)),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def select_all(db: sqlite3.Connection) -> list[FeedbackRecord]:
    """Every row, oldest first; none from a catalog older than the table (a read-only
    process reads such schemas as they are, unmigrated)."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (TABLE,)).fetchone():
        return []
    rows = db.execute(f"SELECT {COLUMNS} FROM {TABLE} ORDER BY id").fetchall()
    return [FeedbackRecord(*row) for row in rows]


def class_exists(db: sqlite3.Connection, class_name: str) -> bool:
    """Does some catalog image carry this label (exactly)?"""
    row = db.execute("SELECT 1 FROM images WHERE class_name = ? LIMIT 1", (class_name,))
    return row.fetchone() is not None
