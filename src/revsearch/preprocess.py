"""The one decode-and-transform path shared by indexing, querying, evaluation and training.

Pure numpy/PIL (no torch): bytes or a path in, a normalised float32 CHW array out.
Only the formats in ACCEPTED_FORMATS are opened, and every failure is turned into a
:mod:`revsearch.errors` exception, never a PIL traceback.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from revsearch.config import DecodeLimits
from revsearch.errors import (
    ImageTooLargeError,
    InvalidImageError,
    NotFoundError,
    RevSearchError,
    UnsupportedImageError,
)
from revsearch.memory import DECODE_BUDGET

try:  # HEIC/HEIF from phones; AVIF is built into Pillow >= 11.2.
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a core dependency
    pass

# We enforce our own pixel limit (below) before decoding; PIL's global one would raise
# a different exception type at a different threshold.
Image.MAX_IMAGE_PIXELS = None
Image.init()  # load every plug-in now, so ACCEPTED_FORMATS can be checked against them

DEFAULT_LIMITS = DecodeLimits()  # as revsearch.config declares them


EXIF_ORIENTATION = 0x0112
# The formats a car photo comes in, by Pillow's name (a JPEG with several pictures opens as
# "MPO"). Every other plug-in (DDS, SPIDER, EPS, ...) is attack surface and is refused.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF", "AVIF")
# Images are reduced by an integer factor right after decoding, as long as they stay this
# many times larger than the size they are wanted at (what resize's reducing_gap keeps).
REDUCING_GAP = 3
# Modes Image.reduce cannot work on, and the mode to convert them to first.
REDUCIBLE_AS = {"1": "L", "P": "RGBA", "I;16": "I", "I;16B": "I", "I;16L": "I", "I;16N": "I"}
# Peak bytes per pixel while decoding (measured on 3000 x 3000 images, rounded up): by
# format where the decoder keeps its own buffers, else by the mode Pillow decodes into.
DECODE_BYTES_PER_PIXEL = {"WEBP": 16, "AVIF": 11, "HEIF": 11}
MODE_BYTES_PER_PIXEL = {
    "1": 2, "L": 2, "P": 10, "PA": 10, "LA": 8, "RGB": 4, "RGBA": 9, "CMYK": 8,
    "I;16": 7, "I;16B": 7, "I;16L": 7, "I": 8, "F": 8,
}  # fmt: skip
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class Transform:
    """How a model wants its input: square size and per-channel normalisation (0-1 scale)."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    # The localiser's input: the photo squashed to this side first, as the embedding's pass
    # sees it whole (which a photo searched whole needs anyway), then a small step down by
    # OpenCV's plain bilinear (0.08 ms; Pillow's from 240 to 128 px: 0.35, from full size
    # up to 1 ms more).
    via: int | None = None

    def __call__(self, image: Image.Image) -> np.ndarray:
        """RGB image -> float32 array (3, size, size)."""
        if self.via:
            pixels = np.asarray(resize(image, self.via))
            step = cv2.resize(pixels, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
            return to_array(step, self.mean, self.std)
        return to_array(resize(image, self.size), self.mean, self.std)


@dataclass(frozen=True)
class Decoded:
    """An upright RGB image and the size of the original (before any draft reduction)."""

    image: Image.Image
    width: int
    height: int
    format: str = ""  # PIL's name of the file format, e.g. "JPEG"


def decode(
    source: bytes | str | Path,
    limits: DecodeLimits = DEFAULT_LIMITS,
    *,
    draft_size: int | None = None,
    name: str | None = None,
) -> Decoded:
    """Decode any accepted image into an upright RGB image, enforcing size limits.

    The pixel limit is checked from the header, before any pixel is decoded, which is what
    stops decompression bombs; decoding then waits for its share of the process's decoding
    memory (:mod:`revsearch.memory`). ``draft_size`` says the result will be resized to
    about that size anyway: JPEG then decodes at a reduced scale, and other formats are
    reduced right after decoding, before any full-size copy. Whatever goes wrong inside a
    decoder is the file's fault and raises a :mod:`revsearch.errors` exception, nothing else.
    """
    data = read_bytes(source, limits.max_bytes)
    name = name or (str(source) if not isinstance(source, bytes) else "image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # EXIF/ICC warnings are noise for us
            return _decode(data, limits.max_pixels, draft_size, name)
    except RevSearchError:
        raise
    except UnidentifiedImageError:
        raise UnsupportedImageError(
            f"{name}: not an image in a supported format ({', '.join(ACCEPTED_FORMATS)})"
        ) from None
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{name}: {exc}") from None
    except MemoryError:
        raise ImageTooLargeError(f"{name}: not enough memory to decode this image") from None
    except Exception as exc:  # any decoder's failure (pillow-heif RuntimeError, struct.error...)
        raise InvalidImageError(
            f"{name}: corrupt or truncated image", detail=_describe(exc)
        ) from None


def _decode(data: bytes, max_pixels: int, draft_size: int | None, name: str) -> Decoded:
    image: Image.Image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name}: {width}x{height} pixels is over the limit of {max_pixels:,}"
        )
    if width < 1 or height < 1:
        raise InvalidImageError(f"{name}: an image of {width}x{height} pixels")
    if draft_size and image.format in ("JPEG", "MPO"):
        image.draft("RGB", (draft_size, draft_size))
    file_format = image.format or ""
    with DECODE_BUDGET.reserve(decode_cost(image)):
        image.load()  # GIF/APNG/TIFF: the first frame
        orientation = _orientation(image)
        if orientation in (5, 6, 7, 8):
            width, height = height, width
        if draft_size:
            image = _reduce(image, draft_size)
        if orientation in TRANSPOSE:
            image = image.transpose(TRANSPOSE[orientation])
        return Decoded(to_rgb(image), width, height, file_format)


