"""The Stanford Cars data beside the repository (``../shared/data/stanford-cars``).

Only the tests that read it need it: the fixtures and helpers that read it call
:func:`require_dataset`, which skips them locally and fails them on CI when it is missing.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.ci import unavailable

DATASET = Path(__file__).resolve().parents[3] / "shared" / "data" / "stanford-cars"
MANIFEST = DATASET / "manifest.csv"


def require_dataset() -> Path:
    """The dataset folder; skips (locally) or fails (on CI) when its manifest is missing."""
    if not MANIFEST.is_file():
        unavailable(f"the Stanford Cars data is missing at {DATASET}", what="tests on ../shared")
    return DATASET
