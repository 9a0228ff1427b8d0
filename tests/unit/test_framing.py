from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from revsearch.eval.framing import FRAME_SIZE, Framing, frame_car, framings, seed_of


@pytest.fixture
def car() -> Image.Image:
    from tests.samples import car_photo

    return Image.open(car_photo()).convert("RGB")


def test_same_photo_same_frame(car: Image.Image) -> None:
    first, second = Framing(0.35)(car), Framing(0.35)(car)
    assert first.size == FRAME_SIZE and first.mode == "RGB"
    assert np.array_equal(np.asarray(first), np.asarray(second))
    other = car.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    assert seed_of(other) != seed_of(car)


@pytest.mark.parametrize("share", [0.25, 0.45, 0.7])
def test_the_car_takes_its_share_of_the_width(car: Image.Image, share: float) -> None:
    rng = np.random.default_rng(seed_of(car))
    frame, (x1, y1, x2, y2), boxes = frame_car(car, rng, share)
    assert boxes == [(x1, y1, x2, y2)]
    assert 0 <= x1 < x2 <= frame.width and 0 <= y1 < y2 <= frame.height
    assert abs((x2 - x1) / frame.width - share) < 0.01
    assert 1.3 <= (x2 - x1) / (y2 - y1) <= 2.1 + 0.01
    # The car's own pixels are inside the box: its centre matches the photo's centre.
    centre = np.asarray(frame.crop((x1, y1, x2, y2)).resize(car.size), np.float32)
    original = np.asarray(car, np.float32)
    h, w = car.height, car.width
    middle = (slice(h // 4, 3 * h // 4), slice(w // 4, 3 * w // 4))
    assert np.abs(centre[middle] - original[middle]).mean() < 12


def test_off_centre_and_second_car(car: Image.Image) -> None:
    rng = np.random.default_rng(1)
    second = car.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    frame, box, boxes = frame_car(car, rng, 0.35, centre_x=0.22, second=second)
    assert len(boxes) == 2 and boxes[0] == box
    (x1, _, x2, _), (u1, _, u2, _) = boxes
    assert (x1 + x2) / 2 < frame.width * 0.3 < frame.width * 0.7 < (u1 + u2) / 2
    assert abs((u2 - u1) - 0.6 * (x2 - x1)) <= 2
    assert x2 <= u1  # side by side, not on top of each other


def test_the_named_framings(car: Image.Image, tmp_path) -> None:
    assert sorted(framings()) == sorted(
        [f"{kind}_{p}" for kind in ("frame", "off_centre") for p in (25, 35, 45, 60)] + ["loose_70"]
    )
    donor = tmp_path / "donor.jpg"
    car.save(donor)
    named = framings([str(donor)])
    assert {f"second_car_{p}" for p in (25, 35, 45, 60)} <= set(named)
    assert named["second_car_35"](car).size == FRAME_SIZE
