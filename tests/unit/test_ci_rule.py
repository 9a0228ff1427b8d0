"""The one "skip locally, fail on CI" rule (tests.support.ci) that every optional tier uses."""

from __future__ import annotations

import pytest

from tests.support.ci import on_ci, unavailable


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes", "github-actions"])
def test_ci_set_to_anything_else_means_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert on_ci()
    with pytest.raises(pytest.fail.Exception, match="Milvus tests cannot run on CI: no server"):
        unavailable("no server", what="Milvus tests")


@pytest.mark.parametrize("value", [None, "", "0", "false", "False", " false "])
def test_ci_unset_empty_0_or_false_means_local(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert not on_ci()
    with pytest.raises(pytest.skip.Exception, match="no server"):
        unavailable("no server", what="Milvus tests")
