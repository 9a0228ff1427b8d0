"""The web UI in a real headless Chromium: upload, slider, errors, large view, paste, phone."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from tests.api.photos import catalog_photo, held_out_photo
from tests.samples import not_an_image
from tests.web.conftest import UI_UPLOAD_LIMIT
from tests.web.helpers import expect, scores, upload, wait_for_thumbnails

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_upload_shows_ranked_results_and_a_prediction(page: Any) -> None:
    upload(page)
    expect(page.locator("#results li")).to_have_count(6)
    values = scores(page)
    assert values == sorted(values, reverse=True)
    expect(page.locator("#preview")).to_be_visible()
    expect(page.locator("#prediction")).to_have_text(
        re.compile(r"^(This looks like|This might be): .+ \(\d+%\)$")
    )
    expect(page.locator("#status")).to_contain_text("6 similar cars")
    first = page.locator("#results .result").first
    expect(first.locator(".name .line")).to_have_count(3)  # make / model / year
    expect(first.locator(".name .line").last).to_have_text(re.compile(r"^\d{4}$"))
    expect(first.locator(".score")).to_have_text(re.compile(r"similarity [01]\.\d{3}"))
    wait_for_thumbnails(page)


def test_the_query_photo_itself_is_marked_same_photo(page: Any) -> None:
    upload(page, catalog_photo(0)[0])
    first = page.locator("#results .result").first
    expect(first.locator(".same-photo")).to_have_text("Same photo")
    expect(first).to_have_accessible_name(re.compile(r"Same photo$"))
    expect(page.locator("#results .same-photo")).to_have_count(1)


def test_an_unsure_answer_says_so_and_names_the_alternatives(page: Any) -> None:
    with page.expect_response("**/api/search") as answered:
        upload(page)
    prediction = answered.value.json()["prediction"]
    doubt = page.locator("#prediction-doubt")
    expect(page.locator("#prediction strong")).to_have_text(prediction["class_name"])
    if prediction["sure"]:
        expect(doubt).to_be_hidden()
    else:
        expect(doubt).to_be_visible()
        expect(doubt).to_contain_text("Not sure.")
        for candidate in prediction["candidates"][1:]:
            expect(doubt).to_contain_text(candidate["class_name"])


def test_slider_changes_the_number_of_results(page: Any) -> None:
    upload(page)
    results = page.locator("#results li")
    expect(results).to_have_count(6)
    page.locator("#k").fill("3")
    expect(results).to_have_count(3)
    expect(page.locator("#k-value")).to_have_text("3")
    page.locator("#k").focus()  # and by keyboard
    for _ in range(9):
        page.keyboard.press("ArrowRight")
    expect(page.locator("#k-value")).to_have_text("12")
    expect(results).to_have_count(12)
    assert scores(page) == sorted(scores(page), reverse=True)


def test_non_image_shows_a_clear_error(page: Any) -> None:
    upload(page)
    expect(page.locator("#results li")).to_have_count(6)
    page.set_input_files(
        "#file-input",
        files=[{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": not_an_image()}],
    )
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("not an image")
    expect(page.locator("#results li")).to_have_count(0)
    expect(page.locator("#prediction")).to_be_hidden()
    upload(page)  # and it recovers
    expect(page.locator("#results li")).to_have_count(6)
    expect(error).to_be_hidden()


def test_too_large_file_is_refused_before_uploading(page: Any) -> None:
    expect(page.locator("#tagline")).to_contain_text("240 catalog images")  # stats loaded
    searches: list[str] = []
    page.on(
        "request",
        lambda request: searches.append(request.url) if "/api/search" in request.url else None,
    )
    big = b"\xff\xd8" + b"\0" * (UI_UPLOAD_LIMIT + 1)
    page.set_input_files(
        "#file-input", files=[{"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": big}]
    )
    expect(page.locator("#error")).to_contain_text("too large")
    expect(page.locator("#error")).to_contain_text("the limit is 1.0 MB")
    assert searches == []


def test_result_opens_large_and_closes_by_keyboard(page: Any) -> None:
    upload(page)
    expect(page.locator("#results li")).to_have_count(6)
    first = page.locator("#results .result").first
    first.focus()
    page.keyboard.press("Enter")
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    image_id = first.get_attribute("data-id")
    expect(page.locator("#viewer-image")).to_have_attribute("src", f"/api/images/{image_id}")
    page.wait_for_function("() => document.getElementById('viewer-image').naturalWidth > 0")
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    first.click()
    expect(viewer).to_be_visible()
    page.locator("#viewer-close").click()
    expect(viewer).to_be_hidden()


@pytest.mark.parametrize("event", ["paste", "drop"])
def test_paste_and_drop_search(page: Any, event: str) -> None:
    payload = base64.b64encode(held_out_photo()[0].read_bytes()).decode()
    page.evaluate(
        """([payload, kind]) => {
            const bytes = Uint8Array.from(atob(payload), c => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], "car.jpg", { type: "image/jpeg" }));
            const target = kind === "paste" ? document : document.getElementById("drop-zone");
            const init = { bubbles: true, cancelable: true };
            target.dispatchEvent(kind === "paste"
                ? new ClipboardEvent("paste", { ...init, clipboardData: data })
                : new DragEvent("drop", { ...init, dataTransfer: data }));
        }""",
        [payload, event],
    )
    expect(page.locator("#results li")).to_have_count(6)


def test_controls_have_labels(page: Any) -> None:
    assert page.get_by_label("Number of results").get_attribute("id") == "k"
    assert page.get_by_label("Choose a photo").get_attribute("type") == "file"
    camera = page.get_by_label("Take a photo")
    assert camera.get_attribute("accept") == "image/*"
    assert camera.get_attribute("capture") == "environment"
    page.keyboard.press("Tab")  # the first stop is the file picker
    assert page.evaluate("() => document.activeElement.id") == "file-input"


def test_phone_width_layout(new_page: Any) -> None:
    phone = new_page("/", viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    expect(phone.locator("label[for=camera-input]")).to_be_visible()
    expect(phone.locator("#drop-hint")).not_to_contain_text("Ctrl+V")  # phones have no keyboard
    upload(phone)
    expect(phone.locator("#results li")).to_have_count(6)
    overflow = phone.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
