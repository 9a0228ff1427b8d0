"""The catalog: image metadata in SQLite (the source of truth) plus a vector backend.

The backend is chosen by URL: ``embedded`` (default: vectors in SQLite, exact or HNSW index
derived from them) or a server engine (see :mod:`revsearch.index.factory`). Every write is
one SQLite transaction that the backend joins, so a failure anywhere leaves no partial write.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from revsearch.catalog.db import CatalogDB, ImageRecord, NewImage
from revsearch.errors import (
    CatalogNotFoundError,
    ModelMismatchError,
    ReadOnlyCatalogError,
    RevSearchError,
    disk_full,
)
from revsearch.index.base import DEFAULT_SEARCH_EF, Filters, VectorBackend, VectorRow
from revsearch.index.factory import open_backend

DB_FILE = "catalog.sqlite"


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
        self.db = db
        self.backend = backend

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        create: bool = False,
        read_only: bool | None = None,
        exact_search_limit: int = 5000,
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
                raise RevSearchError(f"catalog path {path} exists and is not a folder")
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
        return self.db.read_only

    def close(self) -> None:
        self.backend.close()
        self.db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- model guard ----------------------------------------------------------------------
    @property
    def model_id(self) -> str | None:
        return self.db.get_meta("model_id")

    @property
    def dim(self) -> int | None:
        value = self.db.get_meta("embedding_dim")
        return int(value) if value else None

    def bind_model(self, model_id: str, dim: int) -> None:
        """Adopt the model on first use; afterwards refuse any other model's vectors."""
        current = self.model_id
        if current is None:
            self.db.set_meta({"model_id": model_id, "embedding_dim": str(dim)})
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

        before = self.db.generation
        outcome = self.db.upsert(images, vectors, model_id, before_commit=stage)
        self.backend.committed(before, rows, [])
        return outcome

    def remove(self, ids: Sequence[int]) -> int:
        before = self.db.generation
        deleted = self.db.delete(ids, before_commit=lambda gone: self.backend.stage([], gone))
        self.backend.committed(before, [], deleted)
        return len(deleted)

    # -- reads ----------------------------------------------------------------------------
    def get(self, ids: Sequence[int]) -> dict[int, ImageRecord]:
        return self.db.get(ids)

    def __len__(self) -> int:
        return self.db.count()

    def search(
        self,
        vector: np.ndarray,
        k: int,
        *,
        make: str | None = None,
        year_min: int | None = None,
        year_max: int | None = None,
    ) -> list[Hit]:
        keys, scores = self.backend.search(vector, k, Filters(make, year_min, year_max))
        records = self.db.get([int(key) for key in keys])
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
            raise RevSearchError(f"catalog {self.path} is empty: index some images first")
        return model_id

    def stats(self) -> dict[str, object]:
        return {
            "catalog": str(self.path),
            "images": self.db.count(),
            "classes": len(self.db.class_counts()),
            "model_id": self.model_id,
            "embedding_dim": self.dim,
            **self.backend.describe(),
            "generation": self.db.generation,
        }
