"""The API docs (Swagger UI at ``/docs``, ReDoc at ``/redoc``) served by this server itself.

FastAPI's own pages load their scripts from a CDN, so they are blank offline and on any
network that blocks it. These load the copies bundled in the ``fastapi-offline`` package
(MIT; Swagger UI is Apache-2.0, ReDoc MIT) from ``/static/docs/``, under a strict CSP: each
page's inline scripts and styles (and the styles ReDoc's script adds) carry a per-response
nonce, nothing else inline runs, and nothing outside this origin is fetched.
"""

from __future__ import annotations

import secrets
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/static/docs"
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))

router = APIRouter(include_in_schema=False)

# ReDoc's bundle adds <style> elements from script (styled-components' sheets, a scrollbar's
# CSS) before it could be told a nonce: this gives the page's nonce to every <style> that
# script creates. Styles in markup (say, a description's HTML) are still refused.
STYLE_NONCE = """<script>
(() => {
  const nonce = document.currentScript.nonce;
  const create = document.createElement.bind(document);
  document.createElement = (name, options) => {
    const element = create(name, options);
    if (String(name).toLowerCase() === "style") element.nonce = nonce;
    return element;
  };
})();
</script>"""


def content_security_policy(nonce: str, *, workers: bool = False) -> str:
    """Only this origin, plus the page's own nonce-marked inline scripts and styles; with
    ``workers``, workers made from ``blob:`` URLs (ReDoc's search index runs in one)."""
    policy = [
        "default-src 'none'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}'",
        "img-src 'self' data:",
        "connect-src 'self'",  # the schema, and Swagger's "Try it out"
        *(["worker-src blob:"] if workers else []),
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(policy)


def _page(html: HTMLResponse, *, redoc: bool = False) -> HTMLResponse:
    """FastAPI's page with a fresh nonce on its inline scripts and styles, and our headers."""
    nonce = secrets.token_urlsafe(18)
    body = bytes(html.body).decode()
    if redoc:
        body = body.replace("<body>", f"<body>\n{STYLE_NONCE}", 1)
    for tag in ("<script>", "<style>"):
        body = body.replace(tag, f'{tag[:-1]} nonce="{nonce}">')
    return HTMLResponse(
        body,
        headers={
            "Content-Security-Policy": content_security_policy(nonce, workers=redoc),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",  # a nonce is good for one response only
        },
    )


def _urls(request: Request) -> tuple[str, str]:
    """(the schema's URL, the assets' URL prefix), behind a proxy's root path too."""
    root = request.scope.get("root_path", "")
    return f"{root}{request.app.openapi_url}", f"{root}{ASSETS_URL}"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    openapi_url, assets = _urls(request)
    html = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{request.app.title} API: Swagger UI",
        swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{assets}/favicon.png",
        # Writes use a bearer token, not OAuth2: no redirect page is needed.
        oauth2_redirect_url=None,
        swagger_ui_parameters=request.app.swagger_ui_parameters,
    )
    return _page(html)


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    openapi_url, assets = _urls(request)
    html = get_redoc_html(
        openapi_url=openapi_url,
        title=f"{request.app.title} API: ReDoc",
        redoc_js_url=f"{assets}/redoc.standalone.js",
        redoc_favicon_url=f"{assets}/favicon.png",
        with_google_fonts=False,
    )
    return _page(html, redoc=True)


def mount_docs(app: FastAPI) -> None:
    """Add the pages and their assets; before any ``/static`` mount, which would shadow them."""
    app.include_router(router)
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
