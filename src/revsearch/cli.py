"""``revsearch`` command line: thin commands over the catalog, indexer, searcher and evaluator.

Expected failures (bad images, bad parameters, missing catalog, a read-only catalog for a
command that writes, a full disk) print one ``error:`` line on stderr and exit 1; nothing
here prints a traceback unless REVSEARCH_DEBUG is set.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np
from tqdm import tqdm

from revsearch import runtime
from revsearch.catalog.catalog import Catalog
from revsearch.cli_feedback import feedback_group
from revsearch.config import Settings
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.encoder.registry import DEFAULT_PRETRAINED, default_export_path, resolve_model_path
from revsearch.errors import BadParameterError, NotFoundError, RevSearchError, disk_full
from revsearch.index.base import Filters
from revsearch.indexing import ChunkEngine, Indexer, ThreadEngine, reindex
from revsearch.localize import parse_box
from revsearch.prediction import DEFAULT_VOTE_TEMPERATURE, SURE_CONFIDENCE
from revsearch.search import check_k
from revsearch.sources import ImageSource, absolute, collect_sources, gather, sha256_file
from revsearch.training.commands import (
    recipe_with_overrides,
    train_command,
    train_localizer_command,
    tune_command,
)

if TYPE_CHECKING:
    from revsearch.eval.runner import EvalOptions
    from revsearch.training.data import Labelled

PARTIAL_EXIT_CODE = 3  # indexing finished, but some files were skipped


def _settings(ctx: click.Context) -> Settings:
    return ctx.find_object(Settings) or Settings.from_env()


def catalog_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--catalog",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Catalog folder [env REVSEARCH_CATALOG; default: per-user data folder].",
    )(fn)


def model_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--model",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="ONNX encoder file [env REVSEARCH_MODEL].",
    )(fn)


def _open_catalog(
    settings: Settings, catalog: Path | None, *, create: bool = False, writes: bool = True
) -> Catalog:
    """``writes=False`` for commands that only read: a catalog they cannot write is then
    opened read-only (said once, on stderr) instead of refused."""
    opened = runtime.open_catalog(
        settings, catalog, create=create, read_only=False if writes else None
    )
    _note_read_only(opened)
    return opened


def _note_read_only(catalog: Catalog) -> None:
    if catalog.read_only:
        click.echo(f"note: catalog {catalog.path} is read-only: writes are disabled", err=True)


def _limits(settings: Settings) -> dict[str, Any]:
    """What an indexer needs from the settings to read and decode sources."""
    return {"limits": runtime.decode_limits(settings), "read": runtime.source_reader(settings)}


@contextmanager
def _progress(description: str, total: int | None = None) -> Iterator[tqdm]:
    bar = tqdm(total=total, desc=description, unit="img", file=sys.stderr, disable=None)
    try:
        yield bar
    finally:
        bar.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="revsearch")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """RevSearch: find the most similar car photos in a catalog."""
    ctx.obj = Settings.from_env()


@cli.command()
@click.argument("path")
@catalog_option
@model_option
@click.option("--split", default=None, help="Only manifest rows with this retrieval_split.")
@click.option("--limit", type=int, default=None, help="Index at most this many images.")
@click.option(
    "--workers", type=int, default=None,
    help="Parallel encoders, or Ray actors with --engine ray [default: cores].",
)  # fmt: skip
@click.option(
    "--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
    help="Encode in this process, or on Ray actors (needs the 'ray' extra).",
)  # fmt: skip
@click.option(
    "--ray-address", default=None,
    help="With --engine ray: 'local' or a cluster's head, e.g. 10.0.0.5:6379 [env RAY_ADDRESS].",
)  # fmt: skip
@click.pass_context
def index(
    ctx: click.Context,
    path: str,
    catalog: Path | None,
    model: Path | None,
    split: str | None,
    limit: int | None,
    workers: int | None,
    engine: str,
    ray_address: str | None,
) -> None:
    """Index a folder of images, a manifest CSV, one image, or an s3://bucket/prefix.

    Safe to interrupt: committed batches are kept and a re-run skips them. Unreadable files
    in a folder or manifest are skipped and listed, and the exit status is then 3.
    """
    settings = _settings(ctx)
    sources = gather(path, split=split, limit=limit, s3_endpoint_url=settings.s3_endpoint_url)
    encoder = runtime.load_encoder(settings, model, threads=1)  # one thread per worker
    chunk_engine: ChunkEngine = ThreadEngine(workers)
    if engine == "ray":
        from revsearch.distributed.ray_indexing import RayEngine  # imports ray

        chunk_engine = RayEngine(workers, ray_address)
    limits = _limits(settings)
    with _open_catalog(settings, catalog, create=True) as cat:
        indexer = Indexer(cat, encoder, engine=chunk_engine, **limits)
        local = Path(path)
        single_image = local.is_file() and local.suffix.lower() != ".csv"
        with _progress("indexing", len(sources)) as bar:
            report = indexer.run(sources, strict=single_image, on_progress=bar.update)
        with _progress("building vector index"):
            cat.vector_index()
            cat.save(force=bool(report.added or report.updated))
        for _, message in report.failed:
            click.echo(f"skipped: {message}", err=True)
        click.echo(
            f"indexed {report.added} new, {report.updated} updated, "
            f"{report.unchanged} already indexed, {report.duplicates} duplicates, "
            f"{len(report.failed)} failed; catalog {cat.path} now holds {len(cat)} images"
        )
    if report.failed:
        sys.exit(PARTIAL_EXIT_CODE)


@cli.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--class-name", default=None, help="Label, e.g. 'Audi TTS Coupe 2012'.")
@catalog_option
@model_option
@click.pass_context
def add(
    ctx: click.Context,
    images: tuple[Path, ...],
    class_name: str | None,
    catalog: Path | None,
    model: Path | None,
) -> None:
    """Add images (or update the label of ones already indexed). All or nothing."""
    settings = _settings(ctx)
    for image in images:
        if not image.is_file():
            raise NotFoundError(f"{image}: no such file")
    encoder = runtime.load_encoder(settings, model)
    with _open_catalog(settings, catalog, create=True) as cat:
        indexer = Indexer(cat, encoder, **_limits(settings))
        sources = [ImageSource(absolute(p), class_name) for p in images]
        report = indexer.run(sources, strict=True)
        relabelled = 0
        if class_name:
            for source in sources:
                record = cat.find_hash(sha256_file(Path(source.path)))
                if record and record.class_name != class_name:
                    cat.relabel(record.id, class_name)
                    relabelled += 1
        cat.save(force=False)
        click.echo(
            f"added {report.added}, updated {report.updated}, relabelled {relabelled}, "
            f"already indexed {report.unchanged + report.duplicates}"
        )


@cli.command()
@click.argument("items", nargs=-1, required=True)
@catalog_option
@click.pass_context
def remove(ctx: click.Context, items: tuple[str, ...], catalog: Path | None) -> None:
    """Remove images by id or by source path. All or nothing."""
    settings = _settings(ctx)
    with _open_catalog(settings, catalog) as cat:
        ids = []
        for item in items:
            if item.isdigit() and cat.get([int(item)]):
                ids.append(int(item))
            elif record := cat.find_source(absolute(item)):
                ids.append(record.id)
            else:
                raise NotFoundError(f"{item}: no image with this id or source in the catalog")
        removed = cat.remove(ids)
        cat.save(force=False)
        click.echo(f"removed {removed}; catalog holds {len(cat)} images")


@cli.command()
@click.argument("image", type=click.Path(path_type=Path))
@click.option("-k", "k", type=int, default=6, show_default=True, help="Results (1-100).")
@click.option("--min-score", type=float, default=None, help="Drop results below this score.")
@click.option("--make", default=None, help="Only this make, e.g. 'Audi'.")
@click.option("--year-min", type=int, default=None)
@click.option("--year-max", type=int, default=None)
@click.option(
    "--box", default=None, metavar="X1,Y1,X2,Y2",
    help="Search only this region of IMAGE (pixels); default: the car the model finds.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@catalog_option
@model_option
@click.pass_context
def search(
    ctx: click.Context,
    image: Path,
    k: int,
    min_score: float | None,
    make: str | None,
    year_min: int | None,
    year_max: int | None,
    box: str | None,
    as_json: bool,
    catalog: Path | None,
    model: Path | None,
) -> None:
    """Find the catalog images most similar to IMAGE (the car in it, when the model finds one)."""
    settings = _settings(ctx)
    check_k(k)
    filters = Filters(make, year_min, year_max)
    region = parse_box(box) if box else None
    with runtime.QueryRuntime.open(settings, catalog=catalog, model=model) as query:
        _note_read_only(query.catalog)
        response = query.searcher.search(image, k, min_score=min_score, filters=filters, box=region)
    prediction = response.prediction
    if as_json:
        payload = {
            "results": [
                {
                    "id": hit.record.id,
                    "score": round(hit.score, 6),
                    "image": hit.record.source,
                    "class_name": hit.record.class_name,
                    "same_image": hit.same_image,
                }
                for hit in response.hits
            ],
            "prediction": prediction.as_dict() if prediction else None,
            "query_box": list(response.query_box or ()),
            "cars": [{"box": list(car.box), "score": car.score} for car in response.cars],
        }
        click.echo(json.dumps(payload, indent=2))
        return
    for rank, hit in enumerate(response.hits, 1):
        same = "  (same photo)" if hit.same_image else ""
        click.echo(
            f"{rank:>3}  {hit.score:.3f}  {hit.record.class_name or '-':<40}  "
            f"{hit.record.source}{same}"
        )
    if prediction:
        click.echo(f"this looks like: {prediction.describe()}")
    elif not response.hits:
        click.echo("no results")
    if response.cropped or len(response.cars) > 1:
        x1, y1, x2, y2 = response.query_box or (0, 0, 0, 0)
        others = len(response.cars) > 1
        note = f" ({len(response.cars)} cars found; --box picks another)" if others else ""
        click.echo(f"searched the region {x1},{y1},{x2},{y2} of the photo{note}")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@catalog_option
@click.pass_context
def stats(ctx: click.Context, as_json: bool, catalog: Path | None) -> None:
    """Catalog size, model and index kind."""
    with _open_catalog(_settings(ctx), catalog, writes=False) as cat:
        info = cat.stats()
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            click.echo(f"{key:>14}: {value}")


@cli.command(name="reindex")
@catalog_option
@model_option
@click.option("--workers", type=int, default=None)
@click.pass_context
def reindex_command(
    ctx: click.Context, catalog: Path | None, model: Path | None, workers: int | None
) -> None:
    """Re-encode the whole catalog with the current model (resumable)."""
    settings = _settings(ctx)
    encoder = runtime.load_encoder(settings, model, threads=1)
    with _open_catalog(settings, catalog) as cat, _progress("reindexing") as bar:
        count = reindex(
            cat,
            encoder,
            workers=workers,
            read=runtime.source_reader(settings),
            on_start=lambda total: bar.reset(total=total),
            on_progress=bar.update,
        )
        cat.vector_index()
        cat.save()
    click.echo(f"re-encoded {count} images with {encoder.model_id}")


@cli.command(name="export-model")
@click.option("--name", default=DEFAULT_PRETRAINED, show_default=True, help="Pretrained model.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), default=None)
def export_model(name: str, output: Path | None) -> None:
    """Export an ImageNet EfficientNet-Lite to ONNX (needs the 'export' extra)."""
    from revsearch.encoder.export import export_pretrained  # imports torch
    from revsearch.encoder.registry import get_pretrained

    pretrained = get_pretrained(name)
    output = output or default_export_path(name)
    spec, diff = export_pretrained(pretrained, output)
    click.echo(
        f"exported {spec.model_id} ({spec.embedding_dim}-d, {spec.input_size}px) to {output}; "
        f"max |torch - onnxruntime| = {diff:.1e}"
    )


@cli.command(name="quantize-model")
@click.option(
    "--manifest", type=click.Path(path_type=Path, dir_okay=False), required=True,
    help="Calibration images: a manifest CSV (only its --split is used).",
)  # fmt: skip
@click.option(
    "--split", default="train", show_default=True,
    help="The split the model was trained on: train (open-set) or stanford-train (product).",
)  # fmt: skip
@click.option("--images", "count", type=int, default=200, show_default=True)
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), default=None)
@model_option
@click.pass_context
def quantize_model(
    ctx: click.Context,
    manifest: Path,
    split: str,
    count: int,
    output: Path | None,
    model: Path | None,
) -> None:
    """Make an int8 copy of the encoder, calibrated on training-class images."""
    import random

    from revsearch.encoder.quantize import quantize

    source = resolve_model_path(model or _settings(ctx).model)
    if not manifest.is_file():
        raise NotFoundError(f"{manifest}: no such file")
    paths = [s.path for s in collect_sources(manifest, split=split)]
    if not paths:
        raise BadParameterError(f"{manifest}: no rows in split {split!r}")
    calibration = random.Random(0).sample(paths, min(count, len(paths)))
    output = output or source.with_name(f"{source.stem}-int8.onnx")
    spec = quantize(source, output, calibration)
    click.echo(f"wrote {spec.model_id} to {output} ({output.stat().st_size / 1e6:.1f} MB)")


def _held_out(
    recipe: Path, manifest: Path | None, limit: int | None, *, images: bool
) -> tuple[Labelled, Labelled]:
    """(trained, held-out) images of this recipe's run: same rows, same draw.

    ``images``: the protocol scores held-out images of trained classes (stanford), not
    held-out classes (open-set); the recipe must hold out that kind.
    """
    from revsearch.training.data import recipe_split

    settings = recipe_with_overrides(recipe, manifest=manifest, limit=limit)
    if settings.val_fraction == 0:
        raise BadParameterError(f"{recipe}: the recipe holds out nothing (val_fraction = 0)")
    if (settings.holdout == "images") != images:
        kind, protocol = ("classes", "open-set") if images else ("images", "stanford")
        raise BadParameterError(
            f"{recipe}: the recipe holds out {kind}; score them with --protocol {protocol}"
        )
    return recipe_split(settings)


def _pairs(data: Labelled) -> tuple[list[str], list[str]]:
    return data.paths, [data.class_names[i] for i in data.labels]


@cli.command(name="eval")
@click.option(
    "--manifest", type=click.Path(path_type=Path, dir_okay=False), default=None,
    help="CSV with image, class_name and retrieval_split columns.",
)  # fmt: skip
@click.option(
    "--protocol", type=click.Choice(["open-set", "stanford"]), default="open-set",
    show_default=True,
    help="open-set: retrieval within --split (classes 99-196 by default); stanford: test-split "
    "queries against a train-split gallery (top-1 class accuracy and the vote's calibration).",
)  # fmt: skip
@click.option("--split", default="eval", show_default=True)
@click.option(
    "--recipe", type=click.Path(path_type=Path, dir_okay=False), default=None,
    help="Score the classes this training recipe holds out for validation instead of --split "
    "(its manifest unless --manifest is given).",
)  # fmt: skip
@click.option("--limit", type=int, default=None, help="Use only the first N images (smoke runs).")
@click.option(
    "--perturb", is_flag=True,
    help="Also report Recall@1 of altered queries (crop, pad, JPEG, rotation, grayscale).",
)  # fmt: skip
@click.option(
    "--no-locate", "no_locate", is_flag=True,
    help="Search whole photos even when the model can find the car in them (a baseline).",
)  # fmt: skip
@click.option(
    "--framing", is_flag=True,
    help="Also report queries framed like phone photos: the car at 25-60 %% of a street "
    "scene's width, centred, off-centre, beside a second car, and a loose 70 %% crop (slow).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
@model_option
@click.pass_context
def eval_command(
    ctx: click.Context,
    manifest: Path | None,
    protocol: str,
    split: str,
    recipe: Path | None,
    limit: int | None,
    perturb: bool,
    no_locate: bool,
    framing: bool,
    as_json: bool,
    model: Path | None,
) -> None:
    """Recall@1/2/4/8 and MAP@R of the model on a labelled split, or the product protocol."""
    from revsearch.eval.runner import evaluate, evaluate_images

    if manifest is None and recipe is None:
        raise BadParameterError("give --manifest, --recipe or both")
    if manifest is not None and not manifest.is_file():
        raise NotFoundError(f"{manifest}: no such file")
    split_run = (
        _held_out(recipe, manifest, limit, images=protocol == "stanford") if recipe else None
    )
    encoder = runtime.load_encoder(_settings(ctx), model, threads=1, locate=not no_locate)
    if protocol == "stanford":
        _eval_stanford(encoder, manifest, split_run, limit, perturb, framing, as_json)
        return
    with _progress("encoding") as bar:
        options = _eval_options(bar, perturb, framing)
        if split_run is None:
            assert manifest is not None
            result = evaluate(encoder, manifest, split=split, limit=limit, options=options)
        else:
            result = evaluate_images(encoder, *_pairs(split_run[1]), split="val", options=options)
    if as_json:
        click.echo(json.dumps({**result.as_dict(), "localizer": encoder.locates}, indent=2))
        return
    click.echo(f"model {result.model_id}: {result.images} images, {result.classes} classes")
    for name, value in result.metrics.items():
        click.echo(f"{name:>10}: {value:.4f}")
    for name, value in result.perturbed_recall_at_1.items():
        click.echo(f"recall@1 of {name} queries: {value:.4f}")


def _eval_options(bar: tqdm, perturb: bool, framing: bool) -> EvalOptions:
    from revsearch.eval.runner import EvalOptions

    return EvalOptions(
        workers=os.cpu_count() or 1,
        perturb=perturb,
        framing=framing,
        on_start=lambda total: bar.reset(total=total),
        on_progress=bar.update,
    )


def _eval_stanford(
    encoder: OnnxEncoder,
    manifest: Path | None,
    split_run: tuple[Labelled, Labelled] | None,
    limit: int | None,
    perturb: bool,
    framing: bool,
    as_json: bool,
) -> None:
    """Test split against train split, or a recipe's held-out images against its trained ones."""
    from revsearch.eval.product import evaluate_gallery, evaluate_product

    with _progress("encoding") as bar:
        options = _eval_options(bar, perturb, framing)
        if split_run is None:
            assert manifest is not None
            result = evaluate_product(encoder, manifest, limit=limit, options=options)
        else:
            trained, held = split_run
            result = evaluate_gallery(encoder, _pairs(trained), _pairs(held), options)
    if as_json:
        click.echo(json.dumps({**result.as_dict(), "localizer": encoder.locates}, indent=2))
        return
    click.echo(
        f"model {result.model_id}: {result.queries} queries against {result.gallery} "
        f"gallery images, {result.classes} classes"
    )
    click.echo(f"top-1 class accuracy, nearest image: {result.nearest_accuracy:.4f}")
    click.echo(f"top-1 class accuracy, k-NN vote:     {result.vote_accuracy:.4f}")
    sure = "-" if result.sure_accuracy is None else f"{result.sure_accuracy:.4f}"
    click.echo(
        f"sure answers (confidence >= {SURE_CONFIDENCE}): {result.sure_share:.1%} of queries, "
        f"accuracy {sure}; expected calibration error {result.expected_calibration_error:.4f}"
    )
    click.echo("confidence   answers  accuracy")
    for b in result.reliability:
        accuracy = "-" if b.accuracy is None else f"{b.accuracy:.3f}"
        click.echo(f"{b.low:.1f}-{b.high:.1f}   {b.answers:>8}  {accuracy:>8}")
    for name, scores in result.perturbed.items():
        click.echo(
            f"{name} queries: nearest {scores['nearest_accuracy']:.4f}, "
            f"vote {scores['vote_accuracy']:.4f}"
        )


