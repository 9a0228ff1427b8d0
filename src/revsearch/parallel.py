"""An ordered, bounded parallel map: results in input order, at most 2x workers in flight."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """Like ``map`` over a thread pool, without queueing every item up front (bounded memory)."""
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="revsearch") as pool:
        window: deque[Future[R]] = deque()
        for item in items:
            window.append(pool.submit(fn, item))
            if len(window) >= 2 * max(1, workers):
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def chunked(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
