"""A real uvicorn process serving the app on 127.0.0.1, for the API, browser and backend tests,
and :func:`server_fixture`, the one way a suite declares a server on a copy of the catalog."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
import pytest

from tests.privileges import UNPRIVILEGED, as_user, read_only_copy, remove, why_not_unprivileged
from tests.support.processes import free_port, spawn, stop_process, wait_ready

STARTUP_TIMEOUT_S = 90.0
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
    process = spawn(command, log, environment)
    try:
        with httpx.Client(base_url=url, timeout=2.0) as probe:

            def ready() -> bool:
                try:
                    return probe.get("/readyz").status_code == 200
                except httpx.TransportError:
                    return False

            wait_ready(process, log, ready, what="server", timeout=STARTUP_TIMEOUT_S)
        yield LiveServer(url, catalog, process, log)
    finally:
        stop_process(process)


def server_fixture(
    name: str,
    *,
    scope: Literal["module", "package", "session"] = "package",
    serve: bool = False,
    read_only: bool = False,
    doc: str | None = None,
    **env: str,
) -> Callable[..., Iterator[LiveServer]]:
    """A fixture serving its own copy of ``built_catalog`` with the test model and ``env``.

    ``serve``: ``revsearch serve`` rather than plain uvicorn. ``read_only``: the copy is one
    no one but root may write, served as an unprivileged user (``revsearch serve``; skips
    where users cannot be switched). Assign it to the fixture's name::

        locked_server = server_fixture("locked_server", REVSEARCH_MAX_UPLOAD_BYTES="65536")
    """

    def start(
        built_catalog: Path, model_path: Path, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[LiveServer]:
        folder = tmp_path_factory.mktemp(name)
        if not read_only:
            catalog = copy_catalog(built_catalog, folder / "catalog")
            with live_server(catalog, model_path, folder, serve=serve, **env) as live:
                yield live
            return
        if reason := why_not_unprivileged():
            pytest.skip(reason)
        home, catalog = read_only_copy(built_catalog, f"revsearch-{name}-")
        try:
            with live_server(
                catalog, model_path, folder, serve=True, user=UNPRIVILEGED,
                REVSEARCH_HOME=str(home), HOME=str(home), **env,
            ) as live:  # fmt: skip
                yield live
        finally:
            remove(catalog.parent)

    start.__name__ = start.__qualname__ = name
    start.__doc__ = doc
    return pytest.fixture(scope=scope, name=name)(start)
