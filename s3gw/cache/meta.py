"""A MetaStore with a cache in front: bucket and object lookups, invalidated by every write.

``CachedMeta(store, cache)`` *is* a MetaStore, so the core uses it like any
other and the rule "every write path invalidates before it answers" holds by
construction: each MetaStore method that changes a bucket or a version
invalidates what it touched when the store call returns, whether it succeeded
or failed (a failed commit may still have committed), before the result goes
back up to the request.

Cached: ``get_bucket`` (also "no such bucket") and ``get_version`` (the
latest version of a key, or a named one; also "no such key"). Listings,
uploads and queues always go to the store.

A MetaStore method this module does not know (added later) is passed through
and followed by a full cache flush: correct, and slow enough to be noticed
(tests/unit/cache checks that every method is classified).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from ..common.records import ObjectInfo, ObjectLayout, ShardSet
from ..meta.base import DeleteCheck, DeleteExpect, InfoUpdate, MetaStore, WriteCheck
from ..meta.model import BucketRecord, ListPage, ReplicaNote, UploadPage, VersionRecord
from .base import Cache

log = logging.getLogger(__name__)

_ABSENT = b"-"

#: pass-through methods that change nothing a lookup returns
PASS_THROUGH = frozenset(
    {
        "open",
        "close",
        "ping",
        "list_buckets",
        "_scan_live",
        "_scan_versions",
        "_scan_uploads",
        "enqueue_gc",
        "take_gc",
        "done_gc",
        "enqueue_heal",
        "create_upload",
        "get_upload",
        "put_part",
        "list_parts",
        "abort_upload",
        "begin_write",
        "touch_writes",
        "end_write",
        "stale_writes",
        "data_referenced",
        "take_heal",
        "finish_heal",
        "clear_heal",
        "heal_due_now",
        "settled_version",
        "defer_gc",
        "maintenance_stats",
        # users, policies, settings, usage: not cached (read through every time)
        "get_user",
        "list_users",
        "put_user",
        "update_user",
        "delete_user",
        "get_policy",
        "list_policies",
        "put_policy",
        "delete_policy",
        "get_setting",
        "set_setting",
        "usage",
        # service accounts, temporary credentials, groups: not cached here (core/iam.py keeps them a second)
        "add_credential",
        "list_credentials",
        "purge_expired",
        "get_group",
        "list_groups",
        "groups_of",
        "add_members",
        "remove_members",
        "update_group",
        # run-time configuration: read by each gateway's poll, never cached
        "get_config",
        "set_config",
        "config_history",
        "get_config_history",
        "clear_config_history",
        # usage counters (0008_usage.sql)
        "fold_usage",
        # the lifecycle worker's queries and leases (0009_lifecycle.sql): read through
        "lifecycle_current",
        "lifecycle_noncurrent",
        "lifecycle_uploads",
        "take_lease",
        "release_lease",
        "lease_passes",
        # bucket policies: cached, compiled, by core/iam.py (per gateway, for a second)
        "get_bucket_policy",
        "put_bucket_policy",
        "delete_bucket_policy",
        # bucket notifications (0010_notifications.sql): read by the core per request, not cached
        "get_bucket_notification",
        "put_bucket_notification",
        "take_outbox",
        "finish_outbox",
        "outbox_stats",
        "retry_dead_outbox",
        # bucket replication (0011_replication.sql): targets read through
        "list_replication_targets",
        "put_replication_target",
        "delete_replication_target",
        "take_replication",
        "finish_replication",
        "renew_replication",
        "queue_replication",
        "replication_stats",
        "retry_dead_replication",
    }
)
#: methods with their own caching or invalidation below
HANDLED = frozenset(
    {
        "get_bucket",
        "create_bucket",
        "update_bucket",
        "delete_bucket",
        "get_version",
        "put_version",
        "delete_object",
        "update_info",
        "update_layout",
        "complete_upload",
    }
)


def object_name(bucket: str, key: str) -> str:
    return f"{bucket}\0{key}"


def encode_version(rec: VersionRecord | None) -> bytes:
    """A version as bytes: JSON, then the inline data raw (no base64 bloat).

    >>> r = VersionRecord(bucket="b", key="k", size=3, inline=b"abc", info=ObjectInfo(content_type="x"))
    >>> decode_version(encode_version(r)) == r, decode_version(encode_version(None))
    (True, None)
    """
    if rec is None:
        return _ABSENT
    head = {
        "b": rec.bucket,
        "k": rec.key,
        "v": rec.version_id,
        "m": rec.mtime,
        "s": rec.size,
        "e": rec.etag,
        "d": rec.delete_marker,
        "l": rec.is_latest,
        "q": rec.seq,
        "i": rec.info.to_json(),
        "y": rec.layout.to_json() if rec.layout is not None else None,
    }
    return json.dumps(head, separators=(",", ":")).encode() + b"\n" + (b"" if rec.inline is None else b"I" + rec.inline)


def decode_version(data: bytes) -> VersionRecord | None:
    if data == _ABSENT:
        return None
    head, _, rest = data.partition(b"\n")
    h = json.loads(head)
    return VersionRecord(
        bucket=h["b"],
        key=h["k"],
        version_id=h["v"],
        mtime=h["m"],
        size=h["s"],
        etag=h["e"],
        delete_marker=h["d"],
        is_latest=h["l"],
        seq=h["q"],
        info=ObjectInfo.from_json(h["i"]),
        layout=ObjectLayout.from_json(h["y"]) if h["y"] is not None else None,
        inline=rest[1:] if rest.startswith(b"I") else None,
    )


def encode_bucket(rec: BucketRecord | None) -> bytes:
    if rec is None:
        return _ABSENT
    return json.dumps([rec.name, rec.created, rec.versioning, rec.object_lock, rec.config]).encode()


def decode_bucket(data: bytes) -> BucketRecord | None:
    if data == _ABSENT:
        return None
    n, c, v, o, cfg = json.loads(data)
    return BucketRecord(n, c, v, o, cfg)


class CachedMeta(MetaStore):
    """``store`` with ``cache`` in front (see the module doc)."""

    def __init__(self, store: MetaStore, cache: Cache) -> None:
        self.store = store
        self.cache = cache

    def __getattr__(self, name: str) -> Any:
        # non-abstract extras of the backend (backup, schema_version, describe, ...)
        if name == "store":
            raise AttributeError(name)
        return getattr(self.store, name)

    # -- lifecycle ------------------------------------------------------------
    async def open(self) -> None:
        await self.store.open()
        await self.cache.open()

    async def close(self) -> None:
        try:
            await self.cache.close()
        finally:
            await self.store.close()

    async def ping(self) -> None:
        await self.store.ping()

    def pool_stats(self) -> dict[str, Any]:
        return self.store.pool_stats()

    # -- listings: never cached, and the backend's own walk (PostgreSQL rolls prefixes up in SQL)
    async def list_objects(self, bucket: str, prefix: str, delimiter: str, marker: str, max_keys: int) -> ListPage:
        return await self.store.list_objects(bucket, prefix, delimiter, marker, max_keys)

    async def list_versions(
        self, bucket: str, prefix: str, delimiter: str, key_marker: str, version_marker: str, max_keys: int
    ) -> ListPage:
        return await self.store.list_versions(bucket, prefix, delimiter, key_marker, version_marker, max_keys)

    async def list_uploads(
        self, bucket: str, prefix: str, delimiter: str, key_marker: str, upload_id_marker: str, max_uploads: int
    ) -> UploadPage:
        return await self.store.list_uploads(bucket, prefix, delimiter, key_marker, upload_id_marker, max_uploads)

    # -- cached lookups -------------------------------------------------------
    async def get_bucket(self, name: str) -> BucketRecord | None:
        hit, token = await self.cache.get("b", name, "")
        if hit is not None:
            return decode_bucket(hit)
        rec = await self.store.get_bucket(name)
        await self.cache.fill("b", name, "", token, encode_bucket(rec))
        return rec

    async def get_version(self, bucket: str, key: str, version_id: str | None = None) -> VersionRecord | None:
        name, field = object_name(bucket, key), ("L" if version_id is None else "V:" + version_id)
        hit, token = await self.cache.get("o", name, field)
        if hit is not None:
            return decode_version(hit)
        rec = await self.store.get_version(bucket, key, version_id)
        await self.cache.fill("o", name, field, token, encode_version(rec))
        return rec

    # -- writes: invalidate when the store call returns, whatever it returned ----
    async def _bucket_write(self, name: str, call: Any) -> Any:
        try:
            return await call
        finally:
            await self.cache.invalidate("b", [name])

    async def _object_write(self, bucket: str, key: str, call: Any) -> Any:
        try:
            return await call
        finally:
            await self.cache.invalidate("o", [object_name(bucket, key)])

    async def create_bucket(self, rec: BucketRecord) -> None:
        await self._bucket_write(rec.name, self.store.create_bucket(rec))

    async def update_bucket(self, name: str, **fields: Any) -> None:
        await self._bucket_write(name, self.store.update_bucket(name, **fields))

    async def delete_bucket(self, name: str) -> None:
        await self._bucket_write(name, self.store.delete_bucket(name))

    async def put_version(self, rec: VersionRecord, check: WriteCheck | None = None) -> VersionRecord:
        return await self._object_write(rec.bucket, rec.key, self.store.put_version(rec, check))

    async def delete_object(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        marker: VersionRecord,
        check: DeleteCheck | None = None,
        expect: DeleteExpect | None = None,
    ) -> tuple[VersionRecord | None, VersionRecord | None]:
        return await self._object_write(
            bucket, key, self.store.delete_object(bucket, key, version_id, marker, check, expect)
        )

    async def update_info(
        self, bucket: str, key: str, version_id: str, info: InfoUpdate, replicate: ReplicaNote | None = None
    ) -> bool:
        return await self._object_write(bucket, key, self.store.update_info(bucket, key, version_id, info, replicate))

    async def update_layout(
        self,
        bucket: str,
        key: str,
        version_id: str,
        old: ObjectLayout,
        new: ObjectLayout,
        garbage: Sequence[ShardSet] = (),
    ) -> bool:
        return await self._object_write(
            bucket, key, self.store.update_layout(bucket, key, version_id, old, new, garbage)
        )

    async def complete_upload(
        self, upload_id: str, rec: VersionRecord, keep: list[int], check: WriteCheck | None = None
    ) -> VersionRecord:
        return await self._object_write(rec.bucket, rec.key, self.store.complete_upload(upload_id, rec, keep, check))


def _pass_through(name: str) -> Any:
    async def method(self: CachedMeta, *args: Any, **kwargs: Any) -> Any:
        return await getattr(self.store, name)(*args, **kwargs)

    method.__name__ = name
    return method


def _unknown(name: str) -> Any:
    async def method(self: CachedMeta, *args: Any, **kwargs: Any) -> Any:
        try:
            return await getattr(self.store, name)(*args, **kwargs)
        finally:
            log.warning("MetaStore.%s is not classified in s3gw/cache/meta.py: flushing the cache", name)
            await self.cache.flush()

    method.__name__ = name
    return method


def _complete_class() -> None:
    """Fill in every abstract method of MetaStore that CachedMeta does not define itself."""
    for name in sorted(MetaStore.__abstractmethods__):
        if name in CachedMeta.__dict__:
            continue
        setattr(CachedMeta, name, _pass_through(name) if name in PASS_THROUGH else _unknown(name))
    CachedMeta.__abstractmethods__ = frozenset()


_complete_class()

__all__ = [
    "CachedMeta",
    "HANDLED",
    "PASS_THROUGH",
    "decode_bucket",
    "decode_version",
    "encode_bucket",
    "encode_version",
    "object_name",
]
