"""POST /api/search finds the car in a framed photo (``query_box``, ``cars``), takes a ``box``."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image

from revsearch.eval.framing import frame_car
from tests.api.http import assert_error, search
from tests.api.photos import catalog_photo

pytestmark = pytest.mark.slow


def framed(index: int, share: float = 0.35) -> tuple[bytes, tuple[int, int, int, int], str]:
    """A catalog photo's car small in a 2000 x 1500 street scene, as JPEG."""
    path, class_name = catalog_photo(index)
    frame, box, _ = frame_car(Image.open(path).convert("RGB"), np.random.default_rng(index), share)
    buffer = io.BytesIO()
    frame.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue(), box, class_name


def overlap(a: list[int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union


def test_a_tight_crop_is_searched_whole(client: httpx.Client) -> None:
    path, _ = catalog_photo(0)
    body = search(client, path.read_bytes(), k=3).json()
    with Image.open(path) as image:  # closed: the size alone does not load (and close) it
        width, height = image.size
    assert body["query_box"] == [0, 0, width, height]
    assert body["results"][0]["score"] > 0.999  # unchanged: the very catalog vector


def test_the_car_in_a_framed_photo_is_found_and_searched(client: httpx.Client) -> None:
    data, truth, class_name = framed(2)
    body = search(client, data, k=5).json()
    assert overlap(body["query_box"], truth) >= 0.6, (body["query_box"], truth)
    assert body["cars"] and all(0 <= car["score"] <= 1 for car in body["cars"])
    assert any(overlap(car["box"], truth) >= 0.6 for car in body["cars"])
    assert body["results"][0]["class_name"] == class_name


def test_a_given_box_is_the_region_searched(client: httpx.Client) -> None:
    data, truth, class_name = framed(4)
    box = ",".join(str(v) for v in truth)
    body = search(client, data, k=5, box=box).json()
    assert body["query_box"] == list(truth) and body["cars"] == []
    assert body["results"][0]["class_name"] == class_name
    # A box partly outside the photo is clipped to it.
    body = search(client, data, k=1, box=f"{truth[0]},{truth[1]},5000,5000").json()
    assert body["query_box"] == [truth[0], truth[1], 2000, 1500]


@pytest.mark.parametrize(
    ("box", "message"),
    [("1,2,3", "box must be"), ("10,10,5,20", "box must be"), ("a,b,c,d", "box must be"),
     ("3000,3000,3100,3100", "less than 8 x 8"), ("9" * 80, "at most 64")],
)  # fmt: skip
def test_bad_boxes_answer_422(client: httpx.Client, box: str, message: str) -> None:
    data, _, _ = framed(1)
    response = search(client, data, box=box)
    assert_error(response, 422, "bad_parameter")
    assert message in response.json()["error"]["message"]