@cli.command(name="calibrate-model")
@click.option(
    "--recipe", type=click.Path(path_type=Path, dir_okay=False), required=True,
    help="The recipe that trained the model: its held-out images are the calibration queries.",
)  # fmt: skip
@click.option("--limit", type=int, default=None, help="First N rows only (smoke runs).")
@model_option
@click.pass_context
def calibrate_model(
    ctx: click.Context, recipe: Path, limit: int | None, model: Path | None
) -> None:
    """Fit the k-NN vote's temperature on held-out images and store it in the model file."""
    import dataclasses

    from revsearch.encoder.batch import encode_paths
    from revsearch.encoder.metadata import rewrite_spec
    from revsearch.eval.calibration import expected_calibration_error, fit_temperature
    from revsearch.eval.product import answer, neighbours

    trained, held = _held_out(recipe, None, limit, images=True)
    encoder = runtime.load_encoder(_settings(ctx), model, threads=1)
    (_, names), (_, truth) = _pairs(trained), _pairs(held)
    with _progress("encoding", len(trained) + len(held)) as bar:
        workers = os.cpu_count() or 1
        gallery = encode_paths(encoder, trained.paths, workers=workers, on_progress=bar.update)
        queries = encode_paths(encoder, held.paths, workers=workers, on_progress=bar.update)
    scores, labels = neighbours(gallery, names, queries)
    temperature = fit_temperature(scores, labels, truth)
    before = encoder.spec.vote_temperature or DEFAULT_VOTE_TEMPERATURE
    for label, value in (("before", before), ("after", temperature)):
        answers = answer(gallery, names, queries, value)
        correct = np.asarray(answers.voted) == np.asarray(truth)
        error = expected_calibration_error(answers.confidence, correct)
        click.echo(f"{label}: temperature {value:.4g}, expected calibration error {error:.4f}")
    rewrite_spec(encoder.path, dataclasses.replace(encoder.spec, vote_temperature=temperature))
    click.echo(f"wrote vote temperature {temperature:.4g} into {encoder.path}")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@model_option
