"""The catalog: image metadata in SQLite (the source of truth) plus a vector backend.

The backend is chosen by URL: ``embedded`` (default: vectors in SQLite, exact or HNSW index
derived from them) or a server engine (see :mod:`revsearch.index.factory`). Every write is
one SQLite transaction that the backend joins, so a failure anywhere leaves no partial write.
:class:`Catalog` is the only way into SQLite: its database is private, and every read and
write the rest of the code needs is a method here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import NotRequired, TypedDict

import numpy as np

from revsearch.catalog.db import Browse, CatalogDB, ClassSummary, ImageRecord, NewImage
from revsearch.catalog.feedback import FeedbackRecord, NewFeedback
from revsearch.config import DEFAULT_EXACT_SEARCH_LIMIT, DEFAULT_SEARCH_EF
from revsearch.errors import (
    BadParameterError,
    CatalogNotFoundError,
    EmptyCatalogError,
    ModelMismatchError,
    ReadOnlyCatalogError,
    disk_full,
)
from revsearch.index.base import Filters, VectorBackend, VectorRow
from revsearch.index.factory import open_backend
from revsearch.vehicles import parse_class_name

DB_FILE = "catalog.sqlite"


class CatalogStats(TypedDict):
    """The catalog's size, model and index: ``revsearch stats`` (``--json``: this, as is)."""

    catalog: str
    images: int
    classes: int
    model_id: str | None
    embedding_dim: int | None
    vector_backend: str
    index_kind: str
    milvus: NotRequired[str]  # only with the Milvus backend
    generation: int


def writable(folder: Path) -> bool:
    """Can this process write the catalog (its folder for SQLite's -wal/-shm, and its files)?"""
    files = [folder / DB_FILE, *(folder / f"{DB_FILE}-{suffix}" for suffix in ("wal", "shm"))]
    return os.access(folder, os.W_OK | os.X_OK) and all(
        os.access(file, os.W_OK) for file in files if file.exists()
    )


@dataclass(frozen=True)
class Hit:
    record: ImageRecord
    score: float
    same_image: bool = False  # the query was made from this very photo (revsearch.same_image)


