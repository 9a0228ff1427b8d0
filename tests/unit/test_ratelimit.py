"""The feedback rate limit: a burst, then a steady rate, per client, in bounded memory."""

from __future__ import annotations

import pytest

from revsearch.api.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_request_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=30, burst=3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(2.0)  # one token every 60 / 30 s
    clock.now += 1.5
    assert limiter.acquire("a") == pytest.approx(0.5)  # a refusal takes nothing
    clock.now += 0.5
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == pytest.approx(2.0)


def test_a_quiet_client_gets_its_burst_back_but_no_more() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=2, clock=clock)
    assert limiter.acquire("a") == limiter.acquire("a") == 0.0
    clock.now += 3600
    assert limiter.acquire("a") == limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == pytest.approx(1.0)


def test_clients_are_limited_separately() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=1, burst=1, clock=clock)
    assert limiter.acquire("10.0.0.1") == 0.0
    assert limiter.acquire("10.0.0.1") == pytest.approx(60.0)
    assert limiter.acquire("10.0.0.2") == 0.0


def test_the_client_table_is_bounded_least_recently_seen_first_out() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=1, burst=1, max_clients=3, clock=clock)
    for client in ("a", "b", "c"):
        assert limiter.acquire(client) == 0.0
    assert limiter.acquire("a") > 0  # "a" is now the most recently seen
    assert limiter.acquire("d") == 0.0
    assert len(limiter) == 3
    assert limiter.acquire("a") > 0 and limiter.acquire("c") > 0  # still tracked
    assert limiter.acquire("b") == 0.0  # dropped: starts again with a full bucket
    for n in range(1000):
        limiter.acquire(f"client-{n}")
    assert len(limiter) == 3


@pytest.mark.parametrize(
    ("per_minute", "burst", "max_clients"), [(0, 1, 1), (-1, 1, 1), (1, 0, 1), (1, 1, 0)]
)
def test_a_limit_must_let_something_through(
    per_minute: float, burst: int, max_clients: int
) -> None:
    with pytest.raises(ValueError):
        RateLimiter(per_minute, burst, max_clients=max_clients)
