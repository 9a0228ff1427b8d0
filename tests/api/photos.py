"""Real query photos: ones inside the small test catalog and a held-out one of the same classes."""

from __future__ import annotations

import functools
from pathlib import Path

from tests.samples import DATASET, manifest_rows, small_rows


@functools.cache
def _catalog_rows() -> tuple[dict[str, str], ...]:
    return tuple(small_rows())


def catalog_photo(index: int = 0) -> tuple[Path, str]:
    """(path, class name) of an image that is in the small catalog."""
    row = _catalog_rows()[index]
    return DATASET / row["image"], row["class_name"]


@functools.cache
def held_out_photo() -> tuple[Path, str]:
    """(path, class name) of a photo not in the catalog, of a class that is."""
    indexed = {row["image"] for row in _catalog_rows()}
    first_class = _catalog_rows()[0]["class_id"]
    row = next(
        r
        for r in manifest_rows()
        if r["class_id"] == first_class
        and r["retrieval_split"] == "eval"
        and r["image"] not in indexed
    )
    return DATASET / row["image"], row["class_name"]
