"""Every failure leaves the API as ``{"error": {"code", "message"}}`` with a meaningful status.

Core failures already carry ``code`` and ``http_status`` (:mod:`revsearch.errors`); this
module adds the few that only HTTP has (auth, readiness) and maps framework errors
(validation, unknown routes, oversized bodies) onto the same shape, with the code of the
class that declares their status (``STATUS_CODES``, derived, never written out twice).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from revsearch.api.schemas import ErrorResponse
from revsearch.errors import (
    BadParameterError,
    DiskFullError,
    ImageTooLargeError,
    NotFoundError,
    RevSearchError,
    UnsupportedImageError,
    disk_full,
)

log = logging.getLogger("revsearch.api")


class BadRequestError(RevSearchError):
    """A request the API cannot make sense of (e.g. two images where one is expected)."""

    code = "bad_request"
    http_status = 400


class UnauthorizedError(RevSearchError):
    """No usable ``Authorization: Bearer <token>`` header."""

    code = "unauthorized"
    http_status = 401


class ForbiddenError(RevSearchError):
    """A bearer token was given but it is not the server's."""

    code = "forbidden"
    http_status = 403


class WritesDisabledError(ForbiddenError):
    """The server has no token configured, so no one may write."""

    code = "writes_disabled"


class MethodNotAllowedError(RevSearchError):
    """A route that exists, asked with a method it does not accept (the router's 405)."""

    code = "method_not_allowed"
    http_status = 405


class RequestTimeoutError(RevSearchError):
    """A request body that did not arrive in time (the upload guard's 408)."""

    code = "request_timeout"
    http_status = 408


class RangeNotSatisfiableError(RevSearchError):
    """A ``Range`` header wholly outside the file (an image download's 416)."""

    code = "range_not_satisfiable"
    http_status = 416


class RequestTooLargeError(RevSearchError):
    """A small JSON body (feedback) over its byte limit; uploads have ImageTooLargeError."""

    code = "request_too_large"
    http_status = 413


class RateLimitedError(RevSearchError):
    """A client over its rate on an anonymous endpoint; ``Retry-After`` says when to retry."""

    code = "rate_limited"
    http_status = 429


class NotReadyError(RevSearchError):
    """The server is still warming up (loading the model, building the vector index)."""

    code = "not_ready"
    http_status = 503


# The code of a framework error (Starlette's HTTPException) with each status: that of the
# class which means it, so each status/code pair is declared once, on its class.
STATUS_CLASSES: tuple[type[RevSearchError], ...] = (
    BadRequestError,
    UnauthorizedError,
    ForbiddenError,
    NotFoundError,
    MethodNotAllowedError,
    RequestTimeoutError,
    ImageTooLargeError,
    UnsupportedImageError,
    RangeNotSatisfiableError,
    BadParameterError,
    NotReadyError,
    DiskFullError,
)
STATUS_CODES: dict[int, str] = {cls.http_status: cls.code for cls in STATUS_CLASSES}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def error_answer(exc: RevSearchError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The JSON answer for ``exc``: its class's status and code, its message (not the
    operator's detail)."""
    return error_response(exc.http_status, exc.code, exc.message, headers)


def error_docs(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error statuses a route can answer."""
    return {status: {"model": ErrorResponse} for status in statuses}


async def _revsearch_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RevSearchError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
    if exc.http_status >= 500 and not isinstance(exc, NotReadyError):
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
    elif exc.detail:
        log.info("%s %s: %s", request.method, request.url.path, exc)
    return error_answer(exc, headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = STATUS_CODES.get(exc.status_code, f"http_{exc.status_code}")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return error_response(exc.status_code, code, str(exc.detail), headers or None)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts at this path (the router only names its first match's,
    so ``DELETE /api/images/{id}`` would be missing from a 405 on that path)."""
    methods: set[str] = set()
    for route in _routes(request.app):
        match, _ = route.matches({**request.scope, "method": "\0"})
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def _routes(app: FastAPI) -> list[Any]:
    """Every route, with those of included routers (FastAPI >= 0.16x nests them)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI copies included routes into the app's own list
        return list(app.router.routes)
    return list(iter_route_contexts(app.router.routes))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(
            str(part) for part in error.get("loc", ()) if part not in ("body", "query")
        )
        problems.append(f"{where}: {error.get('msg', 'invalid')}" if where else error["msg"])
    return error_answer(BadParameterError("; ".join(problems) or "invalid request"))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug: log it with its traceback, answer JSON, keep the worker serving.

    A full disk is not a bug, wherever it surfaces: 507 ``disk_full``.
    """
    if full := disk_full(exc):
        return await _revsearch_error(request, full)
    log.exception("%s %s crashed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RevSearchError, _revsearch_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
