"""``POST /api/feedback`` on a real server: votes stored with their photo (kept once), every
bad input a 4xx JSON error that stores nothing, the per-client rate limit (in process, on an
injected clock), a read-only catalog (403) and a full disk (507)."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from revsearch.api.app import create_app
from revsearch.api.feedback import MAX_BODY_BYTES
from revsearch.api.ratelimit import RateLimiter
from revsearch.catalog.catalog import Catalog
from revsearch.catalog.feedback import FeedbackRecord
from revsearch.config import Settings
from revsearch.feedback.record import FEEDBACK_DIR
from tests.api.http import assert_error, search
from tests.api.photos import catalog_photo, held_out_photo
from tests.privileges import why_not_unprivileged
from tests.small_disk import fill, free, small_disk
from tests.support.live_server import LiveServer, live_server, server_fixture

pytestmark = pytest.mark.slow

feedback_server = server_fixture(
    "feedback_server", scope="module", REVSEARCH_FEEDBACK_BURST="1000",
    doc="No token (feedback needs none), a burst large enough for every test here.",
)  # fmt: skip


def stored(catalog: Path) -> list[FeedbackRecord]:
    with Catalog.open(catalog, read_only=True) as opened:
        return opened.feedback()


def kept(catalog: Path) -> list[Path]:
    folder = catalog / FEEDBACK_DIR
    return sorted(folder.iterdir()) if folder.exists() else []


def vote(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/api/feedback", json=body)


@pytest.fixture(scope="module")
def searched(feedback_server: LiveServer) -> dict[str, Any]:
    """One uploaded search: its answer, and the photo's bytes."""
    data = held_out_photo()[0].read_bytes()
    with feedback_server.client() as client:
        answer = search(client, data, k=4)
    assert answer.status_code == 200, answer.text
    return {**answer.json(), "photo": data}


@pytest.fixture
def client(feedback_server: LiveServer) -> Iterator[httpx.Client]:
    with feedback_server.client() as http:
        yield http


def test_votes_on_a_search_are_stored_with_its_photo_kept_once(
    feedback_server: LiveServer, client: httpx.Client, searched: dict[str, Any]
) -> None:
    before = len(stored(feedback_server.catalog))
    query_id, top = searched["query_id"], searched["results"][0]
    predicted = searched["prediction"]["class_name"]
    other = next(
        name for _, name in map(catalog_photo, range(0, 240, 12)) if name != predicted
    )  # another class of the catalog

    # As the page sends them: every field, nulls included.
    page = {"query_id": query_id, "query_image": None, "predicted_class": predicted}
    up = vote(client, **page, result_id=top["id"], verdict="up", class_name=top["class_name"])
    assert up.status_code == 201, up.text
    poor = searched["results"][1]["id"]
    down = vote(client, **page, result_id=poor, verdict="down", class_name=None)
    assert down.status_code == 201, down.text
    fix = vote(
        client, query_id=query_id, result_id=None, verdict="down", class_name=other,
        predicted_class=predicted, query_image=None,
    )  # fmt: skip
    assert fix.status_code == 201, fix.text
    confirm = vote(
        client, query_id=query_id, verdict="up", class_name=predicted, predicted_class=predicted
    )
    assert confirm.status_code == 201, confirm.text
    ids = [answer.json()["id"] for answer in (up, down, fix, confirm)]
    assert ids == sorted(ids) and set(up.json()) == {"id"}

    name = f"{hashlib.sha256(searched['photo']).hexdigest()}.jpg"
    assert [p.name for p in kept(feedback_server.catalog)] == [name]  # one file, four votes
    assert (feedback_server.catalog / FEEDBACK_DIR / name).read_bytes() == searched["photo"]
    rows = {row.id: row for row in stored(feedback_server.catalog)[before:]}
    liked, disliked, corrected, confirmed = (rows[i] for i in ids)
    assert liked.result_id == top["id"] and liked.result_class == top["class_name"]
    assert (disliked.verdict, disliked.result_id, disliked.class_name) == ("down", poor, None)
    assert (corrected.verdict, corrected.class_name) == ("down", other)
    assert corrected.predicted_class == predicted and corrected.on_answer
    assert confirmed.class_name == predicted and confirmed.verdict == "up"
    assert {row.photo for row in rows.values()} == {f"{FEEDBACK_DIR}/{name}"}
    assert all(row.query_id == query_id and row.query_image is None for row in rows.values())


def test_a_vote_on_more_like_this_keeps_no_photo(
    feedback_server: LiveServer, client: httpx.Client
) -> None:
    similar = client.get("/api/images/3/similar", params={"k": 2}).json()["results"]
    answer = vote(client, query_image=3, result_id=similar[0]["id"], verdict="down")
    assert answer.status_code == 201, answer.text
    row = stored(feedback_server.catalog)[-1]
    assert row.id == answer.json()["id"] and row.query_image == 3
    assert row.query_id is None and row.photo is None


