"""The search page's second version in a real Chromium against a real server.

One upload per photo (re-queries by ``query_id``), photos shrunk before upload, progress and
cancel, filters, the search in the address, "more like this", the large view, feedback,
accessibility (axe-core) and the README's screenshots.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from PIL import Image

from tests.api.photos import catalog_photo, held_out_photo
from tests.web.conftest import axe_violations
from tests.web.helpers import (
    count_uploads,
    expect,
    result_ids,
    scores,
    upload,
    wait_for_thumbnails,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = os.environ.get("REVSEARCH_SCREENSHOTS")  # a folder: docs/screenshots updates


def address(page: Any) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(page.url).query).items()}


def searched(page: Any, count: int = 6) -> None:
    expect(page.locator("#results li")).to_have_count(count)
    expect(page.locator("#results")).not_to_have_class(re.compile("stale"))


def big_photo(folder: Path) -> Path:
    """A 4000 x 3000 phone-sized photo of a catalog class's car (an unseen one)."""
    with Image.open(held_out_photo()[0]) as source:
        photo = source.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
    path = folder / "phone.jpg"
    photo.save(path, "JPEG", quality=95)
    return path


def test_one_photo_is_one_upload_whatever_the_controls_do(page: Any) -> None:
    uploads = count_uploads(page)
    upload(page)
    searched(page)
    first = result_ids(page)
    page.locator("#k").fill("3")
    searched(page, 3)
    assert result_ids(page) == first[:3]
    page.locator("#k").fill("9")
    searched(page, 9)
    page.locator("#min-score").fill("0.5")
    expect(page.locator("#min-score-value")).to_have_text("0.50")
    page.wait_for_function(
        "() => !document.getElementById('results').classList.contains('stale')"
        " && new URLSearchParams(location.search).get('min_score') === '0.5'"
    )
    assert all(score >= 0.5 for score in scores(page))
    assert len(uploads) == 1


def test_a_big_photo_is_shrunk_before_upload(page: Any, tmp_path: Path) -> None:
    path = big_photo(tmp_path)
    assert path.stat().st_size > 1_000_000
    with page.expect_response("**/api/search") as answered:
        upload(page, path)
    body = answered.value.json()
    assert body["photo_size"] == [1280, 960]  # what was sent: 1280 px on the long side
    sent = answered.value.request.sizes()["requestBodySize"]
    assert 0 < sent < 1_000_000, sent
    searched(page)
    expect(page.locator("#status")).to_contain_text(re.compile(r"you waited [\d.]+ m?s"))


def test_an_upload_shows_progress_and_can_be_cancelled(page: Any) -> None:
    upload(page)
    searched(page)
    held: list[Any] = []
    page.route("**/api/search", lambda route: held.append(route))  # never answered
    upload(page, catalog_photo(1)[0])
    expect(page.locator("#upload")).to_be_visible()
    expect(page.locator("#results")).to_have_class(re.compile("stale"))  # marked, not mixed
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#upload")).to_be_hidden()
    expect(page.locator("#status")).to_have_text("Upload cancelled.")
    page.unroute("**/api/search")
    upload(page)  # and a new one works
    searched(page)


def test_filters_narrow_the_results_and_say_when_nothing_is_left(page: Any) -> None:
    upload(page)
    searched(page)
    options = page.locator("#make option")
    expect(options.nth(1)).to_have_text(re.compile(r"^\w.* \(\d+\)$"))  # a make, its count
    make = page.locator("#results .result .name .line").first.inner_text()
    value = page.evaluate(
        "(make) => [...document.querySelectorAll('#make option')]"
        ".find(o => o.value.toUpperCase() === make.toUpperCase()).value",
        make,
    )
    page.locator("#make").select_option(value)
    page.locator("#k").fill("12")
    page.wait_for_function(
        "(make) => new URLSearchParams(location.search).get('make') === make"
        " && new URLSearchParams(location.search).get('k') === '12'",
        arg=value,
    )
    expect(page.locator("#results")).not_to_have_class(re.compile("stale"))
    makes = page.locator("#results .result .name .line:first-child").all_inner_texts()
    assert makes and {m.upper() for m in makes} == {value.upper()}

    page.locator("#year-min").fill("1901")
    page.locator("#year-max").fill("1902")
    expect(page.locator("#nothing")).to_be_visible()
    expect(page.locator("#nothing")).to_contain_text("Loosen the filters")
    expect(page.locator("#results li")).to_have_count(0)
    page.locator("#nothing-clear").click()
    searched(page, 12)
    assert "make" not in address(page) and "year_min" not in address(page)


