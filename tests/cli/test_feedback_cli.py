"""``revsearch feedback export|stats`` on a catalog with recorded votes, and the exported
manifest read by ``revsearch eval --manifest`` and ``revsearch train --manifest``."""

from __future__ import annotations

import csv
import json
import secrets
from dataclasses import replace
from pathlib import Path

import pytest

from revsearch.catalog.catalog import Catalog
from revsearch.feedback.record import FeedbackRecorder, Vote
from revsearch.sources import absolute
from revsearch.training.data import load_labelled
from tests.cli.run import revsearch
from tests.samples import DATASET, manifest_rows, small_rows

CLASSES, PER_CLASS = 3, 4

TINY_RECIPE = """
name = "feedback-tiny"
val_fraction = 0.0
embedding_dim = 16
trainable_blocks = 1
views = 1
epochs = 1
batch_classes = 3
batch_per_class = 2
threads = 2
"""


def held_out(classes: list[str], per_class: int) -> dict[str, list[Path]]:
    """Photos of these catalog classes that the catalog does not hold (eval split)."""
    indexed = {row["image"] for row in small_rows()}
    chosen: dict[str, list[Path]] = {name: [] for name in classes}
    for row in manifest_rows():
        bucket = chosen.get(row["class_name"])
        if bucket is not None and row["image"] not in indexed and len(bucket) < per_class:
            bucket.append(DATASET / row["image"])
    return chosen


@pytest.fixture
def voted(catalog_copy: Path) -> Path:
    """The small catalog with votes on 12 uploaded photos of 3 classes (4 each: confirmed,
    corrected, a result liked, confirmed), plus a bare "down" and a "more like this" vote."""
    rows = small_rows()
    names = list(dict.fromkeys(row["class_name"] for row in rows))[:CLASSES]
    with Catalog.open(catalog_copy) as catalog:
        recorder = FeedbackRecorder(catalog)
        for index, (name, photos) in enumerate(held_out(names, PER_CLASS).items()):
            wrong = names[index - 1]
            first = next(row for row in rows if row["class_name"] == name)
            result = catalog.find_source(absolute(DATASET / first["image"]))
            assert result is not None and result.class_name == name
            votes = [
                Vote("up", predicted_class=name),
                Vote("down", predicted_class=wrong, class_name=name),
                Vote("up", result_id=result.id, predicted_class=wrong),
                Vote("up", class_name=name, predicted_class=name),
            ]
            for photo, vote in zip(photos, votes, strict=True):
                query_id = secrets.token_urlsafe(12)
                recorder.record(replace(vote, query_id=query_id), photo.read_bytes())
        extra = held_out([names[0]], PER_CLASS + 1)[names[0]][-1]
        recorder.record(
            Vote("down", query_id="A" * 16, predicted_class=names[1]), extra.read_bytes()
        )
        recorder.record(Vote("up", query_image=result.id, result_id=result.id))
    return catalog_copy


def export(catalog: Path, output: Path, env: dict[str, str], *extra: str) -> list[dict[str, str]]:
    result = revsearch("feedback", "export", "--catalog", catalog, "--output", output, *extra,
                       env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"wrote 12 labelled photos of {CLASSES} classes" in result.stdout
    with open(output, newline="") as handle:
        return list(csv.DictReader(handle))


def test_export_writes_one_row_per_labelled_photo(voted: Path, tmp_path: Path, env) -> None:
    rows = export(voted, tmp_path / "feedback.csv", env)
    assert list(rows[0]) == ["image", "class_name", "retrieval_split", "stanford_split",
                             "feedback_ids"]  # fmt: skip
    assert len(rows) == CLASSES * PER_CLASS and len({row["image"] for row in rows}) == len(rows)
    for row in rows:
        image = Path(row["image"])
        assert image.is_absolute() and image.parent == voted / "feedback" and image.is_file()
        assert (row["retrieval_split"], row["stanford_split"]) in {("train", "train"),
                                                                  ("eval", "test")}  # fmt: skip
    assert len({row["class_name"] for row in rows}) == CLASSES
    again = export(voted, tmp_path / "again.csv", env)
    assert again == rows  # the same photos on the same sides


@pytest.mark.slow  # a (tiny) training run
def test_the_export_is_read_by_eval_and_train(voted: Path, tmp_path: Path, env) -> None:
    """Every photo for evaluation: ``revsearch eval --manifest`` scores them (its default
    split is eval); every photo for training: what ``revsearch train`` loads, and a run."""
    evaluation = tmp_path / "eval.csv"
    export(voted, evaluation, env, "--eval-share", "1")
    result = revsearch("eval", "--manifest", evaluation, "--json", env=env)
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert scores["images"] == CLASSES * PER_CLASS and scores["classes"] == CLASSES
    assert 0 <= scores["recall@1"] <= 1

    training = tmp_path / "train.csv"
    export(voted, training, env, "--eval-share", "0")
    data = load_labelled(training, "train")
    assert len(data) == CLASSES * PER_CLASS and len(data.class_names) == CLASSES
    assert all(Path(path).is_file() for path in data.paths)
    pytest.importorskip("torch", reason="training needs the 'train' extra")
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY_RECIPE)
    trained = revsearch("train", "--recipe", recipe, "--manifest", training,
                        "--run-dir", tmp_path / "run", env=env)  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["train_classes"] == CLASSES


