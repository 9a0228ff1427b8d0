"""Image, thumbnail, stats and health endpoints of a real uvicorn process."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from revsearch.encoder.onnx import OnnxEncoder
from tests.api.http import assert_error, search
from tests.api.photos import catalog_photo
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def first_hit(server: LiveServer) -> dict:
    """The search result for a catalog photo whose file we can compare against."""
    with server.client() as client:
        response = search(client, catalog_photo(0)[0].read_bytes(), k=1)
    return response.json()["results"][0]


def test_original_is_the_catalog_file(client: httpx.Client, first_hit: dict) -> None:
    response = client.get(first_hit["image_url"])
    assert response.status_code == 200
    assert response.content == catalog_photo(0)[0].read_bytes()
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "public, no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    etag = response.headers["etag"]
    again = client.get(first_hit["image_url"], headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_thumbnail_is_a_cached_small_jpeg(
    server: LiveServer, client: httpx.Client, first_hit: dict
) -> None:
    response = client.get(first_hit["thumbnail_url"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "public, no-cache"
    with Image.open(io.BytesIO(response.content)) as thumbnail:
        assert thumbnail.format == "JPEG"
        assert max(thumbnail.size) <= 256  # the dataset photos are 224 px
    etag = response.headers["etag"]
    cached = list((server.catalog / "thumbnails").glob("*.jpg"))
    assert any(path.read_bytes() == response.content for path in cached)

    assert client.get(first_hit["thumbnail_url"]).content == response.content
    not_modified = client.get(first_hit["thumbnail_url"], headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.headers["etag"] == etag
    assert (
        client.get(first_hit["thumbnail_url"], headers={"If-None-Match": '"other"'}).status_code
        == 200
    )


@pytest.mark.parametrize("suffix", ["", "/thumbnail"])
def test_unknown_image_is_404(client: httpx.Client, suffix: str) -> None:
    for image_id in (999_999, -1, 0):
        assert_error(client.get(f"/api/images/{image_id}{suffix}"), 404, "not_found")


@pytest.mark.parametrize(
    "path",
    [
        "/api/images/abc",
        "/api/images/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/images/%2Fetc%2Fpasswd",
        "/api/images/http%3A%2F%2F127.0.0.1%2F",
        "/api/images/1.5/thumbnail",
    ],
)
def test_image_ids_are_never_paths(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (404, 422)
    assert "error" in response.json()


def test_stats(client: httpx.Client, encoder: OnnxEncoder) -> None:
    stats = client.get("/api/stats").json()
    assert 230 < stats["images"] < 250  # write tests add and remove a few
    assert stats["classes"] == 20
    assert stats["model_id"] == encoder.model_id
    assert stats["embedding_dim"] == encoder.dim
    assert stats["index_kind"] == "exact"
    assert stats["max_upload_bytes"] == 20 * 1024 * 1024
    assert "catalog" not in stats  # the server's folder layout is not disclosed


def test_health_and_readiness(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_unknown_route_and_method_are_json(client: httpx.Client) -> None:
    assert_error(client.get("/api/nothing-here"), 404, "not_found")
    assert_error(client.put("/api/search"), 405, "method_not_allowed")


def test_openapi_documents_the_api(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert set(paths) >= {
        "/api/search", "/api/images", "/api/images/{image_id}",
        "/api/images/{image_id}/thumbnail", "/api/stats", "/healthz", "/readyz",
    }  # fmt: skip
    assert "multipart/form-data" in paths["/api/search"]["post"]["requestBody"]["content"]
    assert "413" in paths["/api/search"]["post"]["responses"]
    assert paths["/api/images"]["post"]["security"]
    assert client.get("/docs").status_code == 200


def test_web_ui_is_served(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
