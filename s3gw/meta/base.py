"""The MetaStore interface, and the listing algorithm every backend shares.

A backend implements a handful of primitives (one transaction each); the
listing walk on top of them is written once, here, so SQLite and PostgreSQL
give byte-identical pages.

Listing is an index range scan: each primitive call asks for the next ``limit``
rows at or after a key, and a common prefix is skipped in one seek to the
prefix's successor, so a page costs what its length costs, never what the bucket
holds.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

from .model import NULL_VERSION, BucketRecord, ListPage, VersionRecord

# check(current_latest, replaced) runs inside the write transaction and raises to abort it.
WriteCheck = Callable[[VersionRecord | None, VersionRecord | None], None]
# check(victim) runs inside the delete transaction for the version being removed.
DeleteCheck = Callable[[VersionRecord], None]


class MetaError(Exception):
    """Base of metadata-store failures that are not S3 semantics."""


class MetaUnavailable(MetaError):
    """The store cannot be reached or timed out: the request may be retried."""


class BucketExists(MetaError):
    pass


class BucketMissing(MetaError):
    pass


class BucketNotEmptyError(MetaError):
    pass


class SchemaTooNew(MetaError):
    pass


def successor(prefix: bytes) -> bytes | None:
    """Smallest byte string greater than every string that starts with ``prefix``.

    >>> successor(b"a/")
    b'a0'
    >>> successor(b"a\\xff")
    b'b'
    >>> successor(b"") is None
    True
    """
    p = prefix.rstrip(b"\xff")
    if not p:
        return None
    return p[:-1] + bytes([p[-1] + 1])


def common_prefix(key: bytes, prefix: bytes, delimiter: bytes) -> bytes | None:
    """The common prefix ``key`` rolls up into, or None.

    >>> common_prefix(b"photos/2024/a.jpg", b"photos/", b"/")
    b'photos/2024/'
    >>> common_prefix(b"photos/a.jpg", b"photos/", b"/") is None
    True
    """
    if not delimiter:
        return None
    i = key.find(delimiter, len(prefix))
    return None if i < 0 else key[: i + len(delimiter)]


class MetaStore(abc.ABC):
    """Buckets, versions and queues; one implementation per SQL backend."""

    # -- lifecycle ------------------------------------------------------------
    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise MetaUnavailable when the store cannot answer."""

    # -- buckets --------------------------------------------------------------
    @abc.abstractmethod
    async def create_bucket(self, rec: BucketRecord) -> None:
        """Raise BucketExists when the name is taken."""

    @abc.abstractmethod
    async def get_bucket(self, name: str) -> BucketRecord | None: ...

    @abc.abstractmethod
    async def list_buckets(self) -> list[BucketRecord]: ...

    @abc.abstractmethod
    async def update_bucket(self, name: str, **fields: Any) -> None:
        """Set versioning / object_lock / config; raise BucketMissing."""

    @abc.abstractmethod
    async def delete_bucket(self, name: str) -> None:
        """Raise BucketMissing or BucketNotEmptyError (any version, delete markers too)."""

    # -- versions -------------------------------------------------------------
    @abc.abstractmethod
    async def get_version(self, bucket: str, key: str, version_id: str | None = None) -> VersionRecord | None:
        """The latest version (possibly a delete marker) or the named one."""

    @abc.abstractmethod
    async def put_version(self, rec: VersionRecord, check: WriteCheck | None = None) -> VersionRecord:
        """Make ``rec`` the latest version of its key in one transaction.

        The bucket's versioning state is read inside the transaction: when it is
        not "Enabled" the version id becomes "null" and an existing null version
        is replaced. ``check`` runs before anything changes. Replaced storage is
        queued for GC in the same transaction. Returns the stored record.
        """

    @abc.abstractmethod
    async def delete_object(
        self, bucket: str, key: str, version_id: str | None, marker: VersionRecord, check: DeleteCheck | None = None
    ) -> tuple[VersionRecord | None, VersionRecord | None]:
        """DeleteObject semantics in one transaction.

        With ``version_id``: that version is removed for good (a newer-to-older
        promotion keeps exactly one latest). Without: versioning Enabled adds
        ``marker`` as a delete marker; Suspended replaces the null version with a
        null delete marker; never-versioned removes the null version.
        Returns (removed version or None, delete marker created or None).
        """

    @abc.abstractmethod
    async def update_info(self, bucket: str, key: str, version_id: str, info: dict[str, Any]) -> None:
        """Replace a version's info dict (tags, retention, legal hold)."""

    @abc.abstractmethod
    async def _scan_live(self, bucket: str, lo: bytes, inclusive: bool, hi: bytes | None, limit: int) -> list[VersionRecord]:
        """Latest, non-delete-marker versions with lo <(=) key < hi, in key order."""

    @abc.abstractmethod
    async def _scan_versions(
        self, bucket: str, lo: bytes, inclusive: bool, hi: bytes | None, limit: int, below_seq: int | None = None
    ) -> list[VersionRecord]:
        """All versions with lo <(=) key < hi, ordered key asc then newest first.

        With ``below_seq``: only versions of key == lo older than that seq.
        """

    # -- queues ---------------------------------------------------------------
    @abc.abstractmethod
    async def enqueue_gc(self, layouts: list[dict[str, Any]]) -> None: ...

    @abc.abstractmethod
    async def take_gc(self, limit: int) -> list[tuple[int, dict[str, Any]]]: ...

    @abc.abstractmethod
    async def done_gc(self, ids: list[int]) -> None: ...

    @abc.abstractmethod
    async def enqueue_heal(self, bucket: str, key: str, version_id: str, reason: str) -> None: ...

    # -- listing (shared) -----------------------------------------------------
    async def list_objects(self, bucket: str, prefix: str, delimiter: str, marker: str, max_keys: int) -> ListPage:
        """ListObjects V1/V2: keys after ``marker`` under ``prefix``, rolled up by ``delimiter``."""
        pb, db, mb = prefix.encode(), delimiter.encode(), marker.encode()
        lo, inclusive = self._start(pb, db, mb)
        hi = successor(pb) if pb else None
        entries: list[VersionRecord] = []
        prefixes: list[str] = []
        last = ""
        truncated = False
        while lo is not None and not truncated:
            need = max_keys - len(entries) - len(prefixes)
            rows = await self._scan_live(bucket, lo, inclusive, hi, need + 1)
            restarted = False
            for rec in rows:
                if len(entries) + len(prefixes) >= max_keys:
                    truncated = True
                    break
                kb = rec.key.encode()
                cp = common_prefix(kb, pb, db)
                if cp is not None:
                    prefixes.append(cp.decode())
                    last = prefixes[-1]
                    lo, inclusive, restarted = successor(cp), True, True
                    break
                entries.append(rec)
                last = rec.key
                lo, inclusive = kb, False
            if not restarted and not truncated and len(rows) < need + 1:
                break
        return ListPage(entries, prefixes, truncated, last if truncated else "")

    async def list_versions(
        self, bucket: str, prefix: str, delimiter: str, key_marker: str, version_marker: str, max_keys: int
    ) -> ListPage:
        """ListObjectVersions: every version, newest first within a key."""
        pb, db, mb = prefix.encode(), delimiter.encode(), key_marker.encode()
        hi = successor(pb) if pb else None
        entries: list[VersionRecord] = []
        prefixes: list[str] = []
        truncated = False
        below: int | None = None
        lo: bytes | None
        if mb and version_marker and common_prefix(mb, pb, db) is None:
            marked = await self.get_version(bucket, key_marker, version_marker)
            if marked is not None:
                lo, inclusive, below = mb, True, marked.seq
            else:
                lo, inclusive = mb, False
        else:
            lo, inclusive = self._start(pb, db, mb)
        while lo is not None and not truncated:
            need = max_keys - len(entries) - len(prefixes)
            rows = await self._scan_versions(bucket, lo, inclusive, hi, need + 1, below)
            had_below, below = below is not None, None
            restarted = False
            for rec in rows:
                if len(entries) + len(prefixes) >= max_keys:
                    truncated = True
                    break
                kb = rec.key.encode()
                cp = common_prefix(kb, pb, db)
                if cp is not None:
                    prefixes.append(cp.decode())
                    lo, inclusive, restarted = successor(cp), True, True
                    break
                entries.append(rec)
                lo, inclusive = kb, False
            if had_below and not truncated and not restarted:
                # finished the marker key's older versions: go on after that key
                lo, inclusive = mb, False
                continue
            if not restarted and not truncated and len(rows) < need + 1:
                break
        page = ListPage(entries, prefixes, truncated)
        if truncated:
            if entries and (not prefixes or entries[-1].key > prefixes[-1]):
                page.next_marker = entries[-1].key
                page.next_version_marker = entries[-1].version_id
            else:
                page.next_marker = prefixes[-1]
        return page

    @staticmethod
    def _start(pb: bytes, db: bytes, mb: bytes) -> tuple[bytes | None, bool]:
        """Where a listing begins: after the marker, or at the prefix.

        A marker that is itself a common prefix (the NextMarker of a previous
        page) skips that whole prefix, so no page repeats it.
        """
        if mb and mb >= pb:
            cp = common_prefix(mb, pb, db)
            if cp is not None and cp == mb:
                return successor(mb), True
            return mb, False
        return pb, True


__all__ = [
    "NULL_VERSION",
    "BucketExists",
    "BucketMissing",
    "BucketNotEmptyError",
    "DeleteCheck",
    "MetaError",
    "MetaStore",
    "MetaUnavailable",
    "SchemaTooNew",
    "WriteCheck",
    "common_prefix",
    "successor",
]
