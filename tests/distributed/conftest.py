"""Ray runs only in child processes, each inside its own loopback-only network namespace.

Ray listens on the machine's routable address even when given a loopback one, so no test
starts it in the pytest process's namespace. Each command also gets a private PID namespace:
when it ends (or is killed on timeout) the kernel ends every Ray process it started.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.ci import unavailable

RAY_TIMEOUT_S = 240  # one command; a local Ray instance starts in about 5 s here
ISOLATE = ["unshare", "--net", "--pid", "--fork", "--mount-proc", "--kill-child"]
Isolated = Callable[[str], subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session", autouse=True)
def ray_extra() -> None:
    """Without the 'ray' extra these tests skip locally and fail on CI (tests.support.ci)."""
    if all(importlib.util.find_spec(name) for name in ("ray", "pyarrow")):
        return
    unavailable("the 'ray' extra is not installed: pip install -e '.[ray]'", what="Ray tests")


@pytest.fixture(scope="session")
def ray_env(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> Iterator[dict[str, str]]:
    """Environment for isolated commands: Ray's session files and token in throw-away folders.

    RAY_TMPDIR is short on purpose: Ray's Unix socket paths must stay under 108 bytes.
    """
    ray_tmp = tempfile.mkdtemp(prefix="rs-ray-", dir="/tmp")
    home = tmp_path_factory.mktemp("home")
    yield {
        **os.environ,
        "HOME": str(home),
        "REVSEARCH_HOME": str(home / "revsearch"),
        "REVSEARCH_MODEL": str(model_path),
        "RAY_TMPDIR": ray_tmp,
        "RAY_USAGE_STATS_ENABLED": "0",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    shutil.rmtree(ray_tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def isolated(ray_env: dict[str, str]) -> Isolated:
    """Run a shell script in a fresh network + PID namespace with only loopback up."""
    probe = subprocess.run([*ISOLATE, "true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:  # never fall back to running Ray on the real network
        pytest.fail(f"cannot create a loopback-only network namespace: {probe.stderr.strip()}")

    def run(script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*ISOLATE, "sh", "-c", f"ip link set lo up && {script}"],
            capture_output=True,
            text=True,
            env=ray_env,
            timeout=RAY_TIMEOUT_S,
        )

    return run