def test_the_address_holds_the_search_and_reloads_it(page: Any, new_page: Any) -> None:
    uploads = count_uploads(page)
    upload(page)
    searched(page)
    page.locator("#k").fill("4")
    searched(page, 4)
    page.wait_for_function("() => new URLSearchParams(location.search).get('k') === '4'")
    shown = result_ids(page)
    query_id = address(page)["q"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}", query_id)

    page.reload()
    searched(page, 4)
    assert result_ids(page) == shown
    shared = new_page(f"/?q={query_id}&k=4")  # another browser, only the link
    searched(shared, 4)
    assert result_ids(shared) == shown
    shared.wait_for_function("() => document.getElementById('preview').naturalWidth > 0")
    assert "/photo" in (shared.locator("#preview").get_attribute("src") or "")
    assert len(uploads) == 1

    gone = new_page("/?q=" + "Z" * 16)
    expect(gone.locator("#error")).to_contain_text("This search has expired")


def test_more_like_this_and_back(page: Any) -> None:
    upload(page)
    searched(page)
    first = page.locator("#results .card").first
    image_id = first.locator(".result").get_attribute("data-id")
    first.get_by_role("link", name=re.compile("^More like this")).click()
    expect(page).to_have_url(re.compile(rf"\?similar={image_id}$"))
    searched(page)
    assert image_id not in result_ids(page)
    expect(page.locator("#query-caption")).to_contain_text("More like this")
    expect(page.locator("#preview")).to_have_attribute("src", f"/api/images/{image_id}")
    page.go_back()
    expect(page).to_have_url(re.compile(r"\?q="))
    searched(page)
    assert image_id in result_ids(page)


def test_the_large_view_steps_through_the_results(page: Any) -> None:
    upload(page)
    searched(page)
    ids = result_ids(page)
    page.locator("#results .result").first.click()
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    image = page.locator("#viewer-image")
    expect(image).to_have_attribute("src", f"/api/images/{ids[0]}")
    expect(page.locator("#viewer-details")).to_contain_text("Make")
    expect(page.locator("#viewer-details")).to_contain_text(f"Catalog id{ids[0]}")
    expect(page.locator("#viewer-score")).to_contain_text("Similarity")
    page.keyboard.press("ArrowRight")
    expect(image).to_have_attribute("src", f"/api/images/{ids[1]}")
    page.keyboard.press("ArrowLeft")
    expect(image).to_have_attribute("src", f"/api/images/{ids[0]}")
    expect(page.locator("#viewer-prev")).to_be_disabled()
    page.wait_for_function("() => document.getElementById('viewer-image').naturalWidth > 0")
    natural, width = image.evaluate("img => [img.naturalWidth, img.getBoundingClientRect().width]")
    assert width <= 2 * natural + 1, (width, natural)  # never blown up beyond 2x
    expect(page.locator("#viewer-similar")).to_have_attribute("href", f"/?similar={ids[0]}")
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()


def test_feedback_on_a_result_and_on_the_answer(page: Any) -> None:
    upload(page)
    searched(page)
    query_id = address(page)["q"]
    card = page.locator("#results .card").nth(1)
    result_id = int(card.locator(".result").get_attribute("data-id") or 0)
    with page.expect_request("**/api/feedback") as sent:
        card.get_by_role("button", name=re.compile("^Bad match")).click()
    payload = json.loads(sent.value.post_data or "{}")
    assert payload["query_id"] == query_id and payload["result_id"] == result_id
    assert payload["verdict"] == "down"
    expect(card.get_by_role("button", name=re.compile("^Bad match"))).to_have_attribute(
        "aria-pressed", "true"
    )

    page.get_by_role("button", name="Wrong car? Pick the right one").click()
    right = page.locator("#class-names option").last.get_attribute("value")
    assert right
    page.get_by_label("The right car").fill(right)
    with page.expect_response("**/api/feedback") as answered:
        page.get_by_role("button", name="Send").click()
    assert answered.value.status == 201
    correction = json.loads(answered.value.request.post_data or "{}")
    assert correction["verdict"] == "down" and correction["class_name"] == right
    assert correction["result_id"] is None
    expect(page.locator("#answer-thanks")).to_contain_text(right)


