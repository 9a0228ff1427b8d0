"""Thumbnails are made from any store's originals and cached on local disk, once."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from revsearch.errors import InvalidImageError
from revsearch.stores import LocalStore, ThumbnailCache
from tests.samples import truncated_jpeg
from tests.stores.conftest import StoreCase
from tests.support.images import encode


def test_thumbnail_is_made_once_and_cached(case: StoreCase, tmp_path: Path) -> None:
    big = encode(Image.new("RGB", (1200, 600), (200, 30, 30)), "PNG")
    source = case.store.put(big, "png")
    content_hash = hashlib.sha256(big).hexdigest()
    cache = ThumbnailCache(tmp_path / "thumbnails", case.store)
    path = cache.get(source, content_hash)
    with Image.open(path) as thumbnail:
        assert thumbnail.format == "JPEG" and thumbnail.size == (256, 128)
    made_at = path.stat().st_mtime_ns
    # Served from the cache from now on: even with the original gone from the store.
    assert case.store.delete(source) is True
    assert cache.get(source, content_hash) == path
    assert path.stat().st_mtime_ns == made_at
    assert cache.etag(content_hash) == f'"{content_hash}-256"'
    assert [p.name for p in cache.folder.iterdir()] == [path.name]  # no temporary files left
    cache.discard(content_hash)
    assert not path.exists()


def test_thumbnail_of_a_broken_file_raises_and_caches_nothing(
    case: StoreCase, tmp_path: Path
) -> None:
    source = case.store.put(truncated_jpeg(), "jpg")
    cache = ThumbnailCache(tmp_path / "thumbnails", case.store)
    with pytest.raises(InvalidImageError):
        cache.get(source, "ab" * 32)
    assert not cache.folder.exists() or not any(cache.folder.iterdir())


def test_thumbnail_cache_rejects_hashes_that_are_not_hashes(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path / "thumbnails", LocalStore(tmp_path / "images"))
    with pytest.raises(ValueError):
        cache.path("../../etc/passwd")


def test_thumbnail_is_upright_rgb(case: StoreCase, tmp_path: Path) -> None:
    """EXIF-rotated and RGBA uploads come out as upright RGB JPEGs."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: stored landscape, shown portrait
    rotated = encode(Image.new("RGB", (400, 200), "blue"), "JPEG", exif=exif.tobytes())
    transparent = encode(Image.new("RGBA", (300, 300), (0, 0, 0, 0)), "PNG")
    cache = ThumbnailCache(tmp_path / "thumbnails", case.store)
    for data, size, corner in (
        (rotated, (128, 256), None),
        (transparent, (256, 256), (255, 255, 255)),
    ):
        path = cache.get(case.store.put(data, "img"), hashlib.sha256(data).hexdigest())
        with Image.open(io.BytesIO(path.read_bytes())) as thumbnail:
            assert thumbnail.mode == "RGB" and thumbnail.size == size
            if corner:
                pixel = thumbnail.getpixel((0, 0))
                assert isinstance(pixel, tuple)
                assert all(abs(a - b) < 8 for a, b in zip(pixel, corner, strict=True))
