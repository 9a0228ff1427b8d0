"""The training pipeline's parts on hand-made inputs: recipe, sampler, split, losses, views."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from revsearch.encoder.onnx import OnnxEncoder
from revsearch.encoder.registry import shipped_float_model
from revsearch.errors import BadParameterError
from revsearch.preprocess import Transform
from revsearch.training.augment import PadToAspect, augmented, build_pipeline
from revsearch.training.data import (
    Labelled,
    balanced_batches,
    load_labelled,
    make_folds,
    make_of,
    recipe_split,
    split_classes,
    split_makes,
)
from revsearch.training.losses import NormSoftmaxLoss, ProxyAnchorLoss
from revsearch.training.model import build_model
from revsearch.training.recipe import Recipe, load_recipe
from revsearch.training.trainer import autocast, train, trained_spec
from tests.samples import DATASET, small_rows

REPO = Path(__file__).resolve().parents[2]


def test_shipped_recipe_loads_and_points_at_the_training_classes() -> None:
    recipe = load_recipe(REPO / "recipes" / "cars-lite0.toml")
    assert recipe.split == "train" and recipe.val_fraction > 0
    assert Path(recipe.manifest) == (DATASET / "manifest.csv").resolve()


def test_model_id_follows_the_manifest_content_not_where_or_how_it_runs(tmp_path: Path) -> None:
    original = tmp_path / "a" / "manifest.csv"
    original.parent.mkdir()
    original.write_text("image,class_id\nx.jpg,1\n")
    elsewhere = tmp_path / "b.csv"
    elsewhere.write_text(original.read_text())
    recipe = Recipe(manifest=str(original))
    same = trained_spec(recipe.replace(manifest=str(elsewhere), threads=2, device="cpu")).model_id
    assert trained_spec(recipe).model_id == same
    elsewhere.write_text("image,class_id\nx.jpg,2\n")
    assert trained_spec(recipe.replace(manifest=str(elsewhere))).model_id != same
    assert trained_spec(recipe.replace(seed=1)).model_id != same
    # A setting added later changes ids and cache names only once it is set.
    assert "crop_strength" not in recipe.identity() | recipe.cache_key()
    assert trained_spec(recipe.replace(crop_strength=1.0)).model_id != same
    assert recipe.replace(crop_strength=0.5).cache_key() != recipe.cache_key()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epochs = 0", "invalid value for epochs"),
        ("loss = 'triplet'", "invalid value for loss"),
        ("learning_rate = 1.0", "unknown recipe settings: learning_rate"),
        ("epochs = [", "cannot read recipe"),
        ("device = 'tpu'", "invalid value for device"),
        ("device = 'cuda:x'", "invalid value for device"),
        ("crop_strength = 1.5", "invalid value for crop_strength"),
        ("trainable_blocks = 0", "invalid value for trainable_blocks"),
    ],
)
def test_bad_recipes_are_refused_with_the_setting_named(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(BadParameterError, match=message):
        load_recipe(path)


def test_overrides_win_and_a_relative_manifest_follows_the_recipe_file(tmp_path: Path) -> None:
    (tmp_path / "r.toml").write_text('manifest = "data/m.csv"\nepochs = 3\n')
    recipe = load_recipe(tmp_path / "r.toml", epochs=7)
    assert recipe.epochs == 7 and recipe.manifest == str(tmp_path / "data" / "m.csv")


def test_the_shipped_model_id_is_the_one_its_recipe_gives() -> None:
    """The model card's id can be reproduced: same recipe, same manifest content, same id."""
    recipe = load_recipe(REPO / "recipes" / "cars-lite1-all.toml")
    float_model = shipped_float_model()
    assert float_model is not None
    assert OnnxEncoder(float_model, threads=1).model_id == trained_spec(recipe).model_id


def test_trainable_blocks_are_bounded_by_the_backbone_not_by_lite0() -> None:
    assert build_model("efficientnet-lite0-imagenet", 16, 8).split == 0  # every block trains
    with pytest.raises(BadParameterError, match=r"trainable_blocks: 17 \(this backbone has 16"):
        build_model("efficientnet-lite0-imagenet", 17, 8)
    assert Recipe(trainable_blocks=20).trainable_blocks == 20  # valid for Lite1 (21 blocks)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_asking_for_cuda_without_one_is_a_clear_error(tmp_path: Path) -> None:
    recipe = Recipe(manifest=str(DATASET / "manifest.csv"), device="cuda")
    with pytest.raises(BadParameterError, match="no CUDA device"):
        train(recipe, tmp_path / "run")


