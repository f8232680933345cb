"""S3 semantics. The API layer imports what it needs from here, never from below."""

from ..meta.base import CommitUnknown, MetaUnavailable
from ..meta.model import NULL_VERSION, BucketRecord, ListPage, VersionRecord
from . import lock, tagging

__all__ = [
    "NULL_VERSION",
    "BucketRecord",
    "CommitUnknown",
    "ListPage",
    "MetaUnavailable",
    "VersionRecord",
    "lock",
    "tagging",
]
