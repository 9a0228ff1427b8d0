"""``revsearch serve`` on a catalog its user cannot write: it serves, and refuses writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.http import assert_error, search
from tests.api.photos import catalog_photo
from tests.api.server import TOKEN, LiveServer, live_server
from tests.privileges import UNPRIVILEGED, read_only_copy, remove, why_not_unprivileged

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(why_not_unprivileged() is not None, reason=str(why_not_unprivileged())),
]

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def read_only_server(
    built_catalog: Path, model_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """As an unprivileged user, with a token (so writes get past the token check)."""
    home, catalog = read_only_copy(built_catalog, "revsearch-ro-api-")
    try:
        with live_server(
            catalog, model_path, tmp_path_factory.mktemp("ro-api"), serve=True,
            user=UNPRIVILEGED, REVSEARCH_HOME=str(home), HOME=str(home),
            REVSEARCH_API_TOKEN=TOKEN, REVSEARCH_EXACT_SEARCH_LIMIT="50",
        ) as live:  # fmt: skip
            yield live
    finally:
        remove(catalog.parent)


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
