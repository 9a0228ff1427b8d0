"""The Ray engine against the single-process indexer, on real photos and real Ray instances.

One ``revsearch index --engine ray`` run on a local instance is shared by the congruence,
resume and failure checks; a second run joins a cluster started with ``ray start``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from revsearch.catalog.catalog import Catalog
from revsearch.distributed.ray_indexing import from_columns, to_columns
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.errors import InvalidImageError
from revsearch.indexing import Indexer, IndexReport, Prepared
from revsearch.sources import ImageSource, read_manifest
from tests.distributed.conftest import Isolated
from tests.samples import DATASET, not_an_image, small_rows, truncated_jpeg, write_manifest

PREINDEXED = 40  # committed before the Ray run, which must skip them (resume)
REVSEARCH = f'"{sys.executable}" -m revsearch'
# A driver that has the model loaded while its workers cannot find the file.
WORKER_WITHOUT_MODEL = """
import os, sys
from pathlib import Path
from revsearch.catalog.catalog import Catalog
from revsearch.distributed.ray_indexing import RayIndexer
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.errors import RevSearchError
from revsearch.sources import scan_folder

model, images, catalog = sys.argv[1:]
encoder = OnnxEncoder(model, threads=1)
os.remove(model)
with Catalog.open(Path(catalog), create=True) as opened:
    try:
        RayIndexer(opened, encoder, workers=1).run(scan_folder(Path(images)))
    except RevSearchError as exc:
        print(f"{type(exc).__name__}: {exc}")
"""


@dataclass(frozen=True)
class Run:
    """The shared Ray run and the local engine's answer to the same job."""

    manifest: Path
    ray_catalog: Path
    local_catalog: Path
    local_report: IndexReport
    result: subprocess.CompletedProcess[str]


def snapshot(path: Path) -> dict[str, tuple[tuple, np.ndarray]]:
    """source -> (id, hash, label, make, year, size; vector) of every image in a catalog."""
    with Catalog.open(path) as catalog:
        assert catalog.model_id and catalog.dim
        ids, vectors = catalog.vectors()
        records = catalog.get(ids.tolist())
    return {
        (r := records[int(i)]).source: (
            (r.id, r.content_hash, r.class_name, r.make, r.year, r.width, r.height),
            vector,
        )
        for i, vector in zip(ids, vectors, strict=True)
    }


def summary(report: IndexReport) -> str:
    """The CLI's summary line, without the catalog's path."""
    return (
        f"indexed {report.added} new, {report.updated} updated, "
        f"{report.unchanged} already indexed, {report.duplicates} duplicates, "
        f"{len(report.failed)} failed"
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, model_path: Path, isolated: Isolated) -> Run:
    """100 real photos, a byte-identical copy, a truncated JPEG and a text file."""
    folder = tmp_path_factory.mktemp("ray-run")
    rows = small_rows(classes=10, per_class=10)
    copy = shutil.copy(DATASET / rows[60]["image"], folder / "copy-of-60.jpg")
    (folder / "truncated.jpg").write_bytes(truncated_jpeg())
    (folder / "notes.jpg").write_bytes(not_an_image())
    extra = [{**rows[60], "image": str(p)} for p in (copy, folder / "truncated.jpg")]
    text = {**rows[0], "image": str(folder / "notes.jpg"), "class_name": ""}
    manifest = write_manifest([*rows[:70], *extra, *rows[70:], text], folder / "cars.csv")
    sources = read_manifest(manifest)

    base = folder / "base"  # the state a killed run leaves: the first batches committed
    with Catalog.open(base, create=True) as catalog:
        encoder = OnnxEncoder(model_path, threads=1)
        assert Indexer(catalog, encoder, workers=2).run(sources[:PREINDEXED]).added == PREINDEXED
    local, ray = folder / "local", folder / "ray"
    shutil.copytree(base, local)
    shutil.copytree(base, ray)
    with Catalog.open(local) as catalog:
        local_report = Indexer(catalog, encoder, workers=2).run(sources)

    result = isolated(
        f"{REVSEARCH} index {manifest} --catalog {ray} --engine ray --workers 2 --ray-address local"
    )
    return Run(manifest, ray, local, local_report, result)


def test_report_and_exit_status_match_the_local_engine(run: Run) -> None:
    assert run.result.returncode == 3, run.result.stderr  # finished, some files skipped
    assert (run.local_report.added, run.local_report.unchanged) == (60, PREINDEXED)
    assert run.local_report.duplicates == 1 and len(run.local_report.failed) == 2
    assert f"{summary(run.local_report)}; catalog {run.ray_catalog} now holds 100 images" in (
        run.result.stdout
    )


