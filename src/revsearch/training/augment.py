"""Albumentations views that look like real uploads, which are not tight 224×224 crops.

Augmentation sits between the shared decode and the model's own transform (resize +
normalise), so training sees exactly the preprocessing that indexing and queries use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from revsearch.errors import MissingExtraError
from revsearch.preprocess import Transform, decode, resize

try:
    import albumentations as A
    import cv2
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("train", "albumentations") from exc


class PadToAspect(A.ImageOnlyTransform):
    """Put the image on a wider (or taller) background: the car no longer fills the frame."""

    def __init__(self, max_ratio: float = 1.8, p: float = 0.5) -> None:
        super().__init__(p=p)
        self.max_ratio = max_ratio

    def get_params(self) -> dict[str, Any]:
        return {
            "ratio": self.py_random.uniform(1.0, self.max_ratio),
            "wide": self.py_random.random() < 0.8,
            "colour": tuple(self.py_random.randint(0, 255) for _ in range(3)),
            "offset": self.py_random.random(),
        }

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        height, width = img.shape[:2]
        if params["wide"]:
            frame_h, frame_w = height, round(max(width, height * params["ratio"]))
        else:
            frame_h, frame_w = round(max(height, width * params["ratio"])), width
        frame = np.empty((frame_h, frame_w, 3), dtype=img.dtype)
        frame[:] = params["colour"]
        top = int((frame_h - height) * params["offset"])
        left = int((frame_w - width) * params["offset"])
        frame[top : top + height, left : left + width] = img
        return frame

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("max_ratio",)


def build_pipeline(
    size: int, strength: float, seed: int, crop_strength: float | None = None
) -> A.Compose:
    """Augmentations scaled by ``strength`` (0: none, 1: the full range); the framing ones
    (padding, resized crop) by ``crop_strength`` when given, because framing alone trades
    clean Recall@1 against robustness to cropped queries (docs/training.md)."""
    s = strength
    c = strength if crop_strength is None else crop_strength
    return A.Compose(
        [
            PadToAspect(max_ratio=1.0 + 0.8 * c, p=0.3 * c),
            A.RandomResizedCrop(
                size=(size, size), scale=(1.0 - 0.6 * c, 1.0), ratio=(1 - 0.4 * c, 1 + 0.7 * c)
            ),
            A.HorizontalFlip(p=0.5),
            A.Affine(
                rotate=(-12 * s, 12 * s),
                border_mode=cv2.BORDER_CONSTANT,
                fill=128,
                p=0.3 * s,
            ),
            A.ColorJitter(
                brightness=0.3 * s, contrast=0.3 * s, saturation=0.3 * s, hue=0.05 * s, p=0.8 * s
            ),
            A.ToGray(p=0.1 * s),
            A.GaussianBlur(blur_limit=(3, 5), p=0.1 * s),
            A.ImageCompression(quality_range=(20, 90), p=0.3 * s),
        ],
        seed=seed,
    )


def augmented(path: str | Path, pipeline: A.Compose | None, transform: Transform) -> np.ndarray:
    """One view of an image as the model's input array; ``pipeline=None`` gives the clean one."""
    image = decode(path).image
    if pipeline is not None:
        image = Image.fromarray(pipeline(image=np.asarray(squashed(image)))["image"])
    return transform(image)


def squashed(image: Image.Image) -> Image.Image:
    """The whole photo on a square of the same area, as queries see it (``transform`` squashes
    too); otherwise the crop's aspect range would cut the sides off wide photos."""
    if image.width == image.height:
        return image
    return resize(image, round((image.width * image.height) ** 0.5))
