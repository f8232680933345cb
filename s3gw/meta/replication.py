"""Bucket replication in SQL (0011_replication.sql), written once over the transaction
adapter like ``outbox.py``: the remote targets of each source bucket, and the queue.

The write transactions of ``sql.py`` insert queue rows themselves (``replica_ops`` /
``queue_ops``), so an operation is queued exactly when the change it copies commits. The
worker (core/replicate.py) takes due rows with a lease (``take_replication``) and reports
each outcome (``finish_replication``).
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any, TypeVar

from .base import BucketMissing, MetaStore, ReplicationItem
from .model import VersionRecord
from .tx import Tx, placeholders

T = TypeVar("T")
TxFn = Callable[[Tx], Coroutine[Any, Any, T]]


class ReplicationSql(MetaStore):
    """``MetaStore``'s replication methods over ``_transaction`` / ``_reading``."""

    @abc.abstractmethod
    async def _transaction(self, fn: TxFn[T]) -> T: ...

    @abc.abstractmethod
    async def _reading(self, fn: TxFn[T]) -> T: ...

    async def list_replication_targets(self, bucket: str | None = None) -> list[tuple[str, str, str]]:
        async def q(tx: Tx) -> list[tuple[str, str, str]]:
            if bucket is None:
                rows = await tx.fetchall("SELECT arn, bucket, doc FROM replication_targets ORDER BY bucket, created")
            else:
                rows = await tx.fetchall(
                    "SELECT arn, bucket, doc FROM replication_targets WHERE bucket = ? ORDER BY created", bucket
                )
            return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]

        return await self._reading(q)

    async def put_replication_target(self, arn: str, bucket: str, doc: str) -> None:
        async def run(tx: Tx) -> None:
            if await tx.fetchone(f"SELECT 1 FROM buckets WHERE name = ?{tx.share_lock}", bucket) is None:
                raise BucketMissing(bucket)
            await tx.execute("DELETE FROM replication_targets WHERE arn = ?", arn)
            await tx.execute(
                "INSERT INTO replication_targets (arn, bucket, doc, created) VALUES (?, ?, ?, ?)",
                arn,
                bucket,
                doc,
                time.time(),
            )

        await self._transaction(run)

    async def delete_replication_target(self, arn: str) -> bool:
        async def run(tx: Tx) -> bool:
            return await tx.execute("DELETE FROM replication_targets WHERE arn = ?", arn) > 0

        return await self._transaction(run)

    async def take_replication(self, limit: int, now: float, lease: float) -> list[ReplicationItem]:
        async def run(tx: Tx) -> list[ReplicationItem]:
            # due, and first in line for its key and target: a key's changes reach a target in order
            rows = await tx.fetchall(
                "SELECT q.id, q.bucket, q.key, q.version_id, q.target, q.op, q.size, q.attempts, q.created"
                " FROM replication_queue q WHERE q.state = 'pending' AND q.not_before <= ?"
                " AND NOT EXISTS (SELECT 1 FROM replication_queue p WHERE p.bucket = q.bucket AND p.key = q.key"
                " AND p.target = q.target AND p.id < q.id AND p.state = 'pending')"
                " ORDER BY q.id LIMIT ?",
                now,
                limit,
            )
            if not rows:
                return []
            ids = [int(r[0]) for r in rows]
            await tx.execute(
                f"UPDATE replication_queue SET not_before = ? WHERE state = 'pending' AND id IN ({placeholders(len(ids))})",
                now + lease,
                *ids,
            )
            return [
                ReplicationItem(
                    int(r[0]),
                    str(r[1]),
                    bytes(r[2]).decode(),
                    str(r[3]),
                    str(r[4]),
                    str(r[5]),
                    int(r[6]),
                    int(r[7]),
                    float(r[8]),
                )  # fmt: skip
                for r in rows
            ]

        return await self._transaction(run)

    async def finish_replication(
        self, item: ReplicationItem, outcome: str, error: str = "", retry_at: float = 0.0
    ) -> bool:
        async def run(tx: Tx) -> bool:
            if outcome == "done":
                await tx.execute("DELETE FROM replication_queue WHERE id = ?", item.id)
            else:
                await tx.execute(
                    "UPDATE replication_queue SET attempts = attempts + 1, not_before = ?, state = ?, last_error = ?"
                    " WHERE id = ?",
                    retry_at,
                    "dead" if outcome == "dead" else "pending",
                    error[:1000],
                    item.id,
                )
            left = await tx.fetchone(
                "SELECT 1 FROM replication_queue WHERE bucket = ? AND key = ? AND version_id = ? AND state = 'pending'",
                item.bucket,
                item.key.encode(),
                item.version_id,
            )
            return left is None

        return await self._transaction(run)

    async def renew_replication(self, ids: list[int], until: float) -> None:
        async def run(tx: Tx) -> None:
            await tx.execute(
                f"UPDATE replication_queue SET not_before = ? WHERE state = 'pending' AND id IN ({placeholders(len(ids))})",
                until,
                *ids,
            )

        if ids:
            await self._transaction(run)

    async def queue_replication(self, rows: list[tuple[str, str, str, str, str, int]]) -> int:
        async def run(tx: Tx) -> int:
            now = time.time()
            await tx.executemany(
                "INSERT INTO replication_queue (bucket, key, version_id, target, op, size, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(b, k.encode(), v, t, op, size, now) for b, k, v, t, op, size in rows],
            )
            return len(rows)

        return await self._transaction(run) if rows else 0

    async def replication_stats(self) -> dict[str, Any]:
        async def q(tx: Tx) -> dict[str, Any]:
            rows = await tx.fetchall(
                "SELECT target, state, COUNT(*), COALESCE(SUM(size), 0), MIN(created) FROM replication_queue"
                " GROUP BY target, state"
            )
            out: dict[str, Any] = {"pending": 0, "pending_bytes": 0, "dead": 0, "oldest_pending": 0.0, "targets": {}}
            for row in rows:
                target, state, n, size, oldest = row[0], str(row[1]), int(row[2]), int(row[3]), row[4]
                t = out["targets"].setdefault(str(target), {"pending": 0, "dead": 0})
                t[str(state)] = int(n)
                if state == "pending":
                    out["pending"] += int(n)
                    out["pending_bytes"] += int(size)
                    if oldest is not None and (not out["oldest_pending"] or float(oldest) < out["oldest_pending"]):
                        out["oldest_pending"] = float(oldest)
                else:
                    out["dead"] += int(n)
            return out

        return await self._reading(q)

    async def retry_dead_replication(self) -> int:
        async def run(tx: Tx) -> int:
            return await tx.execute(
                "UPDATE replication_queue SET state = 'pending', attempts = 0, not_before = 0 WHERE state = 'dead'"
            )

        return await self._transaction(run)


def replica_ops(rec: VersionRecord, what: str, note: Any) -> list[tuple[str, str]]:
    """The queue rows a change owes (see ``model.ReplicaNote``); a new version or delete marker
    that owes any is stored PENDING (call before inserting ``rec``)."""
    if note is None:
        return []
    ops: list[tuple[str, str]] = note(rec, what)
    if ops and what in ("put", "marker"):
        rec.info = replace(rec.info, replication_status="PENDING")
    return ops


async def queue_ops(tx: Tx, rec: VersionRecord, ops: list[tuple[str, str]]) -> None:
    """Insert the queue rows of a change inside its own transaction."""
    if ops:
        now = time.time()
        await tx.executemany(
            "INSERT INTO replication_queue (bucket, key, version_id, target, op, size, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (rec.bucket, rec.key.encode(), rec.version_id, t, op, rec.size if op == "put" else 0, now)
                for t, op in ops
            ],
        )
