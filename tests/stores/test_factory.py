"""One setting (environment or config file) picks where uploads go; every source stays readable."""

from __future__ import annotations

from pathlib import Path

import pytest

from revsearch.config import Settings
from revsearch.errors import BackendUnavailableError, BadParameterError
from revsearch.stores import LocalStore, RoutingStore, S3Store, open_store
from tests.samples import car_photo
from tests.stores.s3server import MotoServer


def test_local_is_the_default_and_keeps_uploads_in_the_catalog(tmp_path: Path) -> None:
    store = open_store(Settings(), tmp_path / "catalog")
    assert isinstance(store.uploads, LocalStore) and store.s3 is None
    source = store.put(b"uploaded", "jpg")
    assert Path(source).parent == tmp_path / "catalog" / "images"
    assert store.owns(source) and store.delete(source)
    with pytest.raises(BackendUnavailableError, match="REVSEARCH_IMAGE_STORE"):
        store.get("s3://cars/images/x.jpg")
    assert store.owns("s3://cars/images/x.jpg") is False


def test_unknown_stores_are_refused(tmp_path: Path) -> None:
    for spec in ("ftp://cars/x", "s3://Not_A_Bucket", "/srv/images"):
        with pytest.raises(BadParameterError):
            open_store(Settings(image_store=spec), tmp_path)


def test_s3_uploads_beside_local_files_in_one_catalog(moto: MotoServer, tmp_path: Path) -> None:
    """Uploads go to S3; indexed files and earlier local uploads are still read and deleted."""
    bucket = moto.new_bucket()
    catalog = tmp_path / "catalog"
    earlier_upload = open_store(Settings(), catalog).put(b"uploaded before the switch", "png")
    settings = Settings(image_store=f"s3://{bucket}/cars/images", s3_endpoint_url=moto.url)
    store = open_store(settings, catalog)
    assert isinstance(store.uploads, S3Store) and store.uploads is store.s3

    data = car_photo().read_bytes()
    uploaded = store.put(data, "jpg")
    assert uploaded.startswith(f"s3://{bucket}/cars/images/")
    assert not (catalog / "images" / uploaded.rpartition("/")[2]).exists()
    indexed = str(car_photo())
    for source in (uploaded, indexed):
        assert store.get(source) == data
        assert b"".join(store.open_stream(source, chunk_size=4096).chunks) == data
    assert store.get(earlier_upload) == b"uploaded before the switch"

    assert store.delete(indexed) is False and Path(indexed).exists()
    assert store.delete(earlier_upload) is True and not Path(earlier_upload).exists()
    assert store.delete(uploaded) is True
    assert "Contents" not in moto.client().list_objects_v2(Bucket=bucket)


def test_the_config_file_selects_s3(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = moto.new_bucket()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[revsearch]\nimage_store = "s3://{bucket}/images"\ns3_endpoint_url = "{moto.url}"\n'
    )
    monkeypatch.setenv("REVSEARCH_CONFIG", str(config))
    for name in ("REVSEARCH_IMAGE_STORE", "REVSEARCH_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    store: RoutingStore = open_store(Settings.from_env(), tmp_path / "catalog")
    source = store.put(b"uploaded", "jpg")
    assert source.startswith(f"s3://{bucket}/images/")
    assert moto.client().get_object(Bucket=bucket, Key=source.split("/", 3)[3])["Body"].read() == (
        b"uploaded"
    )
