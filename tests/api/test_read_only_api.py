"""``revsearch serve`` on a catalog its user cannot write: it serves, and refuses writes."""

from __future__ import annotations

import pytest

from tests.api.http import assert_error, search
from tests.api.photos import catalog_photo
from tests.privileges import why_not_unprivileged
from tests.support.live_server import TOKEN, LiveServer, server_fixture

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(why_not_unprivileged() is not None, reason=str(why_not_unprivileged())),
]

AUTH = {"Authorization": f"Bearer {TOKEN}"}


read_only_server = server_fixture(
    "read_only_server", scope="module", read_only=True,
    REVSEARCH_API_TOKEN=TOKEN, REVSEARCH_EXACT_SEARCH_LIMIT="50",
    doc="As an unprivileged user, with a token (so writes get past the token check).",
)  # fmt: skip


def test_a_read_only_catalog_is_served(read_only_server: LiveServer) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in read_only_server.catalog.rglob("*")}
    with read_only_server.client() as client:
        hit = search(client, catalog_photo(5)[0].read_bytes(), k=1).json()["results"][0]
        assert hit["score"] > 0.999
        assert client.get(hit["image_url"]).content == catalog_photo(5)[0].read_bytes()
        thumbnail = client.get(hit["thumbnail_url"])  # rendered, but not cached
        assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
        assert client.get("/api/stats").json()["images"] == 240

        added = client.post(
            "/api/images", files={"image": ("a.jpg", catalog_photo(9)[0].read_bytes())},
            headers=AUTH,
        )  # fmt: skip
        assert_error(added, 403, "writes_disabled")
        assert "read-only" in added.json()["error"]["message"]
        assert_error(client.delete(hit["image_url"], headers=AUTH), 403, "writes_disabled")
    after = {p.name: p.stat().st_mtime_ns for p in read_only_server.catalog.rglob("*")}
    assert after == before
    log = read_only_server.log.read_text()
    assert log.count("read-only: writes are disabled") == 1, log
    assert "Traceback" not in log
