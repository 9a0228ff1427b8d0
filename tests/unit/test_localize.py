from __future__ import annotations

import numpy as np
import pytest

from revsearch.errors import BadParameterError
from revsearch.localize import (
    FoundCar,
    boxes_from_map,
    check_box,
    crop_box,
    iou,
    main_car,
    parse_box,
    scale_box,
    to_pixels,
)

GRID = 15  # cells per side; boxes_from_map reads any grid (the shipped head: 8 at 128 px)


def grid_for(boxes: list[tuple[float, float, float, float]]) -> np.ndarray:
    """A localiser output that sees ``boxes`` (0-1 units): sure at each centre cell."""
    raw = np.full((5, GRID, GRID), -8.0)
    centres = (np.arange(GRID) + 0.5) / GRID
    for x1, y1, x2, y2 in boxes:
        for i in range(GRID):
            for j in range(GRID):
                cx, cy = centres[j], centres[i]
                if (
                    abs(cx - (x1 + x2) / 2) <= (x2 - x1) * 0.2
                    and abs(cy - (y1 + y2) / 2) <= (y2 - y1) * 0.2
                ):
                    raw[0, i, j] = 4.0
                    raw[1:, i, j] = np.log(np.asarray([cx - x1, cy - y1, x2 - cx, y2 - cy]) * GRID)
    return raw


def test_one_car_becomes_one_box() -> None:
    truth = (0.2, 0.4, 0.55, 0.7)
    (found,) = boxes_from_map(grid_for([truth]))
    assert found.score > 0.95 and iou(found.box, np.asarray(truth)) > 0.99


def test_two_cars_two_boxes_and_the_largest_is_searched() -> None:
    big, small = (0.05, 0.4, 0.5, 0.75), (0.65, 0.5, 0.9, 0.7)
    found = boxes_from_map(grid_for([big, small]))
    assert len(found) == 2
    assert iou(main_car(found).box, np.asarray(big)) > 0.99


def test_nothing_found() -> None:
    assert boxes_from_map(np.full((5, GRID, GRID), -8.0)) == []
    assert main_car([]) is None


def test_a_car_filling_the_photo_leaves_it_as_it_is() -> None:
    assert crop_box(FoundCar(np.asarray([0.03, 0.02, 0.98, 0.97]), 0.9), 224, 224) is None
    assert crop_box(FoundCar(np.asarray([0.1, 0.2, 0.85, 0.95]), 0.9), 224, 224) is None
    assert crop_box(FoundCar(np.asarray([0.1, 0.2, 0.8, 0.8]), 0.9), 224, 224) is not None
    x1, y1, x2, y2 = crop_box(FoundCar(np.asarray([0.25, 0.5, 0.5, 0.7]), 0.9), 2000, 1500)
    # the catalog's small margin around the car
    assert (x1, y1) == (480, 738) and (x2, y2) == (1020, 1062)


def test_boxes_in_pixels() -> None:
    assert to_pixels(np.asarray([0.1, 0.2, 0.5, 1.0]), 200, 100) == (20, 20, 100, 100)
    assert scale_box((10, 20, 30, 40), (100, 100), (1000, 500)) == (100, 100, 300, 200)
    assert check_box((-5, 10, 50, 900), 100, 100) == (0, 10, 50, 100)


@pytest.mark.parametrize(
    "text", ["", "1,2,3", "a,b,c,d", "10,10,5,20", "1,2,3,4,5", "0,0,0,0", "inf,0,5,5", "nan,0,5,5"]
)
def test_bad_boxes_are_refused(text: str) -> None:
    with pytest.raises(BadParameterError, match="box must be"):
        parse_box(text)


def test_a_box_outside_the_photo_is_refused() -> None:
    assert parse_box("1.4, 2, 30,40.6") == (1, 2, 30, 41)
    with pytest.raises(BadParameterError, match="less than 8 x 8"):
        check_box((500, 500, 600, 600), 100, 100)
