"""Bearer-token check for the write endpoints.

Writes are off unless the server has ``REVSEARCH_API_TOKEN`` and a catalog it may write:
otherwise they answer 403 ``writes_disabled``. A missing or malformed header is 401, a wrong
token 403. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from revsearch.api.errors import ForbiddenError, UnauthorizedError, WritesDisabledError
from revsearch.api.services import Services, get_services

bearer = HTTPBearer(
    auto_error=False,
    description="The server's REVSEARCH_API_TOKEN; without one configured, writes are disabled.",
)


async def require_writer(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    services: Annotated[Services, Depends(get_services)],
) -> None:
    """FastAPI dependency: let the request through only with the server's token."""
    token = services.settings.api_token
    if not token:
        raise WritesDisabledError(
            "writes are disabled on this server: start it with REVSEARCH_API_TOKEN set"
        )
    if credentials is None:
        raise UnauthorizedError("this needs an 'Authorization: Bearer <token>' header")
    if not hmac.compare_digest(credentials.credentials.encode(), token.encode()):
        raise ForbiddenError("invalid token")
    if services.catalog.read_only:
        raise WritesDisabledError(
            "writes are disabled on this server: its catalog is read-only "
            "(no write permission or a read-only disk)"
        )
