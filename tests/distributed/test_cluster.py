"""Choosing the Ray instance: explicit address, then RAY_ADDRESS, else a local one."""

from __future__ import annotations

import pytest

from revsearch.distributed.cluster import LOCAL, resolve_address
from revsearch.errors import BadParameterError


def test_resolve_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert resolve_address(None) == LOCAL
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6379")
    assert resolve_address(None) == "10.0.0.5:6379"
    assert resolve_address("local") == LOCAL
    with pytest.raises(BadParameterError, match="Ray Client"):
        resolve_address("ray://head:10001")
