"""Liveness, readiness and catalog statistics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from revsearch.api.errors import NotReadyError, error_docs
from revsearch.api.schemas import StatsOut, StatusOut
from revsearch.api.services import Services, get_services

router = APIRouter()


@router.get("/healthz", response_model=StatusOut, tags=["health"])
async def healthz() -> StatusOut:
    """The process is up and answering (it may still be warming up)."""
    return StatusOut(status="ok")


@router.get("/readyz", response_model=StatusOut, tags=["health"], responses=error_docs(503))
async def readyz(services: Annotated[Services, Depends(get_services)]) -> StatusOut:
    """Model loaded, vector index built: searches will answer at full speed."""
    if not services.ready.is_set():
        raise NotReadyError(services.warmup_error or "warming up: loading the vector index")
    return StatusOut(status="ready")


@router.get("/api/stats", response_model=StatsOut, tags=["catalog"])
async def stats(services: Annotated[Services, Depends(get_services)]) -> StatsOut:
    """Catalog size, model and index kind (the catalog's folder is not disclosed)."""
    info = await services.run(services.catalog.stats)
    return StatsOut(
        images=info["images"],
        classes=info["classes"],
        model_id=services.encoder.model_id,
        embedding_dim=services.encoder.dim,
        index_kind=info["index_kind"],
        generation=info["generation"],
        max_upload_bytes=services.settings.max_upload_bytes,
    )
