"""SQLite access for the catalog: SQL only, typed rows, one writer and per-thread readers.

WAL mode lets readers (search requests) run while a writer (indexing) commits; every write
is one ``BEGIN IMMEDIATE`` transaction, so a killed process leaves either all of a batch or
none of it. The database is the source of truth: vector indexes are rebuilt from it.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from revsearch.catalog.schema import migrate
from revsearch.vehicles import Vehicle


@dataclass(frozen=True)
class ImageRecord:
    id: int
    source: str
    content_hash: str
    class_name: str | None
    make: str | None
    model: str | None
    body: str | None
    year: int | None
    width: int
    height: int
    added_at: str
    model_id: str


@dataclass(frozen=True)
class NewImage:
    """An image ready to be stored: where it came from, what it is, and its size."""

    source: str
    content_hash: str
    width: int
    height: int
    class_name: str | None = None
    vehicle: Vehicle = field(default_factory=Vehicle)


UPSERT_META = (
    "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
COLUMNS = ", ".join(f.name for f in fields(ImageRecord))


class CatalogDB:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._write_lock = threading.Lock()
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._connections: list[sqlite3.Connection] = []
        self._writer = self._connect()
        self._writer.execute("PRAGMA journal_mode = WAL")
        migrate(self._writer)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("PRAGMA synchronous = FULL")
        self._connections.append(connection)
        return connection

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """Borrow a reader connection: a pool sized by peak concurrency, never per thread
        (a server's worker threads come and go; per-thread connections would leak)."""
        try:
            connection = self._idle.get_nowait()
        except queue.Empty:
            connection = self._connect()
        try:
            yield connection
        finally:
            self._idle.put(connection)

    def close(self) -> None:
        for connection in self._connections:
            connection.close()
        self._connections.clear()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction that also bumps the catalog's generation counter."""
        with self._write_lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
                self._writer.execute(
                    "INSERT INTO meta VALUES ('generation', '1') ON CONFLICT (key) "
                    "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
                )
                self._writer.execute("COMMIT")
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise

    # -- meta ---------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, values: dict[str, str]) -> None:
        with self._transaction() as db:
            db.executemany(
                UPSERT_META,
                list(values.items()),
            )

    @property
    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    # -- writes -------------------------------------------------------------------------
    def upsert(
        self,
        images: Sequence[NewImage],
        vectors: np.ndarray,
        model_id: str,
        before_commit: Callable[[list[tuple[int, str]]], None] | None = None,
    ) -> list[tuple[int, str]]:
        """Store a batch atomically; returns (id, "added" | "updated" | "duplicate") per image.

        Same content already stored -> duplicate (nothing written). Same source with new
        content -> the row and its vector are replaced in place. ``before_commit`` sees the
        outcome inside the transaction; if it raises, nothing is written.
        """
        now = datetime.now(UTC).isoformat(timespec="seconds")
        outcome: list[tuple[int, str]] = []
        with self._transaction() as db:
            for image, vector in zip(images, vectors, strict=True):
                values = (
                    image.content_hash, image.class_name, image.vehicle.make,
                    image.vehicle.model, image.vehicle.body, image.vehicle.year,
                    image.width, image.height, now, model_id,
                )  # fmt: skip
                row = db.execute(
                    "SELECT id FROM images WHERE content_hash = ?", (image.content_hash,)
                ).fetchone()
                if row:
                    outcome.append((row[0], "duplicate"))
                    continue
                row = db.execute(
                    "SELECT id FROM images WHERE source = ?", (image.source,)
                ).fetchone()
                if row:
                    image_id, status = row[0], "updated"
                    db.execute(
                        "UPDATE images SET content_hash = ?, class_name = ?, make = ?, model = ?, "
                        "body = ?, year = ?, width = ?, height = ?, added_at = ?, model_id = ? "
                        "WHERE id = ?",
                        (*values, image_id),
                    )
                    db.execute("DELETE FROM vectors WHERE image_id = ?", (image_id,))
                else:
                    status = "added"
                    image_id = db.execute(
                        "INSERT INTO images (source, content_hash, class_name, make, model, body, "
                        "year, width, height, added_at, model_id) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (image.source, *values),
                    ).lastrowid
                db.execute(
                    "INSERT INTO vectors VALUES (?, ?, ?)",
                    (image_id, model_id, np.asarray(vector, dtype=np.float32).tobytes()),
                )
                outcome.append((image_id, status))
            if before_commit:
                before_commit(outcome)
        return outcome

    def update_metadata(self, image_id: int, class_name: str | None, vehicle: Vehicle) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE images SET class_name = ?, make = ?, model = ?, body = ?, year = ? "
                "WHERE id = ?",
                (class_name, vehicle.make, vehicle.model, vehicle.body, vehicle.year, image_id),
            )

    def delete(
        self, ids: Sequence[int], before_commit: Callable[[list[int]], None] | None = None
    ) -> list[int]:
        """Delete rows (and their vectors) atomically; returns the ids that existed."""
        with self._transaction() as db:
            deleted = [
                int(i)
                for i in ids
                if db.execute("DELETE FROM images WHERE id = ?", (int(i),)).rowcount
            ]
            if before_commit:
                before_commit(deleted)
        return deleted

    def put_vectors(self, ids: Sequence[int], vectors: np.ndarray, model_id: str) -> None:
        """Store vectors of another model beside the current ones (used by reindex)."""
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [
                    (int(i), model_id, np.asarray(v, dtype=np.float32).tobytes())
                    for i, v in zip(ids, vectors, strict=True)
                ],
            )

    def switch_model(self, model_id: str, dim: int) -> None:
        """Make ``model_id`` current and drop every other model's vectors, atomically."""
        with self._transaction() as db:
            db.execute("DELETE FROM vectors WHERE model_id != ?", (model_id,))
            db.execute("UPDATE images SET model_id = ?", (model_id,))
            db.executemany(
                UPSERT_META,
                [("model_id", model_id), ("embedding_dim", str(dim))],
            )

    # -- reads --------------------------------------------------------------------------
    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._read() as db:
            return db.execute(sql, params).fetchall()

    def _record(self, where: str, value: object) -> ImageRecord | None:
        rows = self._query(f"SELECT {COLUMNS} FROM images WHERE {where} = ?", (value,))
        return ImageRecord(*rows[0]) if rows else None

    def count(self) -> int:
        return self._query("SELECT count(*) FROM images")[0][0]

    def get(self, ids: Sequence[int]) -> dict[int, ImageRecord]:
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        rows = self._query(
            f"SELECT {COLUMNS} FROM images WHERE id IN ({marks})", [int(i) for i in ids]
        )
        return {row[0]: ImageRecord(*row) for row in rows}

    def find_source(self, source: str) -> ImageRecord | None:
        return self._record("source", source)

    def find_hash(self, content_hash: str) -> ImageRecord | None:
        return self._record("content_hash", content_hash)

    def hashes(self) -> set[str]:
        return {row[0] for row in self._query("SELECT content_hash FROM images")}

    def ids_without_vector(self, model_id: str) -> list[tuple[int, str]]:
        """(id, source) of images that have no vector from ``model_id`` yet."""
        return self._query(
            "SELECT id, source FROM images WHERE id NOT IN "
            "(SELECT image_id FROM vectors WHERE model_id = ?) ORDER BY id",
            (model_id,),
        )

    def vectors(self, model_id: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """All (ids, matrix) of one model, read in a single snapshot."""
        rows = self._query(
            "SELECT image_id, vector FROM vectors WHERE model_id = ? ORDER BY image_id",
            (model_id,),
        )
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        return ids, matrix.reshape(len(rows), dim)

    def filter_ids(
        self, make: str | None = None, year_min: int | None = None, year_max: int | None = None
    ) -> np.ndarray:
        clauses, params = [], []
        if make:
            clauses.append("make = ? COLLATE NOCASE")
            params.append(make)
        if year_min is not None:
            clauses.append("year >= ?")
            params.append(year_min)
        if year_max is not None:
            clauses.append("year <= ?")
            params.append(year_max)
        where = " AND ".join(clauses) or "1"
        rows = self._query(f"SELECT id FROM images WHERE {where}", params)
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def class_counts(self) -> dict[str, int]:
        return dict(
            self._query(
                "SELECT class_name, count(*) FROM images WHERE class_name IS NOT NULL GROUP BY 1"
            )
        )
