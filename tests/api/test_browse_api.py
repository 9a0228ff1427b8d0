"""Listing the catalog (classes, makes, pages of images) and the offline API docs, live."""

from __future__ import annotations

import re
from collections import Counter

import httpx
import pytest

from revsearch.vehicles import parse_class_name
from tests.api.http import assert_error
from tests.samples import small_rows
from tests.support.live_server import TOKEN

pytestmark = pytest.mark.slow

AUTH = {"Authorization": f"Bearer {TOKEN}"}
IMAGE_FIELDS = {
    "id", "class_name", "make", "model", "body", "year", "width", "height", "image_url",
    "thumbnail_url",
}  # fmt: skip


def expected_classes() -> Counter[str]:
    """What the test catalog holds: 20 classes of 12 photos (tests.samples.small_rows)."""
    return Counter(row["class_name"] for row in small_rows())


def test_classes_and_makes_with_their_counts(client: httpx.Client) -> None:
    answer = client.get("/api/classes")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"classes", "makes"}
    classes = expected_classes()
    names = [c["class_name"] for c in body["classes"]]
    assert names == sorted(classes, key=lambda name: (name.lower(), name))
    for entry in body["classes"]:
        vehicle = parse_class_name(entry["class_name"])
        assert entry == {
            "class_name": entry["class_name"], "make": vehicle.make, "model": vehicle.model,
            "body": vehicle.body, "year": vehicle.year, "images": classes[entry["class_name"]],
        }  # fmt: skip
    makes: Counter[str] = Counter()
    for name, count in classes.items():
        makes[str(parse_class_name(name).make)] += count
    assert body["makes"] == [
        {"make": make, "images": makes[make]} for make in sorted(makes, key=str.lower)
    ]
    assert sum(m["images"] for m in body["makes"]) == 240


def test_all_images_page_by_page_in_class_then_id_order(client: httpx.Client) -> None:
    seen: list[dict] = []
    offset = 0
    while True:
        page = client.get("/api/images", params={"offset": offset, "limit": 100}).json()
        assert page["total"] == 240 and page["offset"] == offset and page["limit"] == 100
        if not page["images"]:
            break
        seen.extend(page["images"])
        offset += 100
    assert len(seen) == 240 and len({image["id"] for image in seen}) == 240
    keys = [(image["class_name"].lower(), image["class_name"], image["id"]) for image in seen]
    assert keys == sorted(keys)
    first = seen[0]
    assert set(first) == IMAGE_FIELDS
    assert first["image_url"] == f"/api/images/{first['id']}"
    assert first["thumbnail_url"] == f"/api/images/{first['id']}/thumbnail"
    assert first["width"] > 0 and first["height"] > 0


def test_default_page_size_is_48(client: httpx.Client) -> None:
    page = client.get("/api/images").json()
    assert (page["offset"], page["limit"], len(page["images"])) == (0, 48, 48)


def test_filters_by_make_model_and_year(client: httpx.Client) -> None:
    ford = client.get("/api/images", params={"make": "ford", "limit": 200}).json()
    assert ford["total"] == 144 and len(ford["images"]) == 144
    assert {image["make"] for image in ford["images"]} == {"Ford"}

    f150 = client.get("/api/images", params={"make": "Ford", "model": "F-150 Regular"}).json()
    assert f150["total"] == 24
    assert {image["year"] for image in f150["images"]} == {2007, 2012}
    years = client.get(
        "/api/images", params={"make": "Ford", "model": "f-150 regular", "year": 2007}
    ).json()
    assert years["total"] == 12
    assert {image["class_name"] for image in years["images"]} == {"Ford F-150 Regular Cab 2007"}

    italia = client.get("/api/images", params={"model": "458 Italia"}).json()
    assert italia["total"] == 24  # coupe and convertible
    assert client.get("/api/images", params={"year": 2012}).json()["total"] == 12 * 13


def test_unknown_make_is_an_empty_list_and_blank_filters_mean_any(client: httpx.Client) -> None:
    none = client.get("/api/images", params={"make": "Trabant"}).json()
    assert none == {"total": 0, "offset": 0, "limit": 48, "images": []}
    blank = client.get("/api/images", params={"make": "", "model": " "}).json()
    assert blank["total"] == 240


def test_pages_do_not_overlap_and_past_the_end_is_empty(client: httpx.Client) -> None:
    params = {"make": "Ferrari", "limit": 20}
    first = client.get("/api/images", params={**params, "offset": 0}).json()
    second = client.get("/api/images", params={**params, "offset": 20}).json()
    third = client.get("/api/images", params={**params, "offset": 40}).json()
    assert first["total"] == second["total"] == 48
    assert [len(p["images"]) for p in (first, second, third)] == [20, 20, 8]
    ids = [image["id"] for p in (first, second, third) for image in p["images"]]
    assert len(set(ids)) == 48
    beyond = client.get("/api/images", params={**params, "offset": 1_000_000}).json()
    assert beyond["total"] == 48 and beyond["images"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": "many"},
        {"offset": -1},
        {"offset": 10**12},
        {"offset": 2**64},
        {"year": "new"},
        {"year": 99},
        {"make": "x" * 101},
        {"model": "x" * 201},
    ],
)
def test_bad_parameters_are_422(client: httpx.Client, params: dict) -> None:
    assert_error(client.get("/api/images", params=params), 422, "bad_parameter")


