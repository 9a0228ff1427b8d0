"""Query path: image -> vector -> nearest catalog images -> a voted make/model/year guess."""

from __future__ import annotations

import dataclasses
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from revsearch.catalog.catalog import Catalog, Hit
from revsearch.config import DecodeLimits
from revsearch.encoder.locating import encode_images
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.errors import BadParameterError, NotFoundError, RevSearchError
from revsearch.index.base import Filters
from revsearch.localize import Box, check_box, scale_box, to_pixels
from revsearch.prediction import VOTE_NEIGHBOURS, Prediction
from revsearch.prediction import predict as vote_predict
from revsearch.preprocess import DEFAULT_LIMITS, decode
from revsearch.same_image import (
    SAME_IMAGE_CANDIDATES,
    LocalFeatures,
    is_same_image,
    local_features,
)
from revsearch.stores.base import ImageStore

MAX_K = 100
# Where the best hits' catalog images are read and described for the same-photo check; its
# threads start on first use.
CHECKS = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="revsearch-same-image")


@dataclass(frozen=True)
class CarBox:
    """A car the localiser found, in the uploaded photo's pixels."""

    box: Box
    score: float


@dataclass
class SearchResponse:
    hits: list[Hit]
    prediction: Prediction | None
    timings_ms: dict[str, float] = field(default_factory=dict)
    # The region of the uploaded photo that was searched (its pixels; the whole photo when
    # nothing was cut out) and every car found in it.
    query_box: Box | None = None
    cars: list[CarBox] = field(default_factory=list)
    photo_size: tuple[int, int] = (0, 0)
    # What remembering an uploaded search needs (revsearch.api.queries): its vector and the
    # local features of the region searched (None when the same-photo check is off).
    vector: np.ndarray | None = None
    features: LocalFeatures | None = None

    @property
    def cropped(self) -> bool:
        """Only part of the photo was searched."""
        return self.query_box is not None and self.query_box != (0, 0, *self.photo_size)


def check_k(k: int) -> int:
    if not 1 <= k <= MAX_K:
        raise BadParameterError(f"k must be between 1 and {MAX_K}, got {k}")
    return k


def timings(
    start: float, decoded: float, encoded: float, searched: float, done: float | None = None
) -> dict[str, float]:
    """Milliseconds of each stage from its ``time.perf_counter()`` marks (done: now)."""
    done = time.perf_counter() if done is None else done
    return {
        "decode": (decoded - start) * 1e3,
        "encode": (encoded - decoded) * 1e3,
        "search": (searched - encoded) * 1e3,
        "same_image": (done - searched) * 1e3,
        "total": (done - start) * 1e3,
    }


def check_min_score(min_score: float | None) -> None:
    if min_score is not None and not -1.0 <= min_score <= 1.0:
        raise BadParameterError(f"min_score must be between -1 and 1, got {min_score}")


def predict(hits: list[Hit], temperature: float | None = None) -> Prediction | None:
    return vote_predict([h.score for h in hits], [h.record.class_name for h in hits], temperature)


