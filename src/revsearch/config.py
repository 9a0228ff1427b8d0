"""Settings declared once: name, parser, default, environment variable and help text.

Precedence: explicit overrides (CLI options) > environment variables > the TOML config file
(``REVSEARCH_CONFIG``, else ``$REVSEARCH_HOME/config.toml`` when it exists) > defaults.
The same table drives the README's settings list, and a test checks each one is documented.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from revsearch.errors import BadParameterError
from revsearch.same_image import SAME_IMAGE_CANDIDATES

# Defaults that code outside this module also needs, declared here once.
DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_EXACT_SEARCH_LIMIT = 5000
# HNSW search breadth (usearch's expansion_search, Milvus's ef) unless configured: more recall
# than the cheapest setting that reaches Recall@10 0.95 in benchmarks/results/ann.md.
DEFAULT_SEARCH_EF = 96
DEFAULT_BODY_TIMEOUT = 60.0  # seconds an upload may take to arrive
DEFAULT_QUERY_TTL = 30 * 60.0  # seconds a search stays re-queryable after its last use
DEFAULT_QUERY_MEMORY = 64 * 1024 * 1024  # bytes all remembered searches may hold


@dataclass(frozen=True)
class DecodeLimits:
    """What an image may weigh before it is refused: file bytes and header pixels."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_bytes: int = DEFAULT_MAX_BYTES


def data_home() -> Path:
    """Per-user data folder: ``$REVSEARCH_HOME``, else ``$XDG_DATA_HOME/revsearch``."""
    if home := os.environ.get("REVSEARCH_HOME"):
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg).expanduser() / "revsearch"


def _setting(env: str, parse: Callable[[Any], Any], help: str, default: Any = None, **kw: Any):
    metadata = {"env": env, "parse": parse, "help": help}
    if callable(default):
        return field(default_factory=default, metadata=metadata, **kw)
    return field(default=default, metadata=metadata, **kw)


def _path(value: Any) -> Path:
    return Path(str(value)).expanduser()


def _positive_int(value: Any) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(number)
    return number


def _count(value: Any) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(number)
    return number


def _positive_float(value: Any) -> float:
    number = float(value)
    if not number > 0 or number == float("inf"):
        raise ValueError(number)
    return number


def _flag(value: Any) -> bool:
    text = str(value).strip().lower()
    if text not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise ValueError(value)
    return text in ("1", "true", "yes", "on")


def _optional_str(value: Any) -> str | None:
    return str(value) or None


