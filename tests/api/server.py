"""A real uvicorn process serving the app on 127.0.0.1, for API and browser tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.privileges import as_user

STARTUP_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0
TOKEN = "test-token-0123456789"
# Settings a test server must not inherit from the developer's shell.
SCRUBBED_ENV = ("REVSEARCH_API_TOKEN", "REVSEARCH_MAX_UPLOAD_BYTES", "REVSEARCH_MAX_PIXELS")


@dataclass
class LiveServer:
    url: str
    catalog: Path
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, **options: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, **{"timeout": 30.0, **options})  # type: ignore[arg-type]

    def alive(self) -> bool:
        return self.process.poll() is None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def copy_catalog(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


@contextmanager
def live_server(
    catalog: Path,
    model: Path,
    log_dir: Path,
    *,
    serve: bool = False,
    user: str | None = None,
    **env: str,
) -> Iterator[LiveServer]:
    """Start ``python -m uvicorn`` on a free loopback port, wait for /readyz, stop it after.

    ``serve``: run ``revsearch serve`` instead (its uvicorn timeouts and limits included);
    ``user``: as that user (needs root).
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    environment.update(
        REVSEARCH_CATALOG=str(catalog), REVSEARCH_MODEL=str(model), REVSEARCH_THREADS="1", **env
    )
    if serve:
        command = [sys.executable, "-m", "revsearch", "serve", "--host", "127.0.0.1",
                   "--port", str(port)]  # fmt: skip
    else:
        command = [
            sys.executable, "-m", "uvicorn", "revsearch.api.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            "--no-access-log",
        ]  # fmt: skip
    if user is not None:
        command = as_user(user, command)
    log = log_dir / f"uvicorn-{port}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=environment
        )
    server = LiveServer(url, catalog, process, log)
    try:
        _wait_ready(server)
        yield server
    finally:
        stop_process(process)


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


def _wait_ready(server: LiveServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    with httpx.Client(base_url=server.url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not server.alive():
                raise RuntimeError(f"server exited at startup:\n{server.log.read_text()[-3000:]}")
            try:
                if client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"server not ready after {STARTUP_TIMEOUT_S}s:\n{server.log.read_text()}")
