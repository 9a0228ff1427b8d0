"""Uploaded searches the server remembers for a while, under an unguessable ``query_id``.

The page uploads a photo once; another k, other filters, another region or a shared
``/?q=<query_id>`` address re-query by id, without sending the photo again. The photo's bytes
are kept too (the page shrinks photos before upload, so they are small): a new region needs
them, and feedback on a search keeps the photo it was about (:mod:`revsearch.api.feedback`).

Memory is bounded by bytes and entries expire: the least recently used go first.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from revsearch.config import DEFAULT_QUERY_MEMORY, DEFAULT_QUERY_TTL
from revsearch.errors import NotFoundError
from revsearch.localize import Box
from revsearch.same_image import LocalFeatures
from revsearch.search import CarBox, SearchResponse

QUERY_ID_BYTES = 12  # 16 URL-safe characters: not guessable, so a shared link is the key
QUERY_ID_PATTERN = r"^[A-Za-z0-9_-]{16}$"
REGIONS_PER_QUERY = 8  # regions of one photo remembered (each drawn box is one)


class QueryExpiredError(NotFoundError):
    """The ``query_id`` is unknown: never issued, or forgotten (expired or evicted)."""

    code = "query_expired"


@dataclass(frozen=True)
class Region:
    """One searched region of a remembered photo: what the model made of it."""

    vector: np.ndarray
    features: LocalFeatures | None
    query_box: Box | None


@dataclass
class RememberedQuery:
    query_id: str
    photo: bytes
    photo_size: tuple[int, int]
    cars: list[CarBox]
    # Keyed by the box asked for (None: the region the server chose itself).
    regions: dict[Box | None, Region] = field(default_factory=dict)

    @property
    def weight(self) -> int:
        """Bytes this entry keeps alive (the photo dominates; vectors and features count)."""
        extra = 0
        for region in self.regions.values():
            extra += region.vector.nbytes
            if region.features is not None and region.features.descriptors is not None:
                extra += region.features.descriptors.nbytes + region.features.points.nbytes
        return len(self.photo) + extra


class QueryCache:
    """Thread-safe LRU of remembered searches with a time-to-live and a byte budget."""

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_QUERY_TTL,
        max_bytes: int = DEFAULT_QUERY_MEMORY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, RememberedQuery]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def remember(self, photo: bytes, box: Box | None, response: SearchResponse) -> str:
        """Keep a fresh search; returns its new id. A photo over the whole budget is not
        kept (the id then answers 404 like an expired one)."""
        query_id = secrets.token_urlsafe(QUERY_ID_BYTES)
        entry = RememberedQuery(query_id, photo, response.photo_size, response.cars)
        entry.regions[box] = _region(response)
        with self._lock:
            self._put(entry)
        return query_id

    def add_region(self, query_id: str, box: Box | None, response: SearchResponse) -> None:
        """Another region of a remembered photo was searched: keep what it gave."""
        with self._lock:
            found = self._entries.get(query_id)
            if found is None:
                return
            self._drop(query_id)
            entry = found[1]
            entry.regions[box] = _region(response)
            while len(entry.regions) > REGIONS_PER_QUERY:  # the oldest drawn box goes
                del entry.regions[next(key for key in entry.regions if key is not None)]
            self._put(entry)

    def get(self, query_id: str) -> RememberedQuery:
        """The remembered search (its time-to-live starts again); QueryExpiredError if none."""
        with self._lock:
            self._expire()
            found = self._entries.get(query_id)
            if found is None:
                raise QueryExpiredError(
                    "this search has expired: search with the photo again "
                    f"(searches are kept {round(self.ttl / 60)} minutes)"
                )
            self._entries[query_id] = (self._clock(), found[1])
            self._entries.move_to_end(query_id)
            return found[1]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def bytes(self) -> int:
        with self._lock:
            return self._bytes

    def _put(self, entry: RememberedQuery) -> None:
        if entry.weight > self.max_bytes:
            return
        self._entries[entry.query_id] = (self._clock(), entry)
        self._bytes += entry.weight
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, query_id: str) -> None:
        _, entry = self._entries.pop(query_id)
        self._bytes -= entry.weight

    def _expire(self) -> None:
        limit = self._clock() - self.ttl
        while self._entries:
            oldest = next(iter(self._entries))
            if self._entries[oldest][0] >= limit:
                break
            self._drop(oldest)


def _region(response: SearchResponse) -> Region:
    assert response.vector is not None
    return Region(response.vector, response.features, response.query_box)
