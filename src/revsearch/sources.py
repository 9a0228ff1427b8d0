"""Where images to index come from: a folder, a manifest CSV, one file or an S3 prefix.

Each becomes a list of :class:`ImageSource` (path or URL, label) in a stable order; the
indexer neither knows nor cares which kind it was given.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from revsearch.errors import BadParameterError, NotFoundError
from revsearch.stores.reader import S3_SCHEME

IMAGE_SUFFIXES = {
    ".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".heic", ".heif", ".avif",
}  # fmt: skip


@dataclass(frozen=True)
class ImageSource:
    """A file to index, with its label when the input carries one (manifests do).

    ``data``: its bytes when already in memory (API uploads, whose ``path`` may be an
    ``s3://`` source that only the image store can read), and ``content_hash`` theirs when
    the caller has hashed them already (so they are not hashed twice).
    """

    path: str
    class_name: str | None = None
    data: bytes | None = field(default=None, repr=False, compare=False)
    content_hash: str | None = field(default=None, repr=False, compare=False)

    @property
    def known_hash(self) -> str | None:
        """The hash of ``data``, when both were given: no need to read or hash anything."""
        return self.content_hash if self.data is not None else None


def absolute(path: str | Path) -> str:
    """An absolute, normalised path that keeps symlinks as given (the source "as indexed")."""
    return os.path.abspath(os.path.expanduser(path))


def content_hash(data: bytes) -> str:
    """What identifies an image in the catalog: the SHA-256 of its bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return content_hash(path.read_bytes())


def scan_folder(folder: Path) -> list[ImageSource]:
    """Every image file below ``folder`` (by extension), in a stable order."""
    files = (p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    return [ImageSource(absolute(p)) for p in sorted(files)]


STANFORD_PREFIX = "stanford-"


def split_column(split: str) -> tuple[str, str]:
    """A split name -> (manifest column, value): ``train``/``eval`` are the open-set protocol's
    ``retrieval_split``; ``stanford-train``/``stanford-test`` the product protocol's
    ``stanford_split``."""
    if split.startswith(STANFORD_PREFIX):
        return "stanford_split", split.removeprefix(STANFORD_PREFIX)
    return "retrieval_split", split


def read_manifest(
    manifest: Path, *, split: str | None = None, limit: int | None = None
) -> list[ImageSource]:
    """Rows of a CSV with an ``image`` column (relative to the CSV) and optional labels."""
    try:
        with open(manifest, newline="") as handle:
            reader = csv.DictReader(handle)
            if "image" not in (reader.fieldnames or []):
                raise BadParameterError(f"{manifest}: a manifest needs an 'image' column")
            column, value = split_column(split) if split else ("", "")
            if split and column not in (reader.fieldnames or []):
                raise BadParameterError(f"{manifest}: no '{column}' column to filter on")
            rows = [r for r in reader if not split or r.get(column) == value]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BadParameterError(f"{manifest}: cannot read manifest ({exc})") from None
    base = Path(absolute(manifest)).parent
    sources = [
        ImageSource(
            row["image"] if row["image"].startswith(S3_SCHEME) else absolute(base / row["image"]),
            row.get("class_name") or None,
        )
        for row in rows
    ]
    return sources[:limit] if limit is not None else sources


def collect_sources(
    path: Path, *, split: str | None = None, limit: int | None = None
) -> list[ImageSource]:
    """A folder, a manifest CSV or a single image file -> sources."""
    if not path.exists():
        raise NotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        sources = scan_folder(path)
        return sources[:limit] if limit is not None else sources
    if path.suffix.lower() == ".csv":
        return read_manifest(path, split=split, limit=limit)
    return [ImageSource(absolute(path))]


def s3_sources(
    url: str, *, endpoint_url: str | None = None, limit: int | None = None
) -> list[ImageSource]:
    """Every image object under an ``s3://bucket/prefix`` (by extension), in key order."""
    from revsearch.stores.s3 import S3Store  # imports boto3

    store = S3Store.from_url(url, endpoint_url=endpoint_url)
    urls = store.list_images(IMAGE_SUFFIXES)
    if not urls:
        raise NotFoundError(f"{url}: no images there")
    return [ImageSource(u) for u in urls[:limit]]


def gather(
    where: str,
    *,
    split: str | None = None,
    limit: int | None = None,
    s3_endpoint_url: str | None = None,
) -> list[ImageSource]:
    """The sources ``revsearch index`` was pointed at: an ``s3://`` prefix or a local path."""
    if where.startswith(S3_SCHEME):
        return s3_sources(where, endpoint_url=s3_endpoint_url, limit=limit)
    return collect_sources(Path(where), split=split, limit=limit)
