"""The API with uploads in S3 (a real moto_server on loopback): write, stream, delete, outage.

Each test starts its own emulator and uvicorn process configured only through the
environment (REVSEARCH_IMAGE_STORE, REVSEARCH_S3_ENDPOINT_URL), on a copy of the catalog
whose indexed images are local files, so one catalog holds both kinds of source.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from tests.api.http import assert_error, search
from tests.api.photos import catalog_photo, held_out_photo
from tests.api.test_writes_api import AUTH, add, count
from tests.stores.s3server import AWS_ENV, MotoServer, aws_env, moto_server
from tests.support.images import encode
from tests.support.live_server import TOKEN, LiveServer, copy_catalog, live_server

pytestmark = pytest.mark.slow

PREFIX = "cars/images"


@dataclass
class S3Deployment:
    server: LiveServer
    moto: MotoServer
    bucket: str

    def key(self, data: bytes) -> str:
        return f"{PREFIX}/{hashlib.sha256(data).hexdigest()}.jpg"

    def object(self, data: bytes) -> bytes | None:
        """The stored object for these bytes, read behind the app's back; None if absent."""
        client = self.moto.client()
        key = self.key(data)
        if "Contents" not in client.list_objects_v2(Bucket=self.bucket, Prefix=key):
            return None
        return client.get_object(Bucket=self.bucket, Key=key)["Body"].read()


@pytest.fixture
def s3_api(built_catalog: Path, model_path: Path, tmp_path: Path) -> Iterator[S3Deployment]:
    with aws_env(), moto_server(tmp_path) as moto:
        bucket = moto.new_bucket()
        catalog = copy_catalog(built_catalog, tmp_path / "catalog")
        with live_server(
            catalog,
            model_path,
            tmp_path,
            REVSEARCH_API_TOKEN=TOKEN,
            REVSEARCH_IMAGE_STORE=f"s3://{bucket}/{PREFIX}",
            REVSEARCH_S3_ENDPOINT_URL=moto.url,
            **AWS_ENV,
        ) as server:
            yield S3Deployment(server, moto, bucket)


def test_uploads_are_stored_streamed_and_deleted_in_s3(s3_api: S3Deployment) -> None:
    path, class_name = held_out_photo()
    data = path.read_bytes()
    uploads = s3_api.server.catalog / "images"
    with s3_api.server.client() as client:
        before = count(client)
        created = add(client, data, AUTH, class_name=class_name)
        assert created.status_code == 201, created.text
        image = created.json()
        assert s3_api.object(data) == data
        assert not uploads.exists()  # nothing fell back to the local folder
        assert count(client) == before + 1
        assert search(client, data, k=1).json()["results"][0]["id"] == image["id"]

        original = client.get(image["image_url"])
        assert original.status_code == 200 and original.content == data
        assert original.headers["content-type"] == "image/jpeg"
        assert original.headers["content-length"] == str(len(data))
        thumbnail = client.get(image["thumbnail_url"])
        assert thumbnail.status_code == 200
        with Image.open(io.BytesIO(thumbnail.content)) as small:
            assert small.format == "JPEG" and max(small.size) <= 256
        cached = (
            s3_api.server.catalog / "thumbnails" / f"{hashlib.sha256(data).hexdigest()}-256.jpg"
        )
        assert cached.read_bytes() == thumbnail.content

        # The indexed dataset files are still served from local disk.
        indexed, _ = catalog_photo(0)
        hit = search(client, indexed.read_bytes(), k=1).json()["results"][0]
        assert client.get(hit["image_url"]).content == indexed.read_bytes()

        assert client.delete(f"/api/images/{image['id']}", headers=AUTH).status_code == 204
        assert s3_api.object(data) is None
        assert not cached.exists()
        assert count(client) == before
        assert_error(client.get(image["image_url"]), 404, "not_found")


def test_an_s3_outage_answers_503_and_writes_nothing(s3_api: S3Deployment) -> None:
    path, class_name = held_out_photo()
    data = path.read_bytes()
    with Image.open(path) as photo:
        other = encode(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "JPEG")
    with s3_api.server.client() as client:
        stored = add(client, data, AUTH, class_name=class_name).json()
        assert client.get(stored["thumbnail_url"]).status_code == 200
        before = count(client)

        s3_api.moto.stop()
        refused = add(client, other, AUTH, class_name=class_name)
        assert_error(refused, 503, "backend_unavailable")
        message = refused.json()["error"]["message"]
        assert "S3" in message and s3_api.moto.url not in message  # no internal address
        assert count(client) == before
        assert search(client, other, k=1).json()["results"][0]["score"] < 0.999
        assert not (s3_api.server.catalog / "images").exists()

        assert_error(client.get(stored["image_url"]), 503, "backend_unavailable")
        assert client.get(stored["thumbnail_url"]).status_code == 200  # cached before

        # A delete still removes the row (the object is left as an orphan, and logged).
        assert client.delete(f"/api/images/{stored['id']}", headers=AUTH).status_code == 204
        assert count(client) == before - 1
        assert_error(client.get(stored["image_url"]), 404, "not_found")
        assert s3_api.server.alive()
