"""decode under hostile input: the kept crafted files, refused formats, memory-lean decoding."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image

from revsearch.errors import RevSearchError, UnsupportedImageError
from revsearch.memory import DECODE_BUDGET
from revsearch.preprocess import ACCEPTED_FORMATS, decode
from tests.crafted import CRAFTED, REFUSED_FORMATS, crafted, refused_format
from tests.support.images import encode, synthetic


@pytest.mark.parametrize("name", list(CRAFTED))
def test_crafted_files_raise_only_the_projects_errors(name: str) -> None:
    expected = CRAFTED[name]
    if expected is None:  # a damaged EXIF block: the pixels are fine, the orientation ignored
        assert decode(crafted(name), draft_size=224).image.mode == "RGB"
        return
    with pytest.raises(expected) as caught:
        decode(crafted(name), name=name)
    assert type(caught.value) is expected
    assert str(caught.value).startswith(f"{name}: ")


@pytest.mark.parametrize(("fmt", "mode"), REFUSED_FORMATS)
def test_formats_outside_the_allow_list_are_refused(fmt: str, mode: str) -> None:
    data = refused_format(fmt, mode)
    with Image.open(io.BytesIO(data)) as image:  # Pillow itself reads it
        assert image.format
    with pytest.raises(UnsupportedImageError, match="not an image in a supported format"):
        decode(data)


def test_the_allow_list_is_what_the_readme_promises() -> None:
    assert set(ACCEPTED_FORMATS) == {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF", "AVIF"}
    for fmt in ACCEPTED_FORMATS:
        assert fmt in Image.OPEN, f"no Pillow plug-in opens {fmt}"


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "L", "1", "I;16", "CMYK"])
def test_large_images_are_reduced_before_any_full_size_copy(mode: str) -> None:
    """A 2400 x 1800 image wanted at 224 px comes back small, upright and in the right colours."""
    base = Image.new("RGB", (2400, 1800), (230, 30, 30))
    base.paste((30, 30, 230), (0, 0, 1200, 1800))  # left half blue, right half red
    image = base.convert("L").convert("I;16") if mode == "I;16" else base.convert(mode)
    fmt = "TIFF" if mode in ("CMYK", "I;16") else "PNG"
    decoded = decode(encode(image, fmt), draft_size=224)
    assert (decoded.width, decoded.height) == (2400, 1800)
    assert decoded.image.mode == "RGB"
    assert 224 * 3 <= min(decoded.image.size) < 224 * 6  # reduced, still >= 3x the target
    if mode in ("RGB", "RGBA", "P", "CMYK"):
        pixels = np.asarray(decoded.image, dtype=np.int32)
        left, right = pixels[:, :10].mean(axis=(0, 1)), pixels[:, -10:].mean(axis=(0, 1))
        assert left[2] > left[0] + 100 and right[0] > right[2] + 100


def test_reduction_keeps_the_exif_orientation() -> None:
    image = Image.new("RGB", (2400, 1200), (230, 30, 30))
    image.paste((30, 30, 230), (0, 0, 1200, 1200))  # left blue, right red
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise: blue ends up on top
    decoded = decode(encode(image, "PNG", exif=exif.tobytes()), draft_size=224)
    assert (decoded.width, decoded.height) == (1200, 2400)
    assert decoded.image.width < decoded.image.height
    pixels = np.asarray(decoded.image, dtype=np.int32)
    assert pixels[:10].mean(axis=(0, 1))[2] > 200 and pixels[-10:].mean(axis=(0, 1))[0] > 200


def test_decoding_waits_for_its_share_of_the_pixel_budget() -> None:
    """With the budget spent, a decode blocks until it is given back."""
    data = encode(synthetic(), "PNG")
    done = threading.Event()
    with DECODE_BUDGET.reserve(DECODE_BUDGET.capacity):
        worker = threading.Thread(target=lambda: (decode(data), done.set()))
        worker.start()
        assert not done.wait(0.3)
    assert done.wait(10)
    worker.join()
    assert DECODE_BUDGET.in_use == 0


def test_a_failed_decode_gives_its_budget_back() -> None:
    with pytest.raises(RevSearchError):
        decode(crafted("tiff-float-field.tif"))
    assert DECODE_BUDGET.in_use == 0
