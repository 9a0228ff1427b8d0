from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from revsearch.config import DecodeLimits
from revsearch.errors import (
    ImageTooLargeError,
    InvalidImageError,
    NotFoundError,
    UnsupportedImageError,
)
from revsearch.preprocess import Transform, decode, load_image, prepare, to_rgb
from tests.samples import car_photo, not_an_image, png_bomb, truncated_jpeg
from tests.support.images import encode

TRANSFORM = Transform(224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def gradient(mode: str = "RGB", size: tuple[int, int] = (64, 48)) -> Image.Image:
    x = np.linspace(0, 255, size[0], dtype=np.uint8)
    rgb = np.stack([np.tile(x, (size[1], 1))] * 3, axis=-1)
    rgb[..., 1] = 128
    return Image.fromarray(rgb).convert(mode)


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("JPEG", {"quality": 90}),
        ("PNG", {}),
        ("BMP", {}),
        ("GIF", {}),
        ("WEBP", {"quality": 90}),
        ("TIFF", {}),
        ("AVIF", {"quality": 90}),
        ("HEIF", {"quality": 90}),
    ],
)
def test_decodes_every_supported_format(fmt: str, options: dict) -> None:
    decoded = decode(encode(gradient(), fmt, **options))
    assert decoded.image.mode == "RGB"
    assert (decoded.width, decoded.height) == (64, 48)
    # The left edge is dark and the right edge bright in every format.
    pixels = np.asarray(decoded.image, dtype=np.int32)
    assert pixels[:, -1, 0].mean() - pixels[:, 0, 0].mean() > 150


def test_gif_uses_the_first_frame() -> None:
    frames = [Image.new("RGB", (32, 32), color) for color in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    red, _, blue = np.asarray(load_image(buffer.getvalue()), dtype=np.int32).mean(axis=(0, 1))
    assert red > 200 and blue < 50


def test_exif_orientation_is_applied() -> None:
    image = gradient(size=(80, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    decoded = decode(encode(image, "JPEG", exif=exif.tobytes()))
    assert decoded.image.size == (40, 80)
    assert (decoded.width, decoded.height) == (40, 80)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "1", "CMYK", "I;16", "I", "F", "PA"])
def test_every_mode_becomes_rgb(mode: str) -> None:
    if mode == "I;16":
        image = Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16))
    elif mode == "PA":
        image = gradient("P").convert("PA")
    else:
        image = gradient(mode)
    rgb = to_rgb(image)
    assert rgb.mode == "RGB" and rgb.size == image.size
    if mode == "I;16":  # 16-bit data is scaled, not clipped to white
        assert 0 < np.asarray(rgb).mean() < 255


def test_transparency_is_flattened_on_white() -> None:
    transparent = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    assert np.asarray(to_rgb(transparent)).min() == 255


def test_16_bit_png_round_trip() -> None:
    image = Image.fromarray(np.full((16, 16), 40000, dtype=np.uint16))
    pixels = np.asarray(load_image(encode(image, "PNG")))
    assert 140 < pixels.mean() < 170  # 40000 / 65535 * 255 = 155.6


def test_prepare_is_normalised_chw_float32() -> None:
    array = prepare(car_photo(), TRANSFORM)
    assert array.shape == (3, 224, 224) and array.dtype == np.float32
    assert array.flags.c_contiguous
    assert -1.0 <= array.min() < 0 < array.max() <= 1.0


def test_prepare_is_the_same_for_path_and_bytes() -> None:
    path = car_photo()
    np.testing.assert_array_equal(prepare(path, TRANSFORM), prepare(path.read_bytes(), TRANSFORM))


def test_a_transform_via_a_larger_side_sees_the_same_picture() -> None:
    """The localiser's input is made from the embedding's squashed photo: same shape and
    normalisation as a direct resize, nearly the same pixels (a gradient stays a gradient)."""
    image = gradient(size=(400, 300))
    direct = Transform(128, (0.5,) * 3, (0.5,) * 3)(image)
    via = Transform(128, (0.5,) * 3, (0.5,) * 3, via=240)(image)
    assert via.shape == direct.shape == (3, 128, 128) and via.dtype == np.float32
    assert via.flags.c_contiguous
    assert np.abs(via - direct).max() < 0.05  # 0-255 on a -1..1 scale: within 6 levels
    assert via[0, :, -1].mean() - via[0, :, 0].mean() > 1.5


def test_large_jpeg_is_drafted_but_reports_original_size() -> None:
    big = encode(gradient(size=(2000, 1500)), "JPEG")
    decoded = decode(big, draft_size=224)
    assert (decoded.width, decoded.height) == (2000, 1500)
    assert decoded.image.width < 2000  # decoded at a reduced scale


def test_decompression_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(ImageTooLargeError, match="over the limit"):
        decode(png_bomb())


def test_pixel_limit_is_configurable() -> None:
    with pytest.raises(ImageTooLargeError):
        decode(encode(gradient(size=(100, 100)), "PNG"), DecodeLimits(max_pixels=5000))


def test_byte_limit() -> None:
    with pytest.raises(ImageTooLargeError):
        decode(encode(gradient(), "PNG"), DecodeLimits(max_bytes=100))


def test_truncated_jpeg_is_invalid() -> None:
    with pytest.raises(InvalidImageError, match="truncated"):
        decode(truncated_jpeg())


def test_text_is_not_an_image(tmp_path) -> None:
    fake = tmp_path / "car.jpg"
    fake.write_bytes(not_an_image())
    with pytest.raises(UnsupportedImageError, match=r"car\.jpg"):
        decode(fake)


def test_empty_and_missing_files(tmp_path) -> None:
    empty = tmp_path / "empty.png"
    empty.touch()
    with pytest.raises(InvalidImageError):
        decode(empty)
    with pytest.raises(NotFoundError):
        decode(tmp_path / "missing.jpg")
    with pytest.raises(UnsupportedImageError):
        decode(tmp_path)
