"""Every failure leaves the API as ``{"error": {"code", "message"}}`` with a meaningful status.

Core failures already carry ``code`` and ``http_status`` (:mod:`revsearch.errors`); this
module adds the few that only HTTP has (auth, readiness) and maps framework errors
(validation, unknown routes, oversized bodies) onto the same shape.
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
from revsearch.errors import RevSearchError, disk_full

log = logging.getLogger("revsearch.api")

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "image_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "bad_parameter",
    503: "not_ready",
    507: "disk_full",
}


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


class NotReadyError(RevSearchError):
    code = "not_ready"
    http_status = 503


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def error_docs(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error statuses a route can answer."""
    return {status: {"model": ErrorResponse} for status in statuses}


async def _revsearch_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RevSearchError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
    if exc.http_status >= 500 and not isinstance(exc, NotReadyError):
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
    return error_response(exc.http_status, exc.code, str(exc), headers)


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
    return error_response(422, "bad_parameter", "; ".join(problems) or "invalid request")


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
