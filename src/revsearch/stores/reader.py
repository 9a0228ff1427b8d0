"""Bytes of a catalog source, wherever it lives: a local path or ``s3://bucket/key``.

Picklable and lazy (the S3 client is made on first use), so indexing workers, including
Ray actors on other machines, can each build their own.
"""

from __future__ import annotations

from typing import Any

from revsearch.config import DEFAULT_MAX_BYTES
from revsearch.errors import ImageTooLargeError
from revsearch.preprocess import read_bytes

S3_SCHEME = "s3://"


class SourceReader:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, s3_endpoint_url: str | None = None):
        self.max_bytes = max_bytes
        self.s3_endpoint_url = s3_endpoint_url
        self._s3: Any = None

    def __call__(self, source: str) -> bytes:
        if not source.startswith(S3_SCHEME):
            return read_bytes(source, self.max_bytes)
        if self._s3 is None:
            from revsearch.stores.s3 import S3Store

            bucket = source.removeprefix(S3_SCHEME).partition("/")[0]
            self._s3 = S3Store.from_url(f"{S3_SCHEME}{bucket}", endpoint_url=self.s3_endpoint_url)
        data = self._s3.get(source)  # reads any s3:// source, whatever its bucket
        if len(data) > self.max_bytes:
            raise ImageTooLargeError(f"{source}: {len(data):,} bytes is over the limit")
        return data

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_s3": None}  # clients are not shipped to workers
