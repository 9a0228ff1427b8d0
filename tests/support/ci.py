"""Skip locally, fail on CI: a missing extra, browser or dataset must not let CI pass blind.

``CI`` set to any non-empty value other than ``0`` or ``false`` (any case) means CI, as CI
services set it (``CI=true``, some ``CI=1``); ``CI=``, ``CI=0`` and ``CI=false`` do not.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

NOT_CI = ("", "0", "false")


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in NOT_CI


def unavailable(reason: str, *, what: str) -> NoReturn:
    """Fail with ``{what} cannot run on CI: {reason}`` on CI, else skip (test or module)."""
    if on_ci():
        pytest.fail(f"{what} cannot run on CI: {reason}")
    pytest.skip(reason, allow_module_level=True)
