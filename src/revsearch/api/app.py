"""``create_app``: the FastAPI application behind ``revsearch serve``.

Uvicorn calls it as a factory (``revsearch.api.app:create_app --factory``), so with no
argument it reads its settings from the environment.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import Depends, FastAPI

from revsearch.api import browse, feedback, health, images, search
from revsearch.api.docs import mount_docs
from revsearch.api.errors import install_error_handlers
from revsearch.api.services import Services
from revsearch.api.uploads import BodyLimitMiddleware, one_part_per_field
from revsearch.api.web import mount_web
from revsearch.config import Settings

DESCRIPTION = """Reverse image search for cars.

Errors are JSON `{"error": {"code", "message"}}`. Write endpoints need
`Authorization: Bearer <token>` matching the server's `REVSEARCH_API_TOKEN`; a server
without a token, or on a read-only catalog, answers every write with 403 `writes_disabled`.
`POST /api/feedback` is the exception: anonymous, rate-limited per client (429
`rate_limited`), refused only on a read-only catalog.
"""


def _version() -> str:
    try:
        return version("revsearch")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; opens the catalog and loads the model now, so bad setups fail fast."""
    services = Services.build(settings or Settings.from_env())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warm_up = asyncio.create_task(services.run(services.warm_up))
        try:
            yield
        finally:
            await warm_up
            services.close()

    app = FastAPI(
        title="RevSearch",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by mount_docs, without a CDN
        redoc_url=None,
    )
    app.state.services = services
    app.add_middleware(
        BodyLimitMiddleware,
        max_upload_bytes=services.settings.max_upload_bytes,
        body_timeout=services.settings.body_timeout,
    )
    install_error_handlers(app)
    for module in (health, search, images, browse, feedback):
        app.include_router(module.router, dependencies=[Depends(one_part_per_field)])
    mount_docs(app)  # before mount_web: its /static would shadow /static/docs
    mount_web(app)
    return app
