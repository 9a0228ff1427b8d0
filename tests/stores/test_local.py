"""What only the local folder store has to guard against: paths that climb out of it."""

from __future__ import annotations

from pathlib import Path

from revsearch.stores import LocalStore


def test_delete_refuses_paths_that_climb_out_of_the_uploads_folder(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "catalog" / "images")
    store.put(b"uploaded", "png")
    outside = tmp_path / "catalog" / "dataset.jpg"
    outside.write_bytes(b"indexed in place")
    sneaky = str(store.root / ".." / "dataset.jpg")
    assert store.owns(sneaky) is False
    assert store.delete(sneaky) is False
    assert outside.exists()
