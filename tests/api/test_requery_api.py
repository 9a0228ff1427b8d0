"""Searching again without the photo (``query_id``) and "more like this" (an image's own vector)."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from tests.api.http import assert_error, search
from tests.api.photos import catalog_photo, held_out_photo

pytestmark = pytest.mark.slow


def ranked(body: dict) -> list[tuple[int, float]]:
    return [(r["id"], r["score"]) for r in body["results"]]


def test_a_requery_answers_what_a_new_upload_would(client: httpx.Client) -> None:
    path, _ = held_out_photo()
    first = search(client, path.read_bytes(), k=3).json()
    query_id = first["query_id"]
    assert isinstance(query_id, str) and len(query_id) == 16

    again = client.get(f"/api/search/{query_id}", params={"k": 8})
    assert again.status_code == 200, again.text
    body = again.json()
    uploaded = search(client, path.read_bytes(), k=8).json()
    assert ranked(body) == ranked(uploaded)
    assert body["prediction"] == uploaded["prediction"]
    assert body["query_id"] == query_id and body["query_box"] == first["query_box"]
    assert body["timings_ms"]["encode"] == 0  # no model pass: the vector was kept


def test_a_requery_takes_filters(client: httpx.Client) -> None:
    path, class_name = held_out_photo()
    query_id = search(client, path.read_bytes()).json()["query_id"]
    make = class_name.split()[0]
    body = client.get(f"/api/search/{query_id}", params={"k": 20, "make": make}).json()
    assert body["results"] and all(r["make"] == make for r in body["results"])
    other = client.get(f"/api/search/{query_id}", params={"make": "NoSuchMake"}).json()
    assert other["results"] == [] and other["prediction"] is None
    high = client.get(f"/api/search/{query_id}", params={"min_score": 0.99}).json()
    assert all(r["score"] >= 0.99 for r in high["results"])


def test_a_requery_of_a_region_searches_the_kept_photo(client: httpx.Client) -> None:
    path, _ = catalog_photo(2)
    data = path.read_bytes()
    query_id = search(client, data, k=4).json()["query_id"]
    box = "10,10,150,120"
    by_id = client.get(f"/api/search/{query_id}", params={"k": 4, "box": box}).json()
    uploaded = search(client, data, k=4, box=box).json()
    assert ranked(by_id) == ranked(uploaded) and by_id["query_box"] == uploaded["query_box"]
    assert by_id["timings_ms"]["encode"] > 0
    # The region is remembered too: asked again, no model pass.
    again = client.get(f"/api/search/{query_id}", params={"k": 4, "box": box}).json()
    assert ranked(again) == ranked(uploaded) and again["timings_ms"]["encode"] == 0


def test_the_same_photo_is_still_found_first_on_a_requery(client: httpx.Client) -> None:
    path, _ = catalog_photo(3)
    first = search(client, path.read_bytes(), k=1).json()
    again = client.get(f"/api/search/{first['query_id']}", params={"k": 5}).json()
    assert again["results"][0]["id"] == first["results"][0]["id"]
    assert again["results"][0]["same_image"]


def test_unknown_or_malformed_query_ids(client: httpx.Client) -> None:
    assert_error(client.get("/api/search/" + "A" * 16), 404, "query_expired")
    assert_error(client.get("/api/search/short"), 422, "bad_parameter")
    path, _ = held_out_photo()
    query_id = search(client, path.read_bytes()).json()["query_id"]
    assert_error(client.get(f"/api/search/{query_id}", params={"k": 0}), 422, "bad_parameter")
    assert_error(
        client.get(f"/api/search/{query_id}", params={"box": "1,2,3"}), 422, "bad_parameter"
    )
    bad_years = {"year_min": 2012, "year_max": 2001}
    assert_error(client.get(f"/api/search/{query_id}", params=bad_years), 422, "bad_parameter")


def test_more_like_this_leaves_the_image_itself_out(client: httpx.Client) -> None:
    path, class_name = catalog_photo(0)
    image_id = search(client, path.read_bytes(), k=1).json()["results"][0]["id"]
    response = client.get(f"/api/images/{image_id}/similar", params={"k": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    ids = [r["id"] for r in body["results"]]
    assert len(ids) == 5 and image_id not in ids
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True) and scores[0] < 0.999
    assert body["query_id"] is None and body["query_box"] == []
    assert body["prediction"] is not None  # voted by the others: the image's own vote is out
    make = class_name.split()[0]
    only = client.get(f"/api/images/{image_id}/similar", params={"make": make, "k": 50}).json()
    assert all(r["make"] == make for r in only["results"])


def test_more_like_this_of_a_missing_image(client: httpx.Client) -> None:
    assert_error(client.get("/api/images/987654321/similar"), 404, "not_found")
    assert_error(client.get("/api/images/abc/similar"), 422, "bad_parameter")
    assert_error(client.get("/api/images/1/similar", params={"k": 1000}), 422, "bad_parameter")


def test_the_searched_photo_comes_back_as_a_small_upright_jpeg(client: httpx.Client) -> None:
    big = Image.new("RGB", (3000, 1000), (200, 30, 30))
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # EXIF orientation: rotate 90 degrees to show it upright
    big.save(buffer, format="JPEG", exif=exif)
    body = search(client, buffer.getvalue()).json()
    assert body["photo_size"] == [1000, 3000]  # upright, as the boxes are
    response = client.get(f"/api/search/{body['query_id']}/photo")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert response.headers["x-content-type-options"] == "nosniff"
    preview = Image.open(io.BytesIO(response.content))
    assert preview.size == (341, 1024)
    assert_error(client.get("/api/search/" + "B" * 16 + "/photo"), 404, "query_expired")


def test_a_damaged_photo_is_explained_without_the_decoders_words(client: httpx.Client) -> None:
    path, _ = catalog_photo(0)
    response = search(client, path.read_bytes()[:3000])
    assert_error(response, 400, "invalid_image")
    message = response.json()["error"]["message"]
    assert "corrupt or truncated" in message and "Error" not in message and "(" not in message
