from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from revsearch.encoder.onnx import OnnxEncoder
from revsearch.eval.calibration import (
    expected_calibration_error,
    fit_temperature,
    reliability,
    sure_share,
)
from revsearch.eval.product import evaluate_product
from revsearch.eval.runner import EvalOptions


def test_reliability_bins_count_every_answer() -> None:
    confidences = np.array([0.05, 0.15, 0.95, 0.95, 1.0])
    correct = np.array([False, True, True, False, True])
    table = reliability(confidences, correct)
    assert len(table) == 10 and sum(b.answers for b in table) == 5
    assert table[-1].answers == 3 and table[-1].accuracy == pytest.approx(2 / 3)
    assert table[5].accuracy is None
    assert sure_share(confidences, correct, 0.9) == (pytest.approx(0.6), pytest.approx(2 / 3))


def test_calibration_error_is_zero_only_when_confidence_matches_accuracy() -> None:
    confidences = np.full(10, 0.75)
    calibrated = np.array([True] * 7 + [False] * 3)  # 0.7 in the 0.7-0.8 bin
    assert expected_calibration_error(confidences, calibrated) == pytest.approx(0.05)
    overconfident = np.array([True] * 2 + [False] * 8)
    assert expected_calibration_error(confidences, overconfident) == pytest.approx(0.55)


@pytest.mark.slow  # encodes and indexes 90 photos
def test_product_protocol_queries_test_photos_against_the_train_split(
    encoder: OnnxEncoder, product_manifest: Path
) -> None:
    result = evaluate_product(encoder, product_manifest, options=EvalOptions(workers=2))
    assert (result.gallery, result.queries, result.classes) == (60, 30, 10)
    with open(product_manifest, newline="") as handle:
        rows = list(csv.DictReader(handle))
    train = [r for r in rows if r["stanford_split"] == "train"]
    test = [r for r in rows if r["stanford_split"] == "test"]
    assert (result.gallery, result.queries) == (len(train), len(test))
    # The nearest-image accuracy, recomputed here by brute force.
    gallery = encoder.encode([r["image"] for r in train])
    queries = encoder.encode([r["image"] for r in test])
    nearest = (queries @ gallery.T).argmax(axis=1)
    expected = np.mean(
        [train[j]["class_name"] == q["class_name"] for j, q in zip(nearest, test, strict=True)]
    )
    assert result.nearest_accuracy == pytest.approx(expected, abs=1e-9)
    assert 0.5 < result.vote_accuracy <= 1.0  # 10 classes, each in the gallery
    assert sum(b.answers for b in result.reliability) == result.queries
    assert 0.0 <= result.expected_calibration_error <= 1.0
    assert result.as_dict()["protocol"] == "stanford"


def test_fit_temperature_recovers_the_temperature_that_made_the_labels() -> None:
    rng = np.random.default_rng(0)
    scores = np.sort(rng.uniform(0.6, 0.9, size=(4000, 10)), axis=1)[:, ::-1]
    labels = [[f"c{j}" for j in range(10)] for _ in range(4000)]
    weights = np.exp((scores - scores[:, :1]) / 0.03)
    probabilities = weights / weights.sum(axis=1, keepdims=True)
    truth = [f"c{rng.choice(10, p=p)}" for p in probabilities]
    assert fit_temperature(scores, labels, truth) == pytest.approx(0.03, rel=0.15)
