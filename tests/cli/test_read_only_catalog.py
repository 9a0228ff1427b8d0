"""A catalog the user cannot write: the reading commands work, the writing ones say why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.photos import catalog_photo
from tests.cli.run import revsearch
from tests.privileges import UNPRIVILEGED, read_only_copy, remove, why_not_unprivileged

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(why_not_unprivileged() is not None, reason=str(why_not_unprivileged())),
]


@pytest.fixture
def read_only(built_catalog: Path, env: dict[str, str]) -> Iterator[tuple[Path, dict[str, str]]]:
    home, catalog = read_only_copy(built_catalog, "revsearch-ro-cli-")
    yield catalog, {**env, "REVSEARCH_HOME": str(home), "HOME": str(home)}
    remove(catalog.parent)


def snapshot(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.rglob("*")}


def note_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "read-only" in line]


def test_reading_commands_work_on_a_read_only_catalog(read_only) -> None:
    catalog, env = read_only
    before = snapshot(catalog)
    result = revsearch("stats", "--json", "--catalog", catalog, env=env, user=UNPRIVILEGED)
    assert result.returncode == 0, result.stderr
    assert '"images": 240' in result.stdout
    assert note_lines(result.stderr) == [
        f"note: catalog {catalog} is read-only: writes are disabled"
    ]
    # Above the exact-search limit: the HNSW index is built in memory and not saved.
    query = catalog_photo(7)[0]
    hnsw = {**env, "REVSEARCH_EXACT_SEARCH_LIMIT": "50"}
    for environment in (env, hnsw):
        found = revsearch("search", query, "-k", "1", "--json", "--catalog", catalog,
                          env=environment, user=UNPRIVILEGED)  # fmt: skip
        assert found.returncode == 0, found.stderr
        assert f'"image": "{query}"' in found.stdout
        assert len(note_lines(found.stderr)) == 1
    assert snapshot(catalog) == before  # nothing written, not even -wal/-shm files


@pytest.mark.parametrize("command", ["add", "index", "remove"])
def test_writing_commands_refuse_a_read_only_catalog(read_only, command: str) -> None:
    catalog, env = read_only
    before = snapshot(catalog)
    target = (
        "1" if command == "remove" else str(catalog_photo(0)[0].parents[1] / "train" / "00001.jpg")
    )
    result = revsearch(command, target, "--catalog", catalog, env=env, user=UNPRIVILEGED)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: catalog {catalog} is read-only here (no write permission or a read-only "
        "disk), and this command writes to it"
    ]
    assert snapshot(catalog) == before