@dataclass(frozen=True)
class Settings:
    """Runtime settings; build with :meth:`from_env`."""

    catalog: Path = _setting(
        "REVSEARCH_CATALOG", _path, "catalog folder (SQLite + vector index)",
        lambda: data_home() / "catalog",
    )  # fmt: skip
    model: Path | None = _setting(
        "REVSEARCH_MODEL", _path, "ONNX encoder file; default: the shipped model, else Lite0"
    )
    threads: int = _setting("REVSEARCH_THREADS", int, "ONNX Runtime threads (0: all cores)", 0)
    locate: bool = _setting(
        "REVSEARCH_LOCATE", _flag,
        "find the car in a photo and search it, not the whole frame (models with a localiser)",
        True,
    )  # fmt: skip
    max_upload_bytes: int = _setting(
        "REVSEARCH_MAX_UPLOAD_BYTES", int, "largest accepted image file", DEFAULT_MAX_BYTES
    )
    max_pixels: int = _setting(
        "REVSEARCH_MAX_PIXELS", int, "largest accepted width x height", DEFAULT_MAX_PIXELS
    )
    decode_memory: int = _setting(
        "REVSEARCH_DECODE_MEMORY", _positive_int,
        "bytes that images being decoded may use at once per process (others wait their turn)",
        512 * 1024 * 1024,
    )  # fmt: skip
    same_image_candidates: int = _setting(
        "REVSEARCH_SAME_IMAGE_CANDIDATES", _count,
        "best results checked for being the query's own photo; 0: off",
        SAME_IMAGE_CANDIDATES,
    )  # fmt: skip
    exact_search_limit: int = _setting(
        "REVSEARCH_EXACT_SEARCH_LIMIT", int,
        "catalogs up to this size are searched exactly, larger ones with HNSW",
        DEFAULT_EXACT_SEARCH_LIMIT,
    )  # fmt: skip
    search_ef: int = _setting(
        "REVSEARCH_SEARCH_EF", _positive_int,
        "HNSW search breadth (embedded and Milvus): higher finds more true neighbours, slower",
        DEFAULT_SEARCH_EF,
    )  # fmt: skip
    vector_backend: str = _setting(
        "REVSEARCH_VECTOR_BACKEND", str,
        "where vectors are searched: 'embedded' or a server URL", "embedded",
    )  # fmt: skip
    image_store: str = _setting(
        "REVSEARCH_IMAGE_STORE", str,
        "where uploaded images are kept: 'local' (catalog folder) or s3://bucket/prefix", "local",
    )  # fmt: skip
    s3_endpoint_url: str | None = _setting(
        "REVSEARCH_S3_ENDPOINT_URL", _optional_str, "S3-compatible endpoint (MinIO, ...)"
    )
    api_token: str | None = _setting(
        "REVSEARCH_API_TOKEN", _optional_str, "bearer token for write endpoints; unset: no writes"
    )
    header_timeout: float = _setting(
        "REVSEARCH_HEADER_TIMEOUT", _positive_float,
        "seconds a client has to send a request's line and headers", 10.0,
    )  # fmt: skip
    body_timeout: float = _setting(
        "REVSEARCH_BODY_TIMEOUT", _positive_float,
        "seconds a client has to send a request's whole body (an upload)",
        DEFAULT_BODY_TIMEOUT,
    )  # fmt: skip
    keep_alive_timeout: int = _setting(
        "REVSEARCH_KEEP_ALIVE_TIMEOUT", _positive_int,
        "seconds an idle keep-alive connection stays open", 5,
    )  # fmt: skip
    query_ttl: float = _setting(
        "REVSEARCH_QUERY_TTL", _positive_float,
        "seconds an uploaded search stays re-queryable by its query_id after its last use",
        DEFAULT_QUERY_TTL,
    )  # fmt: skip
    query_memory: int = _setting(
        "REVSEARCH_QUERY_MEMORY", _positive_int,
        "bytes the remembered searches (their photos and vectors) may hold per server process",
        DEFAULT_QUERY_MEMORY,
    )  # fmt: skip
    feedback_per_minute: float = _setting(
        "REVSEARCH_FEEDBACK_PER_MINUTE", _positive_float,
        "feedback (POST /api/feedback) one client IP may send per minute, per server process",
        30.0,
    )  # fmt: skip
    feedback_burst: int = _setting(
        "REVSEARCH_FEEDBACK_BURST", _positive_int,
        "feedback one client IP may send at once before its per-minute rate applies", 10,
    )  # fmt: skip
    max_connections: int = _setting(
        "REVSEARCH_MAX_CONNECTIONS", _positive_int,
        "concurrent connections per server process; beyond: 503", 100,
    )  # fmt: skip

    @property
    def decode_limits(self) -> DecodeLimits:
        return DecodeLimits(self.max_pixels, self.max_upload_bytes)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Defaults < config file < environment < non-None ``overrides``."""
        from_file = read_config_file()
        unknown = set(from_file) - {f.name for f in fields(cls)}
        if unknown:
            raise BadParameterError(
                f"unknown setting(s) in config file: {', '.join(sorted(unknown))}"
            )
        values: dict[str, Any] = {}
        for f in fields(cls):
            env = f.metadata["env"]
            if overrides.get(f.name) is not None:
                values[f.name] = overrides[f.name]
                continue
            if env in os.environ:
                raw, origin = os.environ[env], env
            elif f.name in from_file:
                raw, origin = from_file[f.name], f"config file '{f.name}'"
            else:
                continue
            try:
                values[f.name] = f.metadata["parse"](raw)
            except (TypeError, ValueError):
                raise BadParameterError(f"{origin}: bad value {raw!r}") from None
        return cls(**values)


def config_file() -> Path:
    explicit = os.environ.get("REVSEARCH_CONFIG")
    return Path(explicit).expanduser() if explicit else data_home() / "config.toml"


def read_config_file() -> dict[str, Any]:
    """The ``[revsearch]`` table (or top level) of the config file; {} when there is none."""
    path = config_file()
    if not path.is_file():
        if os.environ.get("REVSEARCH_CONFIG"):
            raise BadParameterError(f"REVSEARCH_CONFIG: no such file {path}")
        return {}
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadParameterError(f"{path}: cannot read config ({exc})") from None
    return dict(document.get("revsearch", document))


def documented_settings() -> list[tuple[str, str, str]]:
    """(field, environment variable, help) for every setting."""
    return [(f.name, f.metadata["env"], f.metadata["help"]) for f in fields(Settings)]
