"""The local image store and the thumbnail cache, on real files."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from revsearch.errors import BadParameterError, InvalidImageError, NotFoundError
from revsearch.stores import LocalStore, ThumbnailCache
from tests.samples import car_photo, encode, truncated_jpeg


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "catalog" / "images")


def test_put_is_content_addressed_and_leaves_no_temporary_files(store: LocalStore) -> None:
    data = car_photo().read_bytes()
    source = store.put(data, "jpg")
    assert Path(source) == store.root / f"{hashlib.sha256(data).hexdigest()}.jpg"
    assert store.get(source) == data
    assert store.put(data, "jpg") == source  # same bytes, same file
    assert [p.name for p in store.root.iterdir()] == [Path(source).name]


def test_put_refuses_suffixes_that_could_name_a_path(store: LocalStore) -> None:
    for suffix in ("../x", "jpg/..", "", "j.pg"):
        with pytest.raises(BadParameterError):
            store.put(b"data", suffix)


def test_open_stream_gives_size_type_and_all_bytes(store: LocalStore) -> None:
    path = car_photo()
    stream = store.open_stream(str(path), chunk_size=1000)
    assert stream.size == path.stat().st_size
    assert stream.media_type == "image/jpeg"
    chunks = list(stream.chunks)
    assert len(chunks) > 1 and b"".join(chunks) == path.read_bytes()


def test_missing_or_relative_sources_are_not_found(store: LocalStore, tmp_path: Path) -> None:
    for source in (str(tmp_path / "gone.jpg"), "relative/car.jpg", str(tmp_path)):
        with pytest.raises(NotFoundError):
            store.get(source)
        with pytest.raises(NotFoundError):
            store.open_stream(source)


def test_delete_touches_only_files_the_store_wrote(store: LocalStore, tmp_path: Path) -> None:
    source = store.put(b"uploaded", "png")
    outside = tmp_path / "dataset.jpg"
    outside.write_bytes(b"indexed in place")
    assert store.delete(str(outside)) is False
    assert outside.exists()
    sneaky = str(store.root / ".." / "dataset.jpg")
    assert store.delete(sneaky) is False
    assert store.delete(source) is True
    assert not Path(source).exists()
    assert store.delete(source) is False


def test_thumbnail_is_made_once_and_cached(store: LocalStore, tmp_path: Path) -> None:
    big = encode(Image.new("RGB", (1200, 600), (200, 30, 30)), "PNG")
    source = store.put(big, "png")
    content_hash = hashlib.sha256(big).hexdigest()
    cache = ThumbnailCache(tmp_path / "thumbnails", store)
    path = cache.get(source, content_hash)
    with Image.open(path) as thumbnail:
        assert thumbnail.format == "JPEG" and thumbnail.size == (256, 128)
    made_at = path.stat().st_mtime_ns
    assert cache.get(source, content_hash) == path
    assert path.stat().st_mtime_ns == made_at
    assert cache.etag(content_hash) == f'"{content_hash}-256"'
    assert [p.name for p in cache.folder.iterdir()] == [path.name]  # no temporary files left
    cache.discard(content_hash)
    assert not path.exists()


def test_thumbnail_of_a_broken_file_raises_and_caches_nothing(
    store: LocalStore, tmp_path: Path
) -> None:
    source = store.put(truncated_jpeg(), "jpg")
    cache = ThumbnailCache(tmp_path / "thumbnails", store)
    with pytest.raises(InvalidImageError):
        cache.get(source, "ab" * 32)
    assert not cache.folder.exists() or not any(cache.folder.iterdir())


def test_thumbnail_cache_rejects_hashes_that_are_not_hashes(
    store: LocalStore, tmp_path: Path
) -> None:
    cache = ThumbnailCache(tmp_path / "thumbnails", store)
    with pytest.raises(ValueError):
        cache.path("../../etc/passwd")


def test_thumbnail_is_upright_rgb(store: LocalStore, tmp_path: Path) -> None:
    """EXIF-rotated and RGBA uploads come out as upright RGB JPEGs."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: stored landscape, shown portrait
    rotated = encode(Image.new("RGB", (400, 200), "blue"), "JPEG", exif=exif.tobytes())
    transparent = encode(Image.new("RGBA", (300, 300), (0, 0, 0, 0)), "PNG")
    cache = ThumbnailCache(tmp_path / "thumbnails", store)
    for data, size, corner in (
        (rotated, (128, 256), None),
        (transparent, (256, 256), (255, 255, 255)),
    ):
        path = cache.get(store.put(data, "img"), hashlib.sha256(data).hexdigest())
        with Image.open(io.BytesIO(path.read_bytes())) as thumbnail:
            assert thumbnail.mode == "RGB" and thumbnail.size == size
            if corner:
                pixel = thumbnail.getpixel((0, 0))
                assert isinstance(pixel, tuple)
                assert all(abs(a - b) < 8 for a, b in zip(pixel, corner, strict=True))
