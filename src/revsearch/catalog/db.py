"""SQLite access for the catalog: SQL only, typed rows, one writer and a pool of readers.

Only :class:`revsearch.catalog.catalog.Catalog` holds a :class:`CatalogDB`; vector backends
see it as their :class:`revsearch.index.base.VectorSource`.

WAL mode lets readers (search requests) run while a writer (indexing) commits; every write
is one ``BEGIN IMMEDIATE`` transaction, so a killed process leaves either all of a batch or
none of it. The database is the source of truth: vector indexes are rebuilt from it.

A read-only database (no write permission, a read-only volume) is opened with
``mode=ro``: no WAL set-up, no migration, and every write raises ReadOnlyCatalogError.
A full disk raises DiskFullError, never the rollback's own complaint.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from revsearch.catalog import feedback as feedback_sql
from revsearch.catalog.feedback import FeedbackRecord, NewFeedback
from revsearch.catalog.schema import check_readable, migrate
from revsearch.errors import CatalogBusyError, ReadOnlyCatalogError, disk_full
from revsearch.index.base import Filters, VectorRow
from revsearch.vehicles import Vehicle

# SQLite stores integers in 64 bits: an id outside this range names no image.
MIN_ID, MAX_ID = -(2**63), 2**63 - 1
LOCK_TIMEOUT_S = 30.0  # how long a writer waits for another one


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


@dataclass(frozen=True)
class ClassSummary:
    """A class of the catalog: its label, the vehicle that label names, its image count."""

    class_name: str
    make: str | None
    model: str | None
    body: str | None
    year: int | None
    images: int


@dataclass(frozen=True)
class Browse:
    """Which images to list: None matches anything; make and model ignore case."""

    make: str | None = None
    model: str | None = None
    year: int | None = None


UPSERT_META = (
    "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
COLUMNS = ", ".join(f.name for f in fields(ImageRecord))


class CatalogDB:
    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self._write_lock = threading.Lock()
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._connections: list[sqlite3.Connection] = []
        self._immutable = False
        try:
            self._writer = self._connect()
            if read_only:
                check_readable(self._writer)
            else:
                self._writer.execute("PRAGMA journal_mode = WAL")
                migrate(self._writer)
        except BaseException as exc:
            self.close()
            if full := disk_full(exc, path.parent):
                raise full from exc
            raise

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            connection = self._connect_read_only()
        else:
            connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=LOCK_TIMEOUT_S
            )
            connection.execute("PRAGMA synchronous = FULL")
        connection.execute("PRAGMA foreign_keys = ON")
        self._connections.append(connection)
        return connection

    def _connect_read_only(self) -> sqlite3.Connection:
        """``mode=ro``; if SQLite cannot set up WAL shared memory in a folder it may not
        write (no -shm file there yet), ``immutable=1``: the file is then read as a snapshot
        that no one changes, which a catalog on a read-only volume is."""
        uri = self.path.resolve().as_uri()
        if not self._immutable:
            connection = sqlite3.connect(
                f"{uri}?mode=ro", uri=True, isolation_level=None, check_same_thread=False,
                timeout=LOCK_TIMEOUT_S,
            )  # fmt: skip
            try:
                connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return connection
            except sqlite3.OperationalError:
                connection.close()
                self._immutable = True
        return sqlite3.connect(
            f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None,
            check_same_thread=False,
        )  # fmt: skip

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
        """One write transaction that also bumps the catalog's generation counter.

        Inside it, ``self._pending_generation`` is the generation the commit will create.
        """
        with self._write_lock, self._writing():
            row = self._writer.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
            self._pending_generation = int(row[0]) + 1 if row else 1
            yield self._writer
            self._writer.execute(UPSERT_META, ("generation", str(self._pending_generation)))

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``, or a rollback that never hides the real error.

        SQLite rolls back by itself on some errors (a full disk), so ROLLBACK is only sent
        while a transaction is still open, and its own failure is not what gets reported.
        """
        if self.read_only:
            raise ReadOnlyCatalogError(
                f"catalog {self.path.parent} is read-only here: writes are disabled"
            )
        try:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._writer.execute("COMMIT")
            except BaseException:
                if self._writer.in_transaction:
                    # the original error, re-raised below, is the one that matters
                    with suppress(sqlite3.Error):
                        self._writer.execute("ROLLBACK")
                raise
        except (sqlite3.Error, OSError) as exc:
            if full := disk_full(exc, self.path.parent):
                raise full from exc
            raise

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """SQLite's write lock, taken on a connection of its own, so that no writer of any
        process commits while it is held (a backend syncing another store from SQLite)."""
        connection = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S, isolation_level=None)
        try:
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise CatalogBusyError(f"catalog {self.path} is busy ({exc})") from None
            yield
        finally:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            connection.close()

    def _log(self, db: sqlite3.Connection, ids: Sequence[int], deleted: bool) -> None:
        db.executemany(
            "INSERT INTO changes VALUES (?, ?, ?)",
            [(self._pending_generation, int(i), int(deleted)) for i in ids],
        )

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

    def model(self) -> tuple[str, int]:
        """(model id, dimension) of the current vectors; ("", 0) before the first write."""
        return self.get_meta("model_id") or "", int(self.get_meta("embedding_dim") or 0)

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
            self._log(db, [i for i, status in outcome if status != "duplicate"], deleted=False)
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
            self._log(db, [image_id], deleted=False)

    def delete(
        self, ids: Sequence[int], before_commit: Callable[[list[int]], None] | None = None
    ) -> list[int]:
        """Delete rows (and their vectors) atomically; returns the ids that existed."""
        with self._transaction() as db:
            deleted = [
                int(i)
                for i in valid_ids(ids)
                if db.execute("DELETE FROM images WHERE id = ?", (int(i),)).rowcount
            ]
            self._log(db, deleted, deleted=True)
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
        """Make ``model_id`` current and drop every other model's vectors, atomically.

        Every vector changes, so the change log restarts: indexes must be rebuilt.
        """
        with self._transaction() as db:
            db.execute("DELETE FROM changes")
            db.execute(UPSERT_META, ("changes_since", str(self._pending_generation)))
            db.execute("DELETE FROM vectors WHERE model_id != ?", (model_id,))
            db.execute("UPDATE images SET model_id = ?", (model_id,))
            db.executemany(
                UPSERT_META,
                [("model_id", model_id), ("embedding_dim", str(dim))],
            )

    # -- feedback (revsearch.catalog.feedback) ------------------------------------------
    def add_feedback(self, feedback: NewFeedback) -> int:
        """Store one verdict; returns its id. Not a catalog change: no new generation."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._write_lock, self._writing():
            return feedback_sql.insert(self._writer, feedback, now)

    def feedback(self) -> list[FeedbackRecord]:
        with self._read() as db:
            return feedback_sql.select_all(db)

    def has_class(self, class_name: str) -> bool:
        with self._read() as db:
            return feedback_sql.class_exists(db, class_name)

    # -- reads --------------------------------------------------------------------------
    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._read() as db:
            return db.execute(sql, params).fetchall()

    def _record(self, where: str, value: object) -> ImageRecord | None:
        rows = self._query(f"SELECT {COLUMNS} FROM images WHERE {where} = ?", (value,))
        return ImageRecord(*rows[0]) if rows else None

    def changes_since(self, generation: int) -> tuple[list[int], list[int]] | None:
        """(changed ids, deleted ids) after ``generation``; None if the log is not that old."""
        with self._read() as db:
            db.execute("BEGIN")  # one snapshot for both queries
            try:
                row = db.execute("SELECT value FROM meta WHERE key = 'changes_since'").fetchone()
                if row is None or generation < int(row[0]):
                    return None
                rows = db.execute(
                    "SELECT image_id, deleted FROM changes WHERE generation > ? "
                    "ORDER BY generation",
                    (generation,),
                ).fetchall()
            finally:
                db.execute("COMMIT")
        final = dict(rows)  # the last change of each image wins
        return (
            [i for i, gone in final.items() if not gone],
            [i for i, gone in final.items() if gone],
        )

    def logged_changes(self) -> int:
        """How many images the change log still lists."""
        delta = self.changes_since(int(self.get_meta("changes_since") or 0))
        return sum(map(len, delta)) if delta else 0

    def prune_changes(self, through: int) -> None:
        """Forget changes up to ``through`` (an index saved at that generation covers them)."""
        if self.read_only:
            return  # the log is only an optimisation: a reader never needs to prune it
        with self._write_lock, self._writing():
            since = int(self.get_meta("changes_since") or 0)
            if through > since:
                self._writer.execute("DELETE FROM changes WHERE generation <= ?", (through,))
                self._writer.execute(UPSERT_META, ("changes_since", str(through)))

    def vectors_of(
        self, ids: Sequence[int], model_id: str, dim: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, matrix) of some images (those without a vector are left out)."""
        if not ids:
            return np.empty(0, dtype=np.int64), np.empty((0, dim), dtype=np.float32)
        marks = ", ".join("?" * len(ids))
        rows = self._query(
            f"SELECT image_id, vector FROM vectors WHERE model_id = ? AND image_id IN ({marks})",
            [model_id, *map(int, ids)],
        )
        found = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        return found, matrix.reshape(len(rows), dim)

    def count(self) -> int:
        return self._query("SELECT count(*) FROM images")[0][0]

    def get(self, ids: Sequence[int]) -> dict[int, ImageRecord]:
        ids = valid_ids(ids)
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        rows = self._query(f"SELECT {COLUMNS} FROM images WHERE id IN ({marks})", ids)
        return {row[0]: ImageRecord(*row) for row in rows}

    def find_source(self, source: str) -> ImageRecord | None:
        return self._record("source", source)

    def find_hash(self, content_hash: str) -> ImageRecord | None:
        return self._record("content_hash", content_hash)

    def hashes(self, among: Sequence[str] | None = None) -> set[str]:
        """The content hashes stored; with ``among``, only those of these hashes."""
        if among is None:
            return {row[0] for row in self._query("SELECT content_hash FROM images")}
        marks = ", ".join("?" * len(among))
        sql = f"SELECT content_hash FROM images WHERE content_hash IN ({marks})"
        return {row[0] for row in self._query(sql, list(among))}

    def ids_without_vector(self, model_id: str) -> list[tuple[int, str]]:
        """(id, source) of images that have no vector from ``model_id`` yet."""
        return self._query(
            "SELECT id, source FROM images WHERE id NOT IN "
            "(SELECT image_id FROM vectors WHERE model_id = ?) ORDER BY id",
            (model_id,),
        )

    def vectors(self, model_id: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """All (ids, matrix) of one model, read in one snapshot straight into the matrix
        (no intermediate copy: this is the peak-memory step of rebuilding a large index)."""
        with self._read() as db:
            db.execute("BEGIN")
            try:
                (count,) = db.execute(
                    "SELECT count(*) FROM vectors WHERE model_id = ?", (model_id,)
                ).fetchone()
                ids = np.empty(count, dtype=np.int64)
                matrix = np.empty((count, dim), dtype=np.float32)
                cursor = db.execute(
                    "SELECT image_id, vector FROM vectors WHERE model_id = ? ORDER BY image_id",
                    (model_id,),
                )
                for row, (image_id, blob) in enumerate(cursor):
                    ids[row] = image_id
                    matrix[row] = np.frombuffer(blob, dtype=np.float32)
            finally:
                db.execute("COMMIT")
        return ids, matrix

    def vector_rows(self, ids: np.ndarray, matrix: np.ndarray) -> list[VectorRow]:
        """These vectors with their images' filter fields; ids no longer there are left out."""
        wanted = [int(i) for i in ids]
        records = self.get(wanted)
        return [
            VectorRow(i, matrix[n], records[i].make, records[i].year, records[i].class_name)
            for n, i in enumerate(wanted)
            if i in records
        ]

    def filter_ids(self, filters: Filters) -> np.ndarray:
        clauses: list[str] = []
        params: list[object] = []
        if filters.make:
            clauses.append("make = ? COLLATE NOCASE")
            params.append(filters.make)
        if filters.year_min is not None:
            clauses.append("year >= ?")
            params.append(filters.year_min)
        if filters.year_max is not None:
            clauses.append("year <= ?")
            params.append(filters.year_max)
        where = " AND ".join(clauses) or "1"
        rows = self._query(f"SELECT id FROM images WHERE {where}", params)
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def class_counts(self) -> dict[str, int]:
        return dict(
            self._query(
                "SELECT class_name, count(*) FROM images WHERE class_name IS NOT NULL GROUP BY 1"
            )
        )

    def class_summaries(self) -> list[ClassSummary]:
        """Every labelled class with the vehicle its name parses to and its image count."""
        rows = self._query(
            "SELECT class_name, min(make), min(model), min(body), min(year), count(*) "
            "FROM images WHERE class_name IS NOT NULL GROUP BY class_name "
            "ORDER BY class_name COLLATE NOCASE, class_name"
        )
        return [ClassSummary(*row) for row in rows]

    def make_counts(self) -> list[tuple[str, int]]:
        """(make, images) by make, case-insensitively (as :meth:`browse` filters them)."""
        return self._query(
            "SELECT min(make), count(*) FROM images WHERE make IS NOT NULL "
            "GROUP BY make COLLATE NOCASE ORDER BY 1 COLLATE NOCASE"
        )

    def browse(self, where: Browse, offset: int, limit: int) -> tuple[int, list[ImageRecord]]:
        """(how many match, one page of them by class then id), read in one snapshot."""
        clauses: list[str] = []
        params: list[object] = []
        for column, value in (("make", where.make), ("model", where.model)):
            if value is not None:
                clauses.append(f"{column} = ? COLLATE NOCASE")
                params.append(value)
        if where.year is not None:
            clauses.append("year = ?")
            params.append(where.year)
        condition = " AND ".join(clauses) or "1"
        with self._read() as db:
            db.execute("BEGIN")  # the total and the page agree, even while someone writes
            try:
                (total,) = db.execute(
                    f"SELECT count(*) FROM images WHERE {condition}", params
                ).fetchone()
                rows = db.execute(
                    f"SELECT {COLUMNS} FROM images WHERE {condition} "
                    "ORDER BY class_name IS NULL, class_name COLLATE NOCASE, class_name, id "
                    "LIMIT ? OFFSET ?",
                    [*params, limit, offset],
                ).fetchall()
            finally:
                db.execute("COMMIT")
        return total, [ImageRecord(*row) for row in rows]


def valid_ids(ids: Sequence[int]) -> list[int]:
    """The ids SQLite can hold; larger ones (a request's 2**63) cannot name an image."""
    return [int(i) for i in ids if MIN_ID <= int(i) <= MAX_ID]
