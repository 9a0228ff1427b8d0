"""A real S3 emulator, ``moto_server``, on a free loopback port for the store and API tests.

Locally the S3 tests skip when moto or boto3 is not installed; on CI (tests.support.ci) they
fail, so a CI machine without the ``dev`` extra cannot pass them silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from tests.support.ci import unavailable
from tests.support.processes import free_port, spawn, stop_process, wait_ready

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
# Dummy credentials (moto accepts any), and nothing read from the developer's ~/.aws or
# from the EC2 metadata service: every request of these tests stays on loopback.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
SCRUBBED_AWS_ENV = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


def s3_unavailable(reason: str) -> NoReturn:
    unavailable(reason, what="S3 tests")


@contextmanager
def aws_env() -> Iterator[None]:
    """The dummy credentials in this process's environment, restored afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        for name in SCRUBBED_AWS_ENV:
            patch.delenv(name, raising=False)
        for name, value in AWS_ENV.items():
            patch.setenv(name, value)
        yield


@dataclass
class MotoServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self) -> Any:
        """A plain boto3 client, to look at the bucket behind the store's back."""
        import boto3

        return boto3.session.Session().client(
            "s3", endpoint_url=self.url, region_name=AWS_ENV["AWS_DEFAULT_REGION"]
        )

    def new_bucket(self) -> str:
        name = f"test-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        stop_process(self.process, STOP_TIMEOUT_S)


def require_boto3() -> None:
    try:
        import boto3  # noqa: F401
    except ImportError:
        s3_unavailable("boto3 is not installed: pip install -e '.[dev]'")


def moto_executable() -> str:
    require_boto3()
    beside_python = Path(sys.executable).with_name("moto_server")
    found = str(beside_python) if beside_python.is_file() else shutil.which("moto_server")
    if not found:
        s3_unavailable("moto_server is not installed: pip install 'moto[server]'")
    return found


@contextmanager
def moto_server(log_dir: Path) -> Iterator[MotoServer]:
    """``moto_server -H 127.0.0.1 -p PORT``, waited for (bounded), stopped at the end."""
    executable = moto_executable()
    port = free_port()
    log = log_dir / f"moto-{port}.log"
    environment = {k: v for k, v in os.environ.items() if k not in SCRUBBED_AWS_ENV}
    environment.update(AWS_ENV)
    process = spawn([executable, "-H", "127.0.0.1", "-p", str(port)], log, environment)
    server = MotoServer(f"http://127.0.0.1:{port}", process, log)
    try:
        with httpx.Client(base_url=server.url, timeout=2.0) as probe:

            def ready() -> bool:
                try:
                    probe.get("/moto-api/")
                    return True
                except httpx.TransportError:
                    return False

            wait_ready(process, log, ready, what="moto_server", timeout=STARTUP_TIMEOUT_S)
        yield server
    finally:
        server.stop()
