"""The regions on the query photo, in a real headless Chromium against a real server.

The page outlines the region the server searched (``query_box``), draws every other car it
found (``cars``) as a dashed "Search this car" button, and searches a region dragged on the
photo; each of those asks for a ``box``: re-queries by ``query_id`` (GET), the photo is
uploaded once. Photos over 1280 px are shrunk by the page before upload, so the boxes are in
the pixels of what was sent. The photos are dataset cars pasted small
into a large street scene (:func:`revsearch.eval.framing.frame_car`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from PIL import Image

from revsearch.eval.framing import frame_car
from tests.samples import car_photo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 30_000
PIXELS = 2.0  # the outline may be off from its box by this many screen pixels (rounding)
SAME_CAR_IOU = 0.7  # as the page: a car overlapping the region searched this much is it
SECOND_CAR = "images/test/00020.jpg"


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def framed_photo(folder: Path, *, second: bool = False, side: int | None = None) -> Path:
    """A dataset car taking 35 % of a 2000 x 1500 street scene (beside a second car);
    ``side``: resized to that width first."""
    with Image.open(car_photo()) as source:
        car = source.convert("RGB")
    options: dict[str, Any] = {}
    if second:
        with Image.open(car_photo(SECOND_CAR)) as source:
            options = {"centre_x": 0.22, "second": source.convert("RGB")}
    frame, _, _ = frame_car(car, np.random.default_rng(0), 0.35, **options)
    if side:
        frame = frame.resize((side, round(frame.height * side / frame.width)))
    path = folder / ("two-cars.jpg" if second else "framed.jpg")
    frame.save(path, "JPEG", quality=85)
    return path


def iou(a: list[int], b: list[int]) -> float:
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union else 0.0


SEARCHES = re.compile(r"/api/search(/[A-Za-z0-9_-]{16})?(\?.*)?$")


def is_search(request: Any) -> bool:
    """An upload (POST /api/search) or a re-query of one (GET /api/search/{query_id})."""
    return bool(SEARCHES.search(request.url)) and request.method in ("POST", "GET")


@dataclass(frozen=True)
class Sent:
    method: str
    url: str
    body: bytes  # a POST's multipart body (without the file's bytes, see searches_of)


def searches_of(page: Any) -> list[Sent]:
    """Every search the page sends from now on, passed on unchanged. A POST's body is read
    where the request is routed: a request's own body is not kept when it holds a file, and
    a routed one has every field but the file's bytes."""
    sent: list[Sent] = []

    def record(route: Any) -> None:
        request = route.request
        if is_search(request):
            sent.append(Sent(request.method, request.url, request.post_data_buffer or b""))
        route.fallback()

    page.route(SEARCHES, record)
    return sent


def form_field(body: bytes, name: str) -> str | None:
    """A plain field of a multipart body, or None when it was not sent."""
    pattern = rb'Content-Disposition: form-data; name="' + name.encode() + rb'"\r\n\r\n([^\r]*)\r\n'
    match = re.search(pattern, body)
    return match.group(1).decode() if match else None


def sent_field(sent: Sent, name: str) -> str | None:
    """A search's field: a form field of an upload, a query parameter of a re-query."""
    if sent.method == "POST":
        return form_field(sent.body, name)
    values = parse_qs(urlsplit(sent.url).query).get(name)
    return values[0] if values else None


def sent_box(sent: Sent) -> list[int] | None:
    field = sent_field(sent, "box")
    return [int(v) for v in field.split(",")] if field is not None else None


def requeries_only(sent: list[Sent]) -> None:
    """One photo is one upload: everything after it re-queries by id."""
    assert [s.method for s in sent] == ["GET"] * len(sent), [s.method for s in sent]


def answered(page: Any) -> Any:
    return page.expect_response(lambda response: is_search(response.request), timeout=TIMEOUT_MS)


def wait_until_shown(page: Any, body: dict[str, Any]) -> None:
    """The page has drawn this answer: its results and a finished caption."""
    ids = [str(result["id"]) for result in body["results"]]
    page.wait_for_function(
        """(ids) => {
            const caption = document.getElementById("region-caption").textContent;
            const shown = [...document.querySelectorAll("#results .result")].map(b => b.dataset.id);
            return caption.startsWith("Searched") && shown.join() === ids.join();
        }""",
        arg=ids,
        timeout=TIMEOUT_MS,
    )


def upload(page: Any, path: Path) -> dict[str, Any]:
    with answered(page) as response:
        page.set_input_files("#file-input", str(path))
    body = response.value.json()
    wait_until_shown(page, body)
    page.wait_for_function("() => document.getElementById('preview').naturalWidth > 0")
    return body


def photo(page: Any) -> dict[str, Any]:
    """The photo's natural size and where its picture is on screen (object-fit: contain)."""
    return page.evaluate(
        """() => {
            const img = document.getElementById("preview");
            const r = img.getBoundingClientRect();
            const scale = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
            const w = img.naturalWidth * scale, h = img.naturalHeight * scale;
            return { width: img.naturalWidth, height: img.naturalHeight,
                     left: r.left + (r.width - w) / 2, top: r.top + (r.height - h) / 2,
                     scale };
        }"""
    )