def test_stats_summarise_the_votes(voted: Path, env) -> None:
    result = revsearch("feedback", "stats", "--catalog", voted, "--json", env=env)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    total = CLASSES * PER_CLASS + 2
    assert info["feedback"] == total
    assert info["verdicts"] == {"up": 3 * CLASSES + 1, "down": CLASSES + 1}
    assert info["on_answer"] == {"up": 2 * CLASSES, "down": CLASSES + 1}
    assert info["on_results"] == {"up": CLASSES + 1, "down": 0}
    assert info["searches"] == {"upload": total - 1, "similar": 1}
    assert info["answers"] == {"confirmed": 2 * CLASSES, "corrected": CLASSES, "rejected": 1}
    assert info["photos"] == CLASSES * PER_CLASS + 1
    assert info["labelled_photos"] == CLASSES * PER_CLASS
    assert len(info["corrections"]) == CLASSES
    assert all(pair["count"] == 1 for pair in info["corrections"])
    assert {c["corrections"] for c in info["most_corrected"]} == {1}

    text = revsearch("feedback", "stats", "--catalog", voted, env=env)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"feedback: {total} ({3 * CLASSES + 1} up, {CLASSES + 1} down)")
    assert f"answers: {2 * CLASSES} confirmed, {CLASSES} corrected, 1 rejected" in text.stdout
    assert "->" in text.stdout


def test_a_catalog_without_feedback(catalog_copy: Path, tmp_path: Path, env) -> None:
    stats = revsearch("feedback", "stats", "--catalog", catalog_copy, "--json", env=env)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["feedback"] == 0
    output = tmp_path / "none.csv"
    result = revsearch("feedback", "export", "--catalog", catalog_copy, "--output", output,
                       env=env)  # fmt: skip
    assert result.returncode == 0 and "wrote 0 labelled photos" in result.stdout
    assert output.read_text().splitlines() == [
        "image,class_name,retrieval_split,stanford_split,feedback_ids"
    ]


def test_a_missing_photo_is_skipped_and_said(voted: Path, tmp_path: Path, env) -> None:
    victim = Path(export(voted, tmp_path / "all.csv", env)[0]["image"])
    victim.unlink()
    result = revsearch("feedback", "export", "--catalog", voted, "--output",
                       tmp_path / "m.csv", env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"skipped: {victim}: the kept photo is missing"
    assert "wrote 11 labelled photos" in result.stdout


def test_errors_are_one_line(tmp_path: Path, catalog_copy: Path, env) -> None:
    missing = revsearch("feedback", "stats", "--catalog", tmp_path / "nowhere", env=env)
    assert missing.returncode == 1 and missing.stderr.startswith("error: no catalog at")
    into_folder = revsearch("feedback", "export", "--catalog", catalog_copy, "--output",
                            tmp_path, env=env)  # fmt: skip
    assert into_folder.returncode != 0 and "Traceback" not in into_folder.stderr
    share = revsearch("feedback", "export", "--catalog", catalog_copy, "--output",
                      tmp_path / "m.csv", "--eval-share", "2", env=env)  # fmt: skip
    assert share.returncode == 2 and "eval-share" in share.stderr