def test_vectors_and_metadata_match_the_local_engine(run: Run) -> None:
    local, ray = snapshot(run.local_catalog), snapshot(run.ray_catalog)
    assert len(ray) == 100 and ray.keys() == local.keys()
    for source, (record, vector) in ray.items():
        assert record == local[source][0]  # same ids: the Ray output keeps the input order
        np.testing.assert_allclose(vector, local[source][1], atol=1e-5)
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_unreadable_files_are_reported_and_skipped(run: Run) -> None:
    skipped = re.findall(r"^skipped: (.*)$", run.result.stderr, re.MULTILINE)
    assert sorted(skipped) == sorted(message for _, message in run.local_report.failed)
    assert {Path(path).name for path, _ in run.local_report.failed} == {
        "truncated.jpg",
        "notes.jpg",
    }
    assert any("corrupt or truncated image" in line for line in skipped)
    assert any("not an image in a supported format" in line for line in skipped)
    assert not any(s.endswith(("truncated.jpg", "notes.jpg")) for s in snapshot(run.ray_catalog))


def test_a_started_cluster_is_joined_by_address(
    run: Run, tmp_path: Path, model_path: Path, isolated: Isolated
) -> None:
    """``ray start --head``, then RAY_ADDRESS: the path a real cluster takes (token auth on).

    Then a driver whose workers cannot open the model fails with the model's own error.
    """
    images = tmp_path / "images"
    images.mkdir()
    for source in read_manifest(run.manifest)[:8]:
        shutil.copy(source.path, images)
    catalog, orphan = tmp_path / "catalog", tmp_path / "orphan"
    model = Path(shutil.copy(model_path, tmp_path / "model.onnx"))
    script = tmp_path / "worker_without_model.py"
    script.write_text(WORKER_WITHOUT_MODEL)
    ray = Path(sys.executable).with_name("ray")
    result = isolated(
        f'"{ray}" start --head --port=6379 --num-cpus=1 --include-dashboard=false '
        "--disable-usage-stats > /dev/null && export RAY_AUTH_MODE=token "
        f"RAY_ADDRESS=127.0.0.1:6379 && {REVSEARCH} index {images} --catalog {catalog} "
        f'--engine ray --workers 1; "{sys.executable}" {script} {model} {images} {orphan}'
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()  # Ray may print notices of the dead actor between
    indexed, failure = lines[0], lines[-1]
    assert indexed.startswith("indexed 8 new"), result.stderr
    reference = {Path(s).name: v for s, (_, v) in snapshot(run.local_catalog).items()}
    for source, (_, vector) in snapshot(catalog).items():
        np.testing.assert_allclose(vector, reference[Path(source).name], atol=1e-5)
    assert failure == f"ModelNotFoundError: model file not found: {model}"
    with Catalog.open(orphan) as opened:
        assert len(opened) == 0


def test_ray_client_addresses_are_refused_before_anything_starts(
    tmp_path: Path, isolated: Isolated, run: Run
) -> None:
    result = isolated(
        f"{REVSEARCH} index {run.manifest} --catalog {tmp_path / 'c'} --engine ray "
        "--ray-address ray://127.0.0.1:10001"
    )
    assert result.returncode == 1
    assert "does not run over Ray Client" in result.stderr.splitlines()[-1]


def test_columns_round_trip_keeps_what_the_indexer_needs() -> None:
    prepared = [
        Prepared(ImageSource("/a.jpg", "Audi TTS Coupe 2012"), "h1", 640, 480),
        Prepared(ImageSource("/b.jpg"), "h2", known=True),
        Prepared(ImageSource("/c.jpg"), error=InvalidImageError("/c.jpg: corrupt")),
        Prepared(ImageSource("/d.jpg"), "h4", 10, 20),
    ]
    vectors = np.arange(6, dtype=np.float32).reshape(2, 3)
    back, back_vectors = from_columns(to_columns(prepared, vectors))
    np.testing.assert_array_equal(back_vectors, vectors)
    assert [(p.source, p.content_hash, p.width, p.height, p.known) for p in back] == [
        (p.source, p.content_hash, p.width, p.height, p.known) for p in prepared
    ]
    assert isinstance(back[2].error, InvalidImageError) and str(back[2].error) == "/c.jpg: corrupt"
    assert [p.error for p in back[:2] + back[3:]] == [None, None, None]