def decode_cost(image: Image.Image) -> int:
    """Bytes decoding this (opened, possibly drafted) image will need at its peak."""
    per_pixel = DECODE_BYTES_PER_PIXEL.get(image.format or "") or MODE_BYTES_PER_PIXEL.get(
        image.mode, 9
    )
    return image.size[0] * image.size[1] * per_pixel


def _orientation(image: Image.Image) -> int:
    """The EXIF (or XMP) orientation; a damaged EXIF block is ignored, not fatal."""
    try:
        value = image.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) else 1


def _reduce(image: Image.Image, size: int) -> Image.Image:
    """Shrink by an integer factor while at least REDUCING_GAP x ``size`` on both sides."""
    factor = min(image.size) // (REDUCING_GAP * size)
    if factor < 2:
        return image
    if image.mode in REDUCIBLE_AS:
        image = image.convert(REDUCIBLE_AS[image.mode])
    return image.reduce(factor)


def _describe(exc: Exception) -> str:
    message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def load_image(source: bytes | str | Path, limits: DecodeLimits = DEFAULT_LIMITS) -> Image.Image:
    """:func:`decode`, when only the image matters."""
    return decode(source, limits).image


def read_bytes(source: bytes | str | Path, max_bytes: int) -> bytes:
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise ImageTooLargeError(
                    f"{path}: {size:,} bytes is over the limit of {max_bytes:,}"
                )
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise UnsupportedImageError(f"{path}: is a folder, not an image") from None
        except PermissionError:
            raise InvalidImageError(f"{path}: permission denied") from None
    if len(data) > max_bytes:
        raise ImageTooLargeError(f"image of {len(data):,} bytes is over the limit of {max_bytes:,}")
    if not data:
        raise InvalidImageError("empty file")
    return data


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> 8-bit RGB. Transparency is flattened onto white, like a browser."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16/32-bit grayscale: scale to 8 bits instead of clipping everything to white.
        array = np.asarray(image, dtype=np.float64)
        peak = array.max() or 1.0
        scale = 255.0 / (65535.0 if peak > 255 else 255.0)
        array = np.clip(array * scale, 0, 255).astype(np.uint8)
        return Image.fromarray(array).convert("RGB")
    if image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        lo, hi = float(array.min()), float(array.max())
        array = (array - lo) / ((hi - lo) or 1.0) * 255.0
        return Image.fromarray(array.astype(np.uint8)).convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def resize(image: Image.Image, size: int) -> Image.Image:
    """Squash to size x size, as the catalog images were prepared (no aspect-preserving crop).

    Pillow's bilinear, as in training: OpenCV's enlarges about 4x faster and agrees to one
    level in 255, but even that moved the float model's Recall@1 on the eval classes from
    0.8257 to 0.8231 (int8: 0.8262 to 0.8255), so it is not used for the embedding's input.
    """
    if image.size == (size, size):
        return image
    return image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0)


def to_array(
    image: Image.Image | np.ndarray, mean: Sequence[float], std: Sequence[float]
) -> np.ndarray:
    """RGB image (or its HWC uint8 pixels) -> normalised float32 CHW array.

    Converting the uint8 view in place is ~20x faster than ``np.asarray(image, float32)``.
    """
    array = np.ascontiguousarray(np.asarray(image).transpose(2, 0, 1)).astype(np.float32)
    array -= (np.asarray(mean, dtype=np.float32) * 255.0)[:, None, None]
    array /= (np.asarray(std, dtype=np.float32) * 255.0)[:, None, None]
    return array


def prepare(
    source: bytes | str | Path, transform: Transform, limits: DecodeLimits = DEFAULT_LIMITS
) -> np.ndarray:
    """Decode and transform one image: the function every caller goes through."""
    return transform(decode(source, limits, draft_size=transform.size).image)