def test_a_photo_the_browser_cannot_show_is_previewed_by_the_server(
    page: Any, tmp_path: Path
) -> None:
    path = tmp_path / "car.tiff"  # Chromium draws no TIFF; the server decodes it
    with Image.open(held_out_photo()[0]) as source:
        source.convert("RGB").save(path, "TIFF")
    upload(page, path)
    searched(page)
    page.wait_for_function("() => document.getElementById('preview').naturalWidth > 0")
    assert "/photo" in (page.locator("#preview").get_attribute("src") or "")


def test_a_drop_anywhere_on_the_page_searches(page: Any) -> None:
    data = held_out_photo()[0].read_bytes()
    page.evaluate(
        """(bytes) => {
            const data = new DataTransfer();
            data.items.add(new File([new Uint8Array(bytes)], "car.jpg", { type: "image/jpeg" }));
            const init = { bubbles: true, cancelable: true, dataTransfer: data };
            document.querySelector("footer").dispatchEvent(new DragEvent("drop", init));
        }""",
        list(data),
    )
    searched(page)


def test_cards_are_even_and_the_favicon_loads(page: Any) -> None:
    upload(page)
    searched(page, 6)
    wait_for_thumbnails(page)
    heights = page.locator("#results .card").evaluate_all(
        "cards => cards.map(c => Math.round(c.getBoundingClientRect().height))"
    )
    assert max(heights) - min(heights) <= 1, heights
    icon = page.request.get(urljoin(page.url, page.locator("link[rel=icon]").get_attribute("href")))
    assert icon.ok and icon.headers["content-type"].startswith("image/svg")
    expect(page.locator("#formats")).to_contain_text("up to 1.0 MB")  # said before any failure


def test_no_serious_accessibility_violations(new_page: Any) -> None:
    page = new_page("/", bypass_csp=True)
    assert axe_violations(page) == [], "empty page"
    upload(page)
    searched(page)
    wait_for_thumbnails(page)
    assert axe_violations(page) == [], "results"
    page.get_by_role("button", name="Wrong car? Pick the right one").click()
    assert axe_violations(page) == [], "correction open"
    page.locator("#results .result").first.click()
    expect(page.locator("#viewer")).to_be_visible()
    assert axe_violations(page) == [], "large view"
    page.keyboard.press("Escape")
    page.locator("#year-min").fill("1901")
    page.locator("#year-max").fill("1902")
    expect(page.locator("#nothing")).to_be_visible()
    assert axe_violations(page) == [], "nothing found"
    page.emulate_media(color_scheme="dark")
    assert axe_violations(page) == [], "dark mode"


def test_screenshots(page: Any, tmp_path: Path) -> None:
    """REVSEARCH_SCREENSHOTS=docs/screenshots updates the README's pictures."""
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1200, "height": 900})
    upload(page)
    searched(page)
    wait_for_thumbnails(page)
    page.wait_for_function("() => document.getElementById('preview').naturalWidth > 0")
    page.screenshot(path=str(folder / "search.png"), full_page=True)
    page.locator("#results .result").first.click()
    page.wait_for_function("() => document.getElementById('viewer-image').naturalWidth > 0")
    page.wait_for_timeout(200)  # the details
    page.screenshot(path=str(folder / "large-view.png"))
    page.keyboard.press("Escape")
    make = page.locator("#results .result .name .line").first.inner_text()
    page.goto(page.url.split("/?")[0] + "/browse?make=" + make)
    page.wait_for_function(  # the thumbnails on screen (the rest load lazily)
        "() => { const shown = [...document.querySelectorAll('#images img')].slice(0, 8);"
        " return shown.length > 0 && shown.every(img => img.complete && img.naturalWidth > 0); }"
    )
    page.screenshot(path=str(folder / "browse.png"))
    for name in ("search.png", "large-view.png", "browse.png"):
        with Image.open(folder / name) as shot:
            assert shot.format == "PNG" and shot.width == 1200
            assert len(set(shot.convert("L").resize((64, 64)).tobytes())) > 20  # not blank
