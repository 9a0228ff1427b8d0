"""Images in S3-compatible object storage (AWS S3, MinIO, ...), uploads under one key prefix.

Same contract as :class:`~revsearch.stores.local.LocalStore`: puts are content-addressed
(``<prefix>/<sha256>.<ext>``; an S3 PUT is atomic, so no reader ever sees half an object),
a missing object is :class:`NotFoundError`, and only objects this store wrote (content
names directly under its prefix) are ever deleted. Any failure to reach the service becomes
:class:`BackendUnavailableError` (HTTP 503) after short timeouts and one retry, so a stopped
endpoint costs a request seconds, not minutes. Credentials and region come from the standard
AWS chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, config files).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from revsearch.errors import (
    BackendUnavailableError,
    BadParameterError,
    MissingExtraError,
    NotFoundError,
)
from revsearch.stores.base import StoredStream, content_name
from revsearch.stores.local import media_type

SCHEME = "s3://"
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 20.0
MAX_ATTEMPTS = 2  # the first try and one retry
# Enough for the API's worker threads; more would be opened and thrown away with a warning.
MAX_POOL_CONNECTIONS = 32
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
CONTENT_NAME = re.compile(r"[0-9a-f]{64}\.[a-z0-9]+")
NOT_FOUND_CODES = {"NoSuchKey", "NotFound", "404"}

log = logging.getLogger("revsearch.stores.s3")


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` -> ``("bucket", "some/key")``; BadParameterError otherwise."""
    if not url.startswith(SCHEME):
        raise BadParameterError(f"{url!r} is not an s3://bucket/key URL")
    bucket, _, key = url.removeprefix(SCHEME).partition("/")
    if not BUCKET_NAME.fullmatch(bucket):
        raise BadParameterError(f"{url!r}: {bucket!r} is not a valid S3 bucket name")
    return bucket, key


class S3Store:
    """Reads any ``s3://`` catalog source; writes and deletes only under ``bucket/prefix``."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        read_timeout: float = READ_TIMEOUT_S,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        if not BUCKET_NAME.fullmatch(bucket):
            raise BadParameterError(f"{bucket!r} is not a valid S3 bucket name")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise MissingExtraError("s3", "boto3") from exc
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            max_pool_connections=MAX_POOL_CONNECTIONS,
            # MinIO and most S3-compatible servers want bucket-in-path URLs.
            s3={"addressing_style": "path"} if endpoint_url else None,
        )
        # A session of its own: boto3's default session is shared and not thread-safe.
        session = boto3.session.Session()
        self.client: Any = session.client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config
        )

    @classmethod
    def from_url(cls, url: str, **options: Any) -> S3Store:
        """``s3://bucket/prefix`` (as in REVSEARCH_IMAGE_STORE) -> a store."""
        bucket, prefix = parse_s3_url(url)
        return cls(bucket, prefix, **options)

    def __repr__(self) -> str:
        return f"S3Store({SCHEME}{self.bucket}/{self.prefix}, endpoint={self.endpoint_url})"

    def url(self, key: str) -> str:
        return f"{SCHEME}{self.bucket}/{key}"

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def list_images(self, suffixes: Iterable[str]) -> list[str]:
        """``s3://`` URLs of the objects under the prefix whose name ends with a suffix."""
        wanted = tuple(s.lower() for s in suffixes)
        prefix = f"{self.prefix}/" if self.prefix else ""
        urls = []
        with self._errors("listing images"):
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            ):
                urls += [
                    self.url(item["Key"])
                    for item in page.get("Contents", [])
                    if item["Key"].lower().endswith(wanted)
                ]
        return sorted(urls)

    def get(self, source: str) -> bytes:
        bucket, key = self._locate(source)
        with self._errors("reading an image"):
            answer = self.client.get_object(Bucket=bucket, Key=key)
            with answer["Body"] as body:
                return body.read()

    def put(self, data: bytes, suffix: str, digest: str | None = None) -> str:
        key = self.key(content_name(data, suffix, digest))
        with self._errors("storing an image"):
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=media_type(Path(key)),
            )
        return self.url(key)

    def owns(self, source: str) -> bool:
        """Only content names directly under the prefix: never a key someone else wrote."""
        try:
            bucket, key = parse_s3_url(source)
        except BadParameterError:
            return False
        parent, _, name = key.rpartition("/")
        return (
            bucket == self.bucket and parent == self.prefix and bool(CONTENT_NAME.fullmatch(name))
        )

    def delete(self, source: str) -> bool:
        if not self.owns(source):
            return False
        _, key = parse_s3_url(source)
        with self._errors("deleting an image"):
            if not self._exists(key):
                return False
            self.client.delete_object(Bucket=self.bucket, Key=key)
        return True

    def open_stream(self, source: str, chunk_size: int = 64 * 1024) -> StoredStream:
        bucket, key = self._locate(source)
        with self._errors("opening an image"):
            answer = self.client.get_object(Bucket=bucket, Key=key)
        body = answer["Body"]
        return StoredStream(
            int(answer["ContentLength"]),
            media_type(Path(key)),
            self._chunks(body, chunk_size),
            body.close,
        )

    def _chunks(self, body: Any, chunk_size: int) -> Iterator[bytes]:
        """The body as it arrives, closed at the end or when the client goes away."""
        try:
            with self._errors("streaming an image"):
                yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def _exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_not_found(exc):
                return False
            raise
        return True

    def _locate(self, source: str) -> tuple[str, str]:
        try:
            return parse_s3_url(source)
        except BadParameterError:
            raise NotFoundError(f"image {source!r} is not an S3 object") from None

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """botocore's errors -> ours; details go to the log, not to API clients."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            yield
        except ClientError as exc:
            if _is_not_found(exc):
                raise NotFoundError("the image file is missing from the store") from None
            code = exc.response.get("Error", {}).get("Code", "unknown")
            log.warning("%r: %s failed: %s", self, action, exc)
            reason = f"bucket {self.bucket!r} does not exist" if code == "NoSuchBucket" else code
            raise BackendUnavailableError(
                f"the S3 image store refused {action} ({reason})"
            ) from None
        except BotoCoreError as exc:
            log.warning("%r: %s failed: %s", self, action, exc)
            reason = "no credentials configured" if isinstance(exc, NoCredentialsError) else ""
            raise BackendUnavailableError(
                f"the S3 image store is unavailable while {action}"
                f"{f' ({reason})' if reason else ''}; try again later"
            ) from None


def _is_not_found(exc: Any) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = error.get("Code", "")
    return code in NOT_FOUND_CODES or (status == 404 and code != "NoSuchBucket")
