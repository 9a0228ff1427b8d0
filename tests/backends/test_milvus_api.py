"""`revsearch serve` on the Milvus backend: searches work, and answer 503 JSON while it is down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.http import assert_error, search
from tests.api.photos import catalog_photo
from tests.backends.milvus_server import MilvusServer, milvus_server
from tests.support.live_server import LiveServer, copy_catalog, live_server

pytestmark = pytest.mark.slow  # each test starts its own milvus-lite server


@pytest.fixture
def served(
    built_catalog: Path, model_path: Path, tmp_path: Path
) -> Iterator[tuple[LiveServer, MilvusServer]]:
    """An API server whose catalog (a copy of the built one) is searched in Milvus."""
    with milvus_server(tmp_path) as milvus:
        catalog = copy_catalog(built_catalog, tmp_path / "catalog")
        backend = milvus.url(timeout=3)
        with live_server(catalog, model_path, tmp_path, REVSEARCH_VECTOR_BACKEND=backend) as api:
            yield api, milvus


def test_search_answers_503_while_milvus_is_down(
    served: tuple[LiveServer, MilvusServer],
) -> None:
    api, milvus = served
    path, class_name = catalog_photo(3)
    photo = path.read_bytes()
    with api.client() as client:
        answer = search(client, photo, k=3)
        assert answer.status_code == 200, answer.text
        best = answer.json()["results"][0]
        assert best["class_name"] == class_name and best["score"] == pytest.approx(1.0, abs=1e-3)
        milvus.stop()
        down = search(client, photo, k=3)
        assert_error(down, 503, "backend_unavailable")
        assert "Milvus" in down.json()["error"]["message"]
        milvus.start()
        again = search(client, photo, k=3)
        assert again.status_code == 200, again.text
        assert again.json()["results"] == answer.json()["results"]
    assert api.alive()
