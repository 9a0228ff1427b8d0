"""Upload limits, enforced while bytes arrive rather than after they are all in memory.

Two layers: the middleware refuses a request body over the limit (by its Content-Length, or
by counting chunked bodies) before the multipart parser spools it anywhere, and one that
does not arrive within ``body_timeout`` seconds (a slow client holding a worker); then
:func:`read_upload` reads the image part in chunks and stops at limit + 1 bytes. A form
that repeats a field (two ``image`` parts) is refused rather than silently cut to one.
"""

from __future__ import annotations

import asyncio

from fastapi import Request, UploadFile
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from revsearch.api.errors import BadRequestError, error_response
from revsearch.config import DEFAULT_BODY_TIMEOUT
from revsearch.errors import ImageTooLargeError

CHUNK_SIZE = 256 * 1024
# Room for the multipart boundaries, part headers and the small form fields.
FORM_OVERHEAD = 64 * 1024


def too_large_message(limit: int) -> str:
    return f"upload is over the limit of {limit:,} bytes"


class BodyLimitMiddleware:
    """Answer 413 to any request whose body exceeds ``max_upload_bytes`` + form overhead,
    and 408 to one whose body is not all there ``body_timeout`` seconds after it started."""

    def __init__(
        self, app: ASGIApp, max_upload_bytes: int, body_timeout: float = DEFAULT_BODY_TIMEOUT
    ) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes
        self.max_body = max_upload_bytes + FORM_OVERHEAD
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            message = too_large_message(self.max_upload_bytes)
            response = error_response(413, "image_too_large", message, {"Connection": "close"})
            await response(scope, receive, send)
            return
        received = 0
        deadline = asyncio.get_running_loop().time() + self.body_timeout
        body_done = False

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # later receives only wait for a disconnect: no deadline
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(
                    408,
                    f"the request body did not arrive within {self.body_timeout:g} s",
                    headers={"Connection": "close"},
                ) from None
            body_done = message["type"] != "http.request" or not message.get("more_body")
            received += len(message.get("body", b""))
            if received > self.max_body:
                # An HTTPException passes through FastAPI's body parsing untouched and is
                # turned into the JSON 413 by the app's error handlers.
                raise HTTPException(413, too_large_message(self.max_upload_bytes))
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def read_upload(upload: UploadFile, limit: int) -> bytes:
    """The uploaded file's bytes, reading at most ``limit + 1`` of them."""
    if upload.size is not None and upload.size > limit:
        raise ImageTooLargeError(too_large_message(limit))
    data = bytearray()
    while chunk := await upload.read(min(CHUNK_SIZE, limit + 1 - len(data))):
        data += chunk
        if len(data) > limit:
            raise ImageTooLargeError(too_large_message(limit))
    return bytes(data)


async def one_part_per_field(request: Request) -> None:
    """FastAPI dependency: refuse a form that sends a field twice (two ``image`` parts).

    The framework would keep the last one, so the client would get an answer about an
    image it may not have meant. The form is the one already parsed for the endpoint.
    """
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return
    form = await request.form()
    for name in dict.fromkeys(form.keys()):
        if (count := len(form.getlist(name))) > 1:
            raise BadRequestError(f"the form field '{name}' was sent {count} times: send it once")
