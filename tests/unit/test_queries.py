"""The remembered searches: expiry, the byte budget, least recently used first out."""

from __future__ import annotations

import numpy as np
import pytest

from revsearch.api.queries import REGIONS_PER_QUERY, QueryCache, QueryExpiredError
from revsearch.search import SearchResponse


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def answered(box: tuple[int, int, int, int] | None = None) -> SearchResponse:
    response = SearchResponse([], None, query_box=box or (0, 0, 10, 10), photo_size=(10, 10))
    response.vector = np.ones(4, dtype=np.float32)
    return response


def test_a_search_is_kept_until_it_has_been_idle_for_the_ttl() -> None:
    clock = Clock()
    cache = QueryCache(ttl=60, clock=clock)
    query_id = cache.remember(b"photo", None, answered())
    assert len(query_id) == 16 and cache.get(query_id).photo == b"photo"
    clock.now = 50
    cache.get(query_id)  # used again: its time-to-live starts over
    clock.now = 100
    assert cache.get(query_id).regions[None].query_box == (0, 0, 10, 10)
    clock.now = 161
    with pytest.raises(QueryExpiredError, match="expired"):
        cache.get(query_id)
    assert len(cache) == 0 and cache.bytes == 0


def test_ids_are_not_guessable_or_reused() -> None:
    cache = QueryCache()
    ids = {cache.remember(b"x", None, answered()) for _ in range(50)}
    assert len(ids) == 50
    with pytest.raises(QueryExpiredError):
        cache.get("A" * 16)


def test_the_byte_budget_evicts_the_least_recently_used() -> None:
    cache = QueryCache(max_bytes=3000)
    first = cache.remember(b"a" * 1000, None, answered())
    second = cache.remember(b"b" * 1000, None, answered())
    cache.get(first)  # now the second is the least recently used
    third = cache.remember(b"c" * 1000, None, answered())
    assert cache.bytes <= 3000
    with pytest.raises(QueryExpiredError):
        cache.get(second)
    assert cache.get(first).photo[:1] == b"a" and cache.get(third).photo[:1] == b"c"


def test_a_photo_over_the_whole_budget_is_not_kept() -> None:
    cache = QueryCache(max_bytes=100)
    query_id = cache.remember(b"x" * 200, None, answered())
    with pytest.raises(QueryExpiredError):
        cache.get(query_id)
    assert cache.bytes == 0


def test_regions_of_one_photo_are_bounded_and_counted() -> None:
    cache = QueryCache()
    query_id = cache.remember(b"photo", None, answered())
    for i in range(REGIONS_PER_QUERY + 3):
        box = (0, 0, 5 + i, 5 + i)
        cache.add_region(query_id, box, answered(box))
    regions = cache.get(query_id).regions
    assert len(regions) == REGIONS_PER_QUERY and None in regions  # the server's own stays
    assert (0, 0, 5, 5) not in regions and (
        0,
        0,
        7 + REGIONS_PER_QUERY,
        7 + REGIONS_PER_QUERY,
    ) in regions
    assert cache.bytes == cache.get(query_id).weight
