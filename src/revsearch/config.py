"""Settings declared once: name, default, environment variable and help text.

The same table drives the CLI defaults and the README's settings list, and a test checks
that every setting is documented.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path


def data_home() -> Path:
    """Per-user data folder: ``$REVSEARCH_HOME``, else ``$XDG_DATA_HOME/revsearch``."""
    if home := os.environ.get("REVSEARCH_HOME"):
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg).expanduser() / "revsearch"


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    """Runtime settings. Build with :meth:`from_env`; override fields explicitly in tests."""

    catalog: Path = field(
        default_factory=lambda: Path(_env("REVSEARCH_CATALOG", str(data_home() / "catalog"))),
        metadata={"env": "REVSEARCH_CATALOG", "help": "catalog folder (SQLite + vector index)"},
    )
    model: Path | None = field(
        default_factory=lambda: Path(m) if (m := os.environ.get("REVSEARCH_MODEL")) else None,
        metadata={
            "env": "REVSEARCH_MODEL",
            "help": "ONNX encoder file; default: the shipped model, else the exported Lite0",
        },
    )
    threads: int = field(
        default_factory=lambda: int(_env("REVSEARCH_THREADS", "0")),
        metadata={"env": "REVSEARCH_THREADS", "help": "ONNX Runtime threads (0: all cores)"},
    )
    max_upload_bytes: int = field(
        default_factory=lambda: int(_env("REVSEARCH_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024))),
        metadata={"env": "REVSEARCH_MAX_UPLOAD_BYTES", "help": "largest accepted image file"},
    )
    max_pixels: int = field(
        default_factory=lambda: int(_env("REVSEARCH_MAX_PIXELS", str(50_000_000))),
        metadata={"env": "REVSEARCH_MAX_PIXELS", "help": "largest accepted width x height"},
    )
    exact_search_limit: int = field(
        default_factory=lambda: int(_env("REVSEARCH_EXACT_SEARCH_LIMIT", "5000")),
        metadata={
            "env": "REVSEARCH_EXACT_SEARCH_LIMIT",
            "help": "catalogs up to this size are searched exactly, larger ones with HNSW",
        },
    )
    vector_backend: str = field(
        default_factory=lambda: _env("REVSEARCH_VECTOR_BACKEND", "embedded"),
        metadata={
            "env": "REVSEARCH_VECTOR_BACKEND",
            "help": "where vectors are searched: 'embedded' (SQLite + exact/HNSW)",
        },
    )
    api_token: str | None = field(
        default_factory=lambda: os.environ.get("REVSEARCH_API_TOKEN") or None,
        metadata={
            "env": "REVSEARCH_API_TOKEN",
            "help": "bearer token for write endpoints; unset disables writes",
        },
    )

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Environment first, explicit (non-None) overrides on top."""
        base = cls()
        values = {f.name: getattr(base, f.name) for f in fields(cls)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def documented_settings() -> list[tuple[str, str, str]]:
    """(field, environment variable, help) for every setting."""
    return [(f.name, f.metadata["env"], f.metadata["help"]) for f in fields(Settings)]