def labelled(sizes: list[int]) -> Labelled:
    labels = np.repeat(np.arange(len(sizes)), sizes)
    return Labelled(
        [f"img{i}" for i in range(len(labels))], labels, [f"c{i}" for i in range(len(sizes))]
    )


def test_batches_are_class_balanced_and_cover_every_image_once() -> None:
    data = labelled([9, 4, 7, 3, 8, 5])
    rng = np.random.default_rng(1)
    batches = list(balanced_batches(data.labels, classes_per_batch=3, per_class=2, rng=rng))
    seen = np.concatenate(batches)
    assert set(seen.tolist()) == set(range(len(data)))  # nothing is left out
    for batch in batches:
        classes, counts = np.unique(data.labels[batch], return_counts=True)
        assert 2 <= len(classes) <= 3 and set(counts.tolist()) == {2}
    assert len(seen) <= len(data) + len(data.class_names)  # padding only fills odd groups


def test_validation_classes_are_disjoint_from_training_classes() -> None:
    data = labelled([5] * 10)
    train, val = split_classes(data, 0.3, seed=0)
    train_names = {train.class_names[c] for c in train.labels}
    val_names = {val.class_names[c] for c in val.labels}
    assert len(val_names) == 3 and len(train_names) == 7 and not train_names & val_names
    assert len(train) + len(val) == len(data)
    assert set(train.labels.tolist()) == set(range(7))  # labels renumbered from 0
    with pytest.raises(BadParameterError, match="too few"):
        split_classes(labelled([5, 5, 5]), 0.1, seed=0)


@pytest.mark.parametrize("loss_class", [ProxyAnchorLoss, NormSoftmaxLoss])
def test_losses_prefer_embeddings_near_their_own_class(loss_class: type) -> None:
    torch.manual_seed(0)
    loss = loss_class(4, 16)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    proxies = torch.nn.functional.normalize(loss.proxies.detach(), dim=1)
    aligned = proxies[labels]
    confused = proxies[(labels + 1) % 4]
    with torch.no_grad():
        assert loss(aligned, labels).item() < loss(confused, labels).item()
    value = loss(torch.nn.functional.normalize(torch.randn(6, 16), dim=1), labels)
    value.backward()
    assert torch.isfinite(value) and loss.proxies.grad is not None


def test_proxy_anchor_matches_its_formula_on_a_hand_made_case() -> None:
    loss = ProxyAnchorLoss(2, 2, margin=0.1, alpha=2.0)
    with torch.no_grad():
        loss.proxies.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    embeddings = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    labels = torch.tensor([0, 0])
    # Proxy 0 has both as positives (cos 1.0 and 0.6); proxy 1 has none, both as negatives
    # (cos 0.0 and 0.8). Positive term averages over proxies with positives (1), negative
    # term over all proxies (2).
    pos = np.log1p(np.exp(-2 * (1.0 - 0.1)) + np.exp(-2 * (0.6 - 0.1)))
    neg = np.log1p(np.exp(2 * (0.0 + 0.1)) + np.exp(2 * (0.8 + 0.1))) / 2
    with torch.no_grad():
        assert loss(embeddings, labels).item() == pytest.approx(pos + neg, rel=1e-5)


@pytest.mark.parametrize("wide", [True, False])
def test_pad_to_aspect_widens_the_frame_around_the_untouched_image(wide: bool) -> None:
    image = np.full((50, 40, 3), 7, dtype=np.uint8)
    params = {"ratio": 2.0, "wide": wide, "colour": (200, 0, 0), "offset": 0.5}
    out = PadToAspect(max_ratio=2.0, p=1.0).apply(image, **params)
    assert out.shape == ((50, 100, 3) if wide else (80, 40, 3))
    assert (out == 7).all(axis=2).sum() == 50 * 40  # the original pixels are all there


def test_pad_to_aspect_never_crops() -> None:
    image = np.full((50, 40, 3), 7, dtype=np.uint8)
    pad = PadToAspect(max_ratio=2.0, p=1.0)
    for _ in range(50):
        out = pad(image=image)["image"]
        assert out.shape[0] >= 50 and out.shape[1] >= 40
        assert (out == 7).all(axis=2).sum() >= 50 * 40


