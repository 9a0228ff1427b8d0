"""A training recipe: every setting of a run in one TOML file, so a result is reproducible."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from revsearch.errors import BadParameterError

LOSSES = ("proxy_anchor", "norm_softmax")
# The settings the cached trunk features depend on: data, split, frozen part, augmentation.
CACHE_KEYS = (
    "backbone", "seed", "manifest", "split", "limit", "val_fraction",
    "trainable_blocks", "views", "augment_strength", "crop_strength", "holdout", "fold", "folds",
)  # fmt: skip
# Where and how fast a run goes, not what it learns: outside the model's identity.
EXECUTION_KEYS = ("threads", "device")
# Settings added after models were shipped: left out of ids and cache names while unset, so
# the recipes that made those models still name them.
OPTIONAL_KEYS = ("crop_strength", "holdout", "precision", "fold", "folds")
# What validation holds out: whole classes (open-set: retrieval of unseen cars), whole makes
# (open-set as the eval classes are: no make of theirs was trained on), or a share of each
# class's images (product: recognising the catalog's own cars on other photos).
HOLDOUTS = ("classes", "makes", "images")
DEFAULT_FOLDS = 3  # make-disjoint folds of the training classes (about 33 classes each)
# The trained part's arithmetic: float32 (unset), or bfloat16 autocast (benchmarks/
# results/training.md: 1.24-1.38x the steps per second on AVX512_BF16 CPUs).
PRECISIONS = ("bf16",)


@dataclass(frozen=True)
class Recipe:
    """Defaults train a small Lite0 model; the recipe files in recipes/ set every value they use."""

    name: str = "revsearch-cars-lite0"
    backbone: str = "efficientnet-lite0-imagenet"
    seed: int = 0
    # Data: any manifest with class labels; only rows of ``split`` are used (``train``: the
    # open-set protocol's classes 1-98; ``stanford-train``: the product protocol's split).
    manifest: str = ""
    split: str = "train"
    val_fraction: float = 0.2  # share held out to select on: of the classes, or per class
    holdout: str | None = None  # "classes" (unset), "makes" or "images"
    fold: int | None = None  # with holdout = "makes": which fold is held out (0 unless set)
    folds: int | None = None  # ... of how many (DEFAULT_FOLDS unless set)
    limit: int | None = None  # first N rows only (smoke runs)
    # Model: the last ``trainable_blocks`` MBConv blocks + head are trained; the rest is frozen.
    embedding_dim: int = 512
    trainable_blocks: int = 8
    # Augmentation: ``views`` cached augmented views per image, at this strength (0-1); the
    # framing part (resized crop, padding) at ``crop_strength`` if set, else the same.
    views: int = 6
    augment_strength: float = 1.0
    crop_strength: float | None = None
    # Optimisation.
    epochs: int = 12
    batch_classes: int = 16
    batch_per_class: int = 4
    lr: float = 3e-4  # trained backbone blocks
    head_lr: float = 3e-3
    loss_lr: float = 3e-2  # proxies / class weights
    weight_decay: float = 1e-4
    warmup_epochs: int = 1  # backbone frozen while the head and proxies settle
    # Loss.
    loss: str = "proxy_anchor"
    margin: float = 0.1
    alpha: float = 32.0  # Proxy-Anchor scale
    temperature: float = 0.05  # normalised-softmax temperature
    precision: str | None = None  # "bf16": the trained part under bfloat16 autocast
    threads: int = 0  # torch / ONNX Runtime threads (0: all cores)
    device: str = "auto"  # torch device for the trained part: auto (CUDA if present), cpu, cuda[:N]

    def __post_init__(self) -> None:
        checks = {
            "loss": self.loss in LOSSES,
            "holdout": self.holdout is None or self.holdout in HOLDOUTS,
            "precision": self.precision is None or self.precision in PRECISIONS,
            "folds": self.folds is None or self.folds >= 2,
            "fold": self.fold is None or 0 <= self.fold < (self.folds or DEFAULT_FOLDS),
            "val_fraction": 0.0 <= self.val_fraction < 1.0,
            "embedding_dim": self.embedding_dim >= 8,
            "trainable_blocks": self.trainable_blocks >= 1,  # the backbone sets the maximum
            "views": self.views >= 1,
            "augment_strength": 0.0 <= self.augment_strength <= 1.0,
            "crop_strength": self.crop_strength is None or 0.0 <= self.crop_strength <= 1.0,
            "epochs": self.epochs >= 1,
            "batch_classes": self.batch_classes >= 2,
            "batch_per_class": self.batch_per_class >= 1,
            "warmup_epochs": self.warmup_epochs >= 0,
            "device": re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device) is not None,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise BadParameterError(f"recipe: invalid value for {', '.join(bad)}")

    def replace(self, **changes: Any) -> Recipe:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def identity(self) -> dict[str, Any]:
        """What the weights depend on: the manifest by content (not by where the checkout lies),
        and not how it is run; the same recipe run anywhere gives the same model id."""
        values = _without_unset(self.as_dict())
        for name in EXECUTION_KEYS:
            del values[name]
        values["manifest"] = hashlib.sha256(Path(self.manifest).read_bytes()).hexdigest()
        return values

    def cache_key(self) -> dict[str, Any]:
        """What the cached frozen features depend on (tuning other settings reuses them)."""
        return _without_unset({name: getattr(self, name) for name in CACHE_KEYS})


def _without_unset(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if not (k in OPTIONAL_KEYS and v is None)}


def load_recipe(path: Path, **overrides: Any) -> Recipe:
    """Read a TOML recipe; a relative ``manifest`` is relative to the recipe file."""
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise BadParameterError(f"{path}: no such recipe file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadParameterError(f"{path}: cannot read recipe ({exc})") from None
    unknown = sorted(set(raw) - {f.name for f in fields(Recipe)})
    if unknown:
        raise BadParameterError(f"{path}: unknown recipe settings: {', '.join(unknown)}")
    if raw.get("manifest"):
        raw["manifest"] = str((path.parent / raw["manifest"]).resolve())
    values = {**raw, **{k: v for k, v in overrides.items() if v is not None}}
    try:
        return Recipe(**values)
    except TypeError as exc:
        raise BadParameterError(f"{path}: {exc}") from None