def on_screen(shot: dict[str, Any], box: list[int]) -> list[float]:
    """A box in the photo's pixels -> left, top, right, bottom on screen."""
    s = shot["scale"]
    return [shot["left"] + box[0] * s, shot["top"] + box[1] * s,
            shot["left"] + box[2] * s, shot["top"] + box[3] * s]  # fmt: skip


def screen_box(locator: Any) -> list[float]:
    rect = locator.bounding_box()
    assert rect is not None
    return [rect["x"], rect["y"], rect["x"] + rect["width"], rect["y"] + rect["height"]]


def assert_drawn_at(locator: Any, shot: dict[str, Any], box: list[int]) -> None:
    drawn, wanted = screen_box(locator), on_screen(shot, box)
    assert all(abs(d - w) <= PIXELS for d, w in zip(drawn, wanted, strict=True)), (drawn, wanted)


def whole(body: dict[str, Any], shot: dict[str, Any]) -> bool:
    return body["query_box"] == [0, 0, shot["width"], shot["height"]]


def test_the_searched_car_is_outlined_on_the_photo(page: Any, tmp_path: Path) -> None:
    body = upload(page, framed_photo(tmp_path))
    shot = photo(page)
    assert (shot["width"], shot["height"]) == (1280, 960)  # shrunk by the page before upload
    assert body["photo_size"] == [1280, 960]
    assert body["cars"], "no car found in a street scene: has the model a localiser?"
    assert not whole(body, shot), body["query_box"]  # the car is small: it was cut out
    outline = page.locator("#preview-boxes .query-box")
    expect(outline).to_have_count(1)
    assert_drawn_at(outline, shot, body["query_box"])
    expect(page.locator("#region-caption")).to_contain_text("Searched the car outlined")

    page.set_viewport_size({"width": 400, "height": 800})  # a narrower photo: it follows
    page.wait_for_function(
        "(width) => document.getElementById('preview').getBoundingClientRect().width < width",
        arg=shot["width"] * shot["scale"] - 20,
    )
    page.wait_for_timeout(100)  # a frame for the resize observer
    assert_drawn_at(outline, photo(page), body["query_box"])

    # "Search the whole photo" sends the whole photo as the box: no outline then.
    sent = searches_of(page)
    with answered(page) as response:
        page.get_by_role("button", name="Search the whole photo").click()
    wait_until_shown(page, response.value.json())
    assert [sent_box(form) for form in sent] == [[0, 0, 1280, 960]]
    requeries_only(sent)
    expect(outline).to_have_count(0)
    expect(page.locator("#region-caption")).to_contain_text("Searched the whole photo")
    expect(page.get_by_role("button", name="Search the whole photo")).to_be_hidden()


def test_a_photo_searched_whole_is_not_outlined(page: Any) -> None:
    body = upload(page, car_photo())  # a catalog-style tight crop: the car fills it
    shot = photo(page)
    outline = page.locator("#preview-boxes .query-box")
    if whole(body, shot):
        expect(outline).to_have_count(0)
        expect(page.locator("#region-caption")).to_contain_text("Searched the whole photo")
        expect(page.get_by_role("button", name="Search the whole photo")).to_be_hidden()
    else:
        assert_drawn_at(outline, shot, body["query_box"])


def test_dragging_on_the_photo_searches_that_region(page: Any, tmp_path: Path) -> None:
    first = upload(page, framed_photo(tmp_path))
    shot = photo(page)
    sent = searches_of(page)
    s = shot["scale"]
    # From the sky over the left houses to the road on the right: not the car found.
    w, h = shot["width"], shot["height"]
    start = (round(shot["left"] + 0.05 * w * s), round(shot["top"] + 0.053 * h * s))
    end = (round(shot["left"] + 0.65 * w * s), round(shot["top"] + 0.467 * h * s))
    with answered(page) as response:
        page.mouse.move(*start)
        page.mouse.down()
        page.mouse.move(*end, steps=8)
        expect(page.locator("#preview-boxes .draw-box")).to_have_count(1)  # the rubber band
        page.mouse.up()
    body = response.value.json()
    wait_until_shown(page, body)
    page.wait_for_timeout(300)  # nothing more is sent
    assert len(sent) == 1
    box = sent_box(sent[0])
    assert box is not None, "the region search sent no 'box' field"
    wanted = [(start[0] - shot["left"]) / s, (start[1] - shot["top"]) / s,
              (end[0] - shot["left"]) / s, (end[1] - shot["top"]) / s]  # fmt: skip
    tolerance = 1 / s + 1  # one screen pixel, in the photo's pixels
    assert all(abs(b - w) <= tolerance for b, w in zip(box, wanted, strict=True)), (box, wanted)
    assert sent_field(sent[0], "k") == "6"
    # The answer is drawn: its region outlined, its results listed, the caption says so.
    assert iou(body["query_box"], box) > 0.95, (body["query_box"], box)
    assert_drawn_at(page.locator("#preview-boxes .query-box"), shot, body["query_box"])
    expect(page.locator("#region-caption")).to_contain_text("Searched the region you drew")
    expect(page.locator("#preview-boxes .draw-box")).to_have_count(0)
    expect(page.locator("#results li")).to_have_count(len(body["results"]))

    # The slider keeps the region; Esc goes back to a search without a box.
    page.locator("#k").fill("3")
    expect(page.locator("#results li")).to_have_count(3)
    assert len(sent) == 2 and sent_box(sent[1]) == box
    with answered(page) as response:
        page.keyboard.press("Escape")
    again = response.value.json()
    wait_until_shown(page, again)
    assert len(sent) == 3 and sent_box(sent[2]) is None
    assert again["query_box"] == first["query_box"]
    expect(page.locator("#region-caption")).not_to_contain_text("region you drew")

    # A click on the photo (no drag) searches nothing.
    page.mouse.click(*start)
    page.wait_for_timeout(300)
    assert len(sent) == 3
    requeries_only(sent)


