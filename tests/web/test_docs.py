"""The API docs pages render in Chromium with no network but loopback, and break no CSP rule."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.live_server import LiveServer
from tests.web.conftest import loopback_only
from tests.web.helpers import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CSP_VIOLATIONS = "() => window.__violations || []"
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
RECORD_VIOLATIONS = """document.addEventListener("securitypolicyviolation", event => {
    (window.__violations = window.__violations || []).push(
        `${event.violatedDirective} ${event.blockedURI}`);
});"""


@pytest.fixture
def offline(browser: Any, ui_server: LiveServer) -> Iterator[tuple[Any, list[str], list[str]]]:
    """(page, requests that tried to leave loopback, page and CSP errors): everything off
    127.0.0.1 is aborted, as on a machine with no internet."""
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=20_000)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    left = loopback_only(context)
    errors: list[str] = []
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page, left, errors
    context.close()


def test_swagger_ui_renders_offline(offline: Any, ui_server: LiveServer) -> None:
    page, left, errors = offline
    page.goto(f"{ui_server.url}/docs")
    expect(page.locator(".opblock-summary-path", has_text="/api/search").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/classes").first).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("RevSearch")
    operation = page.locator(".opblock-summary", has_text="/api/classes").first
    operation.click()
    block = page.locator(".opblock", has_text="/api/classes").first
    block.get_by_role("button", name="Try it out").click()
    block.get_by_role("button", name="Execute").click()  # a real request, allowed by the CSP
    expect(block.locator(".live-responses-table td.response-col_status").nth(1)).to_have_text("200")
    method_colour = page.evaluate(
        "() => getComputedStyle(document.querySelector('.opblock-summary-method')).backgroundColor"
    )
    assert method_colour not in ("", "rgba(0, 0, 0, 0)")  # the stylesheet applies
    assert page.evaluate(CSP_VIOLATIONS) == []
    assert left == [] and errors == []


def test_redoc_renders_offline(offline: Any, ui_server: LiveServer) -> None:
    page, left, errors = offline
    page.goto(f"{ui_server.url}/redoc")
    expect(page.locator("h1", has_text="RevSearch")).to_be_visible()
    expect(page.get_by_role("menuitem").filter(has_text="catalog").first).to_be_visible()
    expect(page.get_by_text("/api/images/{image_id}/info").first).to_be_attached()
    page.get_by_placeholder("Search...").fill("thumbnail")  # the index runs in a blob: worker
    expect(page.locator("[role=search] li", has_text="thumbnail").first).to_be_visible()
    # styled-components' styles applied: ReDoc's menu is laid out beside the content
    width = page.evaluate(
        "() => document.querySelector('.menu-content').getBoundingClientRect().width"
    )
    assert 0 < width < 640
    # ReDoc's footer always tries Redocly's logo from a CDN: the CSP refuses it (the image
    # hides itself), and that is the only thing refused.
    assert page.evaluate(CSP_VIOLATIONS) in ([], [f"img-src {REDOCLY_LOGO}"])
    assert left == [] and [e for e in errors if REDOCLY_LOGO not in e] == []
