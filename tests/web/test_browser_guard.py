"""A missing browser skips the UI tests on a laptop but fails them on CI."""

from __future__ import annotations

import pytest

from tests.web.conftest import browser_unavailable


@pytest.mark.parametrize("ci", ["true", "TRUE", "1"])
def test_missing_browser_fails_on_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="cannot run on CI"):
        browser_unavailable("no chromium")


def test_missing_browser_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        browser_unavailable("no chromium")
