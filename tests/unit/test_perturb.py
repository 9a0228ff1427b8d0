from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from revsearch.eval.perturb import COPY_EDITS, center_crop, pad_to_16_9


@pytest.fixture
def car() -> Image.Image:
    from tests.samples import car_photo

    return Image.open(car_photo()).convert("RGB")


@pytest.mark.parametrize("name", list(COPY_EDITS))
def test_perturbations_return_a_changed_rgb_image(name: str, car: Image.Image) -> None:
    altered = COPY_EDITS[name](car)
    assert altered.mode == "RGB"
    assert altered.size != car.size or not np.array_equal(np.asarray(altered), np.asarray(car))


def test_geometry(car: Image.Image) -> None:
    assert center_crop(car).size == (round(car.width * 0.6), round(car.height * 0.6))
    padded = pad_to_16_9(car)
    assert padded.height == car.height and padded.width == round(car.height * 16 / 9)
