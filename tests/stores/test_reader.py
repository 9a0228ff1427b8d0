"""Indexing straight from S3: s3:// sources in a manifest, read through SourceReader."""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

import pytest

from revsearch.catalog.catalog import Catalog
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.errors import ImageTooLargeError
from revsearch.indexing import Indexer, reindex
from revsearch.sources import read_manifest
from revsearch.stores.reader import SourceReader
from tests.samples import DATASET, renamed_model, small_rows
from tests.stores.s3server import MotoServer


@pytest.fixture
def s3_manifest(moto: MotoServer, tmp_path: Path) -> Path:
    """Six real car photos in a bucket, and a manifest naming them (plus one missing key)."""
    bucket, client = moto.new_bucket(), moto.client()
    rows = small_rows(classes=2, per_class=3)
    manifest = tmp_path / "s3.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "class_name"])
        for row in rows:
            key = f"cars/{Path(row['image']).name}"
            client.put_object(Bucket=bucket, Key=key, Body=(DATASET / row["image"]).read_bytes())
            writer.writerow([f"s3://{bucket}/{key}", row["class_name"]])
        writer.writerow([f"s3://{bucket}/cars/missing.jpg", "Audi TTS Coupe 2012"])
    return manifest


def test_index_and_reindex_images_from_s3(
    s3_manifest: Path, moto: MotoServer, tmp_path: Path, model_path: Path
) -> None:
    sources = read_manifest(s3_manifest)
    assert all(s.path.startswith("s3://") for s in sources)
    reader = SourceReader(s3_endpoint_url=moto.url)
    encoder = OnnxEncoder(model_path, threads=1)
    with Catalog.open(tmp_path / "cat", create=True) as catalog:
        report = Indexer(catalog, encoder, read=reader).run(sources)
        assert report.added == 6 and [p for p, _ in report.failed] == [sources[-1].path]
        first = catalog.get([1])[1]
        assert first.source == sources[0].path and first.width == 224
        vector = encoder.encode([reader(first.source)])[0]
        assert catalog.search(vector, 1)[0].record.id == 1
        other = OnnxEncoder(renamed_model(model_path, "lite0-s3", tmp_path / "m.onnx"))
        assert reindex(catalog, other, workers=1, read=reader) == 6


def test_reader_limits_and_pickling(s3_manifest: Path, moto: MotoServer) -> None:
    source = read_manifest(s3_manifest)[0].path
    reader = SourceReader(max_bytes=1000, s3_endpoint_url=moto.url)
    with pytest.raises(ImageTooLargeError):
        reader(source)
    shipped = pickle.loads(pickle.dumps(SourceReader(s3_endpoint_url=moto.url)))
    assert shipped(source)[:2] == b"\xff\xd8"  # a JPEG, read by a fresh client


def test_index_command_lists_an_s3_prefix(
    s3_manifest: Path,
    moto: MotoServer,
    tmp_path: Path,
    model_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`revsearch index s3://bucket/prefix` indexes every image object under the prefix."""
    from revsearch.cli import main

    bucket = read_manifest(s3_manifest)[0].path.removeprefix("s3://").split("/")[0]
    client = moto.client()
    client.put_object(Bucket=bucket, Key="cars/notes.txt", Body=b"not an image")
    client.put_object(Bucket=bucket, Key="other/car.jpg", Body=b"outside the prefix")
    monkeypatch.setenv("REVSEARCH_S3_ENDPOINT_URL", moto.url)
    monkeypatch.setenv("REVSEARCH_MODEL", str(model_path))
    catalog = tmp_path / "cat"
    main(["index", f"s3://{bucket}/cars", "--catalog", str(catalog), "--workers", "1"])
    with Catalog.open(catalog) as opened:
        sources = sorted(r.source for r in opened.get(list(range(1, 10))).values())
    assert sources == sorted(s.path for s in read_manifest(s3_manifest)[:-1])  # 6 photos

    with pytest.raises(SystemExit) as exit_info:
        main(["index", f"s3://{bucket}/nothing-here", "--catalog", str(catalog)])
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.strip().endswith(f"s3://{bucket}/nothing-here: no images there")
