from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from revsearch.catalog.catalog import Catalog
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.errors import BadParameterError, InvalidImageError, NotFoundError
from revsearch.indexing import Indexer, reindex
from revsearch.sources import collect_sources, read_manifest, scan_folder
from tests.samples import (
    DATASET,
    not_an_image,
    renamed_model,
    small_rows,
    truncated_jpeg,
    write_manifest,
)
from tests.support.data import require_dataset


def copy_cars(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted((require_dataset() / "images" / "test").glob("*.jpg"))[:count]
    return [Path(shutil.copy(source, folder / source.name)) for source in sources]


def test_scan_folder_finds_images_recursively(tmp_path: Path) -> None:
    copy_cars(tmp_path / "a", 2)
    copy_cars(tmp_path / "b" / "c", 1)
    (tmp_path / "notes.txt").write_text("x")
    Image.new("RGB", (8, 8)).save(tmp_path / "b" / "x.PNG")
    found = scan_folder(tmp_path)
    assert len(found) == 4 and all(Path(s.path).is_absolute() for s in found)


def test_read_manifest(tmp_path: Path) -> None:
    manifest = write_manifest(small_rows(classes=2, per_class=3), tmp_path / "m.csv")
    sources = read_manifest(manifest)
    assert len(sources) == 6 and sources[0].class_name
    assert len(read_manifest(manifest, limit=4)) == 4
    assert read_manifest(manifest, split="train") == []
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label\nx.jpg,y\n")
    with pytest.raises(BadParameterError, match="'image' column"):
        read_manifest(bad)


@pytest.mark.usefixtures("stanford_cars")
def test_relative_manifest_paths_resolve_against_the_manifest() -> None:
    sources = read_manifest(DATASET / "manifest.csv", limit=2)
    assert sources[0].path == str(DATASET / "images" / "train" / "00001.jpg")
    assert sources[0].class_name == "Audi TTS Coupe 2012"


def test_collect_sources_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        collect_sources(tmp_path / "missing")


def test_index_resume_duplicates_and_failures(tmp_path: Path, encoder: OnnxEncoder) -> None:
    folder = tmp_path / "photos"
    cars = copy_cars(folder, 6)
    shutil.copy(cars[0], folder / "copy-of-first.jpg")
    (folder / "broken.jpg").write_bytes(truncated_jpeg())
    (folder / "text.jpg").write_bytes(not_an_image())
    with Catalog.open(tmp_path / "cat", create=True) as catalog:
        first = Indexer(catalog, encoder, workers=2).run(scan_folder(folder))
        assert (first.added, first.duplicates, len(first.failed)) == (6, 1, 2)
        assert {Path(p).name for p, _ in first.failed} == {"broken.jpg", "text.jpg"}
        again = Indexer(catalog, encoder).run(scan_folder(folder))
        assert (again.added, again.unchanged, len(again.failed)) == (0, 7, 2)
        # A file whose content changed is re-encoded and updated in place.
        Image.open(cars[1]).rotate(90).save(cars[1])
        changed = Indexer(catalog, encoder).run(scan_folder(folder))
        assert changed.updated == 1 and len(catalog) == 6
        record = catalog.find_source(str(cars[1]))
        assert record is not None and record.width == 224


def test_strict_run_writes_nothing_when_one_file_is_bad(
    tmp_path: Path, encoder: OnnxEncoder
) -> None:
    folder = tmp_path / "photos"
    copy_cars(folder, 3)
    (folder / "broken.jpg").write_bytes(truncated_jpeg())
    with Catalog.open(tmp_path / "cat", create=True) as catalog:
        with pytest.raises(InvalidImageError, match=r"broken\.jpg"):
            Indexer(catalog, encoder).run(scan_folder(folder), strict=True)
        assert len(catalog) == 0


@pytest.mark.slow  # re-encodes the 240-image test catalog
def test_reindex_switches_model(tmp_path: Path, model_path: Path, catalog_copy: Path) -> None:
    other_path = renamed_model(model_path, "lite0-copy", tmp_path / "other.onnx")
    other = OnnxEncoder(other_path, threads=1)
    with Catalog.open(catalog_copy) as catalog:
        assert reindex(catalog, other, workers=2) == 240
        assert catalog.model_id == "lite0-copy" and len(catalog) == 240
        assert reindex(catalog, other) == 0  # nothing left to do
        record = catalog.get([1])[1]
        vector = other.encode([record.source])[0]
        assert catalog.search(vector, 1)[0].record.id == 1


def test_reindex_keeps_the_unreadable_files_error_class(
    tmp_path: Path, model_path: Path, catalog_copy: Path
) -> None:
    other = OnnxEncoder(renamed_model(model_path, "lite0-copy", tmp_path / "o.onnx"), threads=1)

    def gone(source: str) -> bytes:
        raise NotFoundError(f"{source}: no such file")

    with Catalog.open(catalog_copy) as catalog:
        with pytest.raises(NotFoundError, match=r"^cannot reindex: .*'revsearch remove'$"):
            reindex(catalog, other, workers=1, read=gone)
        assert catalog.model_id != "lite0-copy"  # nothing switched
