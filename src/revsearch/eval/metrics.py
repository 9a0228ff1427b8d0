"""Retrieval metrics of the deep-metric-learning protocol: Recall@K and MAP@R.

Every item is a query against all others (itself excluded). Recall@K: share of queries with
at least one same-class item among the K nearest. MAP@R (Musgrave et al. 2020): with R the
number of other items of the query's class, the mean over queries of
``(1/R) * sum_{i<=R} precision@i * relevant(i)`` over the R nearest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def retrieval_metrics(
    embeddings: np.ndarray,
    labels: Sequence[object] | np.ndarray,
    ks: Sequence[int] = (1, 2, 4, 8),
    chunk: int = 1024,
    queries: np.ndarray | None = None,
) -> dict[str, float]:
    """Recall@k for each k and MAP@R, from L2-normalised embeddings (cosine similarity).

    ``queries`` (row i an altered version of item i) searches the clean ``embeddings``
    instead of themselves; item i is still excluded from query i's results.
    """
    embeddings = np.asarray(embeddings, dtype=np.float32)
    queries = embeddings if queries is None else np.asarray(queries, dtype=np.float32)
    _, codes = np.unique(np.asarray(labels, dtype=object).astype(str), return_inverse=True)
    n = len(codes)
    if n < 2:
        raise ValueError("need at least two items to evaluate retrieval")
    class_sizes = np.bincount(codes)
    relevant_counts = class_sizes[codes] - 1  # R per query
    depth = min(n - 1, max(max(ks), int(relevant_counts.max())))
    hits_at = {k: 0 for k in ks}
    average_precisions = []
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        scores = queries[start:stop] @ embeddings.T
        scores[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # no self-match
        nearest = nearest_indices(scores, depth)
        relevant = codes[nearest] == codes[start:stop, None]
        for k in ks:
            hits_at[k] += int(relevant[:, :k].any(axis=1).sum())
        for row, r in zip(relevant, relevant_counts[start:stop], strict=True):
            if r == 0:
                continue  # a singleton class has no relevant item: excluded from MAP@R
            top_r = row[:r]
            precision = np.cumsum(top_r) / np.arange(1, r + 1)
            average_precisions.append(float((precision * top_r).sum() / r))
    metrics = {f"recall@{k}": hits_at[k] / n for k in ks}
    metrics["map@r"] = float(np.mean(average_precisions)) if average_precisions else 0.0
    return metrics


def gallery_accuracy(
    gallery: np.ndarray, gallery_labels: np.ndarray, queries: np.ndarray, query_labels: np.ndarray
) -> float:
    """Share of queries whose nearest gallery image has their label (queries not in gallery)."""
    nearest = [
        np.argmax(queries[i : i + 1024] @ gallery.T, axis=1) for i in range(0, len(queries), 1024)
    ]
    return float(np.mean(np.asarray(gallery_labels)[np.concatenate(nearest)] == query_labels))


def nearest_indices(scores: np.ndarray, depth: int) -> np.ndarray:
    """Indices of the ``depth`` best scores per row, best first (ties by index)."""
    part = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    return np.take_along_axis(part, order, axis=1)
