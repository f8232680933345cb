"""The storage error vocabulary (what ``s3gw.core`` sees).

Node errors (``nodes.errors``) never leave ``s3gw.storage``: per shard they are
absorbed by the quorum logic, and only the verdict for the object comes out.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of every storage error."""


class InsufficientWriteQuorum(StorageError):
    """Fewer than the write quorum of shards became durable. Nothing of the
    write is left behind. ``errors`` maps shard index -> reason."""

    def __init__(self, message: str, errors: dict[int, str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


class StorageFull(InsufficientWriteQuorum):
    """Write quorum lost because drives are full (MinIO answers
    ``XMinioStorageFull`` / 507 for this; AWS has no equivalent)."""


class InsufficientReadQuorum(StorageError):
    """Fewer than k good fragments exist for some stripe: the object (or that
    range of it) cannot be read. Never returned as wrong data."""
