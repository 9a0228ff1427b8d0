"""Running ``revsearch`` as a real process, as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.privileges import as_user


def revsearch(
    *args: str | Path, env: dict[str, str], user: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m revsearch ARGS``; ``user``: as that user (``setpriv``, needs root)."""
    command = [sys.executable, "-m", "revsearch", *map(str, args)]
    if user is not None:
        command = as_user(user, command)
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def stats(catalog: Path, env: dict[str, str]) -> dict:
    result = revsearch("stats", "--json", "--catalog", catalog, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
