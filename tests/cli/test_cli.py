"""The CLI end to end, as real ``revsearch`` processes on real images."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from revsearch.encoder.onnx import OnnxEncoder
from tests.cli.run import revsearch, stats
from tests.samples import (
    DATASET,
    car_photo,
    manifest_rows,
    not_an_image,
    png_bomb,
    renamed_model,
    small_rows,
    truncated_jpeg,
    write_manifest,
)
from tests.support.sqlite import sqlite_file

pytestmark = pytest.mark.slow  # every test runs ``revsearch`` as a real process (~1 s each)


def test_index_search_add_remove_stats(tmp_path: Path, small_manifest: Path, env) -> None:
    catalog = tmp_path / "cat"
    result = revsearch("index", small_manifest, "--catalog", catalog, "--limit", "60", env=env)
    assert result.returncode == 0, result.stderr
    assert "indexed 60 new" in result.stdout
    assert stats(catalog, env)["images"] == 60

    query = manifest_rows_path(small_manifest, 5)
    result = revsearch("search", query, "-k", "3", "--json", "--catalog", catalog, env=env)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert list(payload) == ["results", "prediction", "query_box", "cars"]
    assert len(payload["results"]) == 3
    top = payload["results"][0]
    assert set(top) == {"id", "score", "image", "class_name", "same_image"}
    assert top["image"] == query and top["score"] == pytest.approx(1.0, abs=1e-4)
    assert top["same_image"] and not any(r["same_image"] for r in payload["results"][1:])
    scores = [r["score"] for r in payload["results"]]
    assert scores == sorted(scores, reverse=True)
    prediction = payload["prediction"]
    assert set(prediction) == {"class_name", "confidence", "sure", "candidates"}
    assert 0 < prediction["confidence"] <= 1
    assert prediction["candidates"][0]["class_name"] == prediction["class_name"]
    assert prediction["sure"] == (prediction["confidence"] >= 0.9)

    text = revsearch("search", query, "--catalog", catalog, env=env)
    assert text.returncode == 0 and "this looks like:" in text.stdout
    assert text.stdout.splitlines()[0].endswith("(same photo)")

    photo = car_photo()  # not in the first 60 rows
    added = revsearch(
        "add", photo, "--class-name", "Audi TTS Coupe 2012", "--catalog", catalog, env=env
    )
    assert added.returncode == 0, added.stderr
    assert "added 1" in added.stdout
    relabel = revsearch(
        "add", photo, "--class-name", "Audi R8 Coupe 2012", "--catalog", catalog, env=env
    )
    assert "relabelled 1" in relabel.stdout
    found = json.loads(
        revsearch("search", photo, "-k", "1", "--json", "--catalog", catalog, env=env).stdout
    )
    assert found["results"][0]["class_name"] == "Audi R8 Coupe 2012"
    assert stats(catalog, env)["images"] == 61

    removed = revsearch(
        "remove", str(found["results"][0]["id"]), query, "--catalog", catalog, env=env
    )
    assert removed.returncode == 0, removed.stderr
    assert stats(catalog, env)["images"] == 59
    again = json.loads(revsearch("search", query, "--json", "--catalog", catalog, env=env).stdout)
    assert query not in {r["image"] for r in again["results"]}


def manifest_rows_path(manifest: Path, index: int) -> str:
    import csv

    with open(manifest, newline="") as handle:
        return list(csv.DictReader(handle))[index]["image"]


def test_hnsw_catalog_end_to_end(tmp_path: Path, small_manifest: Path, env) -> None:
    env = {**env, "REVSEARCH_EXACT_SEARCH_LIMIT": "50"}
    catalog = tmp_path / "cat"
    assert revsearch("index", small_manifest, "--catalog", catalog, env=env).returncode == 0
    info = stats(catalog, env)
    assert info["index_kind"] == "hnsw" and (catalog / "vectors.usearch").is_file()
    query = manifest_rows_path(small_manifest, 100)
    result = json.loads(revsearch("search", query, "--json", "--catalog", catalog, env=env).stdout)
    assert result["results"][0]["image"] == query


BAD_INPUTS = {
    "missing file": None,
    "text renamed .jpg": not_an_image(),
    "truncated jpeg": truncated_jpeg(),
    "decompression bomb": png_bomb(),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
@pytest.mark.parametrize("command", ["search", "add", "index"])
def test_bad_images_fail_cleanly_and_change_nothing(
    case: str, command: str, catalog_copy: Path, tmp_path: Path, env
) -> None:
    path = tmp_path / ("bomb.png" if case == "decompression bomb" else "photo.jpg")
    if BAD_INPUTS[case] is not None:
        path.write_bytes(BAD_INPUTS[case])
    before = stats(catalog_copy, env)
    result = revsearch(command, path, "--catalog", catalog_copy, env=env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert path.name in lines[0]
    assert stats(catalog_copy, env) == before


@pytest.mark.parametrize("k", ["0", "101"])
def test_k_out_of_range(k: str, catalog_copy: Path, env) -> None:
    result = revsearch("search", car_photo(), "-k", k, "--catalog", catalog_copy, env=env)
    assert result.returncode != 0
    assert result.stderr.strip() == f"error: k must be between 1 and 100, got {k}"


def test_search_a_region_or_the_car_found(tmp_path: Path, catalog_copy: Path, env) -> None:
    import numpy as np
    from PIL import Image

    from revsearch.eval.framing import frame_car

    frame, (x1, y1, x2, y2), _ = frame_car(
        Image.open(car_photo()).convert("RGB"), np.random.default_rng(5), 0.4
    )
    photo = tmp_path / "street.jpg"
    frame.save(photo, quality=90)
    given = revsearch("search", photo, "--box", f"{x1},{y1},{x2},{y2}", "--json",
                      "--catalog", catalog_copy, env=env)  # fmt: skip
    assert given.returncode == 0, given.stderr
    assert json.loads(given.stdout)["query_box"] == [x1, y1, x2, y2]
    found = revsearch("search", photo, "--catalog", catalog_copy, env=env)
    assert found.returncode == 0 and "searched the region " in found.stdout
    bad = revsearch("search", photo, "--box", "1,2,3", "--catalog", catalog_copy, env=env)
    assert bad.returncode == 1
    assert (
        bad.stderr.strip()
        == "error: box must be 'x1,y1,x2,y2' with x1 < x2 and y1 < y2, got '1,2,3'"
    )


def test_unknown_catalog(tmp_path: Path, env) -> None:
    missing = tmp_path / "no-such-catalog"
    for args in (("search", car_photo()), ("stats",), ("remove", "1")):
        result = revsearch(*args, "--catalog", missing, env=env)
        assert result.returncode != 0
        assert result.stderr.strip().splitlines() == [
            f"error: no catalog at {missing}: build one with "
            f"'revsearch index PATH --catalog {missing}'"
        ]
    assert not missing.exists()


def test_remove_unknown_id_changes_nothing(catalog_copy: Path, env) -> None:
    before = stats(catalog_copy, env)
    result = revsearch("remove", "1", "99999", "--catalog", catalog_copy, env=env)
    assert result.returncode != 0 and "99999" in result.stderr
    assert stats(catalog_copy, env) == before


def test_model_mismatch_and_reindex(
    catalog_copy: Path, tmp_path: Path, model_path: Path, env
) -> None:
    other = renamed_model(model_path, "lite0-renamed", tmp_path / "renamed.onnx")

    refused = revsearch("search", car_photo(), "--model", other, "--catalog", catalog_copy, env=env)
    assert refused.returncode != 0 and "revsearch reindex" in refused.stderr
    done = revsearch("reindex", "--model", other, "--catalog", catalog_copy, env=env)
    assert done.returncode == 0, done.stderr
    assert "re-encoded 240" in done.stdout
    assert stats(catalog_copy, env)["model_id"] == "lite0-renamed"
    ok = revsearch("search", car_photo(), "--model", other, "--catalog", catalog_copy, env=env)
    assert ok.returncode == 0, ok.stderr


def test_killed_indexing_leaves_a_consistent_catalog_that_resumes(tmp_path: Path, env) -> None:
    rows = manifest_rows()[:1000]
    manifest = write_manifest(rows, tmp_path / "m.csv")
    catalog = tmp_path / "cat"
    command = [sys.executable, "-m", "revsearch", "index", str(manifest), "--catalog", str(catalog)]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    committed = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
            try:
                with sqlite_file(catalog / "catalog.sqlite", timeout=1) as db:
                    committed = db.execute("SELECT count(*) FROM images").fetchone()[0]
            except sqlite3.OperationalError:
                continue  # not created yet
            if committed >= 256:
                break
        assert process.poll() is None, "indexing finished before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
    with sqlite_file(catalog / "catalog.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        images = db.execute("SELECT count(*) FROM images").fetchone()[0]
        vectors = db.execute("SELECT count(*) FROM vectors").fetchone()[0]
    assert images == vectors and 256 <= images < 1000 and images % 256 == 0
    assert stats(catalog, env)["images"] == images
    query = str(DATASET / rows[0]["image"])
    partial = revsearch("search", query, "--json", "--catalog", catalog, env=env)
    assert partial.returncode == 0, partial.stderr

    resumed = revsearch("index", manifest, "--catalog", catalog, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert (
        f"{1000 - images} new" in resumed.stdout and f"{images} already indexed" in resumed.stdout
    )
    assert stats(catalog, env)["images"] == 1000


def test_eval_reports_the_standard_metrics(small_manifest: Path, env, encoder) -> None:
    result = revsearch("eval", "--manifest", small_manifest, "--limit", "120", "--json", env=env)
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["model_id"] == encoder.model_id and metrics["images"] == 120
    for key in ("recall@1", "recall@2", "recall@4", "recall@8", "map@r"):
        assert 0 <= metrics[key] <= 1
    assert metrics["recall@1"] <= metrics["recall@2"] <= metrics["recall@4"] <= metrics["recall@8"]
    assert metrics["recall@1"] > 0.3  # 10 classes: chance is about 0.1


def test_help_lists_every_command(env) -> None:
    result = revsearch("--help", env=env)
    for command in ("index", "search", "add", "remove", "stats", "reindex", "export-model", "eval"):
        assert command in result.stdout


def test_quantize_model(tmp_path: Path, small_manifest: Path, env, float_model_path) -> None:
    float_id = OnnxEncoder(float_model_path, threads=1).model_id
    refused = revsearch("quantize-model", "--manifest", small_manifest, env=env)
    assert refused.returncode != 0
    assert refused.stderr.strip().endswith("no rows in split 'train'")
    train = write_manifest(small_rows(classes=2, per_class=4, split="train"), tmp_path / "t.csv")
    output = tmp_path / "int8.onnx"
    done = revsearch("quantize-model", "--manifest", train, "--output", output,
                     "--model", float_model_path, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{float_id}-int8" in done.stdout and output.is_file()
    result = revsearch("eval", "--manifest", small_manifest, "--limit", "48", "--json",
                       "--model", output, env=env)  # fmt: skip
    assert json.loads(result.stdout)["model_id"] == f"{float_id}-int8"


def test_eval_with_perturbed_queries(small_manifest: Path, env) -> None:
    result = revsearch("eval", "--manifest", small_manifest, "--limit", "60", "--perturb",
                       "--json", env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    perturbed = json.loads(result.stdout)["perturbed_recall@1"]
    assert set(perturbed) == {"crop_60", "pad_16_9", "jpeg_q20", "rotate_10", "grayscale"}
    assert all(0 <= value <= 1 for value in perturbed.values())


def test_eval_with_framed_queries(small_manifest: Path, env) -> None:
    result = revsearch("eval", "--manifest", small_manifest, "--limit", "16", "--framing",
                       "--json", env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    framed = json.loads(result.stdout)["perturbed_recall@1"]
    assert {"frame_25", "off_centre_45", "second_car_60", "loose_70"} <= set(framed)
    assert "crop_60" not in framed and all(0 <= value <= 1 for value in framed.values())


@pytest.mark.parametrize(
    ("recipe_text", "message"),
    [
        (None, "error: give --manifest, --recipe or both"),
        ('val_fraction = 0.0\nmanifest = "{manifest}"\n', "holds out nothing"),
        ("no_such_setting = 1\n", "unknown recipe settings: no_such_setting"),
    ],
)  # fmt: skip
def test_eval_on_held_out_classes_refuses_what_it_cannot_score(
    tmp_path: Path, small_manifest: Path, env, recipe_text: str | None, message: str
) -> None:
    args: list[str | Path] = ["eval"]
    if recipe_text is not None:
        recipe = tmp_path / "r.toml"
        recipe.write_text(recipe_text.format(manifest=small_manifest))
        args += ["--recipe", recipe]
    result = revsearch(*args, env=env)
    assert result.returncode == 1 and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_eval_product_protocol(product_manifest: Path, env) -> None:
    result = revsearch("eval", "--manifest", product_manifest, "--protocol", "stanford",
                       "--json", env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["protocol"], report["queries"], report["gallery"]) == ("stanford", 30, 60)
    assert 0 < report["nearest_accuracy"] <= 1 and 0 < report["vote_accuracy"] <= 1
    assert sum(b["answers"] for b in report["reliability"]) == 30
    text = revsearch("eval", "--manifest", product_manifest, "--protocol", "stanford", env=env)
    assert "k-NN vote" in text.stdout and "sure answers" in text.stdout
    mixed = revsearch("eval", "--protocol", "stanford", "--recipe", "recipes/cars-lite1.toml",
                      "--manifest", product_manifest, env=env)  # fmt: skip
    assert mixed.returncode == 1 and "holds out classes; score them with --protocol open-set" in (
        mixed.stderr
    )


def test_models_lists_shipped_and_configured_encoders(model_path: Path, tmp_path: Path, env):
    other = tmp_path / "other.onnx"
    other.write_bytes(model_path.read_bytes())
    result = revsearch("models", "--json", "--model", other, env=env)
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    assert [e["default"] for e in entries].count(True) == 1
    assert entries[-1]["path"] == str(other) and entries[-1]["default"]
    assert all(set(e) == {"id", "path", "default", "training_split", "metrics"} for e in entries)
    shipped = [e for e in entries if "/models/" in e["path"]]
    assert all(e["training_split"] in {"retrieval-train", "stanford-train"} for e in shipped)
    assert revsearch("models", env=env).stdout.count("*") == 1


def test_calibrate_model_stores_a_fitted_vote_temperature(
    product_manifest: Path, model_path: Path, tmp_path: Path, env
) -> None:
    recipe = tmp_path / "product.toml"
    recipe.write_text(
        f'manifest = "{product_manifest}"\nsplit = "stanford-train"\n'
        'holdout = "images"\nval_fraction = 0.34\n'
    )
    model = tmp_path / "model.onnx"
    model.write_bytes(model_path.read_bytes())
    assert OnnxEncoder(model).spec.vote_temperature is None
    result = revsearch("calibrate-model", "--recipe", recipe, "--model", model, env=env)
    assert result.returncode == 0, result.stderr
    fitted = OnnxEncoder(model).spec
    assert fitted.vote_temperature is not None and 0.005 <= fitted.vote_temperature <= 0.5
    assert fitted.model_id == OnnxEncoder(model_path).model_id  # the same weights, same id
    assert f"wrote vote temperature {fitted.vote_temperature:.4g}" in result.stdout

    # The recipe's held-out images, searched against its trained ones (the run's validation).
    held = revsearch("eval", "--protocol", "stanford", "--recipe", recipe, "--model", model,
                     "--json", env=env)  # fmt: skip
    assert held.returncode == 0, held.stderr
    report = json.loads(held.stdout)
    assert report["queries"] + report["gallery"] == 60 and report["classes"] == 10
    assert 10 <= report["queries"] <= 30
    assert (
        revsearch("eval", "--recipe", recipe, env=env)
        .stderr.strip()
        .endswith("holds out images; score them with --protocol stanford")
    )

    recipe.write_text(f'manifest = "{product_manifest}"\nval_fraction = 0.2\n')
    refused = revsearch("calibrate-model", "--recipe", recipe, "--model", model, env=env)
    assert refused.returncode == 1 and "holds out classes" in refused.stderr
