"""``revsearch feedback export|stats``: what users said about searches (``POST /api/feedback``).

Both only read the catalog. ``export`` writes the labelled photos as a manifest that
``revsearch eval --manifest`` and ``revsearch train --manifest`` read (see
:mod:`revsearch.feedback.report`).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from revsearch import runtime
from revsearch.catalog.catalog import Catalog
from revsearch.catalog.feedback import FeedbackRecord
from revsearch.config import Settings
from revsearch.feedback.report import DEFAULT_EVAL_SHARE, labelled_photos, summary, write_manifest

CATALOG_HELP = "Catalog folder [env REVSEARCH_CATALOG; default: per-user data folder]."


def _feedback(ctx: click.Context, catalog: Path | None) -> tuple[list[FeedbackRecord], Path]:
    """(every stored verdict, the catalog folder); a catalog this process cannot write is
    read as it is."""
    settings = ctx.find_object(Settings) or Settings.from_env()
    opened: Catalog = runtime.open_catalog(settings, catalog, read_only=None)
    with opened:
        return opened.feedback(), opened.path


@click.group(name="feedback")
def feedback_group() -> None:
    """What users said about searches: export it as a manifest, or summarise it."""


@feedback_group.command(name="export")
@click.option("--catalog", type=click.Path(path_type=Path, file_okay=False), help=CATALOG_HELP)
@click.option(
    "--output", type=click.Path(path_type=Path, dir_okay=False), required=True,
    help="The manifest CSV to write (image, class_name, retrieval_split, stanford_split).",
)  # fmt: skip
@click.option(
    "--eval-share", type=click.FloatRange(0, 1), default=DEFAULT_EVAL_SHARE, show_default=True,
    help="Share of the photos marked for evaluation (retrieval_split eval, stanford_split "
    "test), drawn by content hash so a photo never changes side; the rest: train.",
)  # fmt: skip
@click.pass_context
def export(ctx: click.Context, catalog: Path | None, output: Path, eval_share: float) -> None:
    """Write one manifest row per labelled feedback photo (its absolute path and class)."""
    records, folder = _feedback(ctx, catalog)
    rows, missing = labelled_photos(records, folder, eval_share)
    for path in missing:
        click.echo(f"skipped: {path}: the kept photo is missing", err=True)
    count = write_manifest(rows, output)
    evaluation = sum(row.share == "eval" for row in rows)
    classes = len({row.class_name for row in rows})
    click.echo(
        f"wrote {count} labelled photos of {classes} classes ({evaluation} eval, "
        f"{count - evaluation} train) from {len(records)} feedback to {output}"
    )


@feedback_group.command(name="stats")
@click.option("--catalog", type=click.Path(path_type=Path, file_okay=False), help=CATALOG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def stats(ctx: click.Context, catalog: Path | None, as_json: bool) -> None:
    """Counts by verdict and kind, answers confirmed and corrected, the top corrections."""
    records, folder = _feedback(ctx, catalog)
    info = summary(records, folder)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    verdicts, searches, answers = info["verdicts"], info["searches"], info["answers"]
    click.echo(
        f"feedback: {info['feedback']} ({verdicts['up']} up, {verdicts['down']} down) on "
        f"{searches['upload']} uploaded and {searches['similar']} 'more like this' searches"
    )
    for kind in ("on_answer", "on_results"):
        counts = info[kind]
        click.echo(f"{kind.replace('_', ' ')}: {counts['up']} up, {counts['down']} down")
    click.echo(
        f"answers: {answers['confirmed']} confirmed, {answers['corrected']} corrected, "
        f"{answers['rejected']} rejected without a class"
    )
    click.echo(f"photos kept: {info['photos']}, labelled: {info['labelled_photos']}")
    if info["corrections"]:
        click.echo("most corrected (predicted -> named):")
        for pair in info["corrections"]:
            click.echo(f"{pair['count']:>6}  {pair['predicted_class']} -> {pair['class_name']}")
