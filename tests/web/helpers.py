"""What the browser tests share: Playwright's expect, picking a photo, reading the results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.api.photos import held_out_photo


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def upload(page: Any, path: Path | None = None) -> None:
    page.set_input_files("#file-input", str(path or held_out_photo()[0]))


def scores(page: Any) -> list[float]:
    return [float(s) for s in page.locator("#results .result").evaluate_all(
        "buttons => buttons.map(b => b.dataset.score)"
    )]  # fmt: skip


def result_ids(page: Any) -> list[str]:
    return page.locator("#results .result").evaluate_all("bs => bs.map(b => b.dataset.id)")


def wait_for_thumbnails(page: Any) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('#results img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )


def count_uploads(page: Any) -> list[str]:
    """Every photo upload (POST /api/search) the page sends from now on."""
    sent: list[str] = []

    def seen(request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/api/search"):
            sent.append(request.url)

    page.on("request", seen)
    return sent
