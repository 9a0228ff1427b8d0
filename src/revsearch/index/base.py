"""The vector-index interface shared by every backend (embedded exact, embedded HNSW, ...)."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class VectorIndex(Protocol):
    """Cosine-similarity index over L2-normalised float32 vectors keyed by image id."""

    kind: str

    def __len__(self) -> int: ...

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or overwrite vectors."""

    def remove(self, keys: np.ndarray) -> None:
        """Drop keys; unknown keys are ignored."""

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (keys, cosine scores), best first; ``allowed`` restricts the keys."""
        ...


def top_k(scores: np.ndarray, keys: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best k (keys, scores) of a score vector, sorted descending (ties by key)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order = np.lexsort((keys[part], -scores[part]))
    best = part[order]
    return keys[best].astype(np.int64), np.clip(scores[best], -1.0, 1.0).astype(np.float32)
