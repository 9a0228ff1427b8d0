"""One exception hierarchy, so the CLI and the HTTP API can map failures without guessing.

Every error carries a stable ``code`` (for JSON answers) and the HTTP status it means.
The CLI prints ``str(error)`` on one line and exits non-zero.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

# errno values that mean "no room left": a full disk, or a full quota.
NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# Below this much free space, an I/O error from SQLite is taken to mean "disk full".
LOW_SPACE_BYTES = 1024 * 1024


class RevSearchError(Exception):
    """Base class: an expected failure with a message meant for the user."""

    code = "error"
    http_status = 500


class InvalidImageError(RevSearchError):
    """The bytes claim to be an image but cannot be decoded (corrupt or truncated)."""

    code = "invalid_image"
    http_status = 400


class UnsupportedImageError(RevSearchError):
    """The bytes are not an image in any format we read."""

    code = "unsupported_media_type"
    http_status = 415


class ImageTooLargeError(RevSearchError):
    """Over the byte or pixel limit (e.g. a decompression bomb)."""

    code = "image_too_large"
    http_status = 413


class BadParameterError(RevSearchError):
    """A parameter is out of range or malformed."""

    code = "bad_parameter"
    http_status = 422


class NotFoundError(RevSearchError):
    """An image id, file or catalog that does not exist."""

    code = "not_found"
    http_status = 404


class CatalogNotFoundError(NotFoundError):
    code = "catalog_not_found"


class ModelMismatchError(RevSearchError):
    """The catalog's vectors were made by another model than the one loaded."""

    code = "model_mismatch"
    http_status = 409


class ModelNotFoundError(RevSearchError):
    code = "model_not_found"
    http_status = 503


class BackendUnavailableError(RevSearchError):
    """A server the catalog depends on (vector engine, object store) cannot be reached."""

    code = "backend_unavailable"
    http_status = 503


class ReadOnlyCatalogError(RevSearchError):
    """A write to a catalog this process may only read (no write permission, read-only disk)."""

    code = "catalog_read_only"
    http_status = 403


class DiskFullError(RevSearchError):
    """The disk (or quota) holding the catalog, its index or its images is full.

    Whatever was being written is rolled back; what was committed before is intact.
    """

    code = "disk_full"
    http_status = 507


def disk_full(exc: BaseException, folder: Path | None = None) -> DiskFullError | None:
    """A :class:`DiskFullError` when ``exc`` means a full disk (SQLite's or the OS's), else None.

    SQLite reports some of it as a mere I/O error (growing its -shm file, say): with the
    database's ``folder``, an I/O error on a disk with no space left counts as full too.
    """
    if isinstance(exc, DiskFullError):
        return exc
    if isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS:
        where = f" writing {exc.filename}" if exc.filename else ""
        return DiskFullError(f"disk full{where}: {exc.strerror or exc}; free some space and retry")
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL or "database or disk is full" in str(exc):
        return DiskFullError(
            "disk full: the catalog database cannot grow (this write was rolled back, "
            "earlier ones are kept); free some space and retry"
        )
    if code is not None and code & 0xFF == sqlite3.SQLITE_IOERR and _no_space_left(folder):
        return DiskFullError(
            f"disk full: no space left for the catalog database in {folder} ({exc}); "
            "free some space and retry"
        )
    return None


def _no_space_left(folder: Path | None) -> bool:
    try:
        return folder is not None and shutil.disk_usage(folder).free < LOW_SPACE_BYTES
    except OSError:
        return False


class MissingExtraError(RevSearchError):
    """An optional dependency group is not installed."""

    code = "missing_extra"
    http_status = 501

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(
            f"this needs the optional '{extra}' dependencies ({module} is not installed): "
            f"pip install 'revsearch[{extra}]'"
        )
