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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..common.records import ObjectInfo, ObjectLayout, ShardSet
from .model import (
    NULL_VERSION,
    BucketRecord,
    GroupRecord,
    ListPage,
    PartRecord,
    ReplicaNote,
    UploadPage,
    UploadRecord,
    UserRecord,
    VersionRecord,
)

# check(current_latest, replaced) runs inside the write transaction and raises to abort it.
WriteCheck = Callable[[VersionRecord | None, VersionRecord | None], None]
# check(victim) runs inside the delete transaction for the version being removed.
DeleteCheck = Callable[[VersionRecord], None]
# expect(newest) runs inside the delete transaction, on the key's two newest versions (newest
# first); False: the key changed since the caller looked, nothing is done (the lifecycle worker).
DeleteExpect = Callable[[list[VersionRecord]], bool]
# update_info's new info, or change(current version) -> new info run inside the transaction.
InfoUpdate = ObjectInfo | Callable[[VersionRecord], ObjectInfo]


class MetaError(Exception):
    """Base of metadata-store failures that are not S3 semantics."""


class MetaUnavailable(MetaError):
    """The store cannot be reached or timed out: the request may be retried."""


class CommitUnknown(MetaUnavailable):
    """The store failed while committing (the COMMIT was sent, no answer came):
    the transaction may or may not have taken effect. ``settled_version`` tells,
    once the store answers again."""


class BucketExists(MetaError):
    pass


class BucketMissing(MetaError):
    pass


class BucketNotEmptyError(MetaError):
    pass


class SchemaTooNew(MetaError):
    pass


class SchemaTooOld(MetaError):
    """The store's schema lacks migrations and may not apply them itself: run ``s3gw meta migrate``."""


class UploadMissing(MetaError):
    """The multipart upload does not exist (never did, aborted, or completed)."""


class UserMissing(MetaError):
    """A user a change names (a service account's parent, a group member) does not exist."""


class GroupMissing(MetaError):
    """The group does not exist."""


class GroupNotEmpty(MetaError):
    """A group with members cannot be removed."""


#: rows a listing asks for right after skipping a common prefix (see MetaStore._walk)
ROLLUP_PROBE = 2


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


@dataclass
class ReplicationItem:
    """One queued replication operation for one target (0011_replication.sql)."""

    id: int
    bucket: str
    key: str
    version_id: str
    target: str
    op: str  # "put", "marker", "delete"
    size: int
    attempts: int
    created: float