def test_image_info_is_the_listed_object(client: httpx.Client) -> None:
    listed = client.get("/api/images", params={"make": "GMC", "limit": 1}).json()["images"][0]
    info = client.get(f"/api/images/{listed['id']}/info")
    assert info.status_code == 200
    assert info.json() == listed
    assert info.json()["class_name"] == "GMC Terrain SUV 2012"


@pytest.mark.parametrize("image_id", ["999999", "0", "-5"])
def test_info_of_a_missing_image_is_404(client: httpx.Client, image_id: str) -> None:
    assert_error(client.get(f"/api/images/{image_id}/info"), 404, "not_found")


@pytest.mark.parametrize("image_id", ["abc", "1.5", str(2**64)])
def test_info_of_a_bad_id_is_422(client: httpx.Client, image_id: str) -> None:
    assert_error(client.get(f"/api/images/{image_id}/info"), 422, "bad_parameter")


def test_the_listing_follows_adds_and_deletes(client: httpx.Client) -> None:
    from tests.api.photos import held_out_photo

    data = held_out_photo()[0].read_bytes()
    added = client.post(
        "/api/images",
        files={"image": ("new.jpg", data, "image/jpeg")},
        data={"class_name": "Zastava Yugo Hatchback 1988"},
        headers=AUTH,
    )
    assert added.status_code == 201, added.text
    image_id = added.json()["id"]
    try:
        page = client.get("/api/images", params={"make": "zastava"}).json()
        assert page["total"] == 1
        assert page["images"][0] | {"id": 0} == {
            "id": 0, "class_name": "Zastava Yugo Hatchback 1988", "make": "Zastava",
            "model": "Yugo", "body": "Hatchback", "year": 1988, "width": page["images"][0]["width"],
            "height": page["images"][0]["height"], "image_url": f"/api/images/{image_id}",
            "thumbnail_url": f"/api/images/{image_id}/thumbnail",
        }  # fmt: skip
        listing = client.get("/api/classes").json()
        assert {"make": "Zastava", "images": 1} in listing["makes"]
        assert listing["classes"][-1]["class_name"] == "Zastava Yugo Hatchback 1988"
    finally:
        assert client.delete(f"/api/images/{image_id}", headers=AUTH).status_code == 204
    assert client.get("/api/images", params={"make": "Zastava"}).json()["total"] == 0
    assert_error(client.get(f"/api/images/{image_id}/info"), 404, "not_found")


# -- offline API docs ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_load_only_same_origin_assets(client: httpx.Client, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), html
    policy = page.headers["content-security-policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce, policy
    for tag in re.findall(r"<(?:script|style)\b[^>]*>", html):
        assert "src=" in tag or f'nonce="{nonce.group(1)}"' in tag, tag  # inline ones: nonced
    again = client.get(path).headers["content-security-policy"]
    assert again != policy  # a fresh nonce each time
    assets = re.findall(r"""(?:src|href)="(/static/docs/[^"]+)\"""", html)
    assert assets
    for asset in assets:
        answer = client.get(asset)
        assert answer.status_code == 200, asset
        kind = answer.headers["content-type"]
        assert kind.split(";")[0] in {"text/javascript", "text/css", "image/png"}, (asset, kind)


def test_docs_assets_are_javascript_and_css(client: httpx.Client) -> None:
    for name, kind in [
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("redoc.standalone.js", "text/javascript"),
    ]:
        answer = client.get(f"/static/docs/{name}")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith(kind)
        assert len(answer.content) > 100_000


@pytest.mark.parametrize(
    ("path", "script"), [("/browse", "/static/browse.js"), ("/admin", "/static/admin.js")]
)
def test_browse_and_admin_pages_are_static_and_locked_down(
    client: httpx.Client, path: str, script: str
) -> None:
    page = client.get(path, params={"make": "Ford"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert (
        page.headers["content-security-policy"]
        == client.get("/").headers["content-security-policy"]
    )
    assert page.headers["x-content-type-options"] == "nosniff"
    html = page.text
    assert re.findall(r"<script\b[^>]*>", html) == [f'<script src="{script}" defer>']
    assert "<style" not in html and " style=" not in html  # no inline styles either
    for asset in (script, "/static/pages.css"):
        assert client.get(asset).status_code == 200
    for link in ("/", "/browse", "/admin", "/docs"):
        assert f'href="{link}"' in html  # the shared footer
