"""A real Milvus server (``milvus-lite server``) on a free loopback port, for the backend tests.

It can be stopped and started again on the same data folder and port, to test what the
catalog does while Milvus is down. Locally the Milvus tests skip when pymilvus or milvus-lite
is not installed; on CI (tests.support.ci) they fail, so CI cannot pass them silently.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from tests.support.ci import unavailable
from tests.support.processes import free_port, spawn, stop_process, wait_ready

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


def milvus_unavailable(reason: str) -> NoReturn:
    unavailable(reason, what="Milvus tests")


def milvus_command() -> list[str]:
    """The milvus-lite server launcher of this interpreter's environment."""
    try:
        import pymilvus  # noqa: F401
    except ImportError:
        milvus_unavailable("pymilvus is not installed: pip install -e '.[milvus]'")
    launcher = Path(sys.executable).parent / "milvus-lite"
    if not launcher.is_file():
        found = shutil.which("milvus-lite")
        if not found:
            milvus_unavailable("milvus-lite is not installed: pip install -e '.[milvus]'")
        launcher = Path(found)
    return [str(launcher), "server"]


class MilvusServer:
    """One ``milvus-lite server`` process; ``stop``/``start`` keep its data folder and port."""

    def __init__(self, data_dir: Path, log_dir: Path) -> None:
        self.command = milvus_command()
        self.data_dir = data_dir
        self.log = log_dir / f"milvus-{uuid.uuid4().hex[:8]}.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, collection: str | None = None, timeout: float = 5.0) -> str:
        """A backend URL for a fresh (or the given) collection on this server."""
        name = collection or f"t_{uuid.uuid4().hex[:12]}"
        return f"milvus://{self.address}/{name}?timeout={timeout}"

    def client(self) -> Any:
        """A plain pymilvus client, to look at the collections behind the backend's back."""
        from pymilvus import MilvusClient

        return MilvusClient(uri=f"http://{self.address}", timeout=STARTUP_TIMEOUT_S)

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        command = [
            *self.command, "--data-dir", str(self.data_dir),
            "--host", "127.0.0.1", "--port", str(self.port), "--max-workers", "8",
        ]  # fmt: skip
        self.process = spawn(command, self.log, append=True)
        self._wait_ready(self.process)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, STOP_TIMEOUT_S)

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        """Until the port accepts connections and a real RPC answers (bounded)."""
        from pymilvus import MilvusClient

        def ready() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                    pass
                client = MilvusClient(uri=f"http://{self.address}", timeout=2.0)
                try:
                    client.list_collections(timeout=2.0)
                    return True
                finally:
                    client.close()
            except Exception:  # not listening yet
                return False

        try:
            wait_ready(
                process, self.log, ready, what="milvus-lite", timeout=STARTUP_TIMEOUT_S,
                interval=0.2,
            )  # fmt: skip
        except RuntimeError:
            self.stop()
            raise


@contextmanager
def milvus_server(folder: Path) -> Iterator[MilvusServer]:
    """A running server with its data in ``folder``; stopped at the end, whatever happens."""
    server = MilvusServer(folder / "milvus-data", folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()
