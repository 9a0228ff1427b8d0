"""The same-photo check on real Stanford Cars photos: edited copies match their original and
no other photo of the same car model."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from revsearch.eval.perturb import COPY_EDITS
from revsearch.preprocess import decode
from revsearch.same_image import (
    SAME_IMAGE_MATCHES,
    LocalFeatures,
    consistent_matches,
    is_same_image,
    local_features,
)
from tests.samples import DATASET, small_rows

# (original, another photo of the same class) for three classes; eval classes 99+.
ROWS = small_rows(classes=3, per_class=2)
PAIRS = [(ROWS[i]["image"], ROWS[i + 1]["image"]) for i in range(0, len(ROWS), 2)]


def photo(name: str) -> Image.Image:
    return decode(DATASET / name, draft_size=240).image


def as_query(image: Image.Image) -> Image.Image:
    """The edited copy as an upload: JPEG bytes, decoded the way a query is."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return decode(buffer.getvalue(), draft_size=240).image


@pytest.fixture(scope="module")
def features() -> dict[str, LocalFeatures]:
    return {name: local_features(photo(name)) for pair in PAIRS for name in pair}


@pytest.mark.parametrize("edit", list(COPY_EDITS))
@pytest.mark.parametrize(("original", "sibling"), PAIRS)
def test_an_edited_copy_is_its_original_and_not_its_sibling(
    edit: str, original: str, sibling: str, features: dict[str, LocalFeatures]
) -> None:
    query = local_features(as_query(COPY_EDITS[edit](decode(DATASET / original).image)))
    assert is_same_image(query, features[original])
    assert consistent_matches(query, features[sibling]) < SAME_IMAGE_MATCHES


def test_images_without_keypoints_never_match() -> None:
    blank = local_features(Image.new("RGB", (300, 200), (90, 90, 90)))
    assert blank.descriptors is None and len(blank.points) == 0
    car = local_features(photo(PAIRS[0][0]))
    assert consistent_matches(blank, car) == 0 and consistent_matches(car, blank) == 0
