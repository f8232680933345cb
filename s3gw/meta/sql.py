"""The S3 state machine of the SQL backends, written once over a transaction adapter.

Versioning (the null-version rules, delete markers, exactly one latest version
per key, replaced storage going to the GC queue in the same transaction), the
write check (``check`` callbacks: If-Match / If-None-Match, object lock) and
multipart uploads (parts, complete, abort) live here, as ``async`` code against
``tx.Tx``. ``SqliteMeta`` and ``PostgresMeta`` inherit it and supply two
primitives, ``_transaction`` and ``_reading``, which run a function of a
``Tx`` on their connection; they keep their connection handling, outage
mapping, migrations and the SQL that genuinely differs (``tx.py`` says which).
The listing walk is shared the same way, one level up (``base.MetaStore``).

Locks, in the one order every transaction takes them (PostgreSQL; on SQLite a
write transaction holds the whole database and the locks are no-ops): the
bucket row (``tx.share_lock``), then the object key (``tx.lock_key``), then
upload rows. ``docs/metadata.md`` has the design.
"""

from __future__ import annotations

import abc
import json
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from ..common.records import ObjectInfo, ObjectLayout, ShardSet
from .base import (
    BucketMissing,
    DeleteCheck,
    DeleteExpect,
    InfoUpdate,
    MetaStore,
    UploadMissing,
    WriteCheck,
)
from .identity import IdentitySql
from .lifecycle import LifecycleSql
from .model import NULL_VERSION, PartRecord, ReplicaNote, UploadRecord, VersionRecord
from .outbox import OutboxSql, note_event
from .replication import ReplicationSql, queue_ops, replica_ops
from .rows import (
    PART_COLS,
    UPLOAD_COLS,
    VERSION_COLS,
    compact_json,
    part_from_row,
    part_params,
    shard_set_from_json,
    shard_set_json,
    upload_from_row,
    upload_params,
    version_from_row,
    version_params,
)
from .runtime import ConfigSql
from .tx import Tx, placeholders

T = TypeVar("T")

#: a function of an open transaction (run by ``_transaction`` / ``_reading``)
TxFn = Callable[[Tx], Coroutine[Any, Any, T]]


