"""Every store test runs on each backend: the local folder and S3 (a real moto_server).

A :class:`StoreCase` bundles a store with what only its backend knows how to do: plant an
object the store did not write (an indexed file, a foreign key), look behind its back, and
name sources that do not exist.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from revsearch.stores import LocalStore, S3Store
from revsearch.stores.s3 import parse_s3_url
from tests.stores.s3server import MotoServer, aws_env, moto_server

BACKENDS = ["local", pytest.param("s3", marks=pytest.mark.slow)]  # s3: a real moto_server


@dataclass
class StoreCase(ABC):
    store: LocalStore | S3Store
    missing: list[str]  # sources that name nothing

    @abstractmethod
    def plant(self, data: bytes, name: str) -> str:
        """An object the store can read but did not write; returns its source."""
        ...

    @abstractmethod
    def exists(self, source: str) -> bool: ...

    @abstractmethod
    def listing(self) -> list[str]:
        """Names in the store's own area (to prove no temporary or extra objects)."""
        ...


@dataclass
class LocalCase(StoreCase):
    outside: Path

    def plant(self, data: bytes, name: str) -> str:
        path = self.outside / name
        path.write_bytes(data)
        return str(path)

    def exists(self, source: str) -> bool:
        return Path(source).exists()

    def listing(self) -> list[str]:
        assert isinstance(self.store, LocalStore)
        root = self.store.root
        return sorted(p.name for p in root.iterdir()) if root.exists() else []


@dataclass
class S3Case(StoreCase):
    client: Any

    def plant(self, data: bytes, name: str) -> str:
        assert isinstance(self.store, S3Store)
        key = f"dataset/{name}"
        self.client.put_object(Bucket=self.store.bucket, Key=key, Body=data)
        return self.store.url(key)

    def exists(self, source: str) -> bool:
        bucket, key = parse_s3_url(source)
        return "Contents" in self.client.list_objects_v2(Bucket=bucket, Prefix=key)

    def listing(self) -> list[str]:
        assert isinstance(self.store, S3Store)
        answer = self.client.list_objects_v2(Bucket=self.store.bucket, Prefix=self.store.key(""))
        return sorted(o["Key"].rpartition("/")[2] for o in answer.get("Contents", []))


@pytest.fixture(scope="package")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One S3 emulator for the package; each test gets a bucket of its own."""
    with aws_env(), moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


def s3_case(moto: MotoServer, prefix: str = "uploads/images") -> S3Case:
    store = S3Store(moto.new_bucket(), prefix, endpoint_url=moto.url)
    missing = [store.url(store.key("0" * 64 + ".jpg")), store.url("elsewhere/gone.png")]
    return S3Case(store, missing, moto.client())


def local_case(tmp_path: Path) -> LocalCase:
    store = LocalStore(tmp_path / "catalog" / "images")
    missing = [str(tmp_path / "gone.jpg"), "relative/car.jpg", str(tmp_path)]
    return LocalCase(store, missing, tmp_path)


@pytest.fixture(params=BACKENDS)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> StoreCase:
    if request.param == "s3":
        return s3_case(request.getfixturevalue("moto"))
    return local_case(tmp_path)
