"""Find the cars in a photo from the encoder's ``localizer`` output, and choose the one to search.

Every catalog image is a tight crop; a phone photo is not. A model with a localiser head
(:mod:`revsearch.training.localizer`) returns, for a small copy of the photo, a grid of cells
each holding a car-centre logit and the log distances from the cell to its car's edges. Here the
grid becomes boxes (greedy non-maximum suppression, each box the score-weighted mean of the
cells that agree with it), the largest box is the car searched, and a box that already fills
the photo means the photo is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from revsearch.errors import BadParameterError

LOCALIZER_OUTPUT = "localizer"
# A boolean graph input: the head runs only when it is true (an ONNX ``If``), so the
# embedding's pass does not pay for it.
LOCALIZER_SWITCH = "loc.enabled"
# The side photos are squashed to for the localiser's own pass, a model's default: about 0.4
# of the embedding's pass at 240 px (160 px: 0.55, and framed photos cost over 1.5x the query
# time). Its grid has a cell per 16 pixels (8 x 8).
LOCATE_SIZE = 128
MIN_SCORE = 0.5  # a box needs one cell this sure that a car's centre is there
AGREE_IOU = 0.6  # cells whose boxes overlap the best one this much vote on its edges
INSIDE = 0.5  # a box lying this much inside a car found is part of it, not another car
# The catalog images are the annotated box cut "with a small margin": a crop gets one too.
MARGIN = 0.04
# A car box (with its margin) covering this share of the photo's area: the photo is already
# a tight crop, searched unchanged. At 0.6, 99.5 % of Stanford test crops are left as they
# are and 94 % of loose 70 % framings are cut out (202 and 80 photos, default model).
TIGHT_AREA = 0.6

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels, x2/y2 exclusive


@dataclass(frozen=True)
class FoundCar:
    box: np.ndarray  # x1, y1, x2, y2 in 0-1 units of the photo's width and height
    score: float


def _intersections(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    return ix * iy


def _areas(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _ious(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    inter = _intersections(box, boxes)
    union = _areas(np.asarray(box)[None])[0] + _areas(boxes) - inter
    return inter / np.maximum(union, 1e-9)


def _inside(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The share of each of ``boxes`` that lies inside ``box``."""
    return _intersections(box, boxes) / np.maximum(_areas(boxes), 1e-9)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(_ious(np.asarray(a, float), np.asarray(b, float)[None])[0])


def boxes_from_map(raw: np.ndarray, min_score: float = MIN_SCORE) -> list[FoundCar]:
    """(5, G, G) localiser output -> the cars found, most confident first."""
    grid = raw.shape[-1]
    scores = 1.0 / (1.0 + np.exp(-raw[0].astype(np.float64)))
    centres = (np.arange(grid) + 0.5) / grid
    cx, cy = np.meshgrid(centres, centres)
    distances = np.exp(np.clip(raw[1:].astype(np.float64), -6, 3)) / grid
    cells = np.stack([cx - distances[0], cy - distances[1],
                      cx + distances[2], cy + distances[3]], axis=-1).reshape(-1, 4)  # fmt: skip
    cells = np.clip(cells, 0.0, 1.0)
    scores = scores.reshape(-1)
    candidates = np.flatnonzero(scores >= min_score * 0.6)
    order = candidates[np.argsort(-scores[candidates])]
    found: list[FoundCar] = []
    while len(order) and scores[order[0]] >= min_score:
        overlap = _ious(cells[order[0]], cells[order])
        members = order[overlap >= AGREE_IOU]
        weights = scores[members][:, None]
        # A weighted mean of boxes within 0-1 can still round just past 1.
        box = np.clip((cells[members] * weights).sum(axis=0) / weights.sum(), 0.0, 1.0)
        found.append(FoundCar(box, float(scores[order[0]])))
        order = order[(overlap < AGREE_IOU * 0.5) & (_inside(box, cells[order]) < INSIDE)]
    return found


def main_car(found: list[FoundCar]) -> FoundCar | None:
    """The car a person most likely meant: the largest one found."""
    return max(found, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), default=None)


def to_pixels(box: np.ndarray, width: int, height: int) -> Box:
    x1, y1, x2, y2 = (float(v) for v in box)
    return (
        max(0, int(np.floor(x1 * width))),
        max(0, int(np.floor(y1 * height))),
        min(width, max(int(np.ceil(x2 * width)), int(np.floor(x1 * width)) + 1)),
        min(height, max(int(np.ceil(y2 * height)), int(np.floor(y1 * height)) + 1)),
    )


def crop_box(found: FoundCar, width: int, height: int) -> Box | None:
    """The region to search for a found car, with the catalog's margin; None: the whole photo."""
    x1, y1, x2, y2 = found.box
    dx, dy = (x2 - x1) * MARGIN, (y2 - y1) * MARGIN
    padded = np.clip([x1 - dx, y1 - dy, x2 + dx, y2 + dy], 0.0, 1.0)
    if (padded[2] - padded[0]) * (padded[3] - padded[1]) >= TIGHT_AREA:
        return None
    return to_pixels(padded, width, height)


def check_box(box: Box, width: int, height: int, smallest: int = 8) -> Box:
    """A user's box clipped to the photo; a box with (almost) nothing inside is refused."""
    x1, y1, x2, y2 = box
    clipped = (max(0, x1), max(0, y1), min(width, x2), min(height, y2))
    if clipped[2] - clipped[0] < smallest or clipped[3] - clipped[1] < smallest:
        raise BadParameterError(
            f"box {box} leaves less than {smallest} x {smallest} pixels of the "
            f"{width}x{height} photo"
        )
    return clipped


def parse_box(text: str) -> Box:
    """'x1,y1,x2,y2' (pixels) -> a box; anything else is a clear error."""
    try:
        values = tuple(round(float(v)) for v in text.split(","))
    except (ValueError, OverflowError):  # not numbers, NaN, infinity
        values = ()
    if len(values) != 4 or values[2] <= values[0] or values[3] <= values[1]:
        raise BadParameterError(f"box must be 'x1,y1,x2,y2' with x1 < x2 and y1 < y2, got {text!r}")
    return values


def scale_box(box: Box, source: tuple[int, int], target: tuple[int, int]) -> Box:
    """A box on an image of size ``source`` in the pixels of the same image at ``target``
    (a photo decoded at a reduced size and its original)."""
    sx, sy = target[0] / source[0], target[1] / source[1]
    return (round(box[0] * sx), round(box[1] * sy), round(box[2] * sx), round(box[3] * sy))
