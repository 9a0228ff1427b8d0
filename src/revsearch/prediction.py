"""The make/model/year guess: a similarity-weighted vote of the nearest labelled images.

The vote's share of the winning class is its confidence; a model calibrated on held-out
images (``ModelSpec.vote_temperature``) makes that share read as a probability, and an
answer is *sure* at or above :data:`SURE_CONFIDENCE`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

VOTE_NEIGHBOURS = 10
# Softmax temperature of an uncalibrated vote: a neighbour 0.05 less similar counts e^-1 as much.
DEFAULT_VOTE_TEMPERATURE = 0.05
SURE_CONFIDENCE = 0.9
CANDIDATES = 3  # alternatives shown beside the answer


@dataclass(frozen=True)
class Candidate:
    class_name: str
    probability: float


@dataclass(frozen=True)
class Prediction:
    class_name: str
    confidence: float
    candidates: tuple[Candidate, ...] = ()  # best first, the answer included
    sure: bool = False

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of the CLI and the API."""
        return {
            "class_name": self.class_name,
            "confidence": round(self.confidence, 4),
            "sure": self.sure,
            "candidates": [
                {"class_name": c.class_name, "probability": round(c.probability, 4)}
                for c in self.candidates
            ],
        }

    def describe(self) -> str:
        """One line for people: an unsure answer says so and names the alternatives."""
        answer = f"{self.class_name} ({self.confidence:.0%})"
        if self.sure:
            return answer
        others = ", ".join(f"{c.class_name} ({c.probability:.0%})" for c in self.candidates[1:])
        return f"{answer}, not sure" + (f"; or: {others}" if others else "")


def vote(
    scores: Sequence[float], labels: Sequence[str | None], temperature: float
) -> list[Candidate]:
    """Every class among the labelled neighbours with its share of the vote, best first."""
    labelled = [(s, c) for s, c in zip(scores, labels, strict=True) if c]
    if not labelled:
        return []
    best = max(s for s, _ in labelled)
    weights: dict[str, float] = defaultdict(float)
    for score, class_name in labelled:
        weights[class_name] += float(np.exp((score - best) / temperature))
    total = sum(weights.values())
    ranked = sorted(weights.items(), key=lambda item: (-item[1], item[0]))
    return [Candidate(name, weight / total) for name, weight in ranked]


def predict(
    scores: Sequence[float],
    labels: Sequence[str | None],
    temperature: float | None = None,
) -> Prediction | None:
    """The vote over the first :data:`VOTE_NEIGHBOURS` neighbours (scores best first)."""
    ranked = vote(
        scores[:VOTE_NEIGHBOURS], labels[:VOTE_NEIGHBOURS], temperature or DEFAULT_VOTE_TEMPERATURE
    )
    if not ranked:
        return None
    best = ranked[0]
    return Prediction(
        best.class_name,
        best.probability,
        tuple(ranked[:CANDIDATES]),
        sure=best.probability >= SURE_CONFIDENCE,
    )