class SqlMetaStore(IdentitySql, ConfigSql, LifecycleSql, OutboxSql, ReplicationSql, MetaStore):
    """MetaStore methods shared by the SQL backends (see the module doc)."""

    @abc.abstractmethod
    async def _transaction(self, fn: TxFn[T]) -> T:
        """Run ``fn`` in one write transaction: committed when it returns, rolled back when it raises."""

    @abc.abstractmethod
    async def _reading(self, fn: TxFn[T]) -> T:
        """Run ``fn``'s reads (no writes, no locks) outside an explicit transaction."""

    # -- versions -------------------------------------------------------------
    async def get_version(self, bucket: str, key: str, version_id: str | None = None) -> VersionRecord | None:
        kb = key.encode()
        if version_id is None:
            return await self._reading(lambda tx: _latest(tx, bucket, kb))
        return await self._reading(lambda tx: _one(tx, bucket, kb, version_id))

    async def settled_version(self, bucket: str, key: str, version_id: str) -> VersionRecord | None:
        kb = key.encode()

        async def run(tx: Tx) -> VersionRecord | None:
            await tx.lock_key(bucket, kb)
            return await _one(tx, bucket, kb, version_id)

        return await self._transaction(run)

    async def put_version(self, rec: VersionRecord, check: WriteCheck | None = None) -> VersionRecord:
        async def run(tx: Tx) -> VersionRecord:
            replaced = await _begin_write(tx, rec, check)
            if replaced is not None:
                await _drop(tx, replaced)
            ops = replica_ops(rec, "put", rec.replicate)
            await _insert_latest(tx, rec)
            await note_event(tx, rec, "created", rec.event)
            await queue_ops(tx, rec, ops)
            return rec

        return await self._transaction(run)

    async def delete_object(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        marker: VersionRecord,
        check: DeleteCheck | None = None,
        expect: DeleteExpect | None = None,
    ) -> tuple[VersionRecord | None, VersionRecord | None]:
        kb = key.encode()

        async def run(tx: Tx) -> tuple[VersionRecord | None, VersionRecord | None]:
            state = await _lock_bucket(tx, bucket)
            await tx.lock_key(bucket, kb)
            if expect is not None:
                rows = await tx.fetchall(
                    f"SELECT {VERSION_COLS} FROM versions WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 2",
                    bucket,
                    kb,
                )
                if not expect([version_from_row(r) for r in rows]):
                    return None, None
            if version_id is not None:
                # that version goes for good; if it was the latest, the newest one left is promoted
                victim = await _one(tx, bucket, kb, version_id)
                if victim is None:
                    return None, None
                if check is not None:
                    check(victim)
                await _drop(tx, victim)
                if victim.is_latest:
                    promoted = await _latest(tx, bucket, kb)
                    if promoted is not None:
                        await tx.execute(
                            "UPDATE versions SET is_latest = 1 WHERE bucket = ? AND key = ? AND seq = ?",
                            bucket,
                            kb,
                            promoted.seq,
                        )
                        if not promoted.delete_marker:
                            await _usage(tx, bucket, objects=1, size=promoted.size)
                await note_event(tx, victim, "removed", marker.event)
                await queue_ops(tx, victim, replica_ops(victim, "delete", marker.replicate))
                return victim, None
            if state == "Enabled":  # a new delete marker; nothing is removed
                ops = replica_ops(marker, "marker", marker.replicate)
                await _insert_latest(tx, marker)
                await note_event(tx, marker, "marker", marker.event)
                await queue_ops(tx, marker, ops)
                return None, marker
            # Suspended or never versioned: the null version goes (the others stay)
            victim = await _one(tx, bucket, kb, NULL_VERSION)
            if victim is not None:
                if check is not None:
                    check(victim)
                await _drop(tx, victim)
            if state == "Suspended":  # ... and a null delete marker takes its place
                marker.version_id = NULL_VERSION
                await _insert_latest(tx, marker)
                await note_event(tx, marker, "marker", marker.event)
                return victim, marker
            if victim is not None:
                await note_event(tx, victim, "removed", marker.event)
            return victim, None

        return await self._transaction(run)

    async def update_info(
        self, bucket: str, key: str, version_id: str, info: InfoUpdate, replicate: ReplicaNote | None = None
    ) -> bool:
        kb = key.encode()

        async def run(tx: Tx) -> bool:
            await tx.lock_key(bucket, kb)
            new: ObjectInfo
            current = None
            if callable(info) or replicate is not None:
                current = await _one(tx, bucket, kb, version_id)
                if current is None:
                    return False
            if callable(info):
                assert current is not None
                new = info(current)
            else:
                new = info
            updated = (
                await tx.execute(
                    "UPDATE versions SET info = ? WHERE bucket = ? AND key = ? AND version_id = ?",
                    compact_json(new.to_json()),
                    bucket,
                    kb,
                    version_id,
                )
                > 0
            )
            if updated and current is not None and replicate is not None and not current.delete_marker:
                current.info = new
                await queue_ops(tx, current, replica_ops(current, "tags", replicate))
            return updated

        return await self._transaction(run)

    async def update_layout(
        self,
        bucket: str,
        key: str,
        version_id: str,
        old: ObjectLayout,
        new: ObjectLayout,
        garbage: Sequence[ShardSet] = (),
    ) -> bool:
        kb = key.encode()

        async def run(tx: Tx) -> bool:
            await tx.lock_key(bucket, kb)
            row = await tx.fetchone(
                "SELECT layout FROM versions WHERE bucket = ? AND key = ? AND version_id = ?", bucket, kb, version_id
            )
            if row is None or row[0] is None or ObjectLayout.from_json(json.loads(row[0])) != old:
                return False
            await tx.execute(
                "UPDATE versions SET layout = ? WHERE bucket = ? AND key = ? AND version_id = ?",
                compact_json(new.to_json()),
                bucket,
                kb,
                version_id,
            )
            await _gc(tx, list(garbage))
            return True

        return await self._transaction(run)

    # -- usage (0008_usage.sql) ------------------------------------------------
    async def usage(self) -> dict[str, dict[str, int]]:
        async def q(tx: Tx) -> dict[str, dict[str, int]]:
            rows = await tx.fetchall(
                "SELECT b.name, COALESCE(u.objects, 0), COALESCE(u.bytes, 0), COALESCE(u.versions, 0),"
                " COALESCE(u.delete_markers, 0) FROM buckets b LEFT JOIN bucket_usage u ON u.bucket = b.name"
            )
            out = {
                r[0]: {"objects": int(r[1]), "bytes": int(r[2]), "versions": int(r[3]), "delete_markers": int(r[4])}
                for r in rows
            }
            for r in await tx.fetchall(
                "SELECT bucket, SUM(objects), SUM(bytes), SUM(versions), SUM(delete_markers)"
                " FROM usage_deltas GROUP BY bucket"
            ):
                u = out.get(r[0])
                if u is not None:
                    u["objects"] += int(r[1])
                    u["bytes"] += int(r[2])
                    u["versions"] += int(r[3])
                    u["delete_markers"] += int(r[4])
            return out

        return await self._reading(q)

    async def fold_usage(self, limit: int = 100000) -> int:
        async def run(tx: Tx) -> int:
            row = await tx.fetchone("SELECT MAX(id) FROM (SELECT id FROM usage_deltas ORDER BY id LIMIT ?) d", limit)
            top = row[0] if row else None
            if top is None:
                return 0
            # the rows this transaction deleted, and only those (two folds at once never count a row twice)
            rows = await tx.delete_returning(
                "usage_deltas", "id <= ?", "bucket, objects, bytes, versions, delete_markers", top
            )
            sums: dict[str, list[int]] = {}
            for r in rows:
                acc = sums.setdefault(r[0], [0, 0, 0, 0])
                for i in range(4):
                    acc[i] += int(r[i + 1])
            for bucket, (o, b, v, d) in sums.items():
                await tx.execute(
                    "INSERT INTO bucket_usage (bucket, objects, bytes, versions, delete_markers)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (bucket) DO UPDATE SET"
                    " objects = bucket_usage.objects + excluded.objects,"
                    " bytes = bucket_usage.bytes + excluded.bytes,"
                    " versions = bucket_usage.versions + excluded.versions,"
                    " delete_markers = bucket_usage.delete_markers + excluded.delete_markers",
                    bucket,
                    o,
                    b,
                    v,
                    d,
                )
            return len(rows)

        return await self._transaction(run)

    # -- queues ---------------------------------------------------------------
    async def enqueue_gc(self, layouts: list[ShardSet]) -> None:
        await self._transaction(lambda tx: _gc(tx, layouts))

    # -- multipart ------------------------------------------------------------
    async def create_upload(self, rec: UploadRecord) -> None:
        async def run(tx: Tx) -> None:
            await _lock_bucket(tx, rec.bucket)  # the bucket must exist (and stay until commit)
            await tx.execute(f"INSERT INTO uploads ({UPLOAD_COLS}) VALUES ({placeholders(5)})", *upload_params(rec))

        await self._transaction(run)

    async def get_upload(self, bucket: str, key: str, upload_id: str) -> UploadRecord | None:
        async def run(tx: Tx) -> UploadRecord | None:
            row = await tx.fetchone(
                f"SELECT {UPLOAD_COLS} FROM uploads WHERE upload_id = ? AND bucket = ? AND key = ?",
                upload_id,
                bucket,
                key.encode(),
            )
            return upload_from_row(row) if row else None

        return await self._reading(run)

    async def put_part(self, part: PartRecord) -> None:
        async def run(tx: Tx) -> None:
            # share-lock the upload row: a concurrent complete/abort (DELETE) waits for us, or we find it gone
            if await tx.fetchone(f"SELECT 1 FROM uploads WHERE upload_id = ?{tx.share_lock}", part.upload_id) is None:
                raise UploadMissing(part.upload_id)
            old = await tx.delete_returning(
                "parts", "upload_id = ? AND part_number = ?", "layout", part.upload_id, part.part_number
            )
            await _gc(tx, [shard_set_from_json(r[0]) for r in old])
            await tx.execute(f"INSERT INTO parts ({PART_COLS}) VALUES ({placeholders(7)})", *part_params(part))

        await self._transaction(run)

    async def list_parts(self, upload_id: str, after: int = 0, limit: int = 10000) -> list[PartRecord]:
        async def run(tx: Tx) -> list[PartRecord]:
            rows = await tx.fetchall(
                f"SELECT {PART_COLS} FROM parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?",
                upload_id,
                after,
                limit,
            )
            return [part_from_row(r) for r in rows]

        return await self._reading(run)

    async def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        async def run(tx: Tx) -> None:
            parts = await _take_upload(tx, upload_id, bucket, key.encode())
            await _gc(tx, [p.layout for p in parts])

        await self._transaction(run)

    async def complete_upload(
        self, upload_id: str, rec: VersionRecord, keep: list[int], check: WriteCheck | None = None
    ) -> VersionRecord:
        async def run(tx: Tx) -> VersionRecord:
            replaced = await _begin_write(tx, rec, check)
            # the upload goes in this transaction: of two concurrent completes, one finds it gone
            parts = await _take_upload(tx, upload_id, rec.bucket, rec.key.encode())
            kept = set(keep)
            await _gc(tx, [p.layout for p in parts if p.part_number not in kept])
            if replaced is not None:
                await _drop(tx, replaced)
            ops = replica_ops(rec, "put", rec.replicate)
            await _insert_latest(tx, rec)
            await note_event(tx, rec, "created", rec.event)
            await queue_ops(tx, rec, ops)
            return rec

        return await self._transaction(run)


