"""Quick in-process checks of ``create_app`` (httpx's ASGI transport, no lifespan, no socket)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from revsearch.api.app import create_app
from revsearch.api.errors import STATUS_CODES
from revsearch.config import Settings
from revsearch.errors import CatalogNotFoundError, EmptyCatalogError, ModelNotFoundError


def request(app: FastAPI, method: str, url: str, **options: object) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, url, **options)  # type: ignore[arg-type]

    return asyncio.run(send())


@pytest.fixture
def app(
    built_catalog: Path, model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FastAPI]:
    """Built with no argument, the way uvicorn's factory mode calls it."""
    monkeypatch.setenv("REVSEARCH_CATALOG", str(built_catalog))
    monkeypatch.setenv("REVSEARCH_MODEL", str(model_path))
    monkeypatch.setenv("REVSEARCH_THREADS", "1")
    monkeypatch.delenv("REVSEARCH_API_TOKEN", raising=False)
    application = create_app()
    yield application
    application.state.services.close()


def test_create_app_reads_settings_from_the_environment(app: FastAPI, built_catalog: Path) -> None:
    services = app.state.services
    assert services.settings.catalog == built_catalog
    assert services.settings.api_token is None
    assert request(app, "GET", "/api/stats").json()["images"] == 240


def test_readiness_waits_for_the_warm_up(app: FastAPI) -> None:
    """Without the lifespan nothing warmed up yet: alive, but not ready."""
    assert request(app, "GET", "/healthz").status_code == 200
    not_ready = request(app, "GET", "/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["error"]["code"] == "not_ready"
    app.state.services.warm_up()
    assert request(app, "GET", "/readyz").json() == {"status": "ready"}


def test_missing_catalog_fails_at_startup(tmp_path: Path, model_path: Path) -> None:
    with pytest.raises(CatalogNotFoundError):
        create_app(Settings.from_env(catalog=tmp_path / "nothing", model=model_path))


def test_missing_model_fails_at_startup(built_catalog: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        create_app(Settings.from_env(catalog=built_catalog, model=tmp_path / "none.onnx"))


def test_error_shape_for_framework_errors(app: FastAPI) -> None:
    response = request(app, "POST", "/api/search", data={"k": "7"})
    assert response.status_code == 422
    assert response.json() == {
        "error": {"code": "bad_parameter", "message": "image: Field required"}
    }


def test_an_empty_catalog_is_a_409_json_error_not_a_500(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def empty() -> None:
        raise EmptyCatalogError("catalog /cat is empty: index some images first")

    monkeypatch.setattr(app.state.services.catalog, "stats", empty)
    response = request(app, "GET", "/api/stats")
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "catalog_empty",
            "message": "catalog /cat is empty: index some images first",
        }
    }


def test_framework_error_codes_come_from_the_error_classes() -> None:
    assert STATUS_CODES == {
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
