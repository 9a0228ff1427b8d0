"""How far the k-NN vote's confidence can be trusted: reliability bins, ECE, the sure share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Equal-width confidence bins of the reliability table (and of the expected calibration error).
BINS = 10


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    answers: int
    accuracy: float | None  # None for an empty bin
    mean_confidence: float | None


def reliability(confidences: np.ndarray, correct: np.ndarray) -> list[ReliabilityBin]:
    """Accuracy per confidence bin: a calibrated vote is right as often as it says."""
    edges = np.linspace(0.0, 1.0, BINS + 1)
    which = np.clip(np.digitize(confidences, edges[1:-1]), 0, BINS - 1)
    table = []
    for b in range(BINS):
        members = which == b
        n = int(members.sum())
        table.append(
            ReliabilityBin(
                float(edges[b]),
                float(edges[b + 1]),
                n,
                float(correct[members].mean()) if n else None,
                float(confidences[members].mean()) if n else None,
            )
        )
    return table


def expected_calibration_error(confidences: np.ndarray, correct: np.ndarray) -> float:
    """The answers-weighted mean gap between confidence and accuracy over the bins."""
    total = len(confidences)
    return float(
        sum(
            b.answers / total * abs(b.accuracy - b.mean_confidence)
            for b in reliability(confidences, correct)
            if b.accuracy is not None and b.mean_confidence is not None  # not an empty bin
        )
    )


def sure_share(
    confidences: np.ndarray, correct: np.ndarray, threshold: float
) -> tuple[float, float | None]:
    """(share of answers at or above ``threshold``, their accuracy)."""
    sure = confidences >= threshold
    return float(sure.mean()), float(correct[sure].mean()) if sure.any() else None


# Candidate vote temperatures, log-spaced: 0.005 (a near-hard nearest-neighbour vote) to 0.5.
TEMPERATURES = np.geomspace(0.005, 0.5, 61)
PROBABILITY_FLOOR = 1e-4  # the true class is not among the voters: the vote gave it nothing


def fit_temperature(
    scores: np.ndarray, neighbour_labels: list[list[str]], truth: list[str]
) -> float:
    """The vote temperature with the least negative log-likelihood of the true classes.

    ``scores`` (queries x voters, best first) and ``neighbour_labels`` come from held-out
    queries against the images the model was trained on, never from evaluation images.
    """
    relevant = np.array(
        [[label == t for label in row] for row, t in zip(neighbour_labels, truth, strict=True)]
    )
    shifted = scores - scores[:, :1]
    losses = []
    for temperature in TEMPERATURES:
        weights = np.exp(shifted / temperature)
        p_true = (weights * relevant).sum(axis=1) / weights.sum(axis=1)
        losses.append(-np.log(np.maximum(p_true, PROBABILITY_FLOOR)).mean())
    return float(TEMPERATURES[int(np.argmin(losses))])
