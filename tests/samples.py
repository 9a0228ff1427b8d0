"""Test inputs: real Stanford Cars files from ../shared, and hand-made bad images.

Every helper that reads the data checks it is there first (tests.support.data).
"""

from __future__ import annotations

import csv
import struct
import zlib
from pathlib import Path

from tests.support.data import DATASET, MANIFEST, require_dataset


def manifest_rows() -> list[dict[str, str]]:
    require_dataset()
    with open(MANIFEST, newline="") as handle:
        return list(csv.DictReader(handle))


def small_rows(classes: int = 20, per_class: int = 12, split: str = "eval") -> list[dict[str, str]]:
    """A deterministic few hundred rows: the first ``per_class`` images of ``classes`` classes."""
    chosen: dict[str, list[dict[str, str]]] = {}
    for row in manifest_rows():
        if row["retrieval_split"] != split:
            continue
        bucket = chosen.setdefault(row["class_id"], [])
        if len(bucket) < per_class:
            bucket.append(row)
    class_ids = sorted(chosen, key=int)[:classes]
    return [row for class_id in class_ids for row in chosen[class_id]]


def write_manifest(rows: list[dict[str, str]], path: Path) -> Path:
    """A manifest whose image paths are absolute, so it can live anywhere."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "image": str(DATASET / row["image"])})
    return path


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header announcing width x height pixels, with a tiny compressed body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    body = zlib.compress(b"\x00" * 1024, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def truncated_jpeg() -> bytes:
    data = (require_dataset() / "images" / "train" / "00001.jpg").read_bytes()
    return data[: len(data) // 2]


def not_an_image() -> bytes:
    return b"this is plain text pretending to be a photo\n" * 20


def car_photo(name: str = "images/test/00010.jpg") -> Path:
    return require_dataset() / name


def renamed_model(model_path: Path, model_id: str, target: Path) -> Path:
    """A copy of an ONNX encoder that claims another model id (same weights)."""
    import onnx

    from revsearch.encoder.spec import METADATA_KEY, ModelSpec

    proto = onnx.load(str(model_path))
    entry = next(p for p in proto.metadata_props if p.key == METADATA_KEY)
    spec = ModelSpec.from_json(entry.value)
    entry.value = ModelSpec(**{**spec.__dict__, "model_id": model_id}).to_json()
    onnx.save(proto, str(target))
    return target