class Catalog:
    def __init__(self, path: Path, db: CatalogDB, backend: VectorBackend) -> None:
        self.path = path
        self._db = db
        self.backend = backend

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        create: bool = False,
        read_only: bool | None = None,
        exact_search_limit: int = DEFAULT_EXACT_SEARCH_LIMIT,
        search_ef: int = DEFAULT_SEARCH_EF,
        vector_backend: str = "embedded",
    ) -> Catalog:
        """Open a catalog folder; ``create`` makes it if missing (indexing), else it must exist.

        ``read_only``: True opens it for reading only; False refuses a catalog this process
        cannot write (ReadOnlyCatalogError); None (default) opens it read-only exactly when
        it cannot be written, so reading works on a read-only volume or someone else's files.
        """
        path = Path(path).expanduser()
        db_path = path / DB_FILE
        if not db_path.is_file():
            if not create:
                raise CatalogNotFoundError(
                    f"no catalog at {path}: build one with 'revsearch index PATH --catalog {path}'"
                )
            if path.exists() and not path.is_dir():
                raise BadParameterError(f"catalog path {path} exists and is not a folder")
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                if full := disk_full(exc):
                    raise full from None
                message = f"cannot create catalog {path}: {exc.strerror or exc}"
                raise ReadOnlyCatalogError(message) from None
        if read_only is None:
            read_only = not writable(path)
        elif not read_only and not writable(path):
            raise ReadOnlyCatalogError(
                f"catalog {path} is read-only here (no write permission or a read-only disk), "
                "and this command writes to it"
            )
        db = CatalogDB(db_path, read_only=read_only)
        try:
            backend = open_backend(
                vector_backend,
                db,
                path,
                exact_search_limit=exact_search_limit,
                search_ef=search_ef,
            )
        except BaseException:
            db.close()
            raise
        return cls(path, db, backend)

    @property
    def read_only(self) -> bool:
        return self._db.read_only

    @property
    def generation(self) -> int:
        """Committed writes so far: changes whenever anything in the catalog does."""
        return self._db.generation

    def close(self) -> None:
        self.backend.close()
        self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- model guard ----------------------------------------------------------------------
    @property
    def model_id(self) -> str | None:
        return self._db.get_meta("model_id")

    @property
    def dim(self) -> int | None:
        value = self._db.get_meta("embedding_dim")
        return int(value) if value else None

    def bind_model(self, model_id: str, dim: int) -> None:
        """Adopt the model on first use; afterwards refuse any other model's vectors."""
        current = self.model_id
        if current is None:
            self._db.set_meta({"model_id": model_id, "embedding_dim": str(dim)})
        elif current != model_id:
            raise ModelMismatchError(
                f"catalog {self.path} holds vectors of model '{current}', but the loaded model "
                f"is '{model_id}': run 'revsearch reindex' to re-encode it, or load '{current}'"
            )

    # -- writes ---------------------------------------------------------------------------
    def upsert(self, images: Sequence[NewImage], vectors: np.ndarray) -> list[tuple[int, str]]:
        """Add or update a batch in one transaction; see :meth:`CatalogDB.upsert`."""
        model_id = self._require_model()
        rows: list[VectorRow] = []

        def stage(outcome: list[tuple[int, str]]) -> None:
            rows.extend(
                VectorRow(
                    image_id, vector, image.vehicle.make, image.vehicle.year, image.class_name
                )
                for (image_id, status), image, vector in zip(outcome, images, vectors, strict=True)
                if status != "duplicate"
            )
            self.backend.stage(rows, [])

        before = self._db.generation
        outcome = self._db.upsert(images, vectors, model_id, before_commit=stage)
        self.backend.committed(before, rows, [])
        return outcome

    def relabel(self, image_id: int, class_name: str | None) -> None:
        """Give an image another label (and the make, model and year it names)."""
        self._db.update_metadata(image_id, class_name, parse_class_name(class_name))

    def stage_vectors(self, ids: Sequence[int], vectors: np.ndarray, model_id: str) -> None:
        """Store another model's vectors beside the current ones (reindex, before a switch)."""
        self._db.put_vectors(ids, vectors, model_id)

    def switch_model(self, model_id: str, dim: int) -> None:
        """Make ``model_id``'s staged vectors the current ones and drop all others, atomically;
        backends rebuild from them (the change log restarts)."""
        self._db.switch_model(model_id, dim)

    def write_lock(self) -> AbstractContextManager[None]:
        """Hold off every writer, of any process, while this is held."""
        return self._db.write_lock()

    def remove(self, ids: Sequence[int]) -> int:
        before = self._db.generation
        deleted = self._db.delete(ids, before_commit=lambda gone: self.backend.stage([], gone))
        self.backend.committed(before, [], deleted)
        return len(deleted)

    # -- reads ----------------------------------------------------------------------------
    def get(self, ids: Sequence[int]) -> dict[int, ImageRecord]:
        return self._db.get(ids)

    def __len__(self) -> int:
        return self._db.count()

    def find_hash(self, content_hash: str) -> ImageRecord | None:
        return self._db.find_hash(content_hash)

    def find_source(self, source: str) -> ImageRecord | None:
        return self._db.find_source(source)

    def classes(self) -> list[ClassSummary]:
        """Every labelled class with its image count, by name (what a browser lists)."""
        return self._db.class_summaries()

    def makes(self) -> list[tuple[str, int]]:
        """(make, images) of every make, by name; makes differing only in case are one."""
        return self._db.make_counts()

    def has_class(self, class_name: str) -> bool:
        """Is this (exactly) the label of some image?"""
        return self._db.has_class(class_name)

    # -- feedback -------------------------------------------------------------------------
    def add_feedback(self, feedback: NewFeedback) -> int:
        """Store a user's verdict on a search (revsearch.feedback); returns its id."""
        return self._db.add_feedback(feedback)

    def feedback(self) -> list[FeedbackRecord]:
        """Every stored verdict, oldest first."""
        return self._db.feedback()

    def browse(
        self, where: Browse, *, offset: int = 0, limit: int = 48
    ) -> tuple[int, list[ImageRecord]]:
        """(matching images, one page of them ordered by class then id)."""
        return self._db.browse(where, offset, limit)

    def known_hashes(self, among: Sequence[str] | None = None) -> set[str]:
        """Content hashes already stored; with ``among``, only which of these are (one small
        query instead of reading the whole column, for a few uploads)."""
        return self._db.hashes(among)

    def missing_vectors(self, model_id: str) -> list[tuple[int, str]]:
        """(id, source) of the images that have no vector of ``model_id`` yet."""
        return self._db.ids_without_vector(model_id)

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, matrix) of every current vector, in id order."""
        model_id, dim = self._db.model()
        return self._db.vectors(model_id, dim)

    def vector_of(self, image_id: int) -> np.ndarray | None:
        """The current model's vector of one image; None when it has none (or is gone)."""
        model_id, dim = self._db.model()
        _, matrix = self._db.vectors_of([image_id], model_id, dim)
        return matrix[0] if len(matrix) else None

    def search(self, vector: np.ndarray, k: int, filters: Filters | None = None) -> list[Hit]:
        keys, scores = self.backend.search(vector, k, filters or Filters())
        records = self._db.get([int(key) for key in keys])
        return [
            Hit(records[int(key)], float(score))
            for key, score in zip(keys, scores, strict=True)
            if int(key) in records  # a vector whose row is gone is never shown
        ]

    def vector_index(self) -> object:
        """Get the backend ready to search (loads or rebuilds the index)."""
        return self.backend.load()

    def save(self, *, force: bool = True) -> None:
        self.backend.save(force=force)

    def _require_model(self) -> str:
        model_id = self.model_id
        if model_id is None:
            raise EmptyCatalogError(f"catalog {self.path} is empty: index some images first")
        return model_id

    def stats(self) -> CatalogStats:
        return {
            "catalog": str(self.path),
            "images": self._db.count(),
            "classes": len(self._db.class_counts()),
            "model_id": self.model_id,
            "embedding_dim": self.dim,
            **self.backend.describe(),
            "generation": self._db.generation,
        }
