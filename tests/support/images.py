"""Images made in memory, and their bytes in any format Pillow writes."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def synthetic(size: tuple[int, int] = (48, 32)) -> Image.Image:
    """A small RGB image with structure (gradient + noise), the same on every run."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, size[0], dtype=np.uint8)
    rgb = np.stack([np.tile(ramp, (size[1], 1))] * 3, axis=-1)
    rgb[..., 1] = rng.integers(0, 255, (size[1], size[0]), dtype=np.uint8)
    return Image.fromarray(rgb)
