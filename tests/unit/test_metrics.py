from __future__ import annotations

import numpy as np
import pytest

from revsearch.eval.metrics import (
    class_bootstrap_se,
    extrapolate_recall,
    first_hits,
    gallery_accuracy,
    recall_by_class_count,
    retrieval_metrics,
)


def line_embeddings(positions: list[float]) -> np.ndarray:
    """Unit vectors on a quarter circle: nearer angles are more similar."""
    angles = np.asarray(positions) * (np.pi / 2) / max(positions)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)


def test_perfectly_separated_classes() -> None:
    embeddings = line_embeddings([0, 0.1, 0.2, 5, 5.1, 5.2])
    metrics = retrieval_metrics(embeddings, ["a", "a", "a", "b", "b", "b"])
    assert metrics == {
        "recall@1": 1.0,
        "recall@2": 1.0,
        "recall@4": 1.0,
        "recall@8": 1.0,
        "map@r": 1.0,
    }


def test_hand_computed_case() -> None:
    # Positions on a line: a0=0, b0=1, a1=2, b1=3 (labels alternate).
    embeddings = line_embeddings([0, 1, 2, 3])
    labels = ["a", "b", "a", "b"]
    metrics = retrieval_metrics(embeddings, labels, ks=(1, 2, 3))
    # Nearest neighbours: a0 -> b0, a1 (a0's class is at rank 2)
    #                     b0 -> a0 / a1 tie (angles equal) then b1 at rank 3
    #                     a1 -> b0 / b1 tie then a0 at rank 3
    #                     b1 -> a1, b0 (rank 2)
    # Recall@1: no query has its class first.
    assert metrics["recall@1"] == 0.0
    # Recall@2: a0 and b1 find their class at rank 2.
    assert metrics["recall@2"] == pytest.approx(0.5)
    assert metrics["recall@3"] == 1.0
    # R = 1 for every query: MAP@R = precision@1 = 0.
    assert metrics["map@r"] == 0.0


def test_map_at_r_counts_precision_at_relevant_ranks() -> None:
    # Query q (class a) has R = 2 relevant items; its 2 nearest are [a, b] -> AP@R = (1/1)/2.
    embeddings = line_embeddings([0, 1, 2, 3, 40])
    labels = ["a", "a", "b", "a", "c"]
    metrics = retrieval_metrics(embeddings, labels, ks=(1,))
    # Per query (R: a->2, b->0 excluded, c->0 excluded):
    # q0 (pos 0): nearest 1(a), 2(b) -> AP = (1 + 0) / 2 = 0.5
    # q1 (pos 1): nearest 0(a) / 2(b) tie broken by index -> 0(a), 2(b) -> 0.5
    # q3 (pos 3): nearest 2(b), 1(a) -> AP = (0 + 1/2) / 2 = 0.25
    assert metrics["map@r"] == pytest.approx((0.5 + 0.5 + 0.25) / 3)
    # Recall@1: q0 yes, q1 yes, q2 (b) no, q3 no, q4 (c) no.
    assert metrics["recall@1"] == pytest.approx(2 / 5)


def test_chunking_does_not_change_results() -> None:
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(200, 16)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    labels = rng.integers(0, 10, size=200).tolist()
    assert retrieval_metrics(embeddings, labels, chunk=7) == retrieval_metrics(
        embeddings, labels, chunk=1000
    )


def test_needs_two_items() -> None:
    with pytest.raises(ValueError):
        retrieval_metrics(np.ones((1, 2), np.float32), ["a"])


def test_altered_queries_search_the_clean_gallery() -> None:
    gallery = line_embeddings([0, 0.1, 5, 5.1])
    labels = ["a", "a", "b", "b"]
    # Query 0 was altered so much that it now sits next to class b.
    queries = gallery.copy()
    queries[0] = gallery[3]
    metrics = retrieval_metrics(gallery, labels, ks=(1,), queries=queries)
    # Query 0's nearest other item is 3 (class b): a miss; the rest still hit. Query 3 is
    # excluded from matching item 3 itself, so it finds item 2.
    assert metrics["recall@1"] == pytest.approx(3 / 4)


def test_gallery_accuracy_counts_nearest_gallery_label() -> None:
    gallery = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    gallery_labels = np.array([0, 1, 2])
    queries = np.array([[0.99, 0.14], [0.5, 0.866], [0.0, 1.0]], dtype=np.float32)
    # nearest: 0, 2, 1 -> right, wrong (label 1 expected, 2 found), right
    assert gallery_accuracy(gallery, gallery_labels, queries, np.array([0, 1, 1])) == 2 / 3


def test_first_hits_are_recall_at_1_per_query() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 5)
    embeddings = rng.normal(size=(50, 8)) + labels[:, None] * 0.3
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    hits = first_hits(embeddings, labels, chunk=7)
    assert hits.mean() == pytest.approx(retrieval_metrics(embeddings, labels)["recall@1"])


def test_the_class_bootstrap_counts_classes_not_queries() -> None:
    labels = np.repeat(np.arange(20), 10)
    assert class_bootstrap_se(np.ones(200, dtype=bool), labels) == 0.0
    # Half the classes always right, half always wrong: queries within a class agree, so the
    # error is that of 20 draws, not of 200 (binomial over queries: 0.035).
    hits = labels < 10
    se = class_bootstrap_se(hits, labels, rounds=2000, seed=1)
    assert se == pytest.approx(0.5 / np.sqrt(20), rel=0.15)
    assert se == class_bootstrap_se(hits, labels, rounds=2000, seed=1)  # seeded


def test_the_class_count_curve_and_its_extrapolation() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(40), 6)
    centres = rng.normal(size=(40, 16))
    embeddings = centres[labels] + rng.normal(size=(240, 16)) * 0.9
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    curve = recall_by_class_count(embeddings, labels, [8, 16, 40, 99])
    assert set(curve) == {8, 16, 40}  # more classes than there are: left out
    assert curve[8] > curve[40]  # fewer classes are easier
    exact = {8: 0.9, 16: 0.9 - 0.1 * np.log(2), 32: 0.9 - 0.1 * np.log(4)}
    assert extrapolate_recall(exact, 64) == pytest.approx(0.9 - 0.1 * np.log(8))
    assert extrapolate_recall({8: 0.5}, 98) is None
