"""Where a Milvus collection is: ``milvus://[TOKEN@]HOST[:PORT][/COLLECTION][?timeout=SECONDS]``.

``milvus+https://`` for TLS. TOKEN is Milvus's ``user:password`` or API key (URL-quoted).
Pure parsing: nothing here needs the ``milvus`` extra.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from revsearch.errors import BadParameterError

DEFAULT_PORT = 19530
DEFAULT_COLLECTION = "revsearch"
DEFAULT_TIMEOUT_S = 10.0
SCHEMES = ("milvus", "milvus+http", "milvus+https")


@dataclass(frozen=True)
class MilvusAddress:
    uri: str
    collection: str
    token: str = ""
    timeout: float = DEFAULT_TIMEOUT_S

    @property
    def display(self) -> str:
        """Where, without the token: safe for messages and stats."""
        return f"{self.uri}/{self.collection}"


def parse_url(url: str) -> MilvusAddress:
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise BadParameterError(f"bad Milvus URL {url!r}: expected milvus://HOST:PORT/COLLECTION")
    try:
        port = parts.port or DEFAULT_PORT
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        timeout = float(query.pop("timeout", DEFAULT_TIMEOUT_S))
    except ValueError as exc:
        raise BadParameterError(f"bad Milvus URL {url!r}: {exc}") from None
    if query or timeout <= 0:
        raise BadParameterError(f"bad Milvus URL {url!r}: only ?timeout=SECONDS (> 0) is known")
    collection = parts.path.strip("/") or DEFAULT_COLLECTION
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,254}", collection):
        raise BadParameterError(f"bad Milvus collection name {collection!r}")
    token = unquote(parts.netloc.rpartition("@")[0]) if "@" in parts.netloc else ""
    scheme = "https" if parts.scheme == "milvus+https" else "http"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return MilvusAddress(f"{scheme}://{host}:{port}", collection, token, timeout)
