"""One training run: cached trunk features -> trained top -> best epoch -> ONNX with parity.

A run lives in its own folder (checkpoint, best weights, exported model, metrics) and is
resumable: the checkpoint is replaced atomically after every epoch, and every random choice
of an epoch derives from (seed, epoch), so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from revsearch.encoder.export import export_onnx, pretrained_spec
from revsearch.encoder.registry import get_pretrained
from revsearch.encoder.spec import ModelSpec
from revsearch.errors import BadParameterError
from revsearch.eval.metrics import (
    class_bootstrap_se,
    extrapolate_recall,
    first_hits,
    gallery_accuracy,
    recall_by_class_count,
    retrieval_metrics,
)
from revsearch.sources import STANFORD_PREFIX
from revsearch.training.cache import cache_directory, trunk_features
from revsearch.training.data import Labelled, balanced_batches, recipe_split
from revsearch.training.losses import build_loss
from revsearch.training.model import SplitEncoder, build_model
from revsearch.training.recipe import EXECUTION_KEYS, Recipe
from revsearch.training.tracking import Tracker

EVAL_BATCH = 256


@dataclass(frozen=True)
class EpochReport:
    epoch: int
    loss: float
    val_recall_at_1: float | None
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    model_path: Path
    spec: ModelSpec
    best_epoch: int
    best_val_recall_at_1: float | None
    parity: float


@dataclass(frozen=True)
class Progress:
    """Callbacks a caller may watch: the cache build and each finished epoch."""

    on_cache: Callable[[str, int], Callable[[int], None]] | None = None
    on_epoch: Callable[[EpochReport], None] | None = None


def train(
    recipe: Recipe,
    run_dir: Path,
    *,
    cache_root: Path | None = None,
    resume: bool = True,
    progress: Progress | None = None,
    report: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train, select the best epoch on held-out classes and export it.

    ``report(epoch, val_recall)`` is called after each epoch (Optuna's pruning hook).
    """
    if not recipe.manifest:
        raise BadParameterError("recipe: 'manifest' is not set")
    progress = progress or Progress()
    torch.manual_seed(recipe.seed)
    torch.set_num_threads(recipe.threads or os.cpu_count() or 1)
    device = _device(recipe.device)
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path, best_path = run_dir / "checkpoint.pt", run_dir / "best.pt"
    state = _load_checkpoint(checkpoint_path, recipe, device) if resume else None

    train_set, val_set = recipe_split(recipe)
    model = build_model(recipe.backbone, recipe.trainable_blocks, recipe.embedding_dim)
    cache = cache_directory(cache_root or run_dir.parent / "cache", recipe.cache_key())
    train_features = _features(model, recipe, train_set, cache, "train", recipe.views, progress)
    val_features = (
        _features(model, recipe, val_set, cache, "val", 1, progress) if len(val_set) else None
    )
    # Held-out images of trained classes are searched against the clean training images (the
    # catalog, as in the product protocol); held-out classes are searched among themselves.
    gallery = (train_features, train_set) if recipe.holdout == "images" else None

    loss_fn = build_loss(
        recipe.loss,
        len(train_set.class_names),
        recipe.embedding_dim,
        margin=recipe.margin,
        alpha=recipe.alpha,
        temperature=recipe.temperature,
    )
    model.to(device)
    loss_fn.to(device)
    optimizer = _optimizer(model, loss_fn, recipe)
    start, best_epoch, best_recall, run_id = 0, -1, None, None
    if state:
        model.load_state_dict(state["model"])
        loss_fn.load_state_dict(state["loss"])
        optimizer.load_state_dict(state["optimizer"])
        start, best_epoch = state["epoch"] + 1, state["best_epoch"]
        best_recall, run_id = state["best_recall"], state["run_id"]

    with Tracker(run_dir.parent, recipe, run_id) as tracker:
        for epoch in range(start, recipe.epochs):
            started = time.perf_counter()
            _set_learning_rates(optimizer, recipe, epoch)
            loss = _train_epoch(model, loss_fn, optimizer, train_features, train_set, recipe, epoch)
            recall = (
                _validate(model, val_features, val_set, gallery)
                if val_features is not None
                else None
            )
            if recall is None or best_recall is None or recall > best_recall:
                best_epoch, best_recall = epoch, recall  # without validation: the last epoch
                _atomic_save({"model": model.state_dict()}, best_path)
            _atomic_save(
                {
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "loss": loss_fn.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "best_epoch": best_epoch,
                    "best_recall": best_recall,
                    "run_id": tracker.run_id,
                    "recipe": json.dumps(recipe.as_dict(), sort_keys=True),
                },
                checkpoint_path,
            )
            epoch_report = EpochReport(epoch, loss, recall, time.perf_counter() - started)
            tracker.log_epoch(epoch_report)
            if progress.on_epoch:
                progress.on_epoch(epoch_report)
            if report and recall is not None:
                report(epoch, recall)

        model.load_state_dict(
            torch.load(best_path, map_location=device, weights_only=True)["model"]
        )
        result = _export(model, recipe, run_dir, best_epoch, best_recall)
        summary = {
            "model_id": result.spec.model_id,
            "best_epoch": best_epoch,
            "best_val_recall@1": best_recall,
            "parity_max_abs_diff": result.parity,
            "train_images": len(train_set),
            "train_classes": len(train_set.class_names),
            "val_images": len(val_set),
            "val_classes": len(val_set.class_names),
            **(
                selection_report(model, val_features, val_set, len(train_set.class_names))
                if val_features is not None and recipe.holdout != "images"
                else {}
            ),
            "recipe": recipe.as_dict(),
        }
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        tracker.log_result(result, summary)
    return result


