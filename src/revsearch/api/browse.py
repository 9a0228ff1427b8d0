"""Listing the catalog: its classes and makes with counts, and its images page by page.

What the browse page (and the main page's make filter) reads; searching needs no listing.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from revsearch.api.errors import error_docs
from revsearch.api.images import ImageId, find_record
from revsearch.api.schemas import (
    CatalogImageOut,
    ClassesOut,
    ClassOut,
    ImagePageOut,
    MakeOut,
    catalog_image_out,
)
from revsearch.api.services import Services, get_services
from revsearch.catalog.db import Browse

router = APIRouter(tags=["catalog"])

PAGE_SIZE = 48
MAX_PAGE_SIZE = 200
# Far beyond any catalog, but small enough that SQLite never sees a 64-bit overflow.
MAX_OFFSET = 1_000_000_000


def _blank_is_none(value: str | None) -> str | None:
    """An empty form field (``?make=``) means "any", not "the make named ''"."""
    return value.strip() or None if value is not None else None


@router.get("/api/classes", response_model=ClassesOut)
async def list_classes(services: Annotated[Services, Depends(get_services)]) -> ClassesOut:
    """Every labelled class and every make of the catalog, with how many images each has."""
    classes = await services.run(services.catalog.classes)
    makes = await services.run(services.catalog.makes)
    return ClassesOut(
        classes=[ClassOut(**asdict(summary)) for summary in classes],
        makes=[MakeOut(make=make, images=count) for make, count in makes],
    )


@router.get("/api/images", response_model=ImagePageOut, responses=error_docs(422))
async def list_images(
    services: Annotated[Services, Depends(get_services)],
    make: Annotated[str | None, Query(max_length=100, description="e.g. 'Audi' (any case)")] = None,
    model: Annotated[str | None, Query(max_length=200, description="e.g. 'TTS' (any case)")] = None,
    year: Annotated[int | None, Query(ge=1000, le=9999)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="images to skip")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")] = PAGE_SIZE,
) -> ImagePageOut:
    """Catalog images matching every filter given, by class then id; an unknown make: none."""
    where = Browse(make=_blank_is_none(make), model=_blank_is_none(model), year=year)
    total, records = await services.run(services.catalog.browse, where, offset=offset, limit=limit)
    return ImagePageOut(
        total=total,
        offset=offset,
        limit=limit,
        images=[catalog_image_out(record) for record in records],
    )


@router.get(
    "/api/images/{image_id}/info", response_model=CatalogImageOut, responses=error_docs(404, 422)
)
async def image_info(
    image_id: ImageId, services: Annotated[Services, Depends(get_services)]
) -> CatalogImageOut:
    """One catalog image's label, vehicle and size (what the large view shows)."""
    return catalog_image_out(await services.run(find_record, services, image_id))
