"""What only the S3 store has to get right: prefixes, foreign keys, big bodies, outages."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from revsearch.errors import (
    BackendUnavailableError,
    BadParameterError,
    MissingExtraError,
    NotFoundError,
)
from revsearch.stores import S3Store
from tests.stores.s3server import MotoServer, require_boto3
from tests.support.processes import free_port

OUTAGE_BUDGET_S = 15.0  # short timeouts + one retry: a dead endpoint must not hang a request


@pytest.fixture(autouse=True)
def _boto3() -> None:
    require_boto3()


def test_without_boto3_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(MissingExtraError, match=r"revsearch\[s3\]"):
        S3Store("cars")


def test_url_gives_bucket_and_prefix() -> None:
    store = S3Store.from_url("s3://cars-images/a/b/", endpoint_url="http://127.0.0.1:9")
    assert (store.bucket, store.prefix) == ("cars-images", "a/b")
    assert store.key("x.jpg") == "a/b/x.jpg"
    assert S3Store.from_url("s3://cars-images").key("x.jpg") == "x.jpg"
    for bad in ("s3://", "s3://Bad_Bucket/x", "http://cars/x", "cars/x"):
        with pytest.raises(BadParameterError):
            S3Store.from_url(bad)
    with pytest.raises(BadParameterError):
        S3Store("cars/images")


def test_stores_with_other_prefixes_do_not_share_objects(moto: MotoServer) -> None:
    bucket = moto.new_bucket()
    images = S3Store(bucket, "images", endpoint_url=moto.url)
    images2 = S3Store(bucket, "images2", endpoint_url=moto.url)
    nested = S3Store(bucket, "images/sub", endpoint_url=moto.url)
    data = b"the same upload"
    sources = [store.put(data, "jpg") for store in (images, images2, nested)]
    assert len(set(sources)) == 3
    for store, own in zip((images, images2, nested), sources, strict=True):
        assert store.owns(own)
        for other in sources:
            if other != own:
                assert not store.owns(other)
                assert store.delete(other) is False
    listed = moto.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert sorted(o["Key"].rpartition("/")[0] for o in listed) == [
        "images",
        "images/sub",
        "images2",
    ]


def test_delete_refuses_keys_it_did_not_write(moto: MotoServer, tmp_path: Path) -> None:
    bucket, other_bucket = moto.new_bucket(), moto.new_bucket()
    store = S3Store(bucket, "images", endpoint_url=moto.url)
    own = store.put(b"uploaded", "jpg")
    name = own.rpartition("/")[2]
    client = moto.client()
    foreign_keys = {
        bucket: [f"dataset/{name}", "images/notes.txt", f"images/x/../{name}", name],
        other_bucket: [f"images/{name}"],
    }
    for where, keys in foreign_keys.items():
        for key in keys:
            client.put_object(Bucket=where, Key=key, Body=b"not yours")
    foreign = [f"s3://{b}/{k}" for b, keys in foreign_keys.items() for k in keys]
    for source in [*foreign, str(tmp_path), "relative.jpg", "s3://"]:
        assert store.owns(source) is False
        assert store.delete(source) is False
    for where, keys in foreign_keys.items():
        for key in keys:
            assert client.get_object(Bucket=where, Key=key)["Body"].read() == b"not yours"
    assert store.get(own) == b"uploaded"
    assert store.delete(own) is True


def test_a_large_object_streams_in_chunks(moto: MotoServer) -> None:
    store = S3Store(moto.new_bucket(), "images", endpoint_url=moto.url)
    data = os.urandom(6 * 1024 * 1024 + 123)
    stream = store.open_stream(store.put(data, "jpg"), chunk_size=256 * 1024)
    assert stream.size == len(data)
    first = next(stream.chunks)
    assert len(first) == 256 * 1024  # bytes arrive before the whole body is read
    rest = list(stream.chunks)
    assert len(rest) == len(data) // (256 * 1024)
    assert first + b"".join(rest) == data


def test_an_unreachable_endpoint_is_backend_unavailable_quickly() -> None:
    store = S3Store("cars", "images", endpoint_url=f"http://127.0.0.1:{free_port()}")
    source = store.url(store.key("a" * 64 + ".jpg"))
    calls = [
        lambda: store.put(b"data", "jpg"),
        lambda: store.get(source),
        lambda: store.open_stream(source),
        lambda: store.delete(source),
    ]
    for call in calls:
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError, match="S3 image store is unavailable"):
            call()
        assert time.monotonic() - started < OUTAGE_BUDGET_S


def test_a_missing_bucket_is_backend_unavailable_and_says_so(moto: MotoServer) -> None:
    store = S3Store("no-such-bucket-here", "images", endpoint_url=moto.url)
    with pytest.raises(BackendUnavailableError, match="bucket 'no-such-bucket-here'"):
        store.put(b"data", "jpg")
    with pytest.raises(BackendUnavailableError):
        store.get(store.url("images/x.jpg"))


def test_an_object_deleted_behind_the_store_is_not_found(moto: MotoServer) -> None:
    store = S3Store(moto.new_bucket(), "images", endpoint_url=moto.url)
    source = store.put(b"uploaded", "jpg")
    moto.client().delete_object(Bucket=store.bucket, Key=source.split("/", 3)[3])
    with pytest.raises(NotFoundError):
        store.open_stream(source)
    assert store.delete(source) is False