def _optimizer(
    model: SplitEncoder, loss_fn: torch.nn.Module, recipe: Recipe
) -> torch.optim.Optimizer:
    """Three learning rates: trained backbone blocks, embedding layer, proxies."""
    backbone_params, head_params = model.trained_parameters()
    return torch.optim.AdamW(
        [
            {"params": backbone_params, "lr": recipe.lr, "base_lr": recipe.lr},
            {"params": head_params, "lr": recipe.head_lr, "base_lr": recipe.head_lr},
            {"params": loss_fn.parameters(), "lr": recipe.loss_lr, "base_lr": recipe.loss_lr},
        ],
        weight_decay=recipe.weight_decay,
    )


def _export(
    model: SplitEncoder,
    recipe: Recipe,
    run_dir: Path,
    best_epoch: int,
    best_recall: float | None,
) -> TrainResult:
    # torch's stub of Module.to omits memory_format, which Module.to accepts (and documents).
    model.to("cpu", memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    spec = trained_spec(recipe)
    model_path = run_dir / "model.onnx"
    diff = export_onnx(model.eval(), spec, model_path)
    return TrainResult(run_dir, model_path, spec, best_epoch, best_recall, diff)


def trained_spec(recipe: Recipe) -> ModelSpec:
    """The exported model's identity: name plus a digest of the recipe that made it."""
    pretrained = get_pretrained(recipe.backbone)
    digest = hashlib.sha256(json.dumps(recipe.identity(), sort_keys=True).encode()).hexdigest()
    return dataclasses.replace(
        pretrained_spec(pretrained, recipe.embedding_dim),
        model_id=f"{recipe.name}-{digest[:8]}",
        training_split=training_split(recipe.split),
        description=f"{pretrained.architecture} trained for car retrieval "
        f"({recipe.loss}, {recipe.embedding_dim}-d)",
    )


def training_split(split: str) -> str:
    """The split's protocol-qualified name: ``train`` alone is the open-set protocol's."""
    return split if split.startswith(STANFORD_PREFIX) else f"retrieval-{split}"


def _features(
    model: SplitEncoder,
    recipe: Recipe,
    data: Labelled,
    cache: Path,
    name: str,
    views: int,
    progress: Progress,
) -> np.ndarray:
    on_progress = progress.on_cache(name, len(data)) if progress.on_cache else None
    return trunk_features(
        model,
        recipe.backbone,
        data,
        cache,
        name,
        views=views,
        strength=recipe.augment_strength,
        crop_strength=recipe.crop_strength,
        seed=recipe.seed,
        threads=recipe.threads,
        on_progress=on_progress,
    )


def _device(name: str) -> torch.device:
    """The trunk cache runs on the CPU (ONNX Runtime); the trained top goes here."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BadParameterError(f"device {name}: no CUDA device is available (use cpu or auto)")
    return torch.device(name)


def _set_learning_rates(optimizer: torch.optim.Optimizer, recipe: Recipe, epoch: int) -> None:
    """Cosine decay per epoch; the backbone waits ``warmup_epochs`` while the head settles."""
    factor = 0.5 * (1 + math.cos(math.pi * epoch / recipe.epochs))
    for number, group in enumerate(optimizer.param_groups):
        frozen = number == 0 and epoch < recipe.warmup_epochs
        group["lr"] = 0.0 if frozen else group["base_lr"] * factor


def _train_epoch(
    model: SplitEncoder,
    loss_fn: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    features: np.ndarray,
    data: Labelled,
    recipe: Recipe,
    epoch: int,
) -> float:
    rng = np.random.default_rng([recipe.seed, epoch])
    torch.manual_seed(recipe.seed * 10_007 + epoch)
    device = next(model.head.parameters()).device
    # ~1.3x faster depthwise convs on CPU. torch's stub of Module.to omits memory_format.
    model.train().to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    loss_fn.train()
    total, steps = 0.0, 0
    for batch in balanced_batches(data.labels, recipe.batch_classes, recipe.batch_per_class, rng):
        views = rng.integers(features.shape[1], size=len(batch))
        order = np.argsort(batch, kind="stable")  # sorted reads from the memory map
        inputs = features[batch[order], views[order]].astype(np.float32)
        labels = torch.from_numpy(data.labels[batch[order]]).to(device)
        batch_input = torch.from_numpy(inputs).to(device, memory_format=torch.channels_last)
        with autocast(recipe.precision, device):
            embeddings = model.top(batch_input)
        loss = loss_fn(embeddings.float(), labels)  # the loss's exponentials stay in float32
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total, steps = total + loss.detach().item(), steps + 1
    return total / max(steps, 1)


def autocast(precision: str | None, device: torch.device) -> AbstractContextManager[Any]:
    """bfloat16 autocast for ``precision = "bf16"``; else nothing changes. Validation and the
    export stay float32: they are what the served model computes."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def _validate(
    model: SplitEncoder,
    features: np.ndarray,
    data: Labelled,
    gallery: tuple[np.ndarray, Labelled] | None = None,
) -> float:
    embeddings = _embed(model, features)
    if gallery is None:
        return retrieval_metrics(embeddings, data.labels, ks=(1,))["recall@1"]
    gallery_features, gallery_data = gallery
    return gallery_accuracy(
        _embed(model, gallery_features), gallery_data.labels, embeddings, data.labels
    )