# -- the steps the transactions above share -------------------------------------
async def _latest(tx: Tx, bucket: str, kb: bytes) -> VersionRecord | None:
    row = await tx.fetchone(
        f"SELECT {VERSION_COLS} FROM versions WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 1", bucket, kb
    )
    return version_from_row(row) if row else None


async def _one(tx: Tx, bucket: str, kb: bytes, version_id: str) -> VersionRecord | None:
    row = await tx.fetchone(
        f"SELECT {VERSION_COLS} FROM versions WHERE bucket = ? AND key = ? AND version_id = ?", bucket, kb, version_id
    )
    return version_from_row(row) if row else None


async def _lock_bucket(tx: Tx, bucket: str) -> str:
    """Share-lock the bucket row for a write inside it; return its versioning state (BucketMissing)."""
    row = await tx.fetchone(f"SELECT versioning FROM buckets WHERE name = ?{tx.share_lock}", bucket)
    if row is None:
        raise BucketMissing(bucket)
    return str(row[0])


async def _begin_write(tx: Tx, rec: VersionRecord, check: WriteCheck | None) -> VersionRecord | None:
    """The write check, common start of put and complete: take the locks, settle the version id
    from the bucket's versioning state (not "Enabled": "null"), run ``check`` against the current
    rows, and return the null version ``rec`` replaces."""
    kb = rec.key.encode()
    versioning = await _lock_bucket(tx, rec.bucket)
    await tx.lock_key(rec.bucket, kb)
    if versioning != "Enabled":
        rec.version_id = NULL_VERSION
    latest = await _latest(tx, rec.bucket, kb)
    replaced = await _one(tx, rec.bucket, kb, NULL_VERSION) if rec.version_id == NULL_VERSION else None
    if check is not None:
        check(latest, replaced)
    return replaced


