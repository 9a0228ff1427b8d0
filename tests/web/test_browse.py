"""The catalog browser in a real headless Chromium: make -> model -> year, pages, large view."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.live_server import LiveServer
from tests.web.conftest import axe_violations
from tests.web.helpers import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def wait_for_thumbnails(page: Any) -> None:
    page.wait_for_function(
        "() => { const images = [...document.querySelectorAll('#images img')];"
        " return images.length > 0 && images.slice(0, 12)"
        ".every(img => img.complete && img.naturalWidth > 0); }"
    )


def tile_ids(page: Any) -> list[int]:
    return [int(i) for i in page.locator("#images .tile").evaluate_all(
        "tiles => tiles.map(t => t.dataset.id)"
    )]  # fmt: skip


@pytest.fixture
def browse(page: Any, ui_server: LiveServer) -> Any:
    page.goto(f"{ui_server.url}/browse")
    return page


def test_makes_with_counts_and_the_first_page(browse: Any) -> None:
    page = browse
    expect(page.locator("#groups-heading")).to_have_text("Makes")
    groups = page.locator("#groups .group")
    expect(groups).to_have_count(5)
    expect(groups.filter(has_text="Ford")).to_contain_text("144 images")
    expect(groups.filter(has_text="Ferrari")).to_contain_text("48 images")
    expect(page.locator("#status")).to_have_text("240 images; showing 1–48.")
    expect(page.locator("#images .tile")).to_have_count(48)
    expect(page.locator("#page-info")).to_have_text("Page 1 of 5")
    expect(page.locator("#prev")).to_have_attribute("aria-disabled", "true")
    wait_for_thumbnails(page)


def test_make_then_model_then_year_and_back(browse: Any, ui_server: LiveServer) -> None:
    page = browse
    page.locator("#groups .group", has_text="Ford").click()
    expect(page).to_have_url(f"{ui_server.url}/browse?make=Ford")
    expect(page.locator("#groups-heading")).to_have_text("Models of Ford")
    expect(page.locator("#status")).to_have_text("144 images; showing 1–48.")
    model = page.locator("#groups .group", has_text="F-150 Regular")
    expect(model).to_contain_text("24 images")
    model.click()
    expect(page).to_have_url(re.compile(r"/browse\?make=Ford&model=F-150\+Regular$"))
    expect(page.locator("#groups-heading")).to_have_text("Years of the Ford F-150 Regular")
    years = page.locator("#groups .group")
    expect(years).to_have_text([re.compile("^2007"), re.compile("^2012")])
    expect(page.locator("#images .tile")).to_have_count(24)
    expect(page.locator("#pager")).to_be_hidden()
    wait_for_thumbnails(page)
    years.filter(has_text="2007").click()
    expect(page.locator("#images .tile")).to_have_count(12)
    expect(page.locator("#images .tile-name").first).to_have_text("Ford F-150 Regular Cab 2007")
    expect(page.locator("#crumbs li")).to_have_text(["All makes", "Ford", "F-150 Regular", "2007"])
    expect(page.locator("#groups-heading")).to_be_hidden()  # nothing below a year

    page.go_back()
    expect(page.locator("#images .tile")).to_have_count(24)
    page.go_back()
    expect(page.locator("#groups-heading")).to_have_text("Models of Ford")
    page.locator("#crumbs a", has_text="All makes").click()
    expect(page).to_have_url(f"{ui_server.url}/browse")
    expect(page.locator("#groups .group")).to_have_count(5)


def test_pages_follow_the_address(browse: Any, ui_server: LiveServer) -> None:
    page = browse
    page.goto(f"{ui_server.url}/browse?make=Ford")
    expect(page.locator("#page-info")).to_have_text("Page 1 of 3")
    first = tile_ids(page)
    page.locator("#next").click()
    expect(page).to_have_url(f"{ui_server.url}/browse?make=Ford&page=2")
    expect(page.locator("#page-info")).to_have_text("Page 2 of 3")
    expect(page.locator("#status")).to_have_text("144 images; showing 49–96.")
    second = tile_ids(page)
    page.locator("#next").click()
    expect(page.locator("#status")).to_have_text("144 images; showing 97–144.")
    expect(page.locator("#next")).to_have_attribute("aria-disabled", "true")
    third = tile_ids(page)
    assert len(set(first + second + third)) == 144
    wait_for_thumbnails(page)
    page.go_back()
    expect(page.locator("#page-info")).to_have_text("Page 2 of 3")
    assert tile_ids(page) == second
    page.reload()  # the address alone is enough
    expect(page.locator("#page-info")).to_have_text("Page 2 of 3")
    assert tile_ids(page) == second
    page.locator("#prev").click()
    expect(page).to_have_url(f"{ui_server.url}/browse?make=Ford")
    expect(page.locator("#status")).to_have_text("144 images; showing 1–48.")
    assert tile_ids(page) == first


def test_large_view_shows_details_and_more_like_this(browse: Any, ui_server: LiveServer) -> None:
    page = browse
    page.goto(f"{ui_server.url}/browse?make=GMC")
    tile = page.locator("#images .tile").first
    image_id = int(tile.get_attribute("data-id"))
    tile.focus()
    page.keyboard.press("Enter")
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    expect(page).to_have_url(f"{ui_server.url}/browse?make=GMC&image={image_id}")
    expect(page.locator("#viewer-title")).to_have_text("GMC Terrain SUV 2012")
    details = page.locator("#viewer-details")
    expect(details.locator("dt")).to_have_text(
        ["Make", "Model", "Body", "Year", "Size", "Catalog id"]
    )
    info = page.request.get(f"{ui_server.url}/api/images/{image_id}/info").json()
    expect(details.locator("dd")).to_have_text(
        ["GMC", "Terrain", "SUV", "2012", f"{info['width']} × {info['height']} px", str(image_id)]
    )
    expect(page.locator("#viewer-similar")).to_have_attribute("href", f"/?similar={image_id}")
    expect(page.locator("#viewer-image")).to_have_attribute("src", f"/api/images/{image_id}")
    page.wait_for_function("() => document.getElementById('viewer-image').naturalWidth > 0")
    shown = page.evaluate(
        "() => { const img = document.getElementById('viewer-image');"
        " return [img.getBoundingClientRect().width, img.naturalWidth]; }"
    )
    assert 0 < shown[0] <= 2 * shown[1] + 0.5

    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(page).to_have_url(f"{ui_server.url}/browse?make=GMC")
    assert page.evaluate("() => document.activeElement.dataset.id") == str(image_id)

    page.go_forward()  # the large view is a place too
    expect(viewer).to_be_visible()
    page.go_back()
    expect(viewer).to_be_hidden()


def test_a_shared_large_view_link_opens_and_goes_back_to_the_list(
    browse: Any, ui_server: LiveServer
) -> None:
    page = browse
    listed = page.request.get(f"{ui_server.url}/api/images?make=Fisker&limit=1").json()
    image_id = listed["images"][0]["id"]
    page.goto(f"{ui_server.url}/browse?make=Fisker&image={image_id}")
    expect(page.locator("#viewer")).to_be_visible()
    expect(page.locator("#viewer-title")).to_have_text("Fisker Karma Sedan 2012")
    back = page.locator("#viewer-back")
    expect(back).to_have_attribute("href", "/browse?make=Fisker")
    back.click()
    expect(page.locator("#viewer")).to_be_hidden()
    expect(page).to_have_url(f"{ui_server.url}/browse?make=Fisker")
    expect(page.locator("#images .tile")).to_have_count(12)


def test_an_unknown_make_and_a_page_past_the_end(browse: Any, ui_server: LiveServer) -> None:
    page = browse
    page.goto(f"{ui_server.url}/browse?make=Trabant")
    expect(page.locator("#status")).to_have_text("No images here.")
    expect(page.locator("#images .tile")).to_have_count(0)
    page.goto(f"{ui_server.url}/browse?make=Ford&page=9")
    expect(page.locator("#status")).to_have_text("Page 9 is past the end: there are 3.")
    expect(page.locator("#prev")).to_have_attribute("href", "/browse?make=Ford&page=3")


def test_footer_links_and_security_headers(browse: Any, ui_server: LiveServer) -> None:
    page = browse
    links = page.locator(".site-footer a")
    hrefs = links.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == ["/", "/browse", "/admin", "/docs"]
    answer = page.request.get(f"{ui_server.url}/browse")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_no_serious_accessibility_violations(new_page: Callable[..., Any]) -> None:
    page = new_page("/browse", bypass_csp=True)  # axe-core is injected, against the CSP
    expect(page.locator("#images .tile")).to_have_count(48)
    assert axe_violations(page) == [], "makes"
    page.locator("#groups .group", has_text="Ferrari").click()
    expect(page.locator("#groups-heading")).to_have_text("Models of Ferrari")
    assert axe_violations(page) == [], "models"
    page.locator("#images .tile").first.click()
    expect(page.locator("#viewer")).to_be_visible()
    assert axe_violations(page) == [], "large view"
    page.emulate_media(color_scheme="dark")
    assert axe_violations(page) == [], "dark mode"
