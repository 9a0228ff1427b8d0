"""``revsearch train`` and ``revsearch tune``; torch and friends are imported only when run."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from tqdm import tqdm

from revsearch.errors import BadParameterError
from revsearch.localize import LOCATE_SIZE

if TYPE_CHECKING:
    from revsearch.training.recipe import Recipe
    from revsearch.training.trainer import EpochReport, Progress


def recipe_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--recipe", type=click.Path(path_type=Path, dir_okay=False), required=True,
            help="TOML recipe, e.g. recipes/cars-lite0.toml.",
        ),
        click.option("--manifest", type=click.Path(path_type=Path, dir_okay=False),
                     default=None, help="Labelled manifest CSV (overrides the recipe)."),
        click.option("--epochs", type=int, default=None, help="Override the recipe's epochs."),
        click.option("--precision", type=click.Choice(["bf16"]), default=None,
                     help="Override the recipe's precision (bf16: bfloat16 autocast)."),
        click.option("--fold", type=click.IntRange(min=0), default=None,
                     help="Override the recipe's held-out fold (holdout = 'makes')."),
        click.option("--limit", type=int, default=None, help="First N rows only (smoke runs)."),
        click.option("--seed", type=int, default=None, help="Override the recipe's seed."),
        click.option("--device", default=None,
                     help="auto (CUDA when present, the default), cpu or cuda[:N]."),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


def recipe_with_overrides(recipe: Path, **overrides: Any) -> Recipe:
    from revsearch.training.recipe import load_recipe

    manifest = overrides.pop("manifest")
    if manifest is not None:
        if not manifest.is_file():
            raise BadParameterError(f"{manifest}: no such file")
        overrides["manifest"] = str(manifest.resolve())
    return load_recipe(recipe, **overrides)


def _progress() -> Progress:
    from revsearch.training.trainer import Progress

    def on_cache(name: str, total: int) -> Callable[[int], None]:
        bar = tqdm(total=total, desc=f"caching {name} features", unit="img", file=sys.stderr)

        def update(count: int) -> None:
            bar.update(count)
            if bar.n >= total:
                bar.close()

        return update

    def on_epoch(report: EpochReport) -> None:
        recall = "" if report.val_recall_at_1 is None else f"  val R@1 {report.val_recall_at_1:.4f}"
        click.echo(
            f"epoch {report.epoch + 1}: loss {report.loss:.4f}{recall}  ({report.seconds:.0f} s)",
            err=True,
        )

    return Progress(on_cache=on_cache, on_epoch=on_epoch)


@click.command(name="train")
@recipe_options
@click.option(
    "--run-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
    help="Where the run lives (default: runs/RECIPE-FILE-STEM); an unfinished run resumes.",
)  # fmt: skip
@click.option("--restart", is_flag=True, help="Discard the run folder's checkpoint first.")
def train_command(run_dir: Path | None, restart: bool, recipe: Path, **overrides: Any) -> None:
    """Train a retrieval encoder from a recipe and export it to ONNX (needs the 'train' extra)."""
    from revsearch.training.trainer import train

    spec = recipe_with_overrides(recipe, **overrides)
    run_dir = run_dir or Path("runs") / recipe.stem
    if restart and run_dir.exists():
        shutil.rmtree(run_dir)
    result = train(spec, run_dir, progress=_progress())
    recall = result.best_val_recall_at_1
    chosen = "" if recall is None else f", val R@1 {recall:.4f}"
    click.echo(
        f"exported {result.spec.model_id} to {result.model_path} "
        f"(epoch {result.best_epoch + 1}{chosen}; max |torch - onnxruntime| = {result.parity:.1e})"
    )


@click.command(name="tune")
@recipe_options
@click.option("--trials", type=click.IntRange(min=1), required=True, help="Finished trials.")
@click.option(
    "--study-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
    help="Study folder (default: runs/RECIPE-FILE-STEM-tuning); an existing study resumes.",
)  # fmt: skip
def tune_command(trials: int, study_dir: Path | None, recipe: Path, **overrides: Any) -> None:
    """Tune a recipe's hyper-parameters with Optuna on held-out training classes."""
    from revsearch.training.tune import tune

    spec = recipe_with_overrides(recipe, **overrides)
    study_dir = study_dir or Path("runs") / f"{recipe.stem}-tuning"

    def on_trial(trial: Any) -> None:
        click.echo(f"trial {trial.number}: {trial.state.name} {trial.value} {trial.params}")

    study = tune(spec, study_dir, trials, progress=_progress(), on_trial=on_trial)
    best = study.best_trial
    click.echo(f"best trial {best.number}: val R@1 {best.value:.4f} with {best.params}")


@click.command(name="train-localizer")
@click.option(
    "--manifest",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    required=True,
    help="Stanford Cars manifest (retrieval_split and stanford_split).",
)
@click.option(
    "--model",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    required=True,
    help="The ONNX encoder whose feature maps the head reads.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Where the encoder with its localiser is written (may be --model).",
)
@click.option(
    "--frames",
    type=click.IntRange(min=64),
    default=6000,
    show_default=True,
    help="Training composites.",
)
@click.option("--epochs", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--input-size",
    type=click.IntRange(min=64, max=512),
    default=LOCATE_SIZE,
    show_default=True,
    help="Side of the localiser's own pass over the photo.",
)
@click.option("--limit", type=click.IntRange(min=10), default=None,
              help="First N car images only (smoke runs).")  # fmt: skip
def train_localizer_command(
    manifest: Path, model: Path, output: Path, frames: int, epochs: int, seed: int,
    input_size: int, limit: int | None,
) -> None:  # fmt: skip
    """Train the head that finds cars in photos, and append it to an encoder (the 'train' extra)."""
    from revsearch.training.localizer import train_localizer

    bars: dict[str, tqdm] = {}

    def on_progress(name: str, done: int, total: int) -> None:
        key = name.split(" (")[0]
        bar = bars.get(key) or bars.setdefault(
            key, tqdm(total=total, desc=key, file=sys.stderr, disable=None)
        )
        bar.set_postfix_str(name[len(key) :].strip(" ()"))
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    report = train_localizer(
        model, manifest, output, frames=frames, epochs=epochs, seed=seed,
        input_size=input_size, limit=limit, on_progress=on_progress,
    )  # fmt: skip
    click.echo(
        f"wrote {output}: validation boxes mean IoU {report['mean_iou']:.3f}, "
        f"{report['found_at_0.7']:.1%} found at IoU >= 0.7"
    )
