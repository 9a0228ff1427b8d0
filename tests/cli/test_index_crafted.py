"""``revsearch index`` of a folder with crafted files: skips and lists them, indexes the rest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.api.photos import catalog_photo
from tests.cli.run import revsearch, stats
from tests.crafted import crafted

pytestmark = pytest.mark.slow

# Crafted files as they would sit in a folder of photos (the DDS one wears a .jpg name).
CRAFTED_FILES = {
    "crafted-1.avif": "avif-missing-image-item.avif",
    "crafted-2.heic": "heif-security-limit.heic",
    "crafted-3.tif": "tiff-float-field.tif",
    "crafted-4.jpg": "dds-pixel-format.dds",
}


def test_crafted_files_are_skipped_listed_and_the_rest_indexed(tmp_path: Path, env) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(9):
        shutil.copy(catalog_photo(index * 12)[0], folder / f"good-{index}.jpg")
    for name, source in CRAFTED_FILES.items():
        (folder / name).write_bytes(crafted(source))
    (folder / "broken-exif.jpg").write_bytes(crafted("jpeg-exif-struct-error.jpg"))  # decodable

    catalog = tmp_path / "catalog"
    result = revsearch("index", folder, "--catalog", catalog, env=env)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped: ")]
    assert sorted(Path(line.split()[1].rstrip(":")).name for line in skipped) == sorted(
        CRAFTED_FILES
    )
    assert "indexed 10 new" in result.stdout and "4 failed" in result.stdout
    assert stats(catalog, env)["images"] == 10
