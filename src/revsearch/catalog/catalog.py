"""The catalog: image metadata and vectors in SQLite, plus a vector index derived from them.

SQLite is the source of truth. The vector index is exact (numpy) for small catalogs and
HNSW (usearch) above ``exact_search_limit``; the HNSW file is saved atomically together with
the catalog generation it reflects, and rebuilt from SQLite whenever it is missing or stale
(after a crash, or when another process wrote to the catalog).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from revsearch.catalog.db import CatalogDB, ImageRecord, NewImage
from revsearch.errors import CatalogNotFoundError, ModelMismatchError, RevSearchError
from revsearch.index.base import VectorIndex
from revsearch.index.exact import ExactIndex
from revsearch.index.hnsw import HnswIndex

DB_FILE = "catalog.sqlite"
HNSW_FILE = "vectors.usearch"
HNSW_STATE_FILE = "vectors.json"


@dataclass(frozen=True)
class Hit:
    record: ImageRecord
    score: float


class Catalog:
    def __init__(self, path: Path, db: CatalogDB, *, exact_search_limit: int = 5000) -> None:
        self.path = path
        self.db = db
        self.exact_search_limit = exact_search_limit
        self._lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._index_generation = -1

    @classmethod
    def open(cls, path: Path, *, create: bool = False, exact_search_limit: int = 5000) -> Catalog:
        """Open a catalog folder; ``create`` makes it if missing (indexing), else it must exist."""
        path = Path(path).expanduser()
        db_path = path / DB_FILE
        if not db_path.is_file():
            if not create:
                raise CatalogNotFoundError(
                    f"no catalog at {path}: build one with 'revsearch index PATH --catalog {path}'"
                )
            if path.exists() and not path.is_dir():
                raise RevSearchError(f"catalog path {path} exists and is not a folder")
            path.mkdir(parents=True, exist_ok=True)
        return cls(path, CatalogDB(db_path), exact_search_limit=exact_search_limit)

    def close(self) -> None:
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
        model_id = self._require_model()
        with self._lock:
            before = self.db.generation
            outcome = self.db.upsert(images, vectors, model_id)
            changed = [
                (image_id, vector)
                for (image_id, status), vector in zip(outcome, vectors, strict=True)
                if status != "duplicate"
            ]
            if changed:
                self._apply(
                    before,
                    lambda index: index.add(
                        np.array([i for i, _ in changed]), np.stack([v for _, v in changed])
                    ),
                )
        return outcome

    def remove(self, ids: Sequence[int]) -> int:
        with self._lock:
            before = self.db.generation
            removed = self.db.delete(ids)
            self._apply(before, lambda index: index.remove(np.asarray(ids, dtype=np.int64)))
        return removed

    def _apply(self, generation_before: int, change) -> None:  # type: ignore[no-untyped-def]
        """Mirror a committed write into the loaded index, or drop the index if it was stale."""
        if self._index is None:
            return
        if self._index_generation == generation_before and self._fits_kind():
            change(self._index)
            self._index_generation = self.db.generation
        else:
            self._index = None

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
        allowed = None
        if make or year_min is not None or year_max is not None:
            allowed = self.db.filter_ids(make, year_min, year_max)
        with self._lock:
            index = self.vector_index()
            keys, scores = index.search(vector, k, allowed)
        records = self.db.get([int(key) for key in keys])
        return [
            Hit(records[int(key)], float(score))
            for key, score in zip(keys, scores, strict=True)
            if int(key) in records
        ]

    def vector_index(self) -> VectorIndex:
        """The loaded index, (re)built if missing or behind the database."""
        with self._lock:
            generation = self.db.generation
            if self._index is None or self._index_generation != generation or not self._fits_kind():
                self._index = self._load_index(generation)
                self._index_generation = generation
            return self._index

    def _fits_kind(self) -> bool:
        wanted = "exact" if self.db.count() <= self.exact_search_limit else "hnsw"
        return self._index is not None and self._index.kind == wanted

    def _load_index(self, generation: int) -> VectorIndex:
        model_id, dim = self._require_model(), self.dim or 0
        if self.db.count() <= self.exact_search_limit:
            index: VectorIndex = ExactIndex(dim)
            index.add(*self.db.vectors(model_id, dim))
            return index
        state = self._read_state()
        hnsw_path = self.path / HNSW_FILE
        if (
            state.get("generation") == generation
            and state.get("model_id") == model_id
            and hnsw_path.is_file()
        ):
            try:
                return HnswIndex.load(hnsw_path, dim)
            except Exception:  # a damaged file is rebuilt, never trusted
                pass
        index = HnswIndex(dim)
        ids, matrix = self.db.vectors(model_id, dim)
        index.add(ids, matrix)
        self._save_hnsw(index, generation, model_id)
        return index

    def save(self) -> None:
        """Persist the HNSW index if it is loaded and current (exact indexes need nothing)."""
        with self._lock:
            if isinstance(self._index, HnswIndex) and self._index_generation == self.db.generation:
                self._save_hnsw(self._index, self._index_generation, self._require_model())

    def _save_hnsw(self, index: HnswIndex, generation: int, model_id: str) -> None:
        index.save(self.path / HNSW_FILE)
        state = json.dumps({"generation": generation, "model_id": model_id, "count": len(index)})
        tmp = self.path / (HNSW_STATE_FILE + ".tmp")
        tmp.write_text(state)
        os.replace(tmp, self.path / HNSW_STATE_FILE)

    def _read_state(self) -> dict:
        try:
            return json.loads((self.path / HNSW_STATE_FILE).read_text())
        except (OSError, ValueError):
            return {}

    def _require_model(self) -> str:
        model_id = self.model_id
        if model_id is None:
            raise RevSearchError(f"catalog {self.path} is empty: index some images first")
        return model_id

    def stats(self) -> dict[str, object]:
        kind = "exact" if self.db.count() <= self.exact_search_limit else "hnsw"
        return {
            "catalog": str(self.path),
            "images": self.db.count(),
            "classes": len(self.db.class_counts()),
            "model_id": self.model_id,
            "embedding_dim": self.dim,
            "index_kind": kind,
            "generation": self.db.generation,
        }
