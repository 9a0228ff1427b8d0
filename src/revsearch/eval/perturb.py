"""Query perturbations that imitate real uploads (the catalog images are tight crops)."""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image, ImageOps

from revsearch.preprocess import to_rgb


def center_crop(image: Image.Image, fraction: float = 0.6) -> Image.Image:
    """Keep the central ``fraction`` of each side: the car is cut off, as in close-ups."""
    width, height = image.size
    w, h = round(width * fraction), round(height * fraction)
    left, top = (width - w) // 2, (height - h) // 2
    return image.crop((left, top, left + w, top + h))


def pad_to_16_9(image: Image.Image) -> Image.Image:
    """Letterbox onto a grey 16:9 frame: the car no longer fills the picture."""
    width, height = image.size
    frame_width = max(width, round(height * 16 / 9))
    frame = Image.new("RGB", (frame_width, height), (128, 128, 128))
    frame.paste(image, ((frame_width - width) // 2, 0))
    return frame


def jpeg_quality_20(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=20)
    return to_rgb(Image.open(io.BytesIO(buffer.getvalue())))


def rotate_10(image: Image.Image) -> Image.Image:
    return image.rotate(10, resample=Image.Resampling.BILINEAR, fillcolor=(128, 128, 128))


def grayscale(image: Image.Image) -> Image.Image:
    return ImageOps.grayscale(image).convert("RGB")


PERTURBATIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "crop_60": center_crop,
    "pad_16_9": pad_to_16_9,
    "jpeg_q20": jpeg_quality_20,
    "rotate_10": rotate_10,
    "grayscale": grayscale,
}
