"""One exception hierarchy, so the CLI and the HTTP API can map failures without guessing.

Every error carries a stable ``code`` (for JSON answers) and the HTTP status it means.
The CLI prints ``str(error)`` on one line and exits non-zero. Only subclasses are raised:
:class:`RevSearchError` itself is the base the CLI and the API catch. The classes marked
(api) live in :mod:`revsearch.api.errors`, as only HTTP has them::

    RevSearchError                        500 error             (base class, never raised)
    ├── InvalidImageError                 400 invalid_image
    ├── BadRequestError             (api) 400 bad_request
    ├── UnauthorizedError           (api) 401 unauthorized
    ├── ForbiddenError              (api) 403 forbidden
    │   └── WritesDisabledError     (api) 403 writes_disabled
    ├── ReadOnlyCatalogError              403 catalog_read_only
    ├── NotFoundError                     404 not_found
    │   └── CatalogNotFoundError          404 catalog_not_found
    ├── MethodNotAllowedError       (api) 405 method_not_allowed
    ├── RequestTimeoutError         (api) 408 request_timeout
    ├── EmptyCatalogError                 409 catalog_empty
    ├── ModelMismatchError                409 model_mismatch
    ├── ImageTooLargeError                413 image_too_large
    ├── RequestTooLargeError        (api) 413 request_too_large
    ├── UnsupportedImageError             415 unsupported_media_type
    ├── RangeNotSatisfiableError    (api) 416 range_not_satisfiable
    ├── BadParameterError                 422 bad_parameter
    ├── RateLimitedError            (api) 429 rate_limited
    ├── CatalogSchemaError                500 catalog_schema
    ├── ExportError                       500 export_failed
    ├── RayError                          500 ray_failed
    ├── MissingExtraError                 501 missing_extra
    ├── ModelNotFoundError                503 model_not_found
    ├── BackendUnavailableError           503 backend_unavailable
    │   └── CatalogBusyError              503 backend_unavailable
    ├── NotReadyError               (api) 503 not_ready
    └── DiskFullError                     507 disk_full

A subclass without its own ``http_status`` (or ``code``) inherits its parent's.
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
    """Base class: an expected failure with a message meant for the user.

    ``detail`` is for the operator (a decoder's own words, say): the CLI and the server log
    show it after the message, HTTP answers leave it out.
    """

    code = "error"
    http_status = 500

    def __init__(self, message: str = "", *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message} ({self.detail})" if self.detail else self.message


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
    """No catalog at the given folder (it was never indexed, or the path is wrong)."""

    code = "catalog_not_found"


class EmptyCatalogError(RevSearchError):
    """The catalog exists but holds no image yet, so it has no model to search with.

    409 Conflict rather than 404: the catalog is there, its state forbids the request
    until some images are indexed (a 404 would claim the catalog does not exist).
    """

    code = "catalog_empty"
    http_status = 409


class CatalogSchemaError(RevSearchError):
    """The catalog's schema cannot be used here: newer than this release, too old to read
    read-only, or a migration step that would break it (rolled back)."""

    code = "catalog_schema"
    http_status = 500


class ExportError(RevSearchError):
    """Exporting the encoder to ONNX failed: weights missing or unfit, or parity lost."""

    code = "export_failed"
    http_status = 500


class RayError(RevSearchError):
    """Distributed indexing on Ray failed for a reason that is not a worker's own error."""

    code = "ray_failed"
    http_status = 500


class ModelMismatchError(RevSearchError):
    """The catalog's vectors were made by another model than the one loaded."""

    code = "model_mismatch"
    http_status = 409


class ModelNotFoundError(RevSearchError):
    """The encoder's model file is missing or unreadable: the service cannot encode."""

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


class CatalogBusyError(BackendUnavailableError):
    """Another writer held the catalog's write lock for longer than we wait for it."""