class Searcher:
    """Binds an encoder to a catalog (checking they agree) and answers image queries.

    With the catalog's ``originals`` store, the best hits are checked for being the very photo
    the query was made from (:mod:`revsearch.same_image`); such a hit is marked and put first.
    """

    def __init__(
        self,
        catalog: Catalog,
        encoder: OnnxEncoder,
        *,
        limits: DecodeLimits = DEFAULT_LIMITS,
        originals: ImageStore | None = None,
        same_image_candidates: int = SAME_IMAGE_CANDIDATES,
    ) -> None:
        catalog.bind_model(encoder.model_id, encoder.dim)
        self.catalog = catalog
        self.encoder = encoder
        self.limits = limits
        self.originals = originals
        self.same_image_candidates = same_image_candidates

    def search(
        self,
        image: bytes | str | Path,
        k: int = 6,
        *,
        min_score: float | None = None,
        filters: Filters | None = None,
        box: Box | None = None,
    ) -> SearchResponse:
        """``box``: search only this region (the uploaded photo's pixels, upright); else the
        largest car the model finds, or the whole photo."""
        check_k(k)
        check_min_score(min_score)
        start = time.perf_counter()
        decoded = decode(image, self.limits, draft_size=self.encoder.draft_size)
        photo = decoded.image
        size = (decoded.width, decoded.height)
        decoded_at = time.perf_counter()
        if box:
            box = check_box(box, *size)
        region = scale_box(box, size, photo.size) if box else None
        encoded = encode_images(self.encoder, [photo], [region])[0]
        vector = encoded.vector
        encoded_at = time.perf_counter()
        response = self.search_vector(vector, self._depth(k), min_score=min_score, filters=filters)
        searched_at = time.perf_counter()
        # The region searched is what the same-photo check compares (cut only if it runs).
        searched = (photo.crop(encoded.box) if encoded.box else photo) if self._checks() else None
        response = self.check_same_image(response, searched, k)
        response.vector = vector
        response.timings_ms = timings(start, decoded_at, encoded_at, searched_at)
        whole = (0, 0, *size)
        response.photo_size = size
        found = scale_box(encoded.box, photo.size, size) if encoded.box else whole
        response.query_box = box or found
        response.cars = [
            CarBox(to_pixels(car.box, *size), round(car.score, 4)) for car in encoded.cars
        ]
        return response

    def requery(
        self,
        vector: np.ndarray,
        features: LocalFeatures | None,
        k: int = 6,
        *,
        min_score: float | None = None,
        filters: Filters | None = None,
    ) -> SearchResponse:
        """A remembered query again (another k or filters): no decode, no model pass."""
        check_k(k)
        check_min_score(min_score)
        start = time.perf_counter()
        response = self.search_vector(vector, self._depth(k), min_score=min_score, filters=filters)
        searched_at = time.perf_counter()
        response = self.check_same_image(response, features, k)
        response.timings_ms = timings(start, start, start, searched_at)
        return response

    def similar(
        self,
        image_id: int,
        k: int = 6,
        *,
        min_score: float | None = None,
        filters: Filters | None = None,
    ) -> SearchResponse:
        """ "More like this": the catalog image's own vector as the query, the image itself
        left out of the results and of the vote."""
        check_k(k)
        check_min_score(min_score)
        start = time.perf_counter()
        vector = self.catalog.vector_of(image_id)
        if vector is None:
            raise NotFoundError(f"no image with id {image_id}")
        response = self.search_vector(
            vector, k, min_score=min_score, filters=filters, exclude=image_id
        )
        searched_at = time.perf_counter()
        response.timings_ms = timings(start, start, start, searched_at, searched_at)
        return response

    def _checks(self) -> int:
        return self.same_image_candidates if self.originals is not None else 0

    def _depth(self, k: int) -> int:
        """Hits to fetch: ``k``, or more when the same-photo check looks deeper."""
        return max(k, self._checks())

    def check_same_image(
        self, response: SearchResponse, query: Image.Image | LocalFeatures | None, k: int
    ) -> SearchResponse:
        """The response cut to ``k`` hits, with the query's own photo first when it is among
        the best; keeps the query's features for a re-query."""
        if query is not None and self._checks():
            response.hits, response.features = self.same_image_first(query, response.hits)
        response.hits = response.hits[:k]
        return response

    def same_image_first(
        self, query: Image.Image | LocalFeatures, hits: list[Hit]
    ) -> tuple[list[Hit], LocalFeatures]:
        """Mark the top hits that are the query's own photo and move them first (stable).

        The vote is left as it is: it weighs similarity, and sameness is not a class.
        """
        depth = self.same_image_candidates
        # The candidates are read and described on the pool's threads (OpenCV and Pillow
        # release the GIL) while this thread describes the query: on 2 cores one client
        # waits about 0.75 of the sequential time (benchmarks/results/same_image.md).
        described = [CHECKS.submit(self._features_of, hit) for hit in hits[:depth]]
        features = query if isinstance(query, LocalFeatures) else local_features(query)
        checked = []
        for hit, candidate in zip(hits, described, strict=False):
            found = candidate.result()
            same = found is not None and is_same_image(features, found)
            checked.append(dataclasses.replace(hit, same_image=same))
        checked.sort(key=lambda hit: not hit.same_image)
        return checked + hits[depth:], features

    def _features_of(self, hit: Hit) -> LocalFeatures | None:
        """The catalog image's local features; None when it is gone from the store or no
        longer decodable (then it is not the same photo)."""
        assert self.originals is not None
        try:
            original = self.originals.get(hit.record.source)
            image = decode(original, self.limits, draft_size=self.encoder.spec.input_size).image
        except RevSearchError:
            return None
        return local_features(image)

    def search_vector(
        self,
        vector: np.ndarray,
        k: int,
        *,
        min_score: float | None = None,
        filters: Filters | None = None,
        exclude: int | None = None,
    ) -> SearchResponse:
        wanted = max(k, VOTE_NEIGHBOURS) + (exclude is not None)
        hits = self.catalog.search(vector, wanted, filters)
        if exclude is not None:
            hits = [h for h in hits if h.record.id != exclude]
        if min_score is not None:
            hits = [h for h in hits if h.score >= min_score]
        return SearchResponse(hits[:k], predict(hits, self.encoder.spec.vote_temperature))