def test_views_have_the_model_input_shape_and_repeat_with_the_seed() -> None:
    path = DATASET / small_rows(classes=1, per_class=1, split="train")[0]["image"]
    transform = Transform(224, (0.5,) * 3, (0.5,) * 3)
    first = augmented(path, build_pipeline(224, 1.0, seed=3), transform)
    again = augmented(path, build_pipeline(224, 1.0, seed=3), transform)
    other = augmented(path, build_pipeline(224, 1.0, seed=4), transform)
    clean = augmented(path, None, transform)
    assert first.shape == clean.shape == (3, 224, 224) and first.dtype == np.float32
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert not np.array_equal(first, clean)


def test_crop_strength_frames_views_apart_from_the_other_augmentations() -> None:
    path = DATASET / small_rows(classes=1, per_class=1, split="train")[0]["image"]
    transform = Transform(224, (0.5,) * 3, (0.5,) * 3)
    clean = augmented(path, None, transform)
    # A flip is not a matter of strength.
    unframed = [clean, clean[:, :, ::-1]]

    def views(crop_strength: float) -> list[np.ndarray]:
        return [
            augmented(path, build_pipeline(224, 0.0, seed, crop_strength), transform)
            for seed in range(6)
        ]

    for view in views(0.0):
        assert any(np.allclose(view, other, atol=1e-6) for other in unframed)
    framed = views(1.0)
    assert not any(np.allclose(view, other, atol=1e-6) for view in framed for other in unframed)


def test_a_zero_strength_view_of_a_wide_photo_keeps_its_sides(tmp_path: Path) -> None:
    stripes = np.zeros((100, 300, 3), dtype=np.uint8)
    for index in range(3):
        stripes[:, 100 * index : 100 * (index + 1), index] = 255  # red, green, blue
    path = tmp_path / "wide.png"
    Image.fromarray(stripes).save(path)
    transform = Transform(224, (0.5,) * 3, (0.5,) * 3)
    clean = augmented(path, None, transform)
    for seed in range(4):
        view = augmented(path, build_pipeline(224, 0.0, seed), transform)
        # Only resampling differs (the centre square would be all green).
        assert min(np.abs(view - other).mean() for other in (clean, clean[:, :, ::-1])) < 0.05


def test_recipe_rejects_a_validation_share_of_one() -> None:
    with pytest.raises(BadParameterError, match="val_fraction"):
        Recipe(val_fraction=1.0)


def test_bf16_precision_trains_in_bfloat16_and_is_part_of_the_model_identity(
    tmp_path: Path,
) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,class_name\n")
    plain = Recipe(manifest=str(manifest))
    assert "precision" not in plain.identity()  # recipes from before the setting keep their ids
    bf16 = plain.replace(precision="bf16")
    assert bf16.identity()["precision"] == "bf16" and trained_spec(bf16) != trained_spec(plain)
    with pytest.raises(BadParameterError, match="precision"):
        plain.replace(precision="fp8")
    model = build_model("efficientnet-lite0-imagenet", 2, 16).train()
    features = torch.randn(2, 192, 7, 7)
    with autocast("bf16", torch.device("cpu")):
        assert model.top(features).dtype == torch.bfloat16
    with autocast(None, torch.device("cpu")):
        assert model.top(features).dtype == torch.float32


def test_make_folds_hold_out_whole_makes_in_balanced_deterministic_folds() -> None:
    recipe = load_recipe(REPO / "recipes" / "cars-lite1-makes.toml")
    data = load_labelled(Path(recipe.manifest), recipe.split)
    folds = make_folds(data.class_names, 3)
    assert folds[0] == ["Chevrolet", "Chrysler", "Cadillac", "Bugatti"]
    assert sorted(m for fold in folds for m in fold) == sorted(
        {make_of(n) for n in data.class_names}
    )
    sizes = []
    for fold in range(3):
        train_set, val_set = split_makes(data, fold, 3)
        trained = {make_of(n) for n in train_set.class_names}
        held = {make_of(n) for n in val_set.class_names}
        assert held == set(folds[fold]) and not trained & held  # no make on both sides
        assert len(train_set) + len(val_set) == len(data)
        sizes.append(len(val_set.class_names))
    assert sum(sizes) == 98 and max(sizes) - min(sizes) <= 1
    assert recipe_split(recipe)[1].class_names == split_makes(data, 0, 3)[1].class_names
    with pytest.raises(BadParameterError, match="fold"):
        recipe.replace(fold=3)
