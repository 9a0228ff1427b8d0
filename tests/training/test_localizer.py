"""The localiser's training parts on hand-made cases, and a tiny real run of train-localizer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from PIL import Image

from revsearch.encoder.onnx import OnnxEncoder
from revsearch.localize import LOCALIZER_OUTPUT, boxes_from_map
from revsearch.training.localizer import (
    Head,
    composite,
    predicted_boxes,
    sample_photos,
    targets,
    training_cars,
)
from tests.samples import MANIFEST, car_photo


def test_training_cars_are_in_both_protocols_training_sets() -> None:
    import csv

    cars = set(training_cars(MANIFEST))
    with open(MANIFEST, newline="") as handle:
        rows = {str(MANIFEST.parent / r["image"]): r for r in csv.DictReader(handle)}
    assert 3000 < len(cars) < 4500
    assert all(rows[c]["retrieval_split"] == rows[c]["stanford_split"] == "train" for c in cars)


def test_composites_hold_their_boxes() -> None:
    backgrounds, distractors = sample_photos()
    cars = [str(car_photo())] * 3
    seen_empty = seen_several = False
    for seed in range(40):
        frame, boxes = composite(np.random.default_rng(seed), cars, backgrounds, distractors)
        assert frame.mode == "RGB" and max(frame.size) <= 640
        for x1, y1, x2, y2 in boxes:
            assert 0 <= x1 < x2 <= frame.width and 0 <= y1 < y2 <= frame.height
        seen_empty |= not boxes
        seen_several |= len(boxes) > 1
    assert seen_empty and seen_several


GRID = 15


def test_targets_mark_the_centre_and_ignore_the_rest_of_the_car() -> None:
    box = np.asarray([0.2, 0.2, 0.6, 0.5], np.float32)
    objectness, weight, assigned = targets([box], GRID)
    centre = (int(0.35 * GRID), int(0.4 * GRID))
    assert objectness[centre] == 1 and weight[centre] == 1
    np.testing.assert_allclose(assigned[:, centre[0], centre[1]], box)
    assert objectness[0, 0] == 0 and weight[0, 0] == 1  # background: a negative
    ring = (5, 4)  # inside the car, near its centre: ignored
    assert objectness[ring] == 0 and weight[ring] == 0
    edge = (int(0.22 * GRID), int(0.22 * GRID))  # the car's edge: not a car's centre
    assert objectness[edge] == 0 and weight[edge] == 1
    raw = torch.zeros(1, 5, GRID, GRID)
    raw[0, 1:] = torch.log(torch.tensor([0.1, 0.1, 0.1, 0.1]) * GRID)[:, None, None]
    (decoded,) = predicted_boxes(raw)
    centre_x = (centre[1] + 0.5) / GRID
    assert float(decoded[0, centre[0], centre[1]]) == pytest.approx(centre_x - 0.1)


@pytest.mark.parametrize("side", [128, 160, 240])
def test_the_head_reads_maps_of_any_side(side: int) -> None:
    """One grid cell per 16 pixels, whatever side the photo was squashed to."""
    grid, coarse = -(-side // 16), -(-side // 32)
    head = Head(channels16=8, channels32=16)
    raw = head(torch.zeros(2, 8, grid, grid), torch.zeros(2, 16, coarse, coarse))
    assert raw.shape == (2, 5, grid, grid)
    objectness, _, _ = targets([np.asarray([0.2, 0.2, 0.6, 0.5], np.float32)], grid)
    assert objectness.shape == (grid, grid) and objectness.sum() >= 1


def train_localizer(
    model: Path, output: Path, frames: int, epochs: int, limit: int, *options: str
) -> str:
    """Run the real command; returns its stdout."""
    result = subprocess.run(
        [sys.executable, "-m", "revsearch", "train-localizer", "--manifest", str(MANIFEST),
         "--model", str(model), "--output", str(output), "--frames", str(frames),
         "--epochs", str(epochs), "--limit", str(limit), *options],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
def test_train_localizer_appends_a_head_and_keeps_the_embedding(
    tmp_path: Path, model_path: Path
) -> None:
    output = tmp_path / "located.onnx"
    stdout = train_localizer(model_path, output, frames=96, epochs=2, limit=60)
    assert f"wrote {output}: validation boxes mean IoU" in stdout
    located = OnnxEncoder(output, threads=1)
    before = OnnxEncoder(model_path, threads=1, locate=False)
    assert located.locates and located.model_id == before.model_id
    spec = json.loads(
        next(p.value for p in onnx.load(str(output)).metadata_props if p.key == "revsearch")
    )
    report = spec["localizer"]
    assert report["frames"] == 96 and 0 <= report["mean_iou"] <= 1
    assert spec["locate_size"] == report["input_size"] == 128
    photo = Image.open(car_photo()).convert("RGB")
    batch = before.transform(photo)[None]
    np.testing.assert_allclose(located.encode_arrays(batch), before.encode_arrays(batch),
                               atol=1e-6)  # fmt: skip
    grids = located.locate_arrays(located.locate_transform(photo)[None])
    assert grids.shape == (1, 5, 8, 8)
    assert LOCALIZER_OUTPUT in [o.name for o in located.session.get_outputs()]
    for found in boxes_from_map(grids[0], min_score=0.0):
        x1, y1, x2, y2 = found.box
        assert 0 <= found.score <= 1 and 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1
    # Training again on the located model replaces its head instead of stacking another.
    again = tmp_path / "again.onnx"
    train_localizer(output, again, 64, 1, 30, "--input-size", "160")
    assert len(onnx.load(str(again)).graph.node) == len(onnx.load(str(output)).graph.node)
    relocated = OnnxEncoder(again, threads=1)
    assert relocated.locate_transform.size == 160
    assert relocated.locate_arrays(relocated.locate_transform(photo)[None]).shape[-1] == 10
