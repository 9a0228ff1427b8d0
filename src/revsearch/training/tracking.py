"""MLflow tracking in a local store: SQLite inside the runs folder, no server needed.

Open it with ``mlflow ui --backend-store-uri sqlite:///RUNS/mlflow.db``.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from revsearch.errors import MissingExtraError
from revsearch.training.recipe import Recipe

if TYPE_CHECKING:
    from revsearch.training.trainer import EpochReport, TrainResult

try:
    import mlflow
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("train", "mlflow") from exc


def tracking_uri(runs_root: Path) -> str:
    return f"sqlite:///{runs_root.resolve() / 'mlflow.db'}"


class Tracker:
    """One MLflow run per training run; a resumed training run continues its MLflow run."""

    def __init__(self, runs_root: Path, recipe: Recipe, run_id: str | None = None) -> None:
        self.runs_root = runs_root
        self.recipe = recipe
        self.run_id = run_id

    def __enter__(self) -> Tracker:
        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("mlflow").setLevel(logging.WARNING)
        mlflow.set_tracking_uri(tracking_uri(self.runs_root))
        with warnings.catch_warnings():
            # MLflow's own tables declare a relationship SQLAlchemy 2.1 deprecates; it warns
            # once, on the store's first query (here), about MLflow's code, not ours.
            warnings.filterwarnings("ignore", "The ``noload`` loader strategy is deprecated")
            experiment = mlflow.get_experiment_by_name(self.recipe.name)
        if experiment is None:
            artifacts = (self.runs_root.resolve() / "mlartifacts").as_uri()
            experiment_id = mlflow.create_experiment(self.recipe.name, artifact_location=artifacts)
        else:
            experiment_id = experiment.experiment_id
        run = mlflow.start_run(run_id=self.run_id, experiment_id=experiment_id)
        if self.run_id is None:
            mlflow.log_params(self.recipe.as_dict())
        self.run_id = run.info.run_id
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        mlflow.end_run(status="FINISHED" if kind is None else "KILLED")

    def log_epoch(self, report: EpochReport) -> None:
        metrics = {"loss": report.loss, "epoch_seconds": report.seconds}
        if report.val_recall_at_1 is not None:
            metrics["val_recall_at_1"] = report.val_recall_at_1
        mlflow.log_metrics(metrics, step=report.epoch)

    def log_result(self, result: TrainResult, summary: dict[str, Any]) -> None:
        mlflow.log_metric("parity_max_abs_diff", result.parity)
        mlflow.set_tag("model_id", result.spec.model_id)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mlflow.log_artifact(str(result.model_path))
            mlflow.log_text(json.dumps(summary, indent=2), "summary.json")