@dataclass
class OutboxItem:
    """One queued bucket-notification event for one target (0010_notifications.sql)."""

    id: int
    target: str  # the target's ARN
    payload: str  # the event (JSON)
    attempts: int
    created: float


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
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        marker: VersionRecord,
        check: DeleteCheck | None = None,
        expect: DeleteExpect | None = None,
    ) -> tuple[VersionRecord | None, VersionRecord | None]:
        """DeleteObject semantics in one transaction.

        ``expect`` (the lifecycle worker): when it returns False for the key's newest versions,
        read under the key's lock, nothing changes and (None, None) is returned.

        With ``version_id``: that version is removed for good (a newer-to-older
        promotion keeps exactly one latest). Without: versioning Enabled adds
        ``marker`` as a delete marker; Suspended replaces the null version with a
        null delete marker; never-versioned removes the null version.
        Returns (removed version or None, delete marker created or None).
        """

    @abc.abstractmethod
    async def update_info(
        self, bucket: str, key: str, version_id: str, info: InfoUpdate, replicate: ReplicaNote | None = None
    ) -> bool:
        """Replace a version's info (tags, retention, legal hold); False when the version is gone.

        ``replicate`` (a tag change of a bucket with replication rules): asked, in the same
        transaction, for the replication queue rows the change owes ("tags").

        ``info`` may be a function of the current version returning the new
        info: it then runs inside the transaction, under the same per-key
        serialisation as writes and deletes, so a read-modify-write of the info
        (and any rule it checks, e.g. retention) cannot lose a concurrent change
        or revive a deleted version. It may raise to abort.
        """

    @abc.abstractmethod
    async def _scan_live(
        self, bucket: str, lo: bytes, inclusive: bool, hi: bytes | None, limit: int
    ) -> list[VersionRecord]:
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
    async def enqueue_gc(self, layouts: list[ShardSet]) -> None: ...

    @abc.abstractmethod
    async def take_gc(self, limit: int, queued_before: float | None = None) -> list[tuple[int, ShardSet]]:
        """Up to ``limit`` GC items due now (``defer_gc``), oldest first; with
        ``queued_before``, only those queued before it (the GC grace)."""

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
        resume = upload_id_marker if key_marker and upload_id_marker else None

        async def scan(lo: bytes, inclusive: bool, hi: bytes | None, limit: int, after: Any) -> list[UploadRecord]:
            return await self._scan_uploads(bucket, lo, inclusive, hi, limit, after)

        uploads, prefixes, truncated = await self._walk(prefix, delimiter, key_marker, resume, max_uploads, scan)
        page = UploadPage(uploads, prefixes, truncated)
        if truncated:
            if _last_is_entry(uploads, prefixes):
                page.next_key_marker, page.next_upload_id_marker = uploads[-1].key, uploads[-1].upload_id
            else:
                page.next_key_marker = prefixes[-1]
        return page

    # -- listing (shared) -----------------------------------------------------
    async def list_objects(self, bucket: str, prefix: str, delimiter: str, marker: str, max_keys: int) -> ListPage:
        """ListObjects V1/V2: keys after ``marker`` under ``prefix``, rolled up by ``delimiter``."""

        grouped = bool(delimiter) and self.groups_prefixes

        async def scan(
            lo: bytes, inclusive: bool, hi: bytes | None, limit: int, _: Any, group: bool = False
        ) -> list[VersionRecord]:
            if group:
                return await self._scan_live_grouped(
                    bucket, lo, inclusive, hi, limit, len(prefix.encode()), delimiter.encode()
                )
            return await self._scan_live(bucket, lo, inclusive, hi, limit)

        entries, prefixes, truncated = await self._walk(prefix, delimiter, marker, None, max_keys, scan, grouped)
        page = ListPage(entries, prefixes, truncated)
        if truncated:
            page.next_marker = entries[-1].key if _last_is_entry(entries, prefixes) else prefixes[-1]
        return page

    async def list_versions(
        self, bucket: str, prefix: str, delimiter: str, key_marker: str, version_marker: str, max_keys: int
    ) -> ListPage:
        """ListObjectVersions: every version, newest first within a key.

        A version-id marker resumes inside the marker key, after that version
        (an unknown one resumes after the whole key).
        """
        resume = None
        if key_marker and version_marker:
            marked = await self.get_version(bucket, key_marker, version_marker)
            resume = marked.seq if marked is not None else None

        async def scan(lo: bytes, inclusive: bool, hi: bytes | None, limit: int, below: Any) -> list[VersionRecord]:
            return await self._scan_versions(bucket, lo, inclusive, hi, limit, below)

        entries, prefixes, truncated = await self._walk(prefix, delimiter, key_marker, resume, max_keys, scan)
        page = ListPage(entries, prefixes, truncated)
        if truncated:
            if _last_is_entry(entries, prefixes):
                page.next_marker, page.next_version_marker = entries[-1].key, entries[-1].version_id
            else:
                page.next_marker = prefixes[-1]
        return page

    #: a backend whose ``_scan_live_grouped`` skips whole common prefixes inside one query
    groups_prefixes = False

    async def _scan_live_grouped(
        self, bucket: str, lo: bytes, inclusive: bool, hi: bytes | None, limit: int, prefix_len: int, delimiter: bytes
    ) -> list[VersionRecord]:
        """Like ``_scan_live``, but of the keys that share a common prefix (``delimiter`` found after
        the first ``prefix_len`` bytes) only the first is returned: the database does the roll-up
        seeks itself, one query for a page of prefixes. Optional (``groups_prefixes``)."""
        raise NotImplementedError

    async def _walk(
        self,
        prefix: str,
        delimiter: str,
        marker: str,
        resume: Any,
        max_n: int,
        scan: Callable[..., Any],
        grouped: bool = False,
    ) -> tuple[list[Any], list[str], bool]:
        """The listing walk shared by objects, versions and uploads.

        ``scan(lo, inclusive, hi, limit, resume)`` returns the next rows (each
        with a ``key``) in listing order. With ``resume`` the first scan stays
        inside the marker key (older versions, later uploads) and the walk then
        goes on after that key. A key that rolls up into a common prefix ends
        the batch: the next scan seeks past the whole prefix. With ``grouped``
        (the backend can roll up inside one query), the scans after the first
        roll-up are asked for one row per common prefix (``scan(..., True)``),
        and a batch goes on past each prefix; until then plain range scans are
        cheaper.
        """
        pb, db, mb = prefix.encode(), delimiter.encode(), marker.encode()
        hi = successor(pb) if pb else None
        items: list[Any] = []
        prefixes: list[str] = []
        truncated = False
        if max_n <= 0:
            return items, prefixes, False  # max-keys=0: an empty, untruncated page (MinIO)
        lo: bytes | None
        if resume is not None and common_prefix(mb, pb, db) is None:
            lo, inclusive = mb, True
        else:
            resume = None
            lo, inclusive = self._start(pb, db, mb)
        probe: int | None = None  # rows the next scan asks for (None: what the page still needs)
        group = False  # grouped scans from the first roll-up on
        while lo is not None and not truncated:
            need = max_n - len(items) - len(prefixes)
            ask = need + 1 if probe is None else min(probe, need + 1)
            rows = await (scan(lo, inclusive, hi, ask, resume, True) if group else scan(lo, inclusive, hi, ask, resume))
            resumed, resume = resume is not None, None
            restarted = False
            for row in rows:
                if len(items) + len(prefixes) >= max_n:
                    truncated = True
                    break
                kb = row.key.encode()
                cp = common_prefix(kb, pb, db)
                if cp is not None:
                    prefixes.append(cp.decode())
                    lo, inclusive = successor(cp), True
                    if group:  # the next row is already past this prefix
                        continue
                    restarted, group = True, grouped
                    break
                items.append(row)
                lo, inclusive = kb, False
            # After a roll-up, what follows the skipped prefix is often the next prefix: ask for
            # two rows, not a page's worth of which only the first is looked at (1,000 prefixes
            # would otherwise read ~1,000 rows each); a run of entries grows the ask again.
            if restarted and not group:
                probe = ROLLUP_PROBE
            else:
                probe = None if probe is None or probe * 4 > need else probe * 4
            if resumed and not truncated and not restarted:
                lo, inclusive = mb, False  # done inside the marker key: go on after it
                continue
            if not restarted and not truncated and len(rows) < ask:
                break
        return items, prefixes, truncated

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
    async def touch_writes(self, data_ids: list[str]) -> None:
        """Those writes are still in progress: their intents count as started now
        (so a slow upload is never mistaken for a crashed one)."""

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
    async def settled_version(self, bucket: str, key: str, version_id: str) -> VersionRecord | None:
        """The version as stored, read under the key's lock: a transaction on that
        key whose COMMIT was in flight has ended by then, so this says whether a
        write whose outcome was unknown (``CommitUnknown``) took effect."""

    @abc.abstractmethod
    async def heal_due_now(self) -> None:
        """Every queued heal item waiting out its backoff is due now (a drive came back)."""

    @abc.abstractmethod
    async def clear_heal(self, bucket: str, key: str, version_id: str) -> None:
        """Drop any heal item of that version (an admin heal fixed it)."""

    @abc.abstractmethod
    async def defer_gc(self, ids: list[int], until: float) -> None:
        """Leave these GC items for a later pass (``take_gc`` skips them until then)."""

    @abc.abstractmethod
    async def update_layout(
        self,
        bucket: str,
        key: str,
        version_id: str,
        old: ObjectLayout,
        new: ObjectLayout,
        garbage: Sequence[ShardSet] = (),
    ) -> bool:
        """Replace a version's layout if it is still ``old`` (compare and swap);
        when it is replaced, the shard sets ``garbage`` are queued for GC in the
        same transaction (a re-encode's old shards: nothing left untracked)."""

    @abc.abstractmethod
    async def maintenance_stats(self) -> dict[str, int]:
        """heal_queued, heal_failed, gc_queued, write_intents."""

    # -- users ------------------------------------------------------------------
    # Users, stored policies, deployment-wide settings, usage figures and pool
    # statistics for operations (docs/operations.md). Schema: 0004_users.sql;
    # service accounts, temporary credentials and groups: 0006_identity.sql.
    # Users, service accounts and temporary credentials share one table
    # (``UserRecord.kind``), so an access key is unique across them.
    @abc.abstractmethod
    async def get_user(self, access_key: str) -> UserRecord | None:
        """The credential with that access key, whatever its kind."""

    @abc.abstractmethod
    async def list_users(self, kind: str = "user") -> list[UserRecord]:
        """Every credential of ``kind``, ordered by access key (as UTF-8 bytes)."""

    @abc.abstractmethod
    async def put_user(self, rec: UserRecord) -> bool:
        """Insert, or replace every field but ``created``; True when it was new."""

    @abc.abstractmethod
    async def add_credential(self, rec: UserRecord, *, stored_parent: bool = True) -> bool:
        """Insert a service account or temporary credentials; False when the access key is
        taken. With ``stored_parent`` (all but root's, whose user is the configuration's)
        its ``parent`` must be a stored user (``UserMissing`` otherwise), checked in the
        same transaction."""

    @abc.abstractmethod
    async def update_user(self, access_key: str, **fields: Any) -> bool:
        """Set status / policies / secret_enc / key_id / expires / info (and ``updated``); False when missing."""

    @abc.abstractmethod
    async def delete_user(self, access_key: str) -> bool:
        """Remove a credential, and with it (same transaction) its service accounts and
        temporary credentials and its group memberships; False when it did not exist."""

    @abc.abstractmethod
    async def list_credentials(self, parent: str, kind: str) -> list[UserRecord]:
        """The service accounts (``svcacct``) or temporary credentials (``sts``) of ``parent``."""

    @abc.abstractmethod
    async def purge_expired(self, kind: str, now: float) -> int:
        """Remove credentials of ``kind`` that expired before ``now``; how many."""

    # -- groups (0006_identity.sql) ------------------------------------------------
    @abc.abstractmethod
    async def get_group(self, name: str) -> GroupRecord | None:
        """A group with its members (ordered by access key)."""

    @abc.abstractmethod
    async def list_groups(self) -> list[str]:
        """Every group's name, ordered (as UTF-8 bytes)."""

    @abc.abstractmethod
    async def groups_of(self, access_key: str) -> list[GroupRecord]:
        """The groups a user is a member of (without their members)."""

    @abc.abstractmethod
    async def add_members(self, group: str, members: list[str], now: float) -> None:
        """Add users to a group, creating it (enabled) when new; every member must be a
        user (``UserMissing`` naming it otherwise), checked in the same transaction."""

    @abc.abstractmethod
    async def remove_members(self, group: str, members: list[str], now: float) -> None:
        """Remove users from a group (``GroupMissing`` when there is no such group). With no
        members, remove the group itself, which must have none left (``GroupNotEmpty``)."""

    @abc.abstractmethod
    async def update_group(
        self, name: str, now: float, *, status: str | None = None, policies: list[str] | None = None
    ) -> bool:
        """Set a group's status or policies; False when there is no such group."""

    # -- run-time configuration (0007_config.sql) ------------------------------------
    @abc.abstractmethod
    async def get_config(self) -> dict[tuple[str, str], str]:
        """Every value set at run time: (sub-system, key) -> value."""

    @abc.abstractmethod
    async def set_config(self, values: dict[tuple[str, str], str | None], history: str | None, now: float) -> str:
        """Set (None: remove) values in one transaction, recording ``history`` (the change as
        text) when given; returns the history entry's restore id ("" without one)."""

    @abc.abstractmethod
    async def config_history(self, limit: int) -> list[tuple[str, float, str]]:
        """The newest ``limit`` changes: (restore id, time, text), newest first."""

    @abc.abstractmethod
    async def get_config_history(self, restore_id: str) -> tuple[float, str] | None: ...

    @abc.abstractmethod
    async def clear_config_history(self, restore_id: str | None) -> int:
        """Forget one change (None: all); how many went."""

    @abc.abstractmethod
    async def get_policy(self, name: str) -> str | None:
        """A stored policy document (JSON text)."""

    @abc.abstractmethod
    async def list_policies(self) -> dict[str, str]: ...

    @abc.abstractmethod
    async def put_policy(self, name: str, document: str) -> None: ...

    @abc.abstractmethod
    async def delete_policy(self, name: str) -> bool: ...

    # -- bucket policies (0005_bucket_policies.sql) ------------------------------
    @abc.abstractmethod
    async def get_bucket_policy(self, bucket: str) -> str | None:
        """The bucket's policy document (JSON text), None when it has none."""

    @abc.abstractmethod
    async def put_bucket_policy(self, bucket: str, document: str) -> None:
        """Set (or replace) a bucket's policy; ``BucketMissing`` when there is no such bucket."""

    @abc.abstractmethod
    async def delete_bucket_policy(self, bucket: str) -> bool:
        """Remove a bucket's policy; False when it had none. (DeleteBucket removes it too.)"""

    @abc.abstractmethod
    async def get_setting(self, name: str) -> tuple[str, float] | None:
        """(value, updated) of a deployment-wide setting."""

    @abc.abstractmethod
    async def set_setting(self, name: str, value: str | None) -> None:
        """Store a setting; ``None`` removes it."""

    @abc.abstractmethod
    async def usage(self) -> dict[str, dict[str, int]]:
        """Per bucket: ``objects`` and ``bytes`` (latest, not delete markers),
        ``versions`` (delete markers included) and ``delete_markers``; exact, from
        the counters the writes keep (0008_usage.sql), at a cost that grows with
        the buckets and the deltas not folded yet, not with the objects."""

    @abc.abstractmethod
    async def fold_usage(self, limit: int = 100000) -> int:
        """Move pending usage deltas (at most ``limit``) into the per-bucket counters; how many."""

    # -- lifecycle (0009_lifecycle.sql; meta/lifecycle.py) ---------------------------
    @abc.abstractmethod
    async def lifecycle_current(
        self,
        bucket: str,
        prefix: str,
        before: float,
        after: tuple[float, bytes, str],
        limit: int,
        *,
        markers: bool = False,
    ) -> list[VersionRecord]:
        """Latest versions of ``bucket`` under ``prefix`` written before ``before``, after the
        (mtime, key bytes, version id) ``after``, oldest first; delete markers only with
        ``markers``. Rows come without their inline data."""

    @abc.abstractmethod
    async def lifecycle_noncurrent(
        self, bucket: str, prefix: str, before: float, after: tuple[float, bytes, str], limit: int
    ) -> list[tuple[VersionRecord, float, int]]:
        """Noncurrent versions under ``prefix`` written before ``before`` (same order and resume
        point as ``lifecycle_current``), each with the time it became noncurrent (its
        successor's) and how many noncurrent versions of its key are newer."""

    @abc.abstractmethod
    async def lifecycle_uploads(
        self, bucket: str | None, prefix: str, before: float, after: tuple[float, str], limit: int
    ) -> list[UploadRecord]:
        """Multipart uploads initiated before ``before`` (in ``bucket``, or every bucket), after
        the (initiated, upload id) ``after``, oldest first."""

    @abc.abstractmethod
    async def take_lease(self, name: str, owner: str, ttl: float, now: float) -> bool:
        """Take or renew the lease ``name`` for ``owner`` until ``now + ttl``: True when it is
        ``owner``'s (it was free, expired or already its own), one transaction (compare and set)."""

    @abc.abstractmethod
    async def release_lease(self, name: str, owner: str, now: float, *, finished: bool) -> None:
        """Give the lease up (if still ``owner``'s); ``finished``: record a completed pass at ``now``."""

    @abc.abstractmethod
    async def lease_passes(self) -> dict[str, float]:
        """When each lease's last completed pass ended (0: never)."""

    # -- bucket notifications (0010_notifications.sql) ------------------------------
    @abc.abstractmethod
    async def get_bucket_notification(self, bucket: str) -> str | None:
        """The bucket's notification configuration (JSON text), None when it has none."""

    @abc.abstractmethod
    async def put_bucket_notification(self, bucket: str, config: str | None) -> None:
        """Set (None: remove) a bucket's notification configuration; ``BucketMissing``."""

    @abc.abstractmethod
    async def take_outbox(self, limit: int, now: float, lease: float) -> list[OutboxItem]:
        """Up to ``limit`` pending events due at ``now``, oldest first, leased for ``lease`` seconds."""

    @abc.abstractmethod
    async def finish_outbox(self, item_id: int, outcome: str, error: str = "", retry_at: float = 0.0) -> None:
        """``done`` removes the event, ``retry`` postpones it to ``retry_at``, ``dead`` keeps it
        as undeliverable (counted; ``retry_dead_outbox`` queues it again)."""

    @abc.abstractmethod
    async def outbox_stats(self) -> dict[str, float]:
        """``pending``, ``dead`` (counts) and ``oldest_pending`` (its creation time, 0 when none)."""

    @abc.abstractmethod
    async def retry_dead_outbox(self) -> int:
        """Queue every dead event again; how many."""

    # -- bucket replication (0011_replication.sql) ------------------------------------
    @abc.abstractmethod
    async def list_replication_targets(self, bucket: str | None = None) -> list[tuple[str, str, str]]:
        """(ARN, source bucket, JSON document) of the remote targets of ``bucket`` (None: all)."""

    @abc.abstractmethod
    async def put_replication_target(self, arn: str, bucket: str, doc: str) -> None:
        """Store (or replace) a remote target of ``bucket``; ``BucketMissing``."""

    @abc.abstractmethod
    async def delete_replication_target(self, arn: str) -> bool:
        """Remove a remote target; whether it existed."""

    @abc.abstractmethod
    async def take_replication(self, limit: int, now: float, lease: float) -> list[ReplicationItem]:
        """Up to ``limit`` due queue rows, each the first pending one of its key and target,
        oldest first, leased for ``lease`` seconds."""

    @abc.abstractmethod
    async def finish_replication(
        self, item: ReplicationItem, outcome: str, error: str = "", retry_at: float = 0.0
    ) -> bool:
        """``done`` removes the row, ``retry`` postpones it to ``retry_at``, ``dead`` keeps it as
        failed (counted; ``retry_dead_replication`` queues it again). Returns whether no other row
        of the same version is left (done: the version's replication is complete)."""

    @abc.abstractmethod
    async def renew_replication(self, ids: list[int], until: float) -> None:
        """Extend the lease of rows being copied (a long copy keeps them from other workers)."""

    @abc.abstractmethod
    async def queue_replication(self, rows: list[tuple[str, str, str, str, str, int]]) -> int:
        """Queue (bucket, key, version id, target, op, size) rows (a resync); how many."""

    @abc.abstractmethod
    async def replication_stats(self) -> dict[str, Any]:
        """``pending``, ``pending_bytes``, ``dead``, ``oldest_pending`` (creation time, 0: none),
        and ``targets``: {arn: {"pending", "dead"}}."""

    @abc.abstractmethod
    async def retry_dead_replication(self) -> int:
        """Queue every failed row again; how many."""

    def pool_stats(self) -> dict[str, Any]:
        """The connection pool as /debug/db-stats shows it (backends override)."""
        return {}


def _last_is_entry(items: list[Any], prefixes: list[str]) -> bool:
    """Whether a page ended on an entry rather than a common prefix (UTF-8 order is code-point order)."""
    return bool(items) and (not prefixes or items[-1].key > prefixes[-1])


__all__ = [
    "NULL_VERSION",
    "BucketExists",
    "BucketMissing",
    "BucketNotEmptyError",
    "DeleteCheck",
    "DeleteExpect",
    "HealItem",
    "InfoUpdate",
    "MetaError",
    "MetaStore",
    "MetaUnavailable",
    "OutboxItem",
    "SchemaTooNew",
    "SchemaTooOld",
    "GroupMissing",
    "GroupNotEmpty",
    "GroupRecord",
    "UploadMissing",
    "UserMissing",
    "UserRecord",
    "WriteCheck",
    "WriteIntent",
    "common_prefix",
    "successor",
]
