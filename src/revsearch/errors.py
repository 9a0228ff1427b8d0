"""One exception hierarchy, so the CLI and the HTTP API can map failures without guessing.

Every error carries a stable ``code`` (for JSON answers) and the HTTP status it means.
The CLI prints ``str(error)`` on one line and exits non-zero.
"""

from __future__ import annotations


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


class MissingExtraError(RevSearchError):
    """An optional dependency group is not installed."""

    code = "missing_extra"
    http_status = 501

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(
            f"this needs the optional '{extra}' dependencies ({module} is not installed): "
            f"pip install 'revsearch[{extra}]'"
        )
