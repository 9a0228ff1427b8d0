"""The admin page in a real headless Chromium, against a server with a write token."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageOps

from tests.api.photos import catalog_photo, held_out_photo
from tests.samples import not_an_image
from tests.support.live_server import TOKEN, LiveServer, server_fixture
from tests.web.conftest import axe_violations, loopback_only
from tests.web.helpers import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NEW_CLASS = "Zastava Yugo Hatchback 1988"
TOKEN_KEY = "revsearch.admin.token"

admin_server = server_fixture("admin_server", scope="module", serve=True, REVSEARCH_API_TOKEN=TOKEN)


@pytest.fixture
def open_admin(browser: Any, admin_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """Open the admin page (own contexts, ``options`` passed on); each fails the test on a
    JavaScript error, a request off loopback, or the token in any address."""
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=20_000)
    opened: list[tuple[Any, list[str], list[str], list[str]]] = []

    def open_page(**options: Any) -> Any:
        context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **options})
        blocked = loopback_only(context)
        page = context.new_page()
        errors: list[str] = []
        addresses: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", lambda request: addresses.append(request.url))
        opened.append((context, errors, blocked, addresses))
        page.goto(f"{admin_server.url}/admin")
        return page

    yield open_page
    for context, errors, blocked, addresses in opened:
        context.close()
        assert not errors, f"JavaScript errors: {errors}"
        assert not blocked, f"requests off loopback: {blocked}"
        assert not [a for a in addresses if TOKEN in a or "token=" in a], addresses


@pytest.fixture
def admin(open_admin: Callable[..., Any]) -> Any:
    return open_admin()


def mirrored(index: int, folder: Path) -> Path:
    """A photo no catalog holds yet: a catalog one, flipped."""
    target = folder / f"mirrored-{index}.jpg"
    with Image.open(catalog_photo(index)[0]) as photo:
        ImageOps.mirror(photo).save(target, quality=90)
    return target


def enter_token(page: Any, token: str = TOKEN) -> None:
    page.get_by_label("Token", exact=True).fill(token)


def outcomes(page: Any) -> list[str]:
    return page.locator("#queue li").evaluate_all("items => items.map(i => i.dataset.outcome)")


def test_a_wrong_token_says_so(admin: Any, admin_server: LiveServer, tmp_path: Path) -> None:
    page = admin
    token = page.get_by_label("Token", exact=True)
    assert token.get_attribute("type") == "password"
    enter_token(page, "not-the-token")
    page.get_by_role("button", name="Check token").click()
    expect(page.locator("#token-status")).to_contain_text("Wrong token")
    page.set_input_files("#files", str(mirrored(3, tmp_path)))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-status")).to_contain_text("the token was refused")
    expect(page.locator("#queue li .outcome")).to_contain_text("Not added: Wrong token")
    enter_token(page)  # fixed: the file is still waiting, and goes now
    page.get_by_role("button", name="Check token").click()
    expect(page.locator("#token-status")).to_have_text(re.compile("^Token accepted"))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-status")).to_have_text(
        "Done: 1 added, 0 already in the catalog, 0 rejected."
    )
    assert outcomes(page) == ["added"]
    expect(page).to_have_url(re.compile(r"/admin$"))
    image_url = page.locator("#queue li a").get_attribute("href")
    gone = page.request.delete(
        f"{admin_server.url}{image_url}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert gone.status == 204


def test_add_images_see_each_outcome_then_delete_one(admin: Any, admin_server: LiveServer) -> None:
    page = admin
    expect(page.locator("#class-names option").first).to_be_attached()
    suggested = page.locator("#class-names option").evaluate_all("o => o.map(x => x.value)")
    assert len(suggested) == 20 and catalog_photo(0)[1] in suggested
    enter_token(page)
    page.get_by_label("Class name").fill(NEW_CLASS)
    new_photo = held_out_photo()[0]
    # Picked: a new photo and one already in the catalog; dropped: a text file named .jpg.
    page.set_input_files("#files", [str(new_photo), str(catalog_photo(1)[0])])
    page.evaluate(
        """(payload) => {
            const bytes = Uint8Array.from(atob(payload), c => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], "notes.jpg", { type: "image/jpeg" }));
            document.getElementById("drop-zone").dispatchEvent(
                new DragEvent("drop", { bubbles: true, cancelable: true, dataTransfer: data }));
        }""",
        base64.b64encode(not_an_image()).decode(),
    )
    expect(page.locator("#queue li")).to_have_count(3)
    page.get_by_role("button", name="Upload").click()
    status = page.locator("#upload-status")
    expect(status).to_have_text("Done: 1 added, 1 already in the catalog, 1 rejected.")
    assert outcomes(page) == ["added", "duplicate", "rejected"]
    items = page.locator("#queue li")
    link = items.nth(0).get_by_role("link")
    expect(link).to_have_text(re.compile(r"^image #\d+$"))
    image_url = link.get_attribute("href")
    assert image_url and re.fullmatch(r"/api/images/\d+", image_url)
    expect(items.nth(1)).to_contain_text("Already in the catalog")
    expect(items.nth(2)).to_contain_text("Rejected: ")
    for index in range(3):
        assert items.nth(index).locator("progress").evaluate("p => p.value") == 1

    image_id = int(image_url.rsplit("/", 1)[1])
    info = page.request.get(f"{admin_server.url}/api/images/{image_id}/info").json()
    assert info["class_name"] == NEW_CLASS and info["make"] == "Zastava"
    rejected = page.request.post(
        f"{admin_server.url}/api/images",
        headers={"Authorization": f"Bearer {TOKEN}"},
        multipart={"image": {"name": "notes.jpg", "mimeType": "image/jpeg",
                             "buffer": not_an_image()}},
    )  # fmt: skip
    expect(items.nth(2)).to_have_text(re.compile(re.escape(rejected.json()["error"]["message"])))

    # Deleting asks first: cancelled, nothing happens; accepted, it is gone.
    page.get_by_label("Image id").fill(str(image_id))
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete…").click()
    expect(page.locator("#delete-status")).to_have_text("Nothing deleted.")
    assert page.request.get(f"{admin_server.url}/api/images/{image_id}/info").ok
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete…").click()
    expect(page.locator("#delete-status")).to_have_text(f"Deleted image #{image_id}.")
    assert page.request.get(f"{admin_server.url}/api/images/{image_id}/info").status == 404
    page.get_by_label("Image id").fill(str(image_id))
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete…").click()
    expect(page.locator("#delete-status")).to_have_text(
        f"There is no image #{image_id} in the catalog."
    )


def test_a_wrong_token_cannot_delete(admin: Any, admin_server: LiveServer) -> None:
    page = admin
    enter_token(page, "guess")
    page.get_by_label("Image id").fill("1")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete…").click()
    expect(page.locator("#delete-status")).to_contain_text("Not deleted: Wrong token")
    expect(page.locator("#token-status")).to_contain_text("Wrong token")
    assert page.request.get(f"{admin_server.url}/api/images/1/info").ok


def test_the_token_is_kept_only_when_asked(admin: Any) -> None:
    page = admin
    enter_token(page)
    assert page.evaluate(f"() => sessionStorage.getItem('{TOKEN_KEY}')") is None
    page.reload()
    expect(page.get_by_label("Token", exact=True)).to_have_value("")
    enter_token(page)
    page.get_by_label("Keep it for this tab").check()
    assert page.evaluate(f"() => sessionStorage.getItem('{TOKEN_KEY}')") == TOKEN
    page.reload()
    expect(page.get_by_label("Token", exact=True)).to_have_value(TOKEN)
    page.get_by_label("Keep it for this tab").uncheck()
    assert page.evaluate(f"() => sessionStorage.getItem('{TOKEN_KEY}')") is None


def test_no_token_is_asked_for_before_uploading(admin: Any) -> None:
    page = admin
    page.set_input_files("#files", str(catalog_photo(2)[0]))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-status")).to_have_text("Enter the API token first.")
    assert page.evaluate("() => document.activeElement.id") == "token"
    assert outcomes(page) == [None]


def test_a_server_without_a_token_says_writes_are_off(page: Any, ui_server: LiveServer) -> None:
    """The UI server has no REVSEARCH_API_TOKEN: any token is turned away, with its reason."""
    page.goto(f"{ui_server.url}/admin")
    enter_token(page, "anything")
    page.get_by_role("button", name="Check token").click()
    status = page.locator("#token-status")
    expect(status).to_contain_text("The server does not accept changes")
    expect(status).to_contain_text("REVSEARCH_API_TOKEN")


def test_no_serious_accessibility_violations(
    open_admin: Callable[..., Any], tmp_path: Path
) -> None:
    page = open_admin(bypass_csp=True)  # axe-core is injected: the page's CSP would refuse it
    assert axe_violations(page) == [], "empty page"
    enter_token(page, "wrong")
    page.get_by_role("button", name="Check token").click()
    expect(page.locator("#token-status")).to_contain_text("Wrong token")
    assert axe_violations(page) == [], "wrong token"
    enter_token(page)
    page.set_input_files("#files", [str(catalog_photo(4)[0])])
    page.set_input_files(
        "#files", files=[{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": not_an_image()}]
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-status")).to_contain_text("Done:")
    assert axe_violations(page) == [], "outcomes"
    page.emulate_media(color_scheme="dark")
    assert axe_violations(page) == [], "dark mode"
