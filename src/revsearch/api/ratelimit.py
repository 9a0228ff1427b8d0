"""Per-client token buckets for the anonymous write (feedback): a steady rate plus a burst.

Each client (by IP address) may send ``burst`` requests at once, then one more each
``60 / per_minute`` seconds. Memory is bounded: at most ``max_clients`` buckets are kept,
the least recently seen dropped first; a dropped client starts again with a full bucket,
which is what it would have had after a pause anyway. Buckets live in one server process:
with several workers a client gets this rate from each.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_CLIENTS = 10_000  # ~1 MB of buckets at most


class RateLimiter:
    """Thread-safe; ``clock`` (seconds, monotonic) is injectable so tests need not sleep."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0 or burst < 1 or max_clients < 1:
            raise ValueError("a rate limit needs a positive rate, burst and client table")
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = burst
        self.max_clients = max_clients
        self._clock = clock
        # client -> (tokens left, when they were counted), least recently seen first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, client: str) -> float:
        """Take one request's token: 0.0 when the client may go on, else the seconds until
        it may (nothing is taken then, so waiting that long is enough)."""
        with self._lock:
            now = self._clock()
            tokens, then = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + max(0.0, now - then) * self.rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self.rate
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)
