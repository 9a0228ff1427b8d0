"""A server whose disk fills up: writes and new thumbnails answer 507 ``disk_full``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.http import assert_error, search
from tests.api.photos import catalog_photo, held_out_photo
from tests.small_disk import fill, free, small_disk
from tests.support.live_server import TOKEN, LiveServer, live_server

pytestmark = pytest.mark.slow

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def disk_server(built_catalog: Path, model_path: Path, tmp_path: Path) -> Iterator[LiveServer]:
    with small_disk(16) as disk:
        catalog = disk / "catalog"
        shutil.copytree(built_catalog, catalog)
        with live_server(catalog, model_path, tmp_path, REVSEARCH_API_TOKEN=TOKEN) as live:
            yield live


def test_a_full_disk_answers_507_and_keeps_serving(disk_server: LiveServer) -> None:
    disk = disk_server.catalog.parent
    new_photo = held_out_photo()[0].read_bytes()
    with disk_server.client() as client:
        hit = search(client, catalog_photo(2)[0].read_bytes(), k=1).json()["results"][0]
        fill(disk)

        added = client.post("/api/images", files={"image": ("new.jpg", new_photo)}, headers=AUTH)
        assert_error(added, 507, "disk_full")
        assert added.json()["error"]["message"].startswith("disk full")
        assert_error(client.get(hit["thumbnail_url"]), 507, "disk_full")
        assert client.get("/api/stats").json()["images"] == 240  # nothing half-written
        assert not list((disk_server.catalog / "images").glob("*"))
        assert search(client, catalog_photo(2)[0].read_bytes(), k=1).status_code == 200

        free(disk)
        assert client.get(hit["thumbnail_url"]).status_code == 200
        added = client.post("/api/images", files={"image": ("new.jpg", new_photo)}, headers=AUTH)
        assert added.status_code == 201, added.text
        assert client.get("/api/stats").json()["images"] == 241
    assert "Traceback" not in disk_server.log.read_text()
