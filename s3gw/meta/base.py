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
from dataclasses import dataclass
from typing import Any

from .model import NULL_VERSION, BucketRecord, ListPage, PartRecord, UploadPage, UploadRecord, VersionRecord

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


class UploadMissing(MetaError):
    """The multipart upload does not exist (never did, aborted, or completed)."""


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


@dataclass
class WriteIntent:
    """A shard set being written (see 0003_cluster.sql)."""

    data_id: str
    placement: list[str]
    started: float


@dataclass
class HealItem:
    """One version queued for healing."""

    id: int
    bucket: str
    key: str
    version_id: str
    reason: str
    attempts: int


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

    # -- multipart ------------------------------------------------------------
    @abc.abstractmethod
    async def create_upload(self, rec: UploadRecord) -> None: ...

    @abc.abstractmethod
    async def get_upload(self, bucket: str, key: str, upload_id: str) -> UploadRecord | None: ...

    @abc.abstractmethod
    async def put_part(self, part: PartRecord) -> None:
        """Store a part (replacing one with the same number: its shards go to GC).

        Raise UploadMissing when the upload is gone (aborted or completed while
        the part was uploading); the caller then removes the part's shards.
        """

    @abc.abstractmethod
    async def list_parts(self, upload_id: str, after: int = 0, limit: int = 10000) -> list[PartRecord]:
        """Parts with number > ``after``, in number order."""

    @abc.abstractmethod
    async def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        """Remove the upload and its parts (shards to GC); raise UploadMissing."""

    @abc.abstractmethod
    async def complete_upload(
        self, upload_id: str, rec: VersionRecord, keep: list[int], check: WriteCheck | None = None
    ) -> VersionRecord:
        """One transaction: the upload disappears, parts not in ``keep`` go to GC,
        and ``rec`` (whose layout lists the kept parts) becomes the latest version,
        exactly as put_version. Raise UploadMissing when the upload is gone, so of
        two concurrent completes exactly one wins."""

    @abc.abstractmethod
    async def _scan_uploads(
        self, bucket: str, lo: bytes, inclusive: bool, hi: bytes | None, limit: int, after_id: str | None = None
    ) -> list[UploadRecord]:
        """Uploads with lo <(=) key < hi, ordered by key, initiated, upload id.

        With ``after_id``: only uploads of key == lo that sort after that upload.
        """

    async def list_uploads(
        self, bucket: str, prefix: str, delimiter: str, key_marker: str, upload_id_marker: str, max_uploads: int
    ) -> UploadPage:
        """ListMultipartUploads: the same walk as list_objects, over the uploads table."""
        pb, db, mb = prefix.encode(), delimiter.encode(), key_marker.encode()
        hi = successor(pb) if pb else None
        uploads: list[UploadRecord] = []
        prefixes: list[str] = []
        truncated = False
        after: str | None = None
        lo: bytes | None
        if mb and upload_id_marker and common_prefix(mb, pb, db) is None:
            lo, inclusive, after = mb, True, upload_id_marker
        else:
            lo, inclusive = self._start(pb, db, mb)
        while lo is not None and not truncated:
            need = max_uploads - len(uploads) - len(prefixes)
            rows = await self._scan_uploads(bucket, lo, inclusive, hi, need + 1, after)
            had_after, after = after is not None, None
            restarted = False
            for up in rows:
                if len(uploads) + len(prefixes) >= max_uploads:
                    truncated = True
                    break
                kb = up.key.encode()
                cp = common_prefix(kb, pb, db)
                if cp is not None:
                    prefixes.append(cp.decode())
                    lo, inclusive, restarted = successor(cp), True, True
                    break
                uploads.append(up)
                lo, inclusive = kb, False
            if had_after and not truncated and not restarted:
                lo, inclusive = mb, False
                continue
            if not restarted and not truncated and len(rows) < need + 1:
                break
        page = UploadPage(uploads, prefixes, truncated)
        if truncated:
            if uploads and (not prefixes or uploads[-1].key > prefixes[-1]):
                page.next_key_marker, page.next_upload_id_marker = uploads[-1].key, uploads[-1].upload_id
            else:
                page.next_key_marker = prefixes[-1]
        return page

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

    # -- cluster maintenance ----------------------------------------------------
    # Write intents (orphan detection), the heal work list, deferred GC and
    # layout updates after a heal moved shards. Schema: 0003_cluster.sql.
    @abc.abstractmethod
    async def begin_write(self, data_id: str, placement: list[str]) -> None:
        """Record that shards of ``data_id`` are about to be written (idempotent)."""

    @abc.abstractmethod
    async def end_write(self, data_ids: list[str]) -> None:
        """The writes committed (or were undone): forget their intents."""

    @abc.abstractmethod
    async def stale_writes(self, started_before: float, limit: int) -> list[WriteIntent]:
        """Intents older than ``started_before``, oldest first."""

    @abc.abstractmethod
    async def data_referenced(self, data_id: str) -> bool:
        """Whether any stored layout (versions; upload parts) references
        ``data_id``. Only called for stale intents, so it may scan."""

    @abc.abstractmethod
    async def take_heal(self, limit: int) -> list[HealItem]:
        """Queued heal items that are due (``not_before`` passed), oldest first."""

    @abc.abstractmethod
    async def finish_heal(self, item_id: int, outcome: str, error: str = "", retry_at: float = 0.0) -> None:
        """``done`` removes the item, ``retry`` postpones it to ``retry_at``,
        ``failed`` keeps it as failed (unrecoverable; shown by admin info)."""

    @abc.abstractmethod
    async def clear_heal(self, bucket: str, key: str, version_id: str) -> None:
        """Drop any heal item of that version (an admin heal fixed it)."""

    @abc.abstractmethod
    async def defer_gc(self, ids: list[int], until: float) -> None:
        """Leave these GC items for a later pass (``take_gc`` skips them until then)."""

    @abc.abstractmethod
    async def update_layout(self, bucket: str, key: str, version_id: str, old: dict[str, Any],
                            new: dict[str, Any]) -> bool:
        """Replace a version's layout if it is still ``old`` (compare and swap)."""

    @abc.abstractmethod
    async def maintenance_stats(self) -> dict[str, int]:
        """heal_queued, heal_failed, gc_queued, write_intents."""

__all__ = [
    "NULL_VERSION",
    "BucketExists",
    "BucketMissing",
    "BucketNotEmptyError",
    "DeleteCheck",
    "HealItem",
    "MetaError",
    "MetaStore",
    "MetaUnavailable",
    "SchemaTooNew",
    "UploadMissing",
    "WriteCheck",
    "WriteIntent",
    "common_prefix",
    "successor",
]
