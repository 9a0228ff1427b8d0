"""Where image files live: the catalog stores a ``source`` per image and a store reads it.

``open_store`` (in :mod:`revsearch.stores.factory`) picks the stores from the settings;
:mod:`revsearch.stores.s3` imports boto3 only when an S3 store is built.
"""

from revsearch.stores.base import ImageStore, StoredStream
from revsearch.stores.factory import RoutingStore, open_store
from revsearch.stores.local import LocalStore
from revsearch.stores.s3 import S3Store
from revsearch.stores.thumbnails import ThumbnailCache

__all__ = [
    "ImageStore",
    "LocalStore",
    "RoutingStore",
    "S3Store",
    "StoredStream",
    "ThumbnailCache",
    "open_store",
]
