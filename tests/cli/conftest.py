"""The environment every CLI test runs ``revsearch`` in: its own home, the test model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path, model_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "REVSEARCH_HOME": str(tmp_path / "home"),
        "REVSEARCH_MODEL": str(model_path),
    }
