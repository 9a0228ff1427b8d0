"""Labelled images from a manifest, a validation split (by classes, by makes or by images),
class-balanced batches."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from revsearch.errors import BadParameterError
from revsearch.sources import read_manifest
from revsearch.training.recipe import DEFAULT_FOLDS, Recipe
from revsearch.vehicles import parse_class_name


@dataclass(frozen=True)
class Labelled:
    paths: list[str]
    labels: np.ndarray  # int class index per path, 0..classes-1
    class_names: list[str]

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, classes: Sequence[int]) -> Labelled:
        keep = np.isin(self.labels, classes)
        names = [self.class_names[c] for c in sorted(classes)]
        remap = {old: new for new, old in enumerate(sorted(classes))}
        return Labelled(
            [p for p, k in zip(self.paths, keep, strict=True) if k],
            np.array([remap[c] for c in self.labels[keep]], dtype=np.int64),
            names,
        )


def load_labelled(manifest: Path, split: str | None, limit: int | None = None) -> Labelled:
    sources = read_manifest(manifest, split=split or None, limit=limit)
    if not sources or any(s.class_name is None for s in sources):
        raise BadParameterError(f"{manifest}: training needs rows with a 'class_name'")
    names = sorted({s.class_name for s in sources if s.class_name})
    if len(names) < 2:
        raise BadParameterError(f"{manifest}: training needs at least two classes")
    index = {name: i for i, name in enumerate(names)}
    labels = np.array([index[s.class_name] for s in sources if s.class_name], dtype=np.int64)
    return Labelled([s.path for s in sources], labels, names)


def split_classes(data: Labelled, val_fraction: float, seed: int) -> tuple[Labelled, Labelled]:
    """Hold out whole classes: validation must measure retrieval of unseen classes."""
    classes = np.random.default_rng(seed).permutation(len(data.class_names))
    n_val = round(len(classes) * val_fraction)
    if val_fraction > 0 and not 2 <= n_val <= len(classes) - 2:
        raise BadParameterError(
            f"val_fraction {val_fraction} of {len(classes)} classes leaves too few on a side"
        )
    val = sorted(int(c) for c in classes[:n_val])
    train = sorted(int(c) for c in classes[n_val:])
    return data.subset(train), data.subset(val) if val else data.subset([])


def make_folds(class_names: Sequence[str], folds: int) -> list[list[str]]:
    """The makes split into ``folds`` groups of about as many classes each (largest make
    first, onto the group with the fewest classes; ties to the first group): deterministic,
    so every run of a fold holds out the same makes."""
    by_make: dict[str, int] = defaultdict(int)
    for name in class_names:
        by_make[make_of(name)] += 1
    if len(by_make) < folds:
        raise BadParameterError(f"{len(by_make)} makes cannot fill {folds} folds")
    groups: list[list[str]] = [[] for _ in range(folds)]
    sizes = [0] * folds
    for make, count in sorted(by_make.items(), key=lambda item: (-item[1], item[0])):
        lightest = sizes.index(min(sizes))
        groups[lightest].append(make)
        sizes[lightest] += count
    return groups


def make_of(class_name: str) -> str:
    return parse_class_name(class_name).make or class_name


def split_makes(data: Labelled, fold: int, folds: int) -> tuple[Labelled, Labelled]:
    """Hold out whole makes (fold ``fold`` of :func:`make_folds`): what the eval classes are
    to the training classes, none of whose makes they share. Held-out classes that share a
    make with trained ones are easier, and made the old selection figures too high."""
    if not 0 <= fold < folds:
        raise BadParameterError(f"recipe: fold {fold} is not one of 0..{folds - 1}")
    held_makes = set(make_folds(data.class_names, folds)[fold])
    held = [make_of(name) in held_makes for name in data.class_names]
    val = [i for i, out in enumerate(held) if out]
    train = [i for i, out in enumerate(held) if not out]
    return data.subset(train), data.subset(val)


def split_images(data: Labelled, val_fraction: float, seed: int) -> tuple[Labelled, Labelled]:
    """Hold out ``val_fraction`` of each class's images (at least one, never all): the product
    protocol selects on other photos of the same cars."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(data), dtype=bool)
    for cls in range(len(data.class_names)):
        members = np.flatnonzero(data.labels == cls)
        n_val = min(max(1, round(len(members) * val_fraction)), len(members) - 1)
        if val_fraction > 0 and n_val > 0:
            held[rng.choice(members, n_val, replace=False)] = True
    return _take(data, ~held), _take(data, held)


def _take(data: Labelled, keep: np.ndarray) -> Labelled:
    paths = [p for p, k in zip(data.paths, keep, strict=True) if k]
    return Labelled(paths, data.labels[keep], data.class_names)


def balanced_batches(
    labels: np.ndarray, classes_per_batch: int, per_class: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """One epoch of P×K batches: ``classes_per_batch`` classes, ``per_class`` images each.

    Every image is drawn about once per epoch; small classes repeat images to fill K.
    """
    by_class: dict[int, list[int]] = defaultdict(list)
    for i in rng.permutation(len(labels)):
        by_class[int(labels[i])].append(int(i))
    groups = []
    for items in by_class.values():
        for start in range(0, len(items), per_class):
            group = items[start : start + per_class]
            while len(group) < per_class:
                group.append(items[int(rng.integers(len(items)))])
            groups.append((int(labels[group[0]]), group))
    order = rng.permutation(len(groups))
    pending: list[tuple[int, list[int]]] = [groups[i] for i in order]
    while pending:
        batch: list[int] = []
        used: set[int] = set()
        rest: list[tuple[int, list[int]]] = []
        for cls, group in pending:
            if cls not in used and len(used) < classes_per_batch:
                used.add(cls)
                batch.extend(group)
            else:
                rest.append((cls, group))
        if len(used) < 2:
            return  # a lone class cannot form positives and negatives
        yield np.array(batch, dtype=np.int64)
        pending = rest


def recipe_split(recipe: Recipe) -> tuple[Labelled, Labelled]:
    """(trained, held-out) classes of a recipe's run; ``revsearch eval --recipe`` reuses it."""
    data = load_labelled(Path(recipe.manifest), recipe.split, recipe.limit)
    if recipe.holdout == "images":
        return split_images(data, recipe.val_fraction, recipe.seed)
    if recipe.holdout == "makes":
        return split_makes(data, recipe.fold or 0, recipe.folds or DEFAULT_FOLDS)
    return split_classes(data, recipe.val_fraction, recipe.seed)
