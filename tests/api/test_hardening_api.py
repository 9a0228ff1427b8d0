"""Hostile requests against a real server (issue 15): each answers a JSON 4xx, never a 500."""

from __future__ import annotations

import httpx
import pytest

from revsearch.errors import InvalidImageError
from tests.api.http import assert_error, search
from tests.api.photos import catalog_photo
from tests.crafted import CRAFTED, crafted, refused_format
from tests.support.images import encode, synthetic
from tests.support.live_server import TOKEN, LiveServer

pytestmark = pytest.mark.slow

AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOO_BIG = [2**63, -(2**63) - 1, 10**30]
EDGES = [2**63 - 1, -(2**63)]


@pytest.fixture(scope="module")
def first_id(server: LiveServer) -> int:
    with server.client() as client:
        return search(client, catalog_photo(0)[0].read_bytes(), k=1).json()["results"][0]["id"]


@pytest.mark.parametrize("image_id", TOO_BIG + EDGES)
def test_ids_outside_64_bits_are_a_bad_parameter(client: httpx.Client, image_id: int) -> None:
    status, code = (422, "bad_parameter") if image_id in TOO_BIG else (404, "not_found")
    for suffix in ("", "/thumbnail"):
        assert_error(client.get(f"/api/images/{image_id}{suffix}"), status, code)
        assert client.head(f"/api/images/{image_id}{suffix}").status_code == status
    assert_error(client.delete(f"/api/images/{image_id}", headers=AUTH), status, code)


def expected_status(name: str) -> int:
    error = CRAFTED[name]
    return 200 if error is None else error.http_status


@pytest.mark.parametrize("name", list(CRAFTED))
def test_crafted_files_are_client_errors(client: httpx.Client, name: str) -> None:
    status = expected_status(name)
    response = search(client, crafted(name), name=name)
    if status == 200:
        assert response.status_code == 200, response.text
        return
    code = "invalid_image" if status == InvalidImageError.http_status else "unsupported_media_type"
    assert_error(response, status, code)
    before = client.get("/api/stats").json()["images"]
    added = client.post("/api/images", files={"image": (name, crafted(name))}, headers=AUTH)
    assert_error(added, status, code)
    assert client.get("/api/stats").json()["images"] == before


@pytest.mark.parametrize(("fmt", "mode"), [("DDS", "RGB"), ("SPIDER", "F"), ("JPEG2000", "RGB")])
def test_formats_outside_the_allow_list_are_415(client: httpx.Client, fmt: str, mode: str) -> None:
    assert_error(search(client, refused_format(fmt, mode)), 415, "unsupported_media_type")


def test_head_answers_headers_only(client: httpx.Client, first_id: int) -> None:
    for path in (f"/api/images/{first_id}", f"/api/images/{first_id}/thumbnail"):
        full = client.get(path)
        head = client.head(path)
        assert head.status_code == 200 and head.content == b""
        for name in ("content-type", "etag", "cache-control", "content-length"):
            assert head.headers[name] == full.headers[name], name
        assert int(head.headers["content-length"]) == len(full.content)
    assert client.head("/api/images/999999").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/images/1", "DELETE, GET, HEAD"),
        ("PATCH", "/api/images/1/thumbnail", "GET, HEAD"),
        ("GET", "/api/search", "POST"),
        ("DELETE", "/api/images", "GET, POST"),
    ],
)
def test_405_lists_every_allowed_method(
    client: httpx.Client, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path, headers=AUTH)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == allowed


def test_range_requests_on_thumbnails(client: httpx.Client, first_id: int) -> None:
    path = f"/api/images/{first_id}/thumbnail"
    size = len(client.get(path).content)
    partial = client.get(path, headers={"Range": "bytes=0-9"})
    assert partial.status_code == 206 and len(partial.content) == 10
    for bad in ("bytes=abc", "items=0-1", "bytes=5-2", "0-10"):
        assert_error(client.get(path, headers={"Range": bad}), 400, "bad_range")
    outside = client.get(path, headers={"Range": f"bytes={size + 100}-"})
    assert_error(outside, 416, "range_not_satisfiable")
    assert outside.headers["content-range"] == f"bytes */{size}"


def test_two_image_parts_are_refused(client: httpx.Client) -> None:
    first, second = catalog_photo(0)[0].read_bytes(), catalog_photo(1)[0].read_bytes()
    parts = [("image", ("a.jpg", first, "image/jpeg")), ("image", ("b.jpg", second, "image/jpeg"))]
    response = client.post("/api/search", files=parts)
    assert_error(response, 400, "bad_request")
    assert "'image'" in response.json()["error"]["message"]
    twice_k = client.post("/api/search", files=parts[:1], data={"k": ["1", "2"]})
    assert_error(twice_k, 400, "bad_request")
    before = client.get("/api/stats").json()["images"]
    assert_error(client.post("/api/images", files=parts, headers=AUTH), 400, "bad_request")
    assert client.get("/api/stats").json()["images"] == before


def photo(colour: tuple[int, int, int]) -> bytes:
    """A new image, not in the catalog."""
    image = synthetic((96, 64))
    image.paste(colour, (0, 0, 48, 64))
    return encode(image, "JPEG", quality=90)


def test_ids_are_never_reused_and_nothing_cached_outlives_a_delete(client: httpx.Client) -> None:
    first = client.post("/api/images", files={"image": ("a.jpg", photo((250, 0, 0)))}, headers=AUTH)
    assert first.status_code == 201, first.text
    a = first.json()
    original, thumbnail = client.get(a["image_url"]), client.get(a["thumbnail_url"])
    for response in (original, thumbnail):
        assert response.headers["cache-control"] == "public, no-cache"  # revalidate each use
    assert client.delete(a["image_url"], headers=AUTH).status_code == 204

    second = client.post(
        "/api/images", files={"image": ("b.jpg", photo((0, 250, 0)))}, headers=AUTH
    )
    assert second.status_code == 201, second.text
    b = second.json()
    try:
        assert b["id"] > a["id"]
        # A cache revalidating A's URL learns it is gone, never gets B or a 304.
        for url, response in ((a["image_url"], original), (a["thumbnail_url"], thumbnail)):
            stale = client.get(url, headers={"If-None-Match": response.headers["etag"]})
            assert_error(stale, 404, "not_found")
        assert_error(client.delete(a["image_url"], headers=AUTH), 404, "not_found")
        assert client.get(b["image_url"]).status_code == 200
    finally:
        client.delete(b["image_url"], headers=AUTH)