def test_another_car_found_is_a_button_that_searches_it(page: Any, tmp_path: Path) -> None:
    body = upload(page, framed_photo(tmp_path, second=True))
    shot = photo(page)
    others = [car for car in body["cars"] if iou(car["box"], body["query_box"]) < SAME_CAR_IOU]
    if not others:
        pytest.skip(
            f"the model found {len(body['cars'])} car(s) in the two-car photo, "
            "none besides the one searched"
        )
    buttons = page.get_by_role("button", name=re.compile(r"^Search this car"))
    expect(buttons).to_have_count(len(others))
    for index, car in enumerate(others):
        assert_drawn_at(buttons.nth(index), shot, car["box"])
    sent = searches_of(page)
    with answered(page) as response:
        buttons.first.click()
    picked = response.value.json()
    wait_until_shown(page, picked)
    assert [sent_box(form) for form in sent] == [others[0]["box"]]
    requeries_only(sent)
    assert_drawn_at(page.locator("#preview-boxes .query-box"), shot, picked["query_box"])
    expect(page.locator("#region-caption")).to_contain_text("Searched the car you picked")
    # The cars found first stay on the photo: the one searched before is a button now.
    first_searched = [c for c in body["cars"] if iou(c["box"], body["query_box"]) >= SAME_CAR_IOU]
    if first_searched:
        expect(buttons).to_have_count(len(body["cars"]) - 1)
        by_keyboard = first_searched[0]["box"]
        data_box = ",".join(map(str, by_keyboard))
        target = page.locator(f'#preview-boxes .car-box[data-box="{data_box}"]')
        target.focus()
        with answered(page) as response:
            page.keyboard.press("Enter")
        wait_until_shown(page, response.value.json())
        assert sent_box(sent[-1]) == by_keyboard
        requeries_only(sent)


def test_found_cars_from_the_answer_are_drawn_for_any_model(page: Any, tmp_path: Path) -> None:
    """The page's side of the contract, whatever the model finds: the real server's answer
    is given two cars and the first one as ``query_box`` when the search had no box."""
    cars = [{"box": [180, 480, 600, 720], "score": 0.9},
            {"box": [780, 510, 1080, 690], "score": 0.8}]  # fmt: skip

    photo_path = framed_photo(tmp_path, side=1200)  # small enough to be sent as it is

    def with_cars(route: Any) -> None:
        # The routed body lacks the file's bytes: put them back, then ask the real server.
        if route.request.method != "POST":
            route.fallback()
            return
        sent = route.request.post_data_buffer
        head, part, rest = sent.partition(b"Content-Type: image/jpeg\r\n\r\n")
        assert part and rest.startswith(b"\r\n")
        response = route.fetch(post_data=head + part + photo_path.read_bytes() + rest)
        body = response.json()
        if form_field(sent, "box") is None and response.ok:
            body = {**body, "cars": cars, "query_box": cars[0]["box"]}
        route.fulfill(response=response, json=body)

    page.route("**/api/search", with_cars)
    upload(page, photo_path)
    shot = photo(page)
    assert_drawn_at(page.locator("#preview-boxes .query-box"), shot, cars[0]["box"])
    button = page.get_by_role("button", name="Search this car (car 2 of 2 found)")
    assert_drawn_at(button, shot, cars[1]["box"])
    expect(page.locator("#region-caption")).to_have_text(
        "Searched the car outlined (2 cars found: click a box to search another)."
    )
    sent = searches_of(page)
    with answered(page) as response:
        button.click()
    wait_until_shown(page, response.value.json())
    assert [sent_box(form) for form in sent] == [cars[1]["box"]]
    requeries_only(sent)
    assert_drawn_at(page.locator("#preview-boxes .query-box"), shot, cars[1]["box"])
    # The car searched first is a button now, and the focus did not fall off the page.
    expect(page.get_by_role("button", name="Search this car (car 1 of 2 found)")).to_be_visible()
    assert page.evaluate("() => document.activeElement.id") == "whole-photo"
