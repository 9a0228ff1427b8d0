from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from revsearch.errors import BadParameterError
from revsearch.sources import read_manifest, split_column
from revsearch.training.data import Labelled, split_images
from revsearch.training.recipe import Recipe


def test_split_names_pick_the_protocols_column() -> None:
    assert split_column("train") == ("retrieval_split", "train")
    assert split_column("stanford-test") == ("stanford_split", "test")


def test_stanford_splits_read_the_stanford_column(product_manifest: Path) -> None:
    train = read_manifest(product_manifest, split="stanford-train")
    test = read_manifest(product_manifest, split="stanford-test")
    assert (
        (len(train), len(test))
        == (60, 30)
        == (len(train), len(read_manifest(product_manifest)) - 60)
    )
    assert not {s.path for s in train} & {s.path for s in test}


def test_image_holdout_keeps_every_class_on_both_sides() -> None:
    labels = np.repeat(np.arange(5), [2, 10, 10, 20, 3])
    data = Labelled([f"{i}.jpg" for i in range(len(labels))], labels, list("abcde"))
    trained, held = split_images(data, 0.1, seed=0)
    assert len(trained) + len(held) == len(data)
    assert not set(trained.paths) & set(held.paths)
    assert set(trained.labels) == set(held.labels) == set(range(5))
    assert np.bincount(held.labels).tolist() == [1, 1, 1, 2, 1]
    assert split_images(data, 0.1, seed=0)[1].paths == held.paths  # reproducible


def test_recipe_rejects_an_unknown_holdout() -> None:
    assert Recipe(holdout="images").holdout == "images"
    assert Recipe(holdout="makes", fold=2).fold == 2
    with pytest.raises(BadParameterError, match="holdout"):
        Recipe(holdout="brands")
