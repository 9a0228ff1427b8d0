"""Photos framed the way people take them: the car small in a large street-like frame.

Every catalog image is a tight crop, and so was every query the benchmarks sent. These
alterations paste the query's car into a generated 2000 x 1500 scene (sky, buildings, road,
poles, trees), at a chosen share of the frame's width, centred, off-centre or beside a
second, smaller car. Everything is drawn from a generator seeded by the image's own pixels,
so an evaluation run is repeatable and two models see the very same frames.

The localiser (:mod:`revsearch.localize`) is trained on scenes from other seeds (and other
backgrounds); the scenes here are for measuring only.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from revsearch.localize import Box
from revsearch.preprocess import load_image

FRAME_SIZE = (2000, 1500)
# Share of the frame's width the car takes, as in the phone-photo measurement.
SCALES = (0.25, 0.35, 0.45, 0.6)
LOOSE_CROP = 0.7
# Width / height of a pasted car: the catalog crops were squashed to a square, so the
# car's own proportions are drawn from the range of Stanford Cars' boxes (1.3-2.1).
ASPECTS = (1.3, 2.1)
SECOND_CAR_SCALE = 0.6  # the second car's width, relative to the first


def seed_of(image: Image.Image, salt: int = 0) -> int:
    """A seed from the pixels: the same photo always gets the same frame."""
    return zlib.crc32(image.resize((16, 16)).tobytes()) ^ salt


def street_scene(rng: np.random.Generator, size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """An (H, W, 3) uint8 street-like background: sky, facades with windows, road, clutter.

    Drawn at half the size and scaled up (4x cheaper; the car is what carries detail).
    """
    import cv2

    full = size
    width, height = size[0] // 2, size[1] // 2
    horizon = int(height * rng.uniform(0.35, 0.55))
    road_top = int(height * rng.uniform(0.6, 0.72))
    scene = np.empty((height, width, 3), np.float32)
    top, bottom = rng.uniform(90, 230, 3), rng.uniform(150, 250, 3)
    ramp = np.linspace(0, 1, horizon, dtype=np.float32)[:, None, None]
    scene[:horizon] = top * (1 - ramp) + bottom * ramp
    scene[horizon:] = rng.uniform(60, 160, 3)
    scene = scene.astype(np.uint8)
    x = 0
    while x < width:  # facades standing on the pavement
        w = int(rng.uniform(0.08, 0.3) * width)
        h = int(rng.uniform(0.15, 0.6) * height)
        colour = tuple(int(c) for c in rng.uniform(40, 230, 3))
        cv2.rectangle(scene, (x, road_top - h), (x + w, road_top), colour, -1)
        dark = tuple(int(c * rng.uniform(0.3, 0.7)) for c in colour)
        step = int(rng.uniform(0.025, 0.05) * width)
        for wx in range(x + step // 2, x + w - step // 2, step):
            for wy in range(road_top - h + step // 2, road_top - step, step):
                cv2.rectangle(scene, (wx, wy), (wx + step // 2, wy + step // 2), dark, -1)
        x += w + int(rng.uniform(0, 0.05) * width)
    grey = int(rng.uniform(50, 130))
    scene[road_top:] = (grey, grey, grey + int(rng.uniform(-10, 10)))
    curb = road_top + int(rng.uniform(0.02, 0.05) * height)
    scene[road_top:curb] = int(rng.uniform(140, 200))
    lane = int(road_top + (height - road_top) * rng.uniform(0.4, 0.8))
    for dash in range(int(rng.uniform(0, 50)), width, 120):
        cv2.rectangle(scene, (dash, lane), (dash + 60, lane + 6), (235, 235, 225), -1)
    for _ in range(int(rng.integers(1, 5))):  # poles and trees
        px = int(rng.uniform(0, width))
        cv2.rectangle(scene, (px, int(height * 0.2)), (px + 7, curb), (70, 70, 70), -1)
        if rng.random() < 0.5:
            green = (int(rng.uniform(20, 80)), int(rng.uniform(80, 160)), int(rng.uniform(20, 80)))
            radius = int(rng.uniform(0.05, 0.12) * width)
            cv2.circle(scene, (px, int(height * 0.25)), radius, green, -1)
    noise = rng.normal(0, 6, scene.shape).astype(np.float32)
    scene = np.clip(scene.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return cv2.resize(cv2.GaussianBlur(scene, (0, 0), 0.8), full, interpolation=cv2.INTER_LINEAR)


def paste(scene: np.ndarray, car: Image.Image, box: Box) -> None:
    """Blend the car into ``box`` with feathered edges (no hard rectangle to find)."""
    import cv2

    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    patch = np.asarray(car.convert("RGB").resize((w, h), Image.Resampling.BILINEAR))
    mask = np.zeros((h, w), np.float32)
    inset = max(1, int(0.03 * min(w, h)))
    mask[inset:-inset, inset:-inset] = 1.0
    feathered = cv2.GaussianBlur(mask, (0, 0), inset)[..., None]
    region = scene[y1:y2, x1:x2].astype(np.float32)
    scene[y1:y2, x1:x2] = (patch * feathered + region * (1 - feathered)).astype(np.uint8)


def place(
    rng: np.random.Generator,
    frame: tuple[int, int],
    width_share: float,
    centre_x: float,
) -> Box:
    """A car box of ``width_share`` of the frame's width, centred at ``centre_x``, on the road."""
    width, height = frame
    w = int(width * width_share)
    h = min(int(w / rng.uniform(*ASPECTS)), int(height * 0.95))
    cx = int(np.clip(centre_x * width, w / 2, width - w / 2))
    bottom = int(np.clip(height * rng.uniform(0.72, 0.92), h, height))
    return (cx - w // 2, bottom - h, cx - w // 2 + w, bottom)


def frame_car(
    car: Image.Image,
    rng: np.random.Generator,
    width_share: float,
    *,
    centre_x: float = 0.5,
    second: Image.Image | None = None,
    size: tuple[int, int] = FRAME_SIZE,
) -> tuple[Image.Image, Box, list[Box]]:
    """The car in a street scene; returns the frame, the car's box and every car's box."""
    scene = street_scene(rng, size)
    box = place(rng, size, width_share, centre_x)
    boxes = [box]
    if second is not None:
        other_x = 0.8 if centre_x <= 0.5 else 0.2
        other = place(rng, size, width_share * SECOND_CAR_SCALE, other_x)
        paste(scene, second, other)
        boxes.append(other)
    paste(scene, car, box)
    return Image.fromarray(scene), box, boxes


@dataclass(frozen=True)
class Framing:
    """One framing alteration, an ``Image -> Image`` callable like the others in eval."""

    width_share: float
    centre_x: float = 0.5
    # Sources of second cars (any image files); one is chosen per query from its seed.
    donors: Sequence[str] = ()

    def __call__(self, image: Image.Image) -> Image.Image:
        rng = np.random.default_rng(seed_of(image))
        second = None
        if self.donors:
            second = load_image(self.donors[int(rng.integers(len(self.donors)))])
        return frame_car(image, rng, self.width_share, centre_x=self.centre_x, second=second)[0]


def framings(donors: Sequence[str] = ()) -> dict[str, Callable[[Image.Image], Image.Image]]:
    """The framing alterations by name: every scale centred and off-centre, and beside a
    second car when ``donors`` are given; plus the loose 70 % crop."""
    result: dict[str, Callable[[Image.Image], Image.Image]] = {}
    for share in SCALES:
        percent = round(share * 100)
        result[f"frame_{percent}"] = Framing(share)
        result[f"off_centre_{percent}"] = Framing(share, centre_x=0.22)
        if donors:
            result[f"second_car_{percent}"] = Framing(share, centre_x=0.35, donors=donors)
    result[f"loose_{round(LOOSE_CROP * 100)}"] = Framing(LOOSE_CROP)
    return result
