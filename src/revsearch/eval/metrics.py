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


def first_hits(embeddings: np.ndarray, labels: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Per item, as a query against all the others: is its nearest neighbour of its class?
    (Recall@1 is their mean; kept per query for the class bootstrap.)"""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    labels = np.asarray(labels)
    hits = np.zeros(len(labels), dtype=bool)
    for start in range(0, len(labels), chunk):
        stop = min(start + chunk, len(labels))
        scores = embeddings[start:stop] @ embeddings.T
        scores[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        hits[start:stop] = labels[np.argmax(scores, axis=1)] == labels[start:stop]
    return hits


def class_bootstrap_se(
    hits: np.ndarray, labels: np.ndarray, rounds: int = 1000, seed: int = 0
) -> float:
    """Standard error of Recall@1 when the *classes* are resampled (with replacement), not
    the queries: the queries of one class are not independent, and which classes happen to
    be held out is most of the uncertainty of a selection figure."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    per_class_hits = np.array([hits[labels == c].sum() for c in classes], dtype=np.float64)
    per_class_count = np.array([(labels == c).sum() for c in classes], dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(len(classes), size=(rounds, len(classes)))
    means = per_class_hits[draws].sum(axis=1) / per_class_count[draws].sum(axis=1)
    return float(means.std(ddof=1))


def recall_by_class_count(
    embeddings: np.ndarray,
    labels: np.ndarray,
    counts: Sequence[int],
    rounds: int = 20,
    seed: int = 0,
) -> dict[int, float]:
    """Mean Recall@1 of random subsets of ``count`` classes, each searched among itself:
    fewer classes are easier, and this curve is what extrapolates to more."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    rng = np.random.default_rng(seed)
    curve = {}
    for count in counts:
        if not 2 <= count <= len(classes):
            continue
        scores = []
        for _ in range(rounds if count < len(classes) else 1):
            chosen = rng.choice(classes, count, replace=False)
            keep = np.isin(labels, chosen)
            scores.append(float(first_hits(embeddings[keep], labels[keep]).mean()))
        curve[count] = float(np.mean(scores))
    return curve


def extrapolate_recall(curve: dict[int, float], classes: int) -> float | None:
    """Recall@1 at ``classes`` classes from a least-squares fit R = a + b ln(n) of the curve
    (None with fewer than two points)."""
    if len(curve) < 2:
        return None
    counts = np.log(np.array(list(curve), dtype=np.float64))
    slope, intercept = np.polyfit(counts, np.array(list(curve.values())), 1)
    return float(intercept + slope * np.log(classes))
