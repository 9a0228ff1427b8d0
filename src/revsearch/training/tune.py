"""Optuna tuning on held-out training classes, persisted in SQLite so a study resumes.

Trials share the cached trunk features (only the augmentation strength needs its own
cache), and weak trials are pruned on their per-epoch validation Recall@1.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from revsearch.errors import BadParameterError, MissingExtraError
from revsearch.training.recipe import Recipe
from revsearch.training.trainer import Progress, train

try:
    import optuna
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("train", "optuna") from exc

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def search_space(trial: optuna.Trial, recipe: Recipe) -> dict[str, Any]:
    params: dict[str, Any] = {
        "lr": trial.suggest_float("lr", 1e-4, 1e-3, log=True),
        "head_lr": trial.suggest_float("head_lr", 1e-3, 1e-2, log=True),
        "loss_lr": trial.suggest_float("loss_lr", 3e-3, 1e-1, log=True),
        "embedding_dim": trial.suggest_categorical("embedding_dim", [128, 256, 512]),
        "augment_strength": trial.suggest_categorical("augment_strength", [0.5, 1.0]),
    }
    if recipe.loss == "proxy_anchor":
        params["margin"] = trial.suggest_float("margin", 0.05, 0.2)
        params["alpha"] = trial.suggest_float("alpha", 16.0, 48.0)
    else:
        params["temperature"] = trial.suggest_float("temperature", 0.02, 0.1, log=True)
    return params


def tune(
    recipe: Recipe,
    study_dir: Path,
    trials: int,
    *,
    progress: Progress | None = None,
    on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None,
) -> optuna.Study:
    """Run trials until the study holds ``trials`` finished ones (so a re-run resumes)."""
    if recipe.val_fraction <= 0:
        raise BadParameterError("tuning needs held-out classes: set val_fraction above 0")
    optuna.logging.set_verbosity(logging.WARNING)
    study_dir.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=recipe.name,
        storage=f"sqlite:///{study_dir.resolve() / 'optuna.db'}",
        load_if_exists=True,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=recipe.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )

    def objective(trial: optuna.Trial) -> float:
        trial_recipe = recipe.replace(**search_space(trial, recipe))

        def report(epoch: int, recall: float) -> None:
            trial.report(recall, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"epoch {epoch}: val recall@1 {recall:.4f}")

        result = train(
            trial_recipe,
            study_dir / f"trial-{trial.number:03d}",
            cache_root=study_dir / "cache",
            resume=False,
            progress=progress,
            report=report,
        )
        return float(result.best_val_recall_at_1 or 0.0)

    done = sum(t.state in FINISHED for t in study.trials)
    callbacks = [lambda _study, trial: on_trial(trial)] if on_trial else []
    if trials > done:
        study.optimize(objective, n_trials=trials - done, callbacks=callbacks)
    return study
