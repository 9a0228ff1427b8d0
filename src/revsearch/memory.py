"""Bounded decoding memory: a budget on what images being decoded may use at once, and
giving the memory back afterwards.

A small file can announce a large image (a 143 KB PNG of 7000 x 7000 decodes to ~200 MB),
so concurrent requests, not file sizes, decide the peak. Every decode first reserves its
cost here, width x height x the bytes per pixel its decoder needs at its peak (measured:
4 for an RGB PNG, 16 for WebP, ~11 for AVIF/HEIF), and waits, first come first served,
while the budget is spent; an image costlier than the whole budget still runs, alone. After
a large image, freed memory is handed back to the operating system (glibc keeps it
otherwise, and the resident size stays at the peak).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

DEFAULT_DECODE_MEMORY = 512 * 1024 * 1024
# Decodes at least this costly give their memory back when they are done.
TRIM_BYTES = 16 * 1024 * 1024


class MemoryBudget:
    """A counting semaphore weighted by bytes, fair to large images."""

    def __init__(self, capacity: int = DEFAULT_DECODE_MEMORY) -> None:
        self.capacity = capacity
        self.in_use = 0
        self._condition = threading.Condition()
        self._waiting: deque[object] = deque()  # arrival order: no one overtakes the head

    def resize(self, capacity: int) -> None:
        with self._condition:
            self.capacity = capacity
            self._condition.notify_all()

    @contextmanager
    def reserve(self, cost: int) -> Iterator[None]:
        """Hold ``cost`` bytes of the budget for the duration of the block."""
        cost = max(0, int(cost))
        ticket = object()
        with self._condition:
            self._waiting.append(ticket)
            try:
                self._condition.wait_for(
                    lambda: (
                        self._waiting[0] is ticket
                        and (self.in_use == 0 or self.in_use + cost <= self.capacity)
                    )
                )
            finally:
                self._waiting.remove(ticket)
                self._condition.notify_all()
            self.in_use += cost
        try:
            yield
        finally:
            with self._condition:
                self.in_use -= cost
                self._condition.notify_all()
            if cost >= TRIM_BYTES:
                # Each thread frees into its own malloc arena, which the next large image
                # (decoded on another thread) does not reuse: without this, RSS grows by
                # about one decoded image per worker thread.
                release_memory()


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None


def release_memory() -> bool:
    """Return free heap pages to the OS (glibc ``malloc_trim``); False where unsupported."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


DECODE_BUDGET = MemoryBudget()
