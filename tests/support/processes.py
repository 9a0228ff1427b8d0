"""Server processes for the tests: a free loopback port, start with a log, wait, stop.

Every real server the suites start (uvicorn, moto_server, milvus-lite) goes through these:
bounded waits, the log in the error when it does not come up, and a stop that kills what
does not exit in time.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

STOP_TIMEOUT_S = 10.0
LOG_TAIL = 3000  # characters of a server's log shown when it fails to start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn(
    command: Sequence[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    *,
    append: bool = False,
) -> subprocess.Popen[bytes]:
    """Start ``command`` with stdout and stderr going to ``log``."""
    with open(log, "ab" if append else "wb") as output:
        environment = None if env is None else dict(env)
        return subprocess.Popen(
            list(command), stdout=output, stderr=subprocess.STDOUT, env=environment
        )


def wait_ready(
    process: subprocess.Popen[bytes],
    log: Path,
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    interval: float = 0.1,
) -> None:
    """Poll ``ready`` until it answers True; raise with the log if the process exits first
    or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited at startup:\n{log.read_text()[-LOG_TAIL:]}")
        if ready():
            return
        time.sleep(interval)
    raise RuntimeError(f"{what} not ready after {timeout}s:\n{log.read_text()[-LOG_TAIL:]}")


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_S) -> None:
    """Terminate a test server, killing it if it does not exit in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
