"""The shipped model finds the car: boxes on generated composites, tight crops untouched."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from revsearch.encoder.locating import encode_images
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.eval.framing import frame_car, seed_of
from revsearch.localize import LOCALIZER_OUTPUT, LOCALIZER_SWITCH, iou, to_pixels
from tests.samples import manifest_rows


@pytest.fixture(scope="module")
def test_cars() -> list[Image.Image]:
    """Stanford test-split photos: the localiser was trained on train-split cars only."""
    from tests.samples import DATASET

    rows = [r for r in manifest_rows() if r["stanford_split"] == "test"][::400]
    return [Image.open(DATASET / r["image"]).convert("RGB") for r in rows]


@pytest.fixture(scope="module")
def locating(model_path) -> OnnxEncoder:
    encoder = OnnxEncoder(model_path, threads=2)
    if not encoder.locates:
        pytest.skip(f"{model_path.name} has no localiser head")
    return encoder


def test_the_shipped_model_has_a_localiser(model_path) -> None:
    from revsearch.encoder.registry import resolve_model_path

    assert OnnxEncoder(resolve_model_path(), threads=1).locates


def test_cars_found_on_generated_composites(
    locating: OnnxEncoder, test_cars: list[Image.Image]
) -> None:
    overlaps = []
    for index, car in enumerate(test_cars):
        share = (0.3, 0.4, 0.5)[index % 3]
        frame, truth, _ = frame_car(car, np.random.default_rng(seed_of(car)), share)
        (encoded,) = encode_images(locating, [frame])
        assert encoded.box is not None, "a car in a third of the frame must be cut out"
        in_pixels = [np.asarray(to_pixels(c.box, *frame.size), float) for c in encoded.cars]
        overlaps.append(max(iou(found, np.asarray(truth, float)) for found in in_pixels))
    overlaps_array = np.asarray(overlaps)
    assert (overlaps_array >= 0.7).mean() >= 0.75, np.round(overlaps_array, 2)


def test_tight_crops_are_searched_as_they_are(
    locating: OnnxEncoder, test_cars: list[Image.Image]
) -> None:
    encoded = encode_images(locating, test_cars)
    untouched = [e.box is None for e in encoded]
    assert np.mean(untouched) >= 0.95
    plain = OnnxEncoder(locating.path, threads=2, locate=False)
    assert not plain.locates and plain.draft_size == plain.spec.input_size
    whole = plain.encode_arrays(np.stack([plain.transform(car) for car in test_cars]))
    for e, vector, same in zip(encoded, whole, untouched, strict=True):
        if same:
            np.testing.assert_allclose(e.vector, vector, atol=1e-5)


def test_the_localiser_has_its_own_small_pass(locating: OnnxEncoder, test_cars) -> None:
    """It looks at a smaller copy of the photo than the embedding does (about 0.4 of the cost)."""
    assert locating.locate_transform.size < locating.transform.size
    grids = locating.locate_arrays(np.stack([locating.locate_transform(c) for c in test_cars]))
    assert grids.shape == (len(test_cars), 5, *[-(-locating.locate_transform.size // 16)] * 2)
    # The embedding's pass does not run the head: it sits behind a switch, off by default.
    photo = locating.transform(test_cars[0])[None]
    feed = {locating.session.get_inputs()[0].name: photo, LOCALIZER_SWITCH: np.asarray(False)}
    assert locating.session.run([LOCALIZER_OUTPUT], feed)[0].size == 0


def test_a_given_box_is_searched_directly(locating: OnnxEncoder, test_cars) -> None:
    car = test_cars[0]
    frame, box, _ = frame_car(car, np.random.default_rng(3), 0.35)
    (encoded,) = encode_images(locating, [frame], [box])
    assert encoded.box == box and encoded.cars == []
    crop = locating.encode_arrays(locating.transform(frame.crop(box))[None])[0]
    np.testing.assert_allclose(encoded.vector, crop, atol=1e-5)
