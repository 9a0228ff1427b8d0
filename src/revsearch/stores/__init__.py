"""Where image files live: the catalog stores a ``source`` per image and a store reads it."""

from revsearch.stores.base import ImageStore, StoredStream
from revsearch.stores.local import LocalStore
from revsearch.stores.thumbnails import ThumbnailCache

__all__ = ["ImageStore", "LocalStore", "StoredStream", "ThumbnailCache"]
