"""Small request helpers shared by the API and browser tests."""

from __future__ import annotations

import httpx


def search(
    client: httpx.Client, data: bytes, name: str = "car.jpg", **fields: object
) -> httpx.Response:
    """POST /api/search with ``data`` as the image part and ``fields`` as form fields."""
    return client.post(
        "/api/search",
        files={"image": (name, data, "image/jpeg")},
        data={key: str(value) for key, value in fields.items()},
    )


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    """The response is the API's JSON error shape with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