def bad_bodies(query_id: str, predicted: str) -> dict[str, tuple[Any, int, str]]:
    """name -> (JSON body, status, code)."""
    unknown = "Tesla Model S Sedan 2020"
    return {
        "no search": ({"verdict": "up"}, 422, "bad_parameter"),
        "both searches": ({"query_id": query_id, "query_image": 1, "verdict": "up"}, 422,
                          "bad_parameter"),
        "a bad verdict": ({"query_image": 1, "verdict": "maybe"}, 422, "bad_parameter"),
        "no verdict": ({"query_image": 1}, 422, "bad_parameter"),
        "an extra field": ({"query_image": 1, "verdict": "up", "comment": "nice"}, 422,
                           "bad_parameter"),
        "an unknown class": ({"query_image": 1, "verdict": "down", "class_name": unknown}, 422,
                             "bad_parameter"),
        "an unknown predicted class": ({"query_image": 1, "verdict": "up",
                                        "predicted_class": unknown}, 422, "bad_parameter"),
        "a class name too long": ({"query_image": 1, "verdict": "down", "class_name": "x" * 201},
                                  422, "bad_parameter"),
        "an empty class name": ({"query_image": 1, "verdict": "down", "class_name": ""}, 422,
                                "bad_parameter"),
        "a contradiction": ({"query_id": query_id, "verdict": "down", "class_name": predicted,
                             "predicted_class": predicted}, 422, "bad_parameter"),
        "a down on a result naming a class": ({"query_image": 1, "result_id": 2,
                                               "verdict": "down", "class_name": predicted}, 422,
                                              "bad_parameter"),
        "a malformed query id": ({"query_id": "../../etc/passwd", "verdict": "up"}, 422,
                                 "bad_parameter"),
        "a string for an id": ({"query_image": "1", "verdict": "up"}, 422, "bad_parameter"),
        "a float for an id": ({"query_image": 1.5, "verdict": "up"}, 422, "bad_parameter"),
        "a boolean for an id": ({"query_image": True, "verdict": "up"}, 422, "bad_parameter"),
        "an id over 64 bits": ({"query_image": 2**63, "verdict": "up"}, 422, "bad_parameter"),
        "a list": ([{"query_image": 1, "verdict": "up"}], 422, "bad_parameter"),
        "null": (None, 422, "bad_parameter"),
        "an expired search": ({"query_id": "A" * 16, "verdict": "up"}, 404, "query_expired"),
        "an unknown result": ({"query_id": query_id, "result_id": 10**9, "verdict": "up"}, 404,
                              "not_found"),
        "an unknown query image": ({"query_image": 10**9, "verdict": "up"}, 404, "not_found"),
    }  # fmt: skip


def test_bad_feedback_is_refused_and_stores_nothing(
    feedback_server: LiveServer, client: httpx.Client, searched: dict[str, Any]
) -> None:
    before, files = stored(feedback_server.catalog), kept(feedback_server.catalog)
    cases = bad_bodies(searched["query_id"], searched["prediction"]["class_name"])
    for name, (body, status, code) in cases.items():
        response = client.post("/api/feedback", json=body)
        assert response.status_code == status, (name, response.text)
        assert_error(response, status, code)
    for raw in (b"{not json", b"", b'{"verdict": "up", "query_image": 1'):
        response = client.post(
            "/api/feedback", content=raw, headers={"Content-Type": "application/json"}
        )
        assert_error(response, 422, "bad_parameter")
    form = client.post("/api/feedback", data={"query_image": "1", "verdict": "up"})
    assert_error(form, 422, "bad_parameter")
    assert stored(feedback_server.catalog) == before
    assert kept(feedback_server.catalog) == files


def test_a_body_over_2_kb_is_413_however_it_is_sent(
    feedback_server: LiveServer, client: httpx.Client
) -> None:
    before = stored(feedback_server.catalog)
    padded = b'{"query_image": 1, "verdict": "up"' + b" " * MAX_BODY_BYTES + b"}"
    assert_error(
        client.post("/api/feedback", content=padded, headers={"Content-Type": "application/json"}),
        413, "request_too_large",
    )  # fmt: skip

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"query_image": 1, "verdict": "up"'
        for _ in range(4):
            yield b" " * 1024
        yield b"}"

    response = client.post(
        "/api/feedback", content=chunked(), headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "request_too_large")
    just_fits = b'{"query_image": 1, "verdict": "up"}'.ljust(MAX_BODY_BYTES - 1) + b" "
    ok = client.post(
        "/api/feedback", content=just_fits, headers={"Content-Type": "application/json"}
    )
    assert ok.status_code == 201, ok.text
    assert len(stored(feedback_server.catalog)) == len(before) + 1
    assert feedback_server.alive()


