"""``revsearch index`` on a full disk: one clear "disk full" line, the catalog intact.

The catalog lives on a small tmpfs (needs root; CI runs as root), filled up by a file.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.cli.run import revsearch, stats
from tests.samples import small_rows, write_manifest
from tests.small_disk import fill, free, small_disk

pytestmark = pytest.mark.slow

# Room to open the catalog (SQLite's -shm and -wal) but not to commit a batch of 200.
LEAVE_BYTES = 256 * 1024


@pytest.fixture
def full_disk_catalog(built_catalog: Path) -> Iterator[Path]:
    with small_disk(16) as disk:
        catalog = disk / "catalog"
        shutil.copytree(built_catalog, catalog)
        yield catalog


def integrity(catalog: Path) -> tuple[str, int, int]:
    with closing(sqlite3.connect(catalog / "catalog.sqlite")) as db:
        return (
            db.execute("PRAGMA integrity_check").fetchone()[0],
            db.execute("SELECT count(*) FROM images").fetchone()[0],
            db.execute("SELECT count(*) FROM vectors").fetchone()[0],
        )


@pytest.mark.parametrize("leave", [LEAVE_BYTES, 0], ids=["fills-up-while-indexing", "full"])
def test_indexing_on_a_full_disk_says_so_and_keeps_the_catalog(
    full_disk_catalog: Path, tmp_path: Path, env, leave: int
) -> None:
    manifest = write_manifest(
        small_rows(classes=20, per_class=10, split="train"), tmp_path / "m.csv"
    )
    fill(full_disk_catalog.parent, leave=leave)
    result = revsearch("index", manifest, "--catalog", full_disk_catalog, env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: disk full"), result.stderr
    assert "rollback" not in result.stderr

    free(full_disk_catalog.parent)  # room again (SQLite needs some even to read)
    assert integrity(full_disk_catalog) == ("ok", 240, 240)  # nothing lost, nothing half-written
    again = revsearch("index", manifest, "--catalog", full_disk_catalog, env=env)
    assert again.returncode == 0, again.stderr
    assert stats(full_disk_catalog, env)["images"] == 440
    assert integrity(full_disk_catalog) == ("ok", 440, 440)
