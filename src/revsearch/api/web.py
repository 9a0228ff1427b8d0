"""The browser UI: plain static files shipped in the package, no build step."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"
# The page loads only its own script and style, and images from this server or the
# user's own file (blob: previews).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

router = APIRouter(include_in_schema=False)


PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, headers=PAGE_HEADERS)


@router.get("/")
def index() -> FileResponse:
    return _page("index.html")


@router.get("/browse")
def browse_page() -> FileResponse:
    """The catalog by make, model and year (its place is in the query string)."""
    return _page("browse.html")


@router.get("/admin")
def admin_page() -> FileResponse:
    """Adding and deleting images; the token stays in the page, never in the address."""
    return _page("admin.html")


def mount_web(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
