"""The one decode-and-transform path shared by indexing, querying, evaluation and training.

Pure numpy/PIL (no torch): bytes or a path in, a normalised float32 CHW array out.
Every failure is turned into a :mod:`revsearch.errors` exception, never a PIL traceback.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from revsearch.errors import (
    ImageTooLargeError,
    InvalidImageError,
    NotFoundError,
    UnsupportedImageError,
)

try:  # HEIC/HEIF from phones; AVIF is built into Pillow >= 11.2.
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a core dependency
    pass

# We enforce our own pixel limit (below) before decoding; PIL's global one would raise
# a different exception type at a different threshold.
Image.MAX_IMAGE_PIXELS = None

DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class Transform:
    """How a model wants its input: square size and per-channel normalisation (0-1 scale)."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def __call__(self, image: Image.Image) -> np.ndarray:
        """RGB image -> float32 array (3, size, size)."""
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
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    draft_size: int | None = None,
    name: str | None = None,
) -> Decoded:
    """Decode any supported image into an upright RGB image, enforcing size limits.

    The pixel limit is checked from the header, before any pixel is decoded, which is what
    stops decompression bombs. ``draft_size`` lets JPEG decode at a reduced scale when the
    result will be resized to about that size anyway (several times faster for photos).
    """
    data = read_bytes(source, max_bytes)
    name = name or (str(source) if not isinstance(source, bytes) else "image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # EXIF/ICC warnings are noise for us
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageTooLargeError(
                    f"{name}: {width}x{height} pixels is over the limit of {max_pixels:,}"
                )
            if draft_size and image.format == "JPEG":
                image.draft("RGB", (draft_size, draft_size))
            image.load()  # GIF/APNG/TIFF: the first frame
            if image.getexif().get(EXIF_ORIENTATION, 1) in (5, 6, 7, 8):
                width, height = height, width
            file_format = image.format or ""
            image = ImageOps.exif_transpose(image)
            return Decoded(to_rgb(image), width, height, file_format)
    except UnidentifiedImageError:
        raise UnsupportedImageError(f"{name}: not an image in a supported format") from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise InvalidImageError(f"{name}: corrupt or truncated image ({exc})") from None


def load_image(source: bytes | str | Path, **options: object) -> Image.Image:
    """:func:`decode`, when only the image matters."""
    return decode(source, **options).image  # type: ignore[arg-type]


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
    """Squash to size x size, as the catalog images were prepared (no aspect-preserving crop)."""
    if image.size == (size, size):
        return image
    return image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0)


def to_array(image: Image.Image, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """RGB image -> normalised float32 CHW array.

    Converting the uint8 view in place is ~20x faster than ``np.asarray(image, float32)``.
    """
    array = np.ascontiguousarray(np.asarray(image).transpose(2, 0, 1)).astype(np.float32)
    array -= (np.asarray(mean, dtype=np.float32) * 255.0)[:, None, None]
    array /= (np.asarray(std, dtype=np.float32) * 255.0)[:, None, None]
    return array


def prepare(source: bytes | str | Path, transform: Transform, **limits: int) -> np.ndarray:
    """Decode and transform one image: the function every caller goes through."""
    return transform(decode(source, draft_size=transform.size, **limits).image)  # type: ignore[arg-type]
