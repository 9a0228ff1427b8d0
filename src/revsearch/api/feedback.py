"""``POST /api/feedback``: thumbs up/down on the answer or a result, "wrong car? it is X".

Anonymous (no token), so bounded before the body is even parsed (:class:`GuardedRoute`): a
read-only catalog answers 403, a client over its rate 429 with ``Retry-After``, a body over
``MAX_BODY_BYTES`` 413. Then the body must be exactly the documented fields, with no free
text: class names must be the catalog's own, ids its images'
(:mod:`revsearch.feedback.record`). A vote on an uploaded search keeps its photo.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.types import Message

from revsearch.api.errors import (
    RateLimitedError,
    RequestTooLargeError,
    WritesDisabledError,
    error_answer,
    error_docs,
)
from revsearch.api.queries import QUERY_ID_PATTERN
from revsearch.api.services import Services, get_services
from revsearch.catalog.db import MAX_ID, MIN_ID
from revsearch.feedback.record import Vote

MAX_BODY_BYTES = 2048
CLASS_NAME_LENGTH = 200  # as long as a catalog label may be (POST /api/images)

ClassName = Annotated[
    str | None,
    Field(min_length=1, max_length=CLASS_NAME_LENGTH, examples=["Audi TTS Coupe 2012"]),
]


class FeedbackIn(BaseModel):
    """A verdict on a search; no other field is accepted."""

    model_config = ConfigDict(extra="forbid", strict=True)

    query_id: str | None = Field(
        None, pattern=QUERY_ID_PATTERN,
        description="the uploaded search (its answer's query_id); or give query_image",
    )  # fmt: skip
    query_image: int | None = Field(
        None, ge=MIN_ID, le=MAX_ID,
        description="the catalog image a 'more like this' search started from",
    )  # fmt: skip
    result_id: int | None = Field(
        None, ge=MIN_ID, le=MAX_ID,
        description="the result judged (a catalog image id); null: the answer (prediction)",
    )  # fmt: skip
    verdict: Literal["up", "down"]
    class_name: ClassName = Field(
        None,
        description="what the car is, one of the catalog's classes: the right class with a "
        "'down' on the answer ('wrong car? it is X'), the predicted one with an 'up'",
    )
    predicted_class: ClassName = Field(
        None, description="the answer shown (one of the catalog's classes), when there was one"
    )

    @model_validator(mode="after")
    def _one_search(self) -> FeedbackIn:
        if (self.query_id is None) == (self.query_image is None):
            raise ValueError(
                "give exactly one of query_id (an uploaded search) and query_image "
                "(a 'more like this' search)"
            )
        return self


class FeedbackOut(BaseModel):
    id: int = Field(description="the stored feedback's id")


class GuardedRoute(APIRoute):
    """A route whose refusals come before its body is read and parsed: each is cheap, and
    none lets an anonymous client make the server buffer more than ``MAX_BODY_BYTES``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            services: Services = request.app.state.services
            if services.catalog.read_only:
                raise WritesDisabledError(
                    "feedback is disabled on this server: its catalog is read-only "
                    "(no write permission or a read-only disk)"
                )
            wait = services.feedback_limiter.acquire(client_of(request))
            if wait > 0:
                retry = max(1, math.ceil(wait))
                limited = RateLimitedError(f"too much feedback from here: retry in {retry} s")
                return error_answer(limited, {"Retry-After": str(retry)})
            body = await read_small_body(request, MAX_BODY_BYTES)
            return await handle(replayed(request, body))

        return guarded


router = APIRouter(tags=["feedback"], route_class=GuardedRoute)


def client_of(request: Request) -> str:
    """The client's address (uvicorn takes it from X-Forwarded-For behind a trusted proxy)."""
    return request.client.host if request.client else "unknown"


async def read_small_body(request: Request, limit: int) -> bytes:
    """The whole body, refused (413) by its Content-Length or once it passes ``limit``."""
    too_large = RequestTooLargeError(f"the request body is over the limit of {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def replayed(request: Request, body: bytes) -> Request:
    """The request again, its body (already read) served from memory."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:  # after the body, only a disconnect can come
            return await request.receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


@router.post(
    "/api/feedback",
    status_code=201,
    response_model=FeedbackOut,
    responses=error_docs(403, 404, 413, 422, 429, 507),
)
async def feedback(
    body: FeedbackIn, services: Annotated[Services, Depends(get_services)]
) -> FeedbackOut:
    """Say whether the answer (``result_id`` null) or a result of a search was right.

    Anonymous, limited per client (429 with ``Retry-After``), at most 2 KB of JSON. 404
    ``query_expired`` once the server has forgotten the search, ``not_found`` for an image
    id it lacks; 422 ``bad_parameter`` for a class the catalog does not have or one that
    contradicts the verdict. The photo of an uploaded search is kept with its feedback."""
    photo = services.queries.get(body.query_id).photo if body.query_id is not None else None
    vote = Vote(**body.model_dump())
    feedback_id = await services.run(services.feedback.record, vote, photo)
    return FeedbackOut(id=feedback_id)
