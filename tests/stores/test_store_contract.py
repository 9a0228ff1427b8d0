"""The image-store contract, run on every backend (local folder and S3 on moto_server)."""

from __future__ import annotations

import hashlib

import pytest
from PIL import Image

from revsearch.errors import BadParameterError, NotFoundError
from tests.samples import car_photo
from tests.stores.conftest import StoreCase
from tests.support.images import encode


def test_put_is_content_addressed_and_leaves_nothing_else(case: StoreCase) -> None:
    data = car_photo().read_bytes()
    source = case.store.put(data, "jpg")
    name = f"{hashlib.sha256(data).hexdigest()}.jpg"
    assert source.endswith(f"/{name}")
    assert case.store.get(source) == data
    assert case.store.put(data, "JPG") == source  # same bytes, same object
    assert case.listing() == [name]


def test_put_refuses_suffixes_that_could_name_a_path(case: StoreCase) -> None:
    for suffix in ("../x", "jpg/..", "", "j.pg"):
        with pytest.raises(BadParameterError):
            case.store.put(b"data", suffix)
    assert case.listing() == []


def test_open_stream_gives_size_type_and_all_bytes(case: StoreCase) -> None:
    data = car_photo().read_bytes()
    stream = case.store.open_stream(case.store.put(data, "jpg"), chunk_size=1000)
    assert stream.size == len(data)
    assert stream.media_type == "image/jpeg"
    chunks = list(stream.chunks)
    assert len(chunks) > 1 and all(len(c) <= 1000 for c in chunks)
    assert b"".join(chunks) == data


def test_media_type_follows_the_stored_format(case: StoreCase) -> None:
    png = encode(Image.new("RGB", (8, 8), "red"), "PNG")
    stream = case.store.open_stream(case.store.put(png, "png"))
    assert stream.media_type == "image/png"
    assert b"".join(stream.chunks) == png


def test_missing_sources_are_not_found(case: StoreCase) -> None:
    for source in case.missing:
        with pytest.raises(NotFoundError):
            case.store.get(source)
        with pytest.raises(NotFoundError):
            case.store.open_stream(source)


def test_files_the_store_did_not_write_are_readable(case: StoreCase) -> None:
    """Indexed files (local paths, keys outside the prefix) are served but never owned."""
    data = car_photo().read_bytes()
    planted = case.plant(data, "dataset.jpg")
    assert case.store.get(planted) == data
    assert b"".join(case.store.open_stream(planted).chunks) == data
    assert case.store.owns(planted) is False


def test_delete_touches_only_objects_the_store_wrote(case: StoreCase) -> None:
    planted = case.plant(b"indexed in place", "dataset.jpg")
    source = case.store.put(b"uploaded", "png")
    assert case.store.owns(source) is True
    assert case.store.delete(planted) is False
    assert case.exists(planted)
    assert case.store.delete(source) is True
    assert not case.exists(source)
    assert case.store.delete(source) is False
    with pytest.raises(NotFoundError):
        case.store.get(source)
    assert case.listing() == []
