"""A tiny end-to-end run through the real CLI: cache, augment, loss, MLflow, resume, Optuna,
ONNX export with parity, and the exported model used by `revsearch eval`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from revsearch.cli import main
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.training.tracking import tracking_uri
from tests.samples import small_rows, write_manifest

pytestmark = pytest.mark.slow

RECIPE = """
name = "tiny"
manifest = "{manifest}"
val_fraction = 0.34
embedding_dim = 32
trainable_blocks = 1
views = 2
epochs = 2
batch_classes = 3
batch_per_class = 2
threads = 2
"""


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 training classes (1-98 only) x 6 real images; 2 classes are held out."""
    folder = tmp_path_factory.mktemp("recipe")
    manifest = write_manifest(small_rows(classes=6, per_class=6, split="train"), folder / "m.csv")
    path = folder / "tiny.toml"
    path.write_text(RECIPE.format(manifest=manifest))
    return path


def run(*args: object) -> None:
    """The CLI in-process; returning without SystemExit is success."""
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        assert exc.code in (0, None)


def train(recipe: Path, run_dir: Path, *extra: object) -> None:
    run("train", "--recipe", recipe, "--run-dir", run_dir, *extra)


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoint.pt", weights_only=True)["model"]


def test_train_exports_a_model_with_parity_and_tracks_it(
    recipe: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "runs" / "tiny"
    train(recipe, run_dir)
    out = capsys.readouterr()
    assert "exported tiny-" in out.out and "val R@1" in out.err

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["train_classes"] == 4 and summary["val_classes"] == 2
    assert summary["parity_max_abs_diff"] < 1e-4
    encoder = OnnxEncoder(run_dir / "model.onnx", threads=1)
    assert encoder.model_id == summary["model_id"] and encoder.dim == 32
    vectors = encoder.encode([Path(p) for p in _paths(recipe)[:3]])
    assert vectors.shape == (3, 32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)

    import mlflow

    client = mlflow.MlflowClient(tracking_uri(run_dir.parent))
    (experiment,) = [e for e in client.search_experiments() if e.name == "tiny"]
    (logged,) = client.search_runs([experiment.experiment_id])
    assert logged.data.params["embedding_dim"] == "32"
    assert len(client.get_metric_history(logged.info.run_id, "val_recall_at_1")) == 2
    assert len(client.get_metric_history(logged.info.run_id, "loss")) == 2
    artifacts = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert {"model.onnx", "summary.json"} <= artifacts

    # The exported model is a normal encoder: `revsearch eval` scores it.
    run("eval", "--model", run_dir / "model.onnx", "--manifest", _manifest(recipe),
        "--split", "train", "--json")  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert result["model_id"] == encoder.model_id and 0.0 <= result["recall@1"] <= 1.0

    # ... and on the recipe's held-out classes it repeats the run's own validation.
    run("eval", "--model", run_dir / "model.onnx", "--recipe", recipe, "--json")
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "val" and result["images"] == summary["val_images"]
    assert result["classes"] == summary["val_classes"]
    one_query = 1 / summary["val_images"]  # float rounding may flip a near tie, not more
    assert abs(result["recall@1"] - summary["best_val_recall@1"]) <= one_query + 1e-9


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(recipe: Path, tmp_path: Path) -> None:
    straight, resumed = tmp_path / "runs" / "straight", tmp_path / "runs" / "resumed"
    train(recipe, straight)
    train(recipe, resumed, "--epochs", 1)
    assert torch.load(resumed / "checkpoint.pt", weights_only=True)["epoch"] == 0
    train(recipe, resumed)  # picks up at epoch 2 of 2
    assert torch.load(resumed / "checkpoint.pt", weights_only=True)["epoch"] == 1
    a, b = weights(straight), weights(resumed)
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)

    import mlflow

    client = mlflow.MlflowClient(tracking_uri(resumed.parent))
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert len(runs) == 2  # the resumed run continued its MLflow run instead of a new one


def test_resuming_with_another_recipe_is_refused(
    recipe: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "runs" / "tiny"
    train(recipe, run_dir, "--epochs", 1)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--recipe", str(recipe), "--run-dir", str(run_dir), "--seed", "5"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "seed" in err and len(err.splitlines()) == 1


def test_tune_runs_a_persisted_study_that_resumes(
    recipe: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import optuna

    study_dir = tmp_path / "study"
    run("tune", "--recipe", recipe, "--trials", 2, "--study-dir", study_dir, "--epochs", 1)
    assert "best trial" in capsys.readouterr().out
    storage = f"sqlite:///{study_dir / 'optuna.db'}"
    study = optuna.load_study(study_name="tiny", storage=storage)
    assert len(study.trials) == 2
    assert {"lr", "embedding_dim", "margin"} <= set(study.best_params)
    run("tune", "--recipe", recipe, "--trials", 2, "--study-dir", study_dir, "--epochs", 1)
    assert len(optuna.load_study(study_name="tiny", storage=storage).trials) == 2


def test_bad_recipe_path_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--recipe", "/nonexistent/recipe.toml"])
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.strip() == "error: /nonexistent/recipe.toml: no such recipe file"


def _manifest(recipe: Path) -> Path:
    return recipe.parent / "m.csv"


def _paths(recipe: Path) -> list[str]:
    import csv

    with open(_manifest(recipe), newline="") as handle:
        return [row["image"] for row in csv.DictReader(handle)]
