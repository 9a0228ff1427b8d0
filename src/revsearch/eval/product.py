"""The product protocol: Stanford test photos as queries against a gallery of the train split.

It measures what a user of the shipped catalog sees: is the nearest image of the right car,
and is the k-NN vote (the answer "this looks like …") right, and as sure as it says?
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from revsearch.encoder.batch import encode_paths
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.errors import BadParameterError
from revsearch.eval.calibration import (
    ReliabilityBin,
    expected_calibration_error,
    reliability,
    sure_share,
)
from revsearch.eval.metrics import nearest_indices
from revsearch.eval.perturb import alterations
from revsearch.eval.runner import DEFAULT_OPTIONS, EvalOptions
from revsearch.prediction import SURE_CONFIDENCE, VOTE_NEIGHBOURS, predict
from revsearch.sources import read_manifest

GALLERY_SPLIT, QUERY_SPLIT = "stanford-train", "stanford-test"


@dataclass(frozen=True)
class Answers:
    """Per query: the nearest image's class, the vote's class and its confidence."""

    nearest: list[str]
    voted: list[str]
    confidence: np.ndarray


@dataclass(frozen=True)
class ProductResult:
    model_id: str
    queries: int
    gallery: int
    classes: int
    nearest_accuracy: float
    vote_accuracy: float
    expected_calibration_error: float
    sure_share: float  # answers at or above SURE_CONFIDENCE
    sure_accuracy: float | None
    reliability: list[ReliabilityBin]
    perturbed: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"protocol": "stanford", "sure_confidence": SURE_CONFIDENCE, **asdict(self)}


def answer(
    gallery: np.ndarray,
    gallery_labels: list[str],
    queries: np.ndarray,
    temperature: float | None,
) -> Answers:
    """What the search would answer for each query (the serving code's own vote)."""
    nearest, voted, confidence = [], [], []
    scores, labels = neighbours(gallery, gallery_labels, queries)
    for row, names in zip(scores, labels, strict=True):
        prediction = predict(row.tolist(), names, temperature)
        assert prediction is not None  # every gallery image is labelled
        nearest.append(names[0])
        voted.append(prediction.class_name)
        confidence.append(prediction.confidence)
    return Answers(nearest, voted, np.asarray(confidence))


def neighbours(
    gallery: np.ndarray, gallery_labels: list[str], queries: np.ndarray, chunk: int = 1024
) -> tuple[np.ndarray, list[list[str]]]:
    """(scores, labels) of each query's voters, best first."""
    all_scores: list[np.ndarray] = []
    all_labels: list[list[str]] = []
    for start in range(0, len(queries), chunk):
        scores = queries[start : start + chunk] @ gallery.T
        top = nearest_indices(scores, min(VOTE_NEIGHBOURS, len(gallery)))
        all_scores.append(np.take_along_axis(scores, top, axis=1))
        all_labels.extend([gallery_labels[i] for i in row] for row in top)
    return np.concatenate(all_scores), all_labels


def evaluate_product(
    encoder: OnnxEncoder,
    manifest: Path,
    *,
    limit: int | None = None,
    options: EvalOptions = DEFAULT_OPTIONS,
) -> ProductResult:
    """The product protocol on a manifest: its test split searched against its train split.

    ``limit`` keeps the first N rows of each split (smoke runs).
    """
    gallery_rows = read_manifest(manifest, split=GALLERY_SPLIT, limit=limit)
    query_rows = read_manifest(manifest, split=QUERY_SPLIT, limit=limit)
    if not gallery_rows or not query_rows:
        raise BadParameterError(f"{manifest}: needs rows of stanford_split 'train' and 'test'")
    if any(r.class_name is None for r in [*gallery_rows, *query_rows]):
        raise BadParameterError(f"{manifest}: evaluation needs a 'class_name' for every row")
    return evaluate_gallery(
        encoder,
        ([r.path for r in gallery_rows], [str(r.class_name) for r in gallery_rows]),
        ([r.path for r in query_rows], [str(r.class_name) for r in query_rows]),
        options,
    )


def evaluate_gallery(
    encoder: OnnxEncoder,
    gallery_set: tuple[list[str], list[str]],
    query_set: tuple[list[str], list[str]],
    options: EvalOptions = DEFAULT_OPTIONS,
) -> ProductResult:
    """Top-1 class accuracy of the nearest neighbour and of the vote, and its calibration,
    for (paths, labels) queries searched against a (paths, labels) gallery."""
    (gallery_paths, gallery_labels), (query_paths, query_labels) = gallery_set, query_set
    truth = np.asarray(query_labels)
    altered_by = alterations(options.perturb, options.framing, donors=query_paths)
    if options.on_start:
        options.on_start(len(gallery_paths) + len(query_paths) * (1 + len(altered_by)))
    embed = partial(encode_paths, encoder, workers=options.workers, on_progress=options.on_progress)
    gallery = embed(gallery_paths)
    temperature = encoder.spec.vote_temperature
    clean = answer(gallery, gallery_labels, embed(query_paths), temperature)
    correct = np.asarray(clean.voted) == truth
    share, sure_accuracy = sure_share(clean.confidence, correct, SURE_CONFIDENCE)
    perturbed = {}
    for name, alter in altered_by.items():
        queries = embed(query_paths, alter=alter)
        altered = answer(gallery, gallery_labels, queries, temperature)
        perturbed[name] = {
            "nearest_accuracy": float(np.mean(np.asarray(altered.nearest) == truth)),
            "vote_accuracy": float(np.mean(np.asarray(altered.voted) == truth)),
        }
    return ProductResult(
        encoder.model_id,
        len(query_paths),
        len(gallery_paths),
        len(set(gallery_labels)),
        float(np.mean(np.asarray(clean.nearest) == truth)),
        float(correct.mean()),
        expected_calibration_error(clean.confidence, correct),
        share,
        sure_accuracy,
        reliability(clean.confidence, correct),
        perturbed,
    )