async def _insert_latest(tx: Tx, rec: VersionRecord) -> None:
    """Add ``rec`` as the newest version of its key (next seq) and the only latest one."""
    kb = rec.key.encode()
    row = await tx.fetchone("SELECT MAX(seq) FROM versions WHERE bucket = ? AND key = ?", rec.bucket, kb)
    rec.seq = ((row[0] if row else None) or 0) + 1
    rec.is_latest = True
    prev = await tx.fetchone(
        "SELECT size, delete_marker FROM versions WHERE bucket = ? AND key = ? AND is_latest = 1", rec.bucket, kb
    )
    await tx.execute("UPDATE versions SET is_latest = 0 WHERE bucket = ? AND key = ? AND is_latest = 1", rec.bucket, kb)
    await tx.execute(f"INSERT INTO versions ({VERSION_COLS}) VALUES ({placeholders(12)})", *version_params(rec))
    objects, size = (0, 0) if rec.delete_marker else (1, rec.size)
    if prev is not None and not prev[1]:  # the former latest version no longer counts as an object
        objects, size = objects - 1, size - prev[0]
    await _usage(tx, rec.bucket, objects=objects, size=size, versions=1, markers=int(rec.delete_marker))


async def _drop(tx: Tx, rec: VersionRecord) -> None:
    """Remove one version row; its shards go to the GC queue in the same transaction."""
    if await tx.execute(
        "DELETE FROM versions WHERE bucket = ? AND key = ? AND version_id = ?",
        rec.bucket,
        rec.key.encode(),
        rec.version_id,
    ):
        counted = rec.is_latest and not rec.delete_marker
        await _usage(
            tx,
            rec.bucket,
            objects=-int(counted),
            size=-rec.size if counted else 0,
            versions=-1,
            markers=-int(rec.delete_marker),
        )
    await _gc(tx, rec.layouts())


async def _usage(tx: Tx, bucket: str, *, objects: int = 0, size: int = 0, versions: int = 0, markers: int = 0) -> None:
    """Record a change of a bucket's usage in the same transaction (0008_usage.sql: a delta row,
    insert only, so concurrent writers to one bucket do not queue on a counter)."""
    if objects or size or versions or markers:
        await tx.execute(
            "INSERT INTO usage_deltas (bucket, objects, bytes, versions, delete_markers) VALUES (?, ?, ?, ?, ?)",
            bucket,
            objects,
            size,
            versions,
            markers,
        )


async def _gc(tx: Tx, layouts: list[ShardSet]) -> None:
    if layouts:
        now = time.time()
        await tx.executemany(
            "INSERT INTO gc_queue (layout, queued_at) VALUES (?, ?)", [(shard_set_json(x), now) for x in layouts]
        )


async def _take_upload(tx: Tx, upload_id: str, bucket: str, kb: bytes) -> list[PartRecord]:
    """Delete an upload row and its parts; return the parts. UploadMissing if absent."""
    if (
        await tx.execute("DELETE FROM uploads WHERE upload_id = ? AND bucket = ? AND key = ?", upload_id, bucket, kb)
        == 0
    ):
        raise UploadMissing(upload_id)
    return [part_from_row(r) for r in await tx.delete_returning("parts", "upload_id = ?", PART_COLS, upload_id)]
