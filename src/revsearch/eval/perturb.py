"""Query perturbations that imitate real uploads (the catalog images are tight crops)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

from PIL import Image, ImageEnhance, ImageOps

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


def reframe(image: Image.Image) -> Image.Image:
    """An off-centre crop keeping 80 % of the width and 85 % of the height."""
    width, height = image.size
    return image.crop((round(width * 0.15), round(height * 0.05), round(width * 0.95),
                       round(height * 0.9)))  # fmt: skip


def dim(image: Image.Image) -> Image.Image:
    return ImageEnhance.Brightness(image).enhance(0.55)


def screenshot(image: Image.Image) -> Image.Image:
    """Shown at two thirds of its size and captured as PNG."""
    small = image.resize((image.width * 2 // 3, image.height * 2 // 3), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    small.save(buffer, format="PNG")
    return to_rgb(Image.open(io.BytesIO(buffer.getvalue())))


PERTURBATIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "crop_60": center_crop,
    "pad_16_9": pad_to_16_9,
    "jpeg_q20": jpeg_quality_20,
    "rotate_10": rotate_10,
    "grayscale": grayscale,
}
# What happens to a catalog photo on its way back as a query (revsearch.same_image).
COPY_EDITS: dict[str, Callable[[Image.Image], Image.Image]] = {
    **PERTURBATIONS,
    "reframe": reframe,
    "dim": dim,
    "screenshot": screenshot,
}


def alterations(
    perturb: bool, framing: bool = False, donors: Sequence[str] = ()
) -> dict[str, Callable[[Image.Image], Image.Image]]:
    """The alterations an evaluation applies to its queries: the five above with ``perturb``,
    the phone-photo framings of :mod:`revsearch.eval.framing` with ``framing`` (second cars
    taken from ``donors``)."""
    from revsearch.eval.framing import framings

    return {**(PERTURBATIONS if perturb else {}), **(framings(donors) if framing else {})}
