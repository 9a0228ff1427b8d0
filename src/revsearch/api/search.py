"""``POST /api/search``: an uploaded photo in, the most similar catalog images out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile

from revsearch.api.errors import error_docs
from revsearch.api.schemas import CarOut, SearchOut, Timings, prediction_out, search_result
from revsearch.api.services import Services, get_services
from revsearch.api.uploads import read_upload
from revsearch.index.base import Filters
from revsearch.localize import parse_box
from revsearch.search import MAX_K

router = APIRouter(tags=["search"])


@router.post("/api/search", response_model=SearchOut, responses=error_docs(400, 413, 415, 422))
async def search(
    services: Annotated[Services, Depends(get_services)],
    image: Annotated[UploadFile, File(description="the query photo (JPEG, PNG, WebP, HEIC...)")],
    k: Annotated[int, Form(ge=1, le=MAX_K, description="number of results")] = 6,
    min_score: Annotated[
        float | None, Form(ge=-1, le=1, description="drop results below this similarity")
    ] = None,
    make: Annotated[str | None, Form(max_length=64, description="only this make")] = None,
    year_min: Annotated[int | None, Form(ge=0, le=9999)] = None,
    year_max: Annotated[int | None, Form(ge=0, le=9999)] = None,
    box: Annotated[
        str | None,
        Form(
            max_length=64,
            description="search only this region: 'x1,y1,x2,y2' in the photo's pixels",
            examples=["412,620,1390,1180"],
        ),
    ] = None,
) -> SearchOut:
    """Find the catalog images most similar to the uploaded photo (multipart form fields)."""
    filters = Filters(make, year_min, year_max)
    region = parse_box(box) if box else None
    data = await read_upload(image, services.settings.max_upload_bytes)
    # Decoding and the ONNX run are CPU-bound: keep them off the event loop.
    response = await services.run(
        services.searcher.search,
        data,
        k,
        min_score=min_score,
        filters=filters,
        box=region,
    )
    return SearchOut(
        results=[search_result(hit) for hit in response.hits],
        prediction=prediction_out(response.prediction),
        timings_ms=Timings(
            **{name: round(value, 3) for name, value in response.timings_ms.items()}
        ),
        query_box=list(response.query_box or ()),
        cars=[CarOut(box=list(car.box), score=car.score) for car in response.cars],
    )