@torch.no_grad()
def selection_report(
    model: SplitEncoder, features: np.ndarray, data: Labelled, trained_classes: int
) -> dict[str, Any]:
    """How far the held-out classes' Recall@1 can be trusted, and what it predicts.

    Its standard error by a bootstrap over classes; the curve of Recall@1 over random
    subsets of 8, 16 and all held-out classes; and that curve extrapolated (R = a + b ln n)
    to as many classes as the whole training half has: the eval half has as many (98 in the
    open-set protocol). A first check found that fit far too steep, and the make-disjoint
    held-out figure itself close to the eval one (docs/training.md)."""
    embeddings = _embed(model, features)
    hits = first_hits(embeddings, data.labels)
    held = len(data.class_names)
    curve = recall_by_class_count(embeddings, data.labels, sorted({8, 16, held}))
    predicted = extrapolate_recall(curve, trained_classes + held)
    return {
        "best_val_recall@1_se": round(class_bootstrap_se(hits, data.labels), 4),
        "val_recall@1_by_classes": {str(n): round(r, 4) for n, r in curve.items()},
        "predicted_recall@1_at_all_classes": None if predicted is None else round(predicted, 4),
    }


def _embed(model: SplitEncoder, features: np.ndarray) -> np.ndarray:
    """Embeddings of the clean view (view 0) of cached trunk features."""
    model.eval()
    device = next(model.head.parameters()).device
    return np.concatenate(
        [
            model.top(
                torch.from_numpy(features[i : i + EVAL_BATCH, 0].astype(np.float32)).to(device)
            )
            .cpu()
            .numpy()
            for i in range(0, len(features), EVAL_BATCH)
        ]
    )


def _load_checkpoint(path: Path, recipe: Recipe, device: torch.device) -> dict[str, Any] | None:
    """The last epoch's state, if it was made by the same recipe (more epochs are allowed, and
    another device or thread count)."""
    if not path.exists():
        return None
    state = torch.load(path, map_location=device, weights_only=True)
    saved = json.loads(state["recipe"])
    current = recipe.as_dict()
    ignored = {"epochs", *EXECUTION_KEYS}
    changed = sorted(k for k in current if k not in ignored and saved.get(k) != current[k])
    if changed:
        raise BadParameterError(
            f"{path.parent}: holds a run of another recipe ({', '.join(changed)} differ); "
            "use another run folder or --restart"
        )
    return state


def _atomic_save(state: dict[str, Any], path: Path) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)
