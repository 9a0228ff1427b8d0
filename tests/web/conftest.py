"""Headless Debian Chromium driven by Playwright, against a real uvicorn process.

Locally the browser tests skip when /usr/bin/chromium is absent; on CI (tests.support.ci)
they fail, so a CI machine without the browser cannot pass them silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.support.ci import unavailable
from tests.support.live_server import LiveServer, server_fixture

CHROMIUM = Path("/usr/bin/chromium")
AXE = (
    Path(__file__).resolve().parents[2]
    / ".venv"
    / "npm"
    / "node_modules"
    / "axe-core"
    / "axe.min.js"
)
NOT_LOOPBACK = re.compile(r"^(?!https?://127\.0\.0\.1[:/]).+")
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


ui_server = server_fixture("ui_server", serve=True, REVSEARCH_MAX_UPLOAD_BYTES=str(UI_UPLOAD_LIMIT))


def loopback_only(context: Any) -> list[str]:
    """Abort every request that leaves 127.0.0.1 (a CDN, a font host...) and list it, so a
    page that needs the internet fails its tests instead of working here by chance."""
    blocked: list[str] = []

    def block(route: Any) -> None:
        blocked.append(route.request.url)
        route.abort()

    context.route(NOT_LOOPBACK, block)
    return blocked


@pytest.fixture
def new_page(browser: Any, ui_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """Open fresh pages (own contexts, ``context_options`` passed on) at a path of the UI;
    each fails the test on any JavaScript error or request off loopback."""
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    opened: list[tuple[Any, list[str], list[str]]] = []

    def open_page(path: str = "/", **context_options: Any) -> Any:
        options = {"viewport": {"width": 1280, "height": 900}, **context_options}
        context = browser.new_context(**options)
        blocked = loopback_only(context)
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        opened.append((context, errors, blocked))
        tab.goto(ui_server.url + path)
        return tab

    yield open_page
    for context, _, _ in opened:
        context.close()
    for _, errors, blocked in opened:
        assert not errors, f"JavaScript errors: {errors}"
        assert not blocked, f"requests off loopback: {blocked}"


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    """A fresh desktop-sized page on the UI; fails the test on any JavaScript error."""
    return new_page()


def axe_violations(page: Any, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's violations of these impacts on the page as it is now (``id: targets``).

    The page's own CSP refuses injected scripts: use a context with ``bypass_csp=True``."""
    if not AXE.is_file():
        unavailable(
            f"{AXE} is missing: bash scripts/setup.sh installs it", what="accessibility tests"
        )
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in found
        if v["impact"] in impacts
    ]
