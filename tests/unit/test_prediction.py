from __future__ import annotations

import pytest

from revsearch.prediction import SURE_CONFIDENCE, predict, vote


def test_vote_ranks_every_class_and_sums_to_one() -> None:
    ranked = vote([0.90, 0.88, 0.87, 0.80], ["A", "B", "B", "C"], temperature=0.05)
    assert [c.class_name for c in ranked] == ["B", "A", "C"]
    assert sum(c.probability for c in ranked) == pytest.approx(1.0)


def test_a_hotter_vote_is_less_sure() -> None:
    scores, labels = [0.90, 0.85, 0.84], ["A", "B", "C"]
    cold, hot = predict(scores, labels, 0.01), predict(scores, labels, 0.2)
    assert cold is not None and hot is not None
    assert cold.class_name == hot.class_name == "A"
    assert cold.confidence > SURE_CONFIDENCE > hot.confidence
    assert cold.sure and not hot.sure


def test_prediction_keeps_three_candidates_and_describes_doubt() -> None:
    prediction = predict([0.9, 0.89, 0.88, 0.87], ["A", "B", "C", "D"])
    assert prediction is not None and not prediction.sure
    assert [c.class_name for c in prediction.candidates] == ["A", "B", "C"]
    assert prediction.describe().startswith(f"A ({prediction.confidence:.0%}), not sure; or: B")
    assert prediction.as_dict()["candidates"][1]["class_name"] == "B"  # type: ignore[index]
    sure = predict([0.9, 0.5], ["A", "B"])
    assert sure is not None and sure.sure and sure.describe() == "A (100%)"


def test_only_the_nearest_neighbours_vote() -> None:
    labels = ["A"] + ["B"] * 30
    prediction = predict([1.0] + [0.99] * 30, labels, 0.05)
    assert prediction is not None
    # ten voters: A = 1, B = 9 * e^-0.2
    assert prediction.candidates[1].probability == pytest.approx(1 / (1 + 9 * 0.8187), abs=1e-3)
