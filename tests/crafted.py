"""Hostile image files: the kept corpus, refused formats, seeds per format, a byte mutator.

The files in ``tests/fixtures/crafted/`` were found by mutating the seeds below (see
tests/unit/test_decode_fuzz.py); each one made ``decode`` raise something other than the
project's errors before issue 15 (pillow-heif RuntimeError, struct.error, TypeError...).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image

from revsearch.errors import InvalidImageError, RevSearchError, UnsupportedImageError
from tests.support.images import encode, synthetic

CRAFTED_DIR = Path(__file__).resolve().parent / "fixtures" / "crafted"

# file -> what decode must raise now (None: it decodes; a damaged EXIF block is ignored).
CRAFTED: dict[str, type[RevSearchError] | None] = {
    "avif-missing-image-item.avif": InvalidImageError,
    "avif-not-implemented.avif": InvalidImageError,
    "avif-color-planes.avif": InvalidImageError,
    "heif-security-limit.heic": InvalidImageError,
    "tiff-float-field.tif": InvalidImageError,
    "dds-pixel-format.dds": UnsupportedImageError,
    "jpeg-exif-struct-error.jpg": None,
    "jpeg-exif-type-error.jpg": None,
    "jpeg-exif-rational.jpg": None,
}

# (format, mode) Pillow can write but RevSearch refuses: not a format car photos come in.
REFUSED_FORMATS = [
    ("DDS", "RGB"), ("SPIDER", "F"), ("ICO", "RGB"), ("TGA", "RGB"), ("PCX", "RGB"),
    ("SGI", "RGB"), ("PPM", "RGB"), ("IM", "RGB"), ("QOI", "RGB"), ("JPEG2000", "RGB"),
    ("XBM", "1"), ("MSP", "1"), ("BLP", "P"), ("ICNS", "RGB"),
]  # fmt: skip


def crafted(name: str) -> bytes:
    return (CRAFTED_DIR / name).read_bytes()


def refused_format(fmt: str, mode: str) -> bytes:
    return encode(Image.new("RGB", (16, 16), (10, 120, 200)).convert(mode), fmt)


def seeds() -> dict[str, bytes]:
    """One or more valid files per accepted format, including the parts decoders trip on
    (EXIF orientation, palette + transparency, 16-bit, animation, alpha)."""
    image = synthetic()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: the orientation fix runs
    exif[0x010F] = "Canon"
    exif[0x011A] = 72.0
    frames = [image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    return {
        "JPEG": encode(image, "JPEG", quality=80, exif=exif.tobytes()),
        "JPEG-progressive": encode(image, "JPEG", quality=70, progressive=True),
        "PNG": encode(image, "PNG"),
        "PNG-palette": encode(image.convert("P"), "PNG", transparency=0),
        "PNG-16bit": encode(
            Image.fromarray(np.asarray(image)[..., 0].astype(np.uint16) * 257), "PNG"
        ),
        "PNG-exif": encode(image.convert("RGBA"), "PNG", exif=exif.tobytes()),
        "WEBP": encode(image, "WEBP", quality=80),
        "WEBP-alpha": encode(image.convert("RGBA"), "WEBP", lossless=True),
        "GIF": encode(frames[0].convert("P"), "GIF", save_all=True, append_images=frames[1:]),
        "BMP": encode(image, "BMP"),
        "TIFF": encode(image, "TIFF", exif=exif.tobytes()),
        "TIFF-lzw": encode(image, "TIFF", compression="tiff_lzw"),
        "HEIF": encode(image, "HEIF", quality=80),
        "AVIF": encode(image, "AVIF", quality=80),
    }


# Values that break parsers when written over a length, size or offset field.
MAGIC = [b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00",
         b"\x00\x00\xff\xff", b"\xff\xfe", b"\x01"]  # fmt: skip


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A few random edits: bit flips, random bytes, magic values, deletions, insertions,
    and sometimes a truncation (the kinds of damage that found every kept file)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(out))
        edit = rng.randrange(5)
        if edit == 0:
            out[at] ^= 1 << rng.randrange(8)
        elif edit == 1:
            out[at] = rng.randrange(256)
        elif edit == 2:
            value = rng.choice(MAGIC)
            out[at : at + len(value)] = value
        elif edit == 3:
            del out[at : at + rng.randint(1, 16)]
        else:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        if not out:
            out = bytearray(data[:1])
    if rng.random() < 0.1:
        out = out[: rng.randrange(1, len(out) + 1)]
    return bytes(out)
