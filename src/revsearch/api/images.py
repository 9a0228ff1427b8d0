"""Catalog images: originals and thumbnails (read), and adding or deleting one (write).

Images are looked up by catalog id and read from the catalog's own stored source, never
from a path or URL in the request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.responses import FileResponse, StreamingResponse

from revsearch.api.errors import error_docs
from revsearch.api.schemas import ImageOut, image_out, image_url
from revsearch.api.security import require_writer
from revsearch.api.services import Services, get_services
from revsearch.api.uploads import read_upload
from revsearch.catalog.db import ImageRecord
from revsearch.errors import NotFoundError

router = APIRouter(tags=["images"])

CACHE_CONTROL = "public, max-age=86400"
# Images are only ever images: no sniffing, and nothing active if one is opened directly.
IMAGE_HEADERS = {
    "Cache-Control": CACHE_CONTROL,
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}
IMAGE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"image/*": {}}, "description": "the image"},
    304: {"description": "not modified (If-None-Match matched the ETag)"},
    **error_docs(404, 422),
}


def _record(services: Services, image_id: int) -> ImageRecord:
    record = services.catalog.get([image_id]).get(image_id)
    if record is None:
        raise NotFoundError(f"no image with id {image_id}")
    return record


def _not_modified(request: Request, etag: str) -> Response | None:
    """304 when the client already holds this version (If-None-Match)."""
    wanted = request.headers.get("if-none-match", "")
    tags = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
    if etag in tags or "*" in tags:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": CACHE_CONTROL})
    return None


@router.get("/api/images/{image_id}", response_class=Response, responses=IMAGE_RESPONSES)
async def get_image(
    image_id: int, request: Request, services: Annotated[Services, Depends(get_services)]
) -> Response:
    """The original image file, streamed from the image store."""
    record = await services.run(_record, services, image_id)
    etag = f'"{record.content_hash}"'
    if cached := _not_modified(request, etag):
        return cached
    stream = await services.run(services.store.open_stream, record.source)
    return StreamingResponse(
        stream.chunks,
        media_type=stream.media_type,
        headers={"Content-Length": str(stream.size), "ETag": etag, **IMAGE_HEADERS},
    )


@router.get("/api/images/{image_id}/thumbnail", response_class=Response, responses=IMAGE_RESPONSES)
async def get_thumbnail(
    image_id: int, request: Request, services: Annotated[Services, Depends(get_services)]
) -> Response:
    """A JPEG of at most 256 px, made on first request and cached beside the catalog."""
    record = await services.run(_record, services, image_id)
    etag = services.thumbnails.etag(record.content_hash)
    if cached := _not_modified(request, etag):
        return cached
    path = await services.run(services.thumbnails.get, record.source, record.content_hash)
    return FileResponse(
        path,
        media_type="image/jpeg",
        headers={"ETag": etag, **IMAGE_HEADERS},
    )


@router.post(
    "/api/images",
    status_code=201,
    response_model=ImageOut,
    responses={
        200: {"model": ImageOut, "description": "the image was already in the catalog"},
        **error_docs(400, 401, 403, 413, 415, 422),
    },
    dependencies=[Depends(require_writer)],
)
async def add_image(
    services: Annotated[Services, Depends(get_services)],
    response: Response,
    image: Annotated[UploadFile, File(description="the photo to add")],
    class_name: Annotated[
        str | None,
        Form(max_length=200, description="label, e.g. 'Audi TTS Coupe 2012' (make/year parsed)"),
    ] = None,
) -> ImageOut:
    """Add one image with its label (needs the bearer token). Same bytes twice: 200, no copy."""
    data = await read_upload(image, services.settings.max_upload_bytes)
    label = (class_name or "").strip() or None
    record, created = await services.run(services.writer.add, data, label)
    if created:
        response.headers["Location"] = image_url(record.id)
    else:
        response.status_code = 200
    return image_out(record, created=created)


@router.delete(
    "/api/images/{image_id}",
    status_code=204,
    response_class=Response,
    responses=error_docs(401, 403, 404, 422),
    dependencies=[Depends(require_writer)],
)
async def delete_image(
    image_id: int, services: Annotated[Services, Depends(get_services)]
) -> Response:
    """Remove an image from the catalog (and its file, if it was uploaded through the API)."""
    await services.run(services.writer.delete, image_id)
    return Response(status_code=204)
