"""POST /api/search against a real uvicorn process: results, filters, bad input, concurrency."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from PIL import Image

from revsearch.eval.perturb import COPY_EDITS
from tests.api.http import assert_error, search
from tests.api.photos import catalog_photo, held_out_photo
from tests.samples import not_an_image, png_bomb, truncated_jpeg
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow


def test_search_answers_ranked_results_and_a_prediction(client: httpx.Client) -> None:
    path, class_name = catalog_photo(0)
    response = search(client, path.read_bytes(), k=5)
    assert response.status_code == 200, response.text
    body = response.json()
    results = body["results"]
    assert len(results) == 5
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    top = results[0]
    assert top["score"] > 0.999  # the query is in the catalog
    assert top["class_name"] == class_name
    assert top["make"] == class_name.split()[0]
    assert top["year"] == int(class_name.split()[-1])
    assert top["image_url"] == f"/api/images/{top['id']}"
    assert top["thumbnail_url"] == f"/api/images/{top['id']}/thumbnail"
    assert top["same_image"] and not any(r["same_image"] for r in results[1:])
    assert body["prediction"]["class_name"] == class_name
    assert 0 < body["prediction"]["confidence"] <= 1
    candidates = body["prediction"]["candidates"]
    assert 1 <= len(candidates) <= 3 and candidates[0]["class_name"] == class_name
    probabilities = [c["probability"] for c in candidates]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0001
    assert body["prediction"]["sure"] == (body["prediction"]["confidence"] >= 0.9)
    assert set(body["timings_ms"]) == {"decode", "encode", "search", "same_image", "total"}
    assert body["timings_ms"]["total"] >= body["timings_ms"]["encode"] > 0


def test_an_edited_copy_finds_its_original_first(client: httpx.Client) -> None:
    path, _ = catalog_photo(3)
    original = search(client, path.read_bytes(), k=1).json()["results"][0]
    copy = COPY_EDITS["reframe"](Image.open(path).convert("RGB"))
    buffer = io.BytesIO()
    copy.save(buffer, format="JPEG", quality=60)
    results = search(client, buffer.getvalue(), k=5).json()["results"]
    assert results[0]["id"] == original["id"] and results[0]["same_image"]
    assert results[0]["score"] < 0.999  # found as the same photo, not as the same bytes


def test_default_k_is_six(client: httpx.Client) -> None:
    path, _ = held_out_photo()
    response = search(client, path.read_bytes())
    assert response.status_code == 200
    assert len(response.json()["results"]) == 6


def test_filters_restrict_results(client: httpx.Client) -> None:
    data = held_out_photo()[0].read_bytes()
    unfiltered = search(client, data, k=20).json()["results"]
    make, year = unfiltered[-1]["make"], unfiltered[-1]["year"]

    by_make = search(client, data, k=10, make=make.lower()).json()["results"]
    assert by_make and all(r["make"] == make for r in by_make)

    by_year = search(client, data, k=10, year_min=year, year_max=year).json()["results"]
    assert by_year and all(r["year"] == year for r in by_year)

    threshold = unfiltered[3]["score"]
    strong = search(client, data, k=20, min_score=threshold).json()["results"]
    assert len(strong) >= 3 and all(r["score"] >= threshold for r in strong)


@pytest.mark.parametrize(
    "fields",
    [
        {"k": 0},
        {"k": 101},
        {"k": "many"},
        {"min_score": 1.5},
        {"year_min": 2012, "year_max": 2007},
        {"year_min": "last year"},
    ],
)
def test_bad_parameters_are_422(client: httpx.Client, fields: dict[str, Any]) -> None:
    assert_error(search(client, catalog_photo(0)[0].read_bytes(), **fields), 422, "bad_parameter")


def test_missing_image_field_is_422(client: httpx.Client) -> None:
    assert_error(client.post("/api/search", data={"k": "3"}), 422, "bad_parameter")


@pytest.mark.parametrize(
    ("name", "make_data", "status", "code"),
    [
        ("bomb.png", png_bomb, 413, "image_too_large"),
        ("truncated.jpg", truncated_jpeg, 400, "invalid_image"),
        ("notes.jpg", not_an_image, 415, "unsupported_media_type"),
        ("empty.jpg", lambda: b"", 400, "invalid_image"),
    ],
)
def test_bad_images_get_clear_errors(
    server: LiveServer, client: httpx.Client, name: str, make_data, status: int, code: str
) -> None:
    assert_error(search(client, make_data(), name=name), status, code)
    assert server.alive()


def test_server_survives_bad_input(server: LiveServer, client: httpx.Client) -> None:
    for data in (png_bomb(), truncated_jpeg(), not_an_image(), b"\x89PNG\r\n\x1a\n" + b"\0" * 64):
        assert search(client, data).status_code in (400, 413, 415)
    assert server.alive()
    assert client.get("/healthz").status_code == 200
    assert search(client, catalog_photo(1)[0].read_bytes(), k=3).status_code == 200
    assert "Traceback" not in server.log.read_text()  # expected failures are not crashes


def test_concurrent_searches_agree_with_sequential_ones(client: httpx.Client) -> None:
    """The shared ONNX session and catalog give the same answers under concurrency."""
    photos = [catalog_photo(i)[0].read_bytes() for i in (0, 12, 24, 36)] * 3

    def ranked_ids(data: bytes) -> list[int]:
        response = search(client, data, k=4)
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["results"]]

    expected = [ranked_ids(data) for data in photos[:4]] * 3
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(ranked_ids, photos)) == expected
