from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from revsearch.catalog.catalog import Catalog, Hit
from revsearch.catalog.db import ImageRecord
from revsearch.config import Settings
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.errors import BadParameterError, ModelMismatchError
from revsearch.eval.perturb import COPY_EDITS
from revsearch.index.base import Filters
from revsearch.search import Searcher, predict
from revsearch.stores.factory import open_store


def record(image_id: int, class_name: str | None) -> ImageRecord:
    return ImageRecord(image_id, f"/{image_id}.jpg", str(image_id), class_name, None, None,
                       None, None, 1, 1, "", "m")  # fmt: skip


def test_vote_weights_by_similarity() -> None:
    hits = [
        Hit(record(1, "A"), 0.90),
        Hit(record(2, "B"), 0.88),
        Hit(record(3, "B"), 0.87),
        Hit(record(4, None), 0.86),
    ]
    prediction = predict(hits)
    assert prediction is not None and prediction.class_name == "B"
    # weights: A = 1, B = e^-0.4 + e^-0.6 = 1.219
    assert prediction.confidence == pytest.approx(1.2192 / 2.2192, abs=1e-3)
    assert predict([Hit(record(1, None), 0.5)]) is None
    assert predict([]) is None


@pytest.fixture(scope="module")
def searcher(built_catalog: Path, encoder: OnnxEncoder) -> Searcher:
    return Searcher(Catalog.open(built_catalog), encoder)


def test_an_indexed_image_finds_itself(searcher: Searcher) -> None:
    source = searcher.catalog.get([17])[17]
    response = searcher.search(Path(source.source), k=5)
    assert response.hits[0].record.id == 17
    assert response.hits[0].score == pytest.approx(1.0, abs=1e-4)
    scores = [h.score for h in response.hits]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)
    assert response.prediction and response.prediction.class_name == source.class_name
    assert set(response.timings_ms) == {"decode", "encode", "search", "same_image", "total"}


@pytest.mark.parametrize("k", [1, 6, 100])
def test_k(searcher: Searcher, k: int) -> None:
    source = searcher.catalog.get([1])[1].source
    assert len(searcher.search(source, k=k).hits) == k


@pytest.mark.parametrize("k", [0, 101, -3])
def test_k_out_of_range(searcher: Searcher, k: int) -> None:
    with pytest.raises(BadParameterError, match="between 1 and 100"):
        searcher.search(searcher.catalog.get([1])[1].source, k=k)


def test_filters_and_min_score(searcher: Searcher) -> None:
    first = searcher.catalog.get([1])[1]
    make, year = first.make, first.year
    assert make and year
    hits = searcher.search(first.source, k=20, filters=Filters(make=make.lower())).hits
    assert hits and {h.record.make for h in hits} == {make}
    hits = searcher.search(first.source, k=20, filters=Filters(year_min=year, year_max=year)).hits
    assert hits and {h.record.year for h in hits} == {year}
    hits = searcher.search(first.source, k=100, min_score=0.8).hits
    assert hits and min(h.score for h in hits) >= 0.8
    with pytest.raises(BadParameterError):
        searcher.search(first.source, k=5, min_score=2.0)
    with pytest.raises(BadParameterError):
        searcher.search(first.source, k=5, filters=Filters(year_min=2012, year_max=2000))


def test_vector_query_matches_image_query(searcher: Searcher, encoder: OnnxEncoder) -> None:
    source = searcher.catalog.get([3])[3].source
    vector = encoder.encode([source])[0]
    by_vector = [h.record.id for h in searcher.search_vector(vector, 8).hits]
    assert by_vector == [h.record.id for h in searcher.search(source, 8).hits]
    assert np.isclose(np.linalg.norm(vector), 1.0)


def test_refuses_a_catalog_of_another_model(catalog_copy: Path, encoder: OnnxEncoder) -> None:
    with Catalog.open(catalog_copy) as catalog:
        catalog._db.set_meta({"model_id": "some-other-model"})
        with pytest.raises(ModelMismatchError, match="some-other-model"):
            Searcher(catalog, encoder)


@pytest.mark.parametrize("edit", ["reframe", "pad_16_9", "rotate_10", "dim", "screenshot"])
def test_an_edited_copy_of_a_catalog_photo_comes_first_as_the_same_image(
    built_catalog: Path, encoder: OnnxEncoder, edit: str
) -> None:
    with Catalog.open(built_catalog) as catalog:
        checking = Searcher(catalog, encoder, originals=open_store(Settings(), built_catalog))
        for image_id in (5, 77, 140):
            original = catalog.get([image_id])[image_id]
            copy = COPY_EDITS[edit](Image.open(original.source).convert("RGB"))
            buffer = io.BytesIO()
            copy.save(buffer, format="JPEG", quality=85)
            hits = checking.search(buffer.getvalue(), k=6).hits
            assert hits[0].record.id == image_id and hits[0].same_image
            assert not any(hit.same_image for hit in hits[1:])
            scores = [hit.score for hit in hits[1:]]
            assert scores == sorted(scores, reverse=True)  # the others keep their order