@click.pass_context
def models(ctx: click.Context, as_json: bool, model: Path | None) -> None:
    """The shipped and configured encoders: which is the default, what each was trained on."""
    from revsearch.encoder.catalogue import list_models

    entries = list_models(model or _settings(ctx).model)
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    for entry in entries:
        mark = "*" if entry["default"] else " "
        split = entry["training_split"] or "-"
        click.echo(f"{mark} {entry['id']:<44} {split:<16} {entry['path']}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--workers", type=int, default=1, show_default=True, help="Uvicorn processes.")
@catalog_option
@model_option
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    workers: int,
    catalog: Path | None,
    model: Path | None,
) -> None:
    """Serve the web UI and HTTP API (needs the 'serve' extra)."""
    try:
        from revsearch.api import serving  # imports uvicorn
    except ImportError as exc:
        from revsearch.errors import MissingExtraError

        raise MissingExtraError("serve", exc.name or "uvicorn") from exc
    # Worker processes build their own app from the environment, so pass options through it.
    if catalog:
        os.environ["REVSEARCH_CATALOG"] = str(catalog)
    if model:
        os.environ["REVSEARCH_MODEL"] = str(model)
    settings = Settings.from_env()
    click.echo(f"serving {settings.catalog} on http://{host}:{port}", err=True)
    serving.run(settings, host=host, port=port, workers=workers)


cli.add_command(train_command)
cli.add_command(tune_command)
cli.add_command(train_localizer_command)
cli.add_command(feedback_group)


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the CLI and turns expected errors into one line on stderr."""
    try:
        cli.main(args=argv, prog_name="revsearch", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except RevSearchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted; committed work is kept, re-run to resume", err=True)
        sys.exit(130)
    except Exception as exc:  # pragma: no cover - a bug; keep the user's terminal readable
        if full := disk_full(exc):  # not a bug, wherever it surfaced
            click.echo(f"error: {full}", err=True)
            sys.exit(1)
        if os.environ.get("REVSEARCH_DEBUG"):
            raise
        click.echo(
            f"error: unexpected {type(exc).__name__}: {exc} (REVSEARCH_DEBUG=1 for details)",
            err=True,
        )
        sys.exit(1)


__all__ = ["cli", "main"]
