"""The decoding memory budget: bounded, first come first served, never stuck on a big image."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from revsearch.memory import MemoryBudget, release_memory


def start(budget: MemoryBudget, cost: int, log: list[str], name: str, hold: float = 0.2):
    def run() -> None:
        with budget.reserve(cost):
            log.append(f"{name}+")
            time.sleep(hold)
            log.append(f"{name}-")

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_reservations_beyond_the_capacity_wait() -> None:
    budget = MemoryBudget(100)
    log: list[str] = []
    threads = [start(budget, 60, log, name) for name in "abc"]
    for thread in threads:
        thread.join(10)
    # 60 + 60 > 100: never two at once.
    assert log == ["a+", "a-", "b+", "b-", "c+", "c-"]
    assert budget.in_use == 0


def test_small_reservations_share_the_budget() -> None:
    budget = MemoryBudget(100)
    log: list[str] = []
    threads = [start(budget, 30, log, name, hold=0.3) for name in "abc"]
    time.sleep(0.15)
    assert sorted(log) == ["a+", "b+", "c+"]
    for thread in threads:
        thread.join(10)


def test_an_image_larger_than_the_budget_runs_alone() -> None:
    budget = MemoryBudget(100)
    log: list[str] = []
    big = start(budget, 500, log, "big")
    big.join(10)
    assert log == ["big+", "big-"]


def test_a_waiting_large_image_is_not_overtaken() -> None:
    budget = MemoryBudget(100)
    log: list[str] = []
    first = start(budget, 50, log, "a", hold=0.3)
    time.sleep(0.05)
    large = start(budget, 90, log, "large", hold=0.05)
    time.sleep(0.05)
    small = start(budget, 10, log, "small", hold=0.05)  # would fit now, but arrived later
    for thread in (first, large, small):
        thread.join(10)
    assert log.index("large+") < log.index("small+")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_memory_can_be_given_back_on_glibc() -> None:
    assert release_memory() is True
