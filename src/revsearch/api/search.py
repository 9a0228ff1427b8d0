"""Searches: an uploaded photo, a remembered one by ``query_id``, or a catalog image's own.

``POST /api/search`` takes the photo once and answers a ``query_id``; ``GET
/api/search/{query_id}`` searches it again with another k, filters or region, and ``GET
/api/images/{id}/similar`` ("more like this") searches with a catalog image's vector. All
three answer the same JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from fastapi import Path as PathParam

from revsearch.api.errors import error_docs
from revsearch.api.images import ImageId
from revsearch.api.queries import QUERY_ID_PATTERN
from revsearch.api.schemas import CarOut, SearchOut, Timings, prediction_out, search_result
from revsearch.api.services import Services, get_services
from revsearch.api.uploads import read_upload
from revsearch.index.base import Filters
from revsearch.localize import Box, parse_box
from revsearch.search import MAX_K, SearchResponse
from revsearch.stores.thumbnails import jpeg_preview

router = APIRouter(tags=["search"])

K_HELP = "number of results"
MIN_SCORE_HELP = "drop results below this similarity"
BOX_HELP = "search only this region: 'x1,y1,x2,y2' in the photo's pixels"
BOX_EXAMPLE = "412,620,1390,1180"


QUERY_PREVIEW_SIZE = 1024
# Whoever holds the id may see the photo (that is what sharing a search means); no cache
# between keeps it, and it is never active content.
QUERY_PHOTO_HEADERS = {
    "Cache-Control": "private, max-age=600",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}
QueryId = Annotated[
    str, PathParam(pattern=QUERY_ID_PATTERN, description="from an earlier search's answer")
]


@dataclass(frozen=True)
class Asked:
    """What a re-query or "more like this" asks for (query-string parameters)."""

    k: int
    min_score: float | None
    filters: Filters


def asked(
    k: Annotated[int, Query(ge=1, le=MAX_K, description=K_HELP)] = 6,
    min_score: Annotated[float | None, Query(ge=-1, le=1, description=MIN_SCORE_HELP)] = None,
    make: Annotated[str | None, Query(max_length=64, description="only this make")] = None,
    year_min: Annotated[int | None, Query(ge=0, le=9999)] = None,
    year_max: Annotated[int | None, Query(ge=0, le=9999)] = None,
) -> Asked:
    return Asked(k, min_score, Filters(make, year_min, year_max))


def search_out(response: SearchResponse, query_id: str | None) -> SearchOut:
    return SearchOut(
        query_id=query_id,
        results=[search_result(hit) for hit in response.hits],
        prediction=prediction_out(response.prediction),
        timings_ms=Timings(
            **{name: round(value, 3) for name, value in response.timings_ms.items()}
        ),
        query_box=list(response.query_box or ()),
        cars=[CarOut(box=list(car.box), score=car.score) for car in response.cars],
        photo_size=list(response.photo_size) if query_id else [],
    )


@router.post("/api/search", response_model=SearchOut, responses=error_docs(400, 413, 415, 422))
async def search(
    services: Annotated[Services, Depends(get_services)],
    image: Annotated[UploadFile, File(description="the query photo (JPEG, PNG, WebP, HEIC...)")],
    k: Annotated[int, Form(ge=1, le=MAX_K, description=K_HELP)] = 6,
    min_score: Annotated[float | None, Form(ge=-1, le=1, description=MIN_SCORE_HELP)] = None,
    make: Annotated[str | None, Form(max_length=64, description="only this make")] = None,
    year_min: Annotated[int | None, Form(ge=0, le=9999)] = None,
    year_max: Annotated[int | None, Form(ge=0, le=9999)] = None,
    box: Annotated[
        str | None, Form(max_length=64, description=BOX_HELP, examples=[BOX_EXAMPLE])
    ] = None,
) -> SearchOut:
    """Find the catalog images most similar to the uploaded photo (multipart form fields).

    The answer's ``query_id`` re-queries this photo without uploading it again."""
    filters = Filters(make, year_min, year_max)
    region = parse_box(box) if box else None
    data = await read_upload(image, services.settings.max_upload_bytes)
    # Decoding and the ONNX run are CPU-bound: keep them off the event loop.
    response = await services.run(
        services.searcher.search, data, k, min_score=min_score, filters=filters, box=region
    )
    query_id = services.queries.remember(data, region, response)
    return search_out(response, query_id)


@router.get("/api/search/{query_id}", response_model=SearchOut, responses=error_docs(400, 404, 422))
async def requery(
    services: Annotated[Services, Depends(get_services)],
    query_id: QueryId,
    params: Annotated[Asked, Depends(asked)],
    box: Annotated[
        str | None, Query(max_length=64, description=BOX_HELP, examples=[BOX_EXAMPLE])
    ] = None,
) -> SearchOut:
    """Search a photo uploaded earlier again: another k, filters or region, no upload.

    404 ``query_expired`` once the server has forgotten it (30 minutes after its last use,
    or sooner when many searches arrive): search with the photo again."""
    region = parse_box(box) if box else None
    response = await services.run(_requery, services, query_id, region, params)
    return search_out(response, query_id)


def _requery(services: Services, query_id: str, box: Box | None, params: Asked) -> SearchResponse:
    queries, searcher = services.queries, services.searcher
    remembered = queries.get(query_id)
    known = remembered.regions.get(box)
    if known is None:  # a region not searched yet: the model looks at the kept photo
        response = searcher.search(
            remembered.photo, params.k, min_score=params.min_score, filters=params.filters,
            box=box,
        )  # fmt: skip
        queries.add_region(query_id, box, response)
    else:
        response = searcher.requery(
            known.vector, known.features, params.k, min_score=params.min_score,
            filters=params.filters,
        )  # fmt: skip
        response.query_box = known.query_box
    response.cars = remembered.cars  # every car of the photo, whichever one was searched
    response.photo_size = remembered.photo_size
    return response


@router.get(
    "/api/search/{query_id}/photo",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "the photo"}, **error_docs(404)},
)
async def query_photo(
    services: Annotated[Services, Depends(get_services)], query_id: QueryId
) -> Response:
    """The searched photo as a JPEG of at most 1024 px, upright: for a shared search's
    preview, and for photos the browser cannot show itself (HEIC, AVIF)."""
    remembered = services.queries.get(query_id)
    data = await services.run(
        jpeg_preview, remembered.photo, QUERY_PREVIEW_SIZE, services.searcher.limits
    )
    return Response(data, media_type="image/jpeg", headers=QUERY_PHOTO_HEADERS)


@router.get(
    "/api/images/{image_id}/similar",
    response_model=SearchOut,
    responses=error_docs(404, 422),
    tags=["images"],
)
async def similar(
    image_id: ImageId,
    services: Annotated[Services, Depends(get_services)],
    params: Annotated[Asked, Depends(asked)],
) -> SearchOut:
    """More like this: the catalog images most similar to one of its own (itself left out).

    Same parameters (as a query string) and answer as ``/api/search``; ``query_id`` is null
    and ``query_box`` empty."""
    response = await services.run(
        services.searcher.similar,
        image_id,
        params.k,
        min_score=params.min_score,
        filters=params.filters,
    )
    return search_out(response, None)
