"""A small embedded catalog for the catalog tests: 16-dim vectors, exact below 50 images."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from revsearch.catalog.catalog import Catalog
from tests.support.rows import DIM


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    cat = Catalog.open(tmp_path / "cat", create=True, exact_search_limit=50)
    cat.bind_model("model-a", DIM)
    yield cat
    cat.close()