def test_feedback_is_in_the_api_schema(client: httpx.Client) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/api/feedback"]["post"]
    assert {"201", "413", "422", "429"} <= set(operation["responses"])
    assert "security" not in operation  # anonymous


# -- the rate limit, in process: an injected clock instead of sleeping ----------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def app(catalog_copy: Path, model_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    monkeypatch.delenv("REVSEARCH_API_TOKEN", raising=False)
    settings = Settings.from_env(catalog=catalog_copy, model=model_path, threads=1)
    application = create_app(settings)
    yield application
    application.state.services.close()


def post(app: FastAPI, body: Any, client: str = "10.0.0.1") -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await http.post("/api/feedback", json=body)

    return asyncio.run(send())


def test_each_client_is_rate_limited_with_retry_after(app: FastAPI, catalog_copy: Path) -> None:
    clock = Clock()
    app.state.services.feedback_limiter = RateLimiter(per_minute=6, burst=2, clock=clock)
    good = {"query_image": 1, "verdict": "up"}
    assert [post(app, good).status_code for _ in range(2)] == [201, 201]

    limited = post(app, good)
    assert_error(limited, 429, "rate_limited")
    assert limited.headers["retry-after"] == "10"  # one request every 60 / 6 s
    assert_error(post(app, {"not": "even valid"}), 429, "rate_limited")  # before parsing
    assert post(app, good, client="10.0.0.2").status_code == 201  # another client

    clock.now += 9
    assert post(app, good).headers["retry-after"] == "1"
    clock.now += 1
    assert post(app, good).status_code == 201
    assert len(stored(catalog_copy)) == 4


def test_the_rate_limit_comes_from_the_settings(
    catalog_copy: Path, model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVSEARCH_FEEDBACK_BURST", "3")
    monkeypatch.setenv("REVSEARCH_FEEDBACK_PER_MINUTE", "0.5")
    application = create_app(Settings.from_env(catalog=catalog_copy, model=model_path, threads=1))
    try:
        limiter = application.state.services.feedback_limiter
        assert (limiter.burst, limiter.rate) == (3, pytest.approx(0.5 / 60))
        codes = [
            post(application, {"query_image": 2, "verdict": "down"}).status_code for _ in "1234"
        ]
        assert codes == [201, 201, 201, 429]
    finally:
        application.state.services.close()


# -- a read-only catalog, a full disk -------------------------------------------------------

feedback_read_only_server = server_fixture(
    "feedback_read_only_server", scope="module", read_only=True,
    doc="As an unprivileged user on a catalog only root may write.",
)  # fmt: skip


@pytest.mark.skipif(why_not_unprivileged() is not None, reason=str(why_not_unprivileged()))
def test_a_read_only_catalog_refuses_feedback(feedback_read_only_server: LiveServer) -> None:
    with feedback_read_only_server.client() as client:
        query_id = search(client, catalog_photo(5)[0].read_bytes(), k=1).json()["query_id"]
        for body in ({"query_id": query_id, "verdict": "up"}, {"query_image": 1, "verdict": "up"},
                     {"bad": "body"}):  # fmt: skip
            response = vote(client, **body)
            assert_error(response, 403, "writes_disabled")
            assert "read-only" in response.json()["error"]["message"]
    assert stored(feedback_read_only_server.catalog) == []
    assert not (feedback_read_only_server.catalog / FEEDBACK_DIR).exists()
    assert "Traceback" not in feedback_read_only_server.log.read_text()


@pytest.fixture
def disk_server(built_catalog: Path, model_path: Path, tmp_path: Path) -> Iterator[LiveServer]:
    with small_disk(16) as disk:
        catalog = disk / "catalog"
        shutil.copytree(built_catalog, catalog)
        with live_server(catalog, model_path, tmp_path) as live:
            yield live


def test_a_full_disk_answers_507_and_writes_nothing(disk_server: LiveServer) -> None:
    disk, catalog = disk_server.catalog.parent, disk_server.catalog
    with disk_server.client() as client:
        query_id = search(client, held_out_photo()[0].read_bytes(), k=2).json()["query_id"]
        fill(disk)
        for body in ({"query_id": query_id, "verdict": "up"}, {"query_image": 1, "verdict": "up"}):
            full = vote(client, **body)
            assert_error(full, 507, "disk_full")
        assert stored(catalog) == []
        assert kept(catalog) == []  # neither a photo nor a temporary file

        free(disk)
        for body in ({"query_id": query_id, "verdict": "up"}, {"query_image": 1, "verdict": "up"}):
            assert vote(client, **body).status_code == 201
        assert len(stored(catalog)) == 2 and len(kept(catalog)) == 1
    assert "Traceback" not in disk_server.log.read_text()
