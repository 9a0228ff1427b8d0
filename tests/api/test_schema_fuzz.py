"""Schema-driven fuzzing of a real ``revsearch serve`` (Schemathesis on /openapi.json).

Two servers: one with a token on a writable catalog (the fuzzer sends the token, so writes
run), and one on a read-only catalog run by an unprivileged user (writes must be refused).
Every answer must be below 500, and every 4xx must be the API's JSON error shape. Bounded:
a fixed number of examples per operation, derandomised, so a CI run is short and repeatable.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.support.live_server import TOKEN, LiveServer, server_fixture

pytestmark = pytest.mark.slow

AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Per operation, mode and server: ~900 requests in all, ~20 s; more for a long hunt.
EXAMPLES = int(os.environ.get("REVSEARCH_FUZZ_EXAMPLES", "25"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


token_server = server_fixture("token_server", scope="module", serve=True, REVSEARCH_API_TOKEN=TOKEN)
read_only_server = server_fixture(
    "read_only_server", scope="module", read_only=True, REVSEARCH_API_TOKEN=TOKEN
)


def check_answer(case: schemathesis.Case, server: LiveServer) -> None:
    """Below 500, and a 4xx is the JSON error shape (HEAD answers carry no body)."""
    response = case.call(base_url=server.url, headers=AUTH, timeout=60)
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code >= 400 and case.method.upper() != "HEAD":
        where = case.as_curl_command()
        assert response.headers.get("content-type") == ["application/json"], where
        error = response.json()["error"]
        assert error["code"] and error["message"], where


def fuzz(server: LiveServer) -> int:
    """Every operation of the server's schema, valid and invalid inputs; returns the count."""
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @FUZZ_SETTINGS
            @given(case=operation.as_strategy(generation_mode=mode))
            def one_request(case: schemathesis.Case) -> None:
                check_answer(case, server)

            try:
                one_request()
            except Unsatisfiable:  # no parameters at all: nothing can be invalid
                assert mode is GenerationMode.NEGATIVE, operation.label
    assert server.alive()
    return len(operations)


def test_fuzz_with_a_token(token_server: LiveServer) -> None:
    assert fuzz(token_server) >= 8  # search, images (GET, HEAD, DELETE, POST), stats, health


def test_fuzz_a_read_only_catalog(read_only_server: LiveServer) -> None:
    assert fuzz(read_only_server) >= 8
