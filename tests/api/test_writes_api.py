"""Adding and deleting images: bearer-token auth, atomicity, and the upload size limit."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.api.conftest import SMALL_UPLOAD_LIMIT
from tests.api.http import assert_error, search
from tests.api.photos import catalog_photo, held_out_photo
from tests.samples import not_an_image, png_bomb, truncated_jpeg
from tests.support.live_server import TOKEN, LiveServer

pytestmark = pytest.mark.slow

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def add(
    client: httpx.Client, data: bytes, headers: dict[str, str], **fields: str
) -> httpx.Response:
    return client.post(
        "/api/images",
        files={"image": ("new.jpg", data, "image/jpeg")},
        data=fields,
        headers=headers,
    )


def count(client: httpx.Client) -> int:
    return client.get("/api/stats").json()["images"]


def test_add_search_fetch_and_delete_an_image(server: LiveServer, client: httpx.Client) -> None:
    path, class_name = held_out_photo()
    data = path.read_bytes()
    before = count(client)

    created = add(client, data, AUTH, class_name=class_name)
    assert created.status_code == 201, created.text
    image = created.json()
    assert image["created"] is True
    assert image["class_name"] == class_name
    assert image["make"] == class_name.split()[0]
    assert image["year"] == int(class_name.split()[-1])
    assert created.headers["location"] == image["image_url"]
    stored = server.catalog / "images" / f"{hashlib.sha256(data).hexdigest()}.jpg"
    assert stored.read_bytes() == data
    assert count(client) == before + 1

    top = search(client, data, k=1).json()["results"][0]
    assert top["id"] == image["id"] and top["score"] > 0.999
    assert client.get(image["image_url"]).content == data
    assert client.get(image["thumbnail_url"]).status_code == 200

    again = add(client, data, AUTH, class_name=class_name)
    assert again.status_code == 200
    assert again.json()["id"] == image["id"] and again.json()["created"] is False
    assert count(client) == before + 1

    deleted = client.delete(f"/api/images/{image['id']}", headers=AUTH)
    assert deleted.status_code == 204
    assert not stored.exists()
    assert count(client) == before
    assert_error(client.get(image["image_url"]), 404, "not_found")
    assert_error(client.delete(f"/api/images/{image['id']}", headers=AUTH), 404, "not_found")
    assert search(client, data, k=1).json()["results"][0]["id"] != image["id"]


def test_deleting_an_indexed_image_keeps_its_source_file(client: httpx.Client) -> None:
    """Only files the API wrote are deleted; the dataset the catalog was built from is not."""
    path, _ = catalog_photo(5)
    data = path.read_bytes()
    hit = search(client, data, k=1).json()["results"][0]
    assert hit["score"] > 0.999
    assert client.delete(f"/api/images/{hit['id']}", headers=AUTH).status_code == 204
    assert_error(client.get(hit["image_url"]), 404, "not_found")
    assert hit["id"] not in [r["id"] for r in search(client, data, k=10).json()["results"]]
    assert path.read_bytes() == data


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        ({"Authorization": TOKEN}, 401, "unauthorized"),
        ({"Authorization": f"Token {TOKEN}"}, 401, "unauthorized"),
        ({"Authorization": "Bearer"}, 401, "unauthorized"),
        ({"Authorization": "Bearer wrong-token"}, 403, "forbidden"),
        ({"Authorization": f"Bearer {TOKEN}x"}, 403, "forbidden"),
    ],
)
def test_writes_need_the_token(
    client: httpx.Client, headers: dict[str, str], status: int, code: str
) -> None:
    before = count(client)
    response = add(client, held_out_photo()[0].read_bytes(), headers)
    assert_error(response, status, code)
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    assert_error(client.delete("/api/images/1", headers=headers), status, code)
    assert count(client) == before
    assert client.get("/api/images/1").status_code == 200


@pytest.mark.parametrize(
    ("make_data", "status", "code"),
    [
        (png_bomb, 413, "image_too_large"),
        (truncated_jpeg, 400, "invalid_image"),
        (not_an_image, 415, "unsupported_media_type"),
    ],
)
def test_bad_uploads_write_nothing(
    server: LiveServer, client: httpx.Client, make_data, status: int, code: str
) -> None:
    before = count(client)
    assert_error(add(client, make_data(), AUTH, class_name="Bad Upload 2020"), status, code)
    assert count(client) == before
    uploads = server.catalog / "images"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_bad_class_name_is_422(client: httpx.Client) -> None:
    response = add(client, held_out_photo()[0].read_bytes(), AUTH, class_name="x" * 201)
    assert_error(response, 422, "bad_parameter")


def test_writes_are_disabled_without_a_configured_token(locked_server: LiveServer) -> None:
    with locked_server.client() as client:
        for headers in ({}, AUTH):
            assert_error(add(client, b"irrelevant", headers), 403, "writes_disabled")
            assert_error(client.delete("/api/images/1", headers=headers), 403, "writes_disabled")
        assert client.get("/api/images/1").status_code == 200


def test_oversized_uploads_are_413(locked_server: LiveServer) -> None:
    """Rejected by Content-Length, by counting a chunked body, and by the image part's size."""
    with locked_server.client() as client:
        far_over = b"\xff" * (SMALL_UPLOAD_LIMIT * 4)
        assert_error(search(client, far_over), 413, "image_too_large")

        just_over = b"\xff" * (SMALL_UPLOAD_LIMIT + 1)
        assert_error(search(client, just_over), 413, "image_too_large")

        boundary = "revsearch-test-boundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
            f'filename="big.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()

        def chunked_body():  # no Content-Length: the server has to count
            yield head
            for _ in range(8):
                yield b"\xff" * SMALL_UPLOAD_LIMIT
            yield f"\r\n--{boundary}--\r\n".encode()

        response = client.post(
            "/api/search",
            content=chunked_body(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert_error(response, 413, "image_too_large")

        assert locked_server.alive()
        small = held_out_photo()[0].read_bytes()
        assert len(small) <= SMALL_UPLOAD_LIMIT
        assert search(client, small, k=2).status_code == 200
