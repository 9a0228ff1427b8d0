"""Catalog images: originals and thumbnails (read), and adding or deleting one (write).

Images are looked up by catalog id and read from the catalog's own stored source, never
from a path or URL in the request.
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, StreamingResponse
from starlette.datastructures import Headers
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable
from starlette.types import Receive, Scope, Send

from revsearch.api.errors import (
    RangeNotSatisfiableError,
    error_answer,
    error_docs,
    error_response,
)
from revsearch.api.schemas import ImageOut, image_out, image_url
from revsearch.api.security import require_writer
from revsearch.api.services import Services, get_services
from revsearch.api.uploads import read_upload
from revsearch.catalog.db import MAX_ID, MIN_ID, ImageRecord
from revsearch.errors import NotFoundError

router = APIRouter(tags=["images"])

# Caches may keep an image but must ask again before each use (a cheap 304 while its ETag
# holds): an image can be replaced or deleted, and no cache may show it after that.
CACHE_CONTROL = "public, no-cache"
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
# Catalog ids are SQLite integers: anything outside 64 bits is a bad parameter, not a crash.
ImageId = Annotated[int, PathParam(ge=MIN_ID, le=MAX_ID, description="catalog id of the image")]


class ImageFileResponse(FileResponse):
    """A FileResponse whose bad ``Range`` headers get the API's JSON errors (400, 416)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        requested = Headers(scope=scope).get("range")
        if requested is not None and self.stat_result is not None:
            size = self.stat_result.st_size
            try:
                self._parse_range_header(requested, size)
            except MalformedRangeHeader as exc:
                response = error_response(400, "bad_range", f"bad Range header: {exc.content}")
                return await response(scope, receive, send)
            except RangeNotSatisfiable:
                message = f"Range header outside the file's {size} bytes"
                headers = {"Content-Range": f"bytes */{size}"}
                response = error_answer(RangeNotSatisfiableError(message), headers)
                return await response(scope, receive, send)
        await super().__call__(scope, receive, send)


def find_record(services: Services, image_id: int) -> ImageRecord:
    """The catalog record of an image id; NotFoundError (404) when there is none."""
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


@router.api_route(
    "/api/images/{image_id}",
    methods=["GET", "HEAD"],
    response_class=Response,
    responses=IMAGE_RESPONSES,
)
async def get_image(
    image_id: ImageId, request: Request, services: Annotated[Services, Depends(get_services)]
) -> Response:
    """The original image file, streamed from the image store (HEAD: its headers only)."""
    record = await services.run(find_record, services, image_id)
    etag = f'"{record.content_hash}"'
    if cached := _not_modified(request, etag):
        return cached
    stream = await services.run(services.store.open_stream, record.source)
    headers = {"Content-Length": str(stream.size), "ETag": etag, **IMAGE_HEADERS}
    if request.method == "HEAD":
        stream.close()
        return Response(media_type=stream.media_type, headers=headers)
    return StreamingResponse(stream.chunks, media_type=stream.media_type, headers=headers)


@router.api_route(
    "/api/images/{image_id}/thumbnail",
    methods=["GET", "HEAD"],
    response_class=Response,
    responses={**IMAGE_RESPONSES, **error_docs(416, 507)},
)
async def get_thumbnail(
    image_id: ImageId, request: Request, services: Annotated[Services, Depends(get_services)]
) -> Response:
    """A JPEG of at most 256 px, made on first request and cached beside the catalog."""
    record = await services.run(find_record, services, image_id)
    etag = services.thumbnails.etag(record.content_hash)
    if cached := _not_modified(request, etag):
        return cached
    thumbnail = await services.run(services.thumbnails.get, record.source, record.content_hash)
    headers = {"ETag": etag, **IMAGE_HEADERS}
    if isinstance(thumbnail, bytes):  # a read-only catalog: rendered, not cached
        return Response(thumbnail, media_type="image/jpeg", headers=headers)
    stat = await services.run(os.stat, thumbnail)
    return ImageFileResponse(thumbnail, media_type="image/jpeg", headers=headers, stat_result=stat)


@router.post(
    "/api/images",
    status_code=201,
    response_model=ImageOut,
    responses={
        200: {"model": ImageOut, "description": "the image was already in the catalog"},
        **error_docs(400, 401, 403, 413, 415, 422, 507),
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
    responses=error_docs(401, 403, 404, 422, 507),
    dependencies=[Depends(require_writer)],
)
async def delete_image(
    image_id: ImageId, services: Annotated[Services, Depends(get_services)]
) -> Response:
    """Remove an image from the catalog (and its file, if it was uploaded through the API)."""
    await services.run(services.writer.delete, image_id)
    return Response(status_code=204)
