"""revsearch.parallel: ``ordered_map`` keeps input order, runs on ``workers`` threads, reads
its input lazily with at most 2 x workers items in flight, and passes errors on in order."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from revsearch.parallel import chunked, ordered_map


def test_results_come_in_input_order_whatever_finishes_first() -> None:
    def slow_for_small(n: int) -> int:
        time.sleep(0.002 * (10 - n % 10))  # the early items finish last
        return n * n

    assert list(ordered_map(slow_for_small, range(40), workers=4)) == [n * n for n in range(40)]


@pytest.mark.parametrize("workers", [1, 3])
def test_at_most_workers_calls_run_at_once(workers: int) -> None:
    lock = threading.Lock()
    running = peak = 0

    def work(n: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.005)
        with lock:
            running -= 1
        return n

    assert list(ordered_map(work, range(30), workers=workers)) == list(range(30))
    assert 1 <= peak <= workers


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_the_input_is_read_lazily_with_a_bounded_window(workers: int) -> None:
    """Never more than 2 x workers items taken from the input ahead of what was yielded."""
    taken = 0

    def source() -> Iterator[int]:
        nonlocal taken
        for n in range(100):
            taken += 1
            yield n

    results = ordered_map(lambda n: n, source(), workers=workers)
    assert taken == 0  # a generator: nothing is read before the first result is asked for
    for done, value in enumerate(results, start=1):
        assert value == done - 1
        assert taken <= done + 2 * workers - 1
    assert taken == 100


def test_zero_or_negative_workers_mean_one() -> None:
    for workers in (0, -2):
        assert list(ordered_map(str, [3, 1, 2], workers=workers)) == ["3", "1", "2"]


def test_empty_input() -> None:
    assert list(ordered_map(str, [], workers=4)) == []


def test_an_error_surfaces_at_its_place_in_the_order() -> None:
    def fail_on_five(n: int) -> int:
        if n == 5:
            raise ValueError("five")
        return n

    results = ordered_map(fail_on_five, range(20), workers=3)
    assert [next(results) for _ in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="five"):
        next(results)


def test_stopping_early_leaves_no_thread_behind() -> None:
    before = {t for t in threading.enumerate() if t.name.startswith("revsearch")}
    results = ordered_map(lambda n: n, range(1000), workers=2)
    assert next(results) == 0
    results.close()  # the pool is shut down when the generator is closed
    left = {t for t in threading.enumerate() if t.name.startswith("revsearch")} - before
    assert not any(t.is_alive() for t in left)


def test_chunked() -> None:
    assert chunked(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert chunked([], 3) == []
    assert chunked([1, 2], 5) == [[1, 2]]
