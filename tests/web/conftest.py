"""Headless Debian Chromium driven by Playwright, against a real uvicorn process.

Locally the browser tests skip when /usr/bin/chromium is absent; on CI (tests.support.ci)
they fail, so a CI machine without the browser cannot pass them silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.support.ci import unavailable
from tests.support.live_server import LiveServer, server_fixture

CHROMIUM = Path("/usr/bin/chromium")
UI_UPLOAD_LIMIT = 1024 * 1024  # small, so the UI's own size check can be tested cheaply
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def browser_unavailable(reason: str) -> NoReturn:
    unavailable(reason, what="browser tests")


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        browser_unavailable(f"{CHROMIUM} is missing: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_unavailable("playwright is not installed: pip install playwright")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


ui_server = server_fixture("ui_server", REVSEARCH_MAX_UPLOAD_BYTES=str(UI_UPLOAD_LIMIT))


@pytest.fixture
def page(browser: Any, ui_server: LiveServer) -> Iterator[Any]:
    """A fresh desktop-sized page on the UI; fails the test on any JavaScript error."""
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(ui_server.url)
    yield tab
    context.close()
    assert not errors, f"JavaScript errors: {errors}"
