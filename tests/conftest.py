"""Shared fixtures: the encoder model, a small real catalog built once per session.

The Stanford Cars data in ``../shared`` is checked by the fixtures and helpers that read it
(``stanford_cars``, tests.samples), not at session start: without it those tests skip
locally and fail on CI, and the rest still runs.

Tests that start a real server or browser are marked ``slow``: the modules that do it by
themselves say so, and any test using one of ``REAL_SERVER_FIXTURES`` (directly or through
another fixture) is marked here; so ``pytest -m "not slow"`` is the fast inner loop.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from revsearch.catalog.catalog import Catalog
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.encoder.registry import resolve_model_path, shipped_float_model
from revsearch.errors import ModelNotFoundError
from revsearch.indexing import Indexer
from revsearch.sources import read_manifest
from tests.samples import manifest_rows, small_rows, write_manifest
from tests.support.data import require_dataset

# uvicorn (tests/api, tests/web), headless Chromium, moto_server, milvus-lite, Ray.
REAL_SERVER_FIXTURES = frozenset(
    {"server", "locked_server", "ui_server", "browser", "moto", "milvus", "ray_env", "isolated"}
)


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if REAL_SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def stanford_cars() -> Path:
    """The dataset folder in ``../shared``; skips locally, fails on CI, when it is missing."""
    return require_dataset()


@pytest.fixture(scope="session")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The configured encoder, or a fresh Lite0 export when none is installed yet."""
    try:
        return resolve_model_path()
    except ModelNotFoundError:
        from revsearch.encoder.export import export_pretrained
        from revsearch.encoder.registry import DEFAULT_PRETRAINED, get_pretrained

        output = tmp_path_factory.mktemp("model") / f"{DEFAULT_PRETRAINED}.onnx"
        export_pretrained(get_pretrained(DEFAULT_PRETRAINED), output)
        return output


@pytest.fixture(scope="session")
def float_model_path(model_path: Path) -> Path:
    """The float model: the default one, or the one behind it when that is an int8 copy."""
    return shipped_float_model() or model_path


@pytest.fixture(scope="session")
def encoder(model_path: Path) -> OnnxEncoder:
    return OnnxEncoder(model_path, threads=2)


@pytest.fixture(scope="session")
def small_manifest(tmp_path_factory: pytest.TempPathFactory, stanford_cars: Path) -> Path:
    """240 eval-split images: 20 classes x 12."""
    return write_manifest(small_rows(), tmp_path_factory.mktemp("data") / "small.csv")


@pytest.fixture(scope="session")
def product_manifest(tmp_path_factory: pytest.TempPathFactory, stanford_cars: Path) -> Path:
    """10 classes: 6 train-split and 3 test-split photos of each."""
    wanted = {"train": 6, "test": 3}
    chosen: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in manifest_rows():
        if int(row["class_id"]) <= 10:
            bucket = chosen.setdefault((row["class_id"], row["stanford_split"]), [])
            if len(bucket) < wanted[row["stanford_split"]]:
                bucket.append(row)
    rows = [row for key in sorted(chosen) for row in chosen[key]]
    return write_manifest(rows, tmp_path_factory.mktemp("product") / "product.csv")


@pytest.fixture(scope="session")
def built_catalog(
    tmp_path_factory: pytest.TempPathFactory, small_manifest: Path, model_path: Path
) -> Path:
    """A catalog folder indexed once; tests that write must use ``catalog_copy``."""
    path = tmp_path_factory.mktemp("catalog")
    encoder = OnnxEncoder(model_path, threads=1)
    with Catalog.open(path, create=True) as catalog:
        report = Indexer(catalog, encoder, workers=2).run(read_manifest(small_manifest))
        assert report.added == 240 and not report.failed
    return path


@pytest.fixture
def catalog_copy(built_catalog: Path, tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(built_catalog, target)
    return target
