"""Bucket notifications in SQL (0010_notifications.sql), written once over the transaction
adapter like ``runtime.py``: each bucket's configuration, and the outbox of events.

The write transactions of ``sql.py`` insert outbox rows themselves (``note_event``), so
an event is queued exactly when the change it tells of commits. The sender (core/notify.py)
takes due rows with a lease (``take_outbox`` moves their ``not_before`` on, so another
gateway does not take them meanwhile), and reports each outcome (``finish_outbox``).
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .base import BucketMissing, MetaStore, OutboxItem
from .model import VersionRecord
from .tx import Tx, placeholders

T = TypeVar("T")
TxFn = Callable[[Tx], Coroutine[Any, Any, T]]


class OutboxSql(MetaStore):
    """``MetaStore``'s notification methods over ``_transaction`` / ``_reading``."""

    @abc.abstractmethod
    async def _transaction(self, fn: TxFn[T]) -> T: ...

    @abc.abstractmethod
    async def _reading(self, fn: TxFn[T]) -> T: ...

    async def get_bucket_notification(self, bucket: str) -> str | None:
        async def q(tx: Tx) -> str | None:
            row = await tx.fetchone("SELECT config FROM bucket_notifications WHERE bucket = ?", bucket)
            return str(row[0]) if row else None

        return await self._reading(q)

    async def put_bucket_notification(self, bucket: str, config: str | None) -> None:
        async def run(tx: Tx) -> None:
            if await tx.fetchone(f"SELECT 1 FROM buckets WHERE name = ?{tx.share_lock}", bucket) is None:
                raise BucketMissing(bucket)
            await tx.execute("DELETE FROM bucket_notifications WHERE bucket = ?", bucket)
            if config is not None:
                await tx.execute(
                    "INSERT INTO bucket_notifications (bucket, config, updated) VALUES (?, ?, ?)",
                    bucket,
                    config,
                    time.time(),
                )

        await self._transaction(run)

    async def take_outbox(self, limit: int, now: float, lease: float) -> list[OutboxItem]:
        async def run(tx: Tx) -> list[OutboxItem]:
            rows = await tx.fetchall(
                "SELECT id, target, payload, attempts, created FROM notify_outbox"
                " WHERE state = 'pending' AND not_before <= ? ORDER BY id LIMIT ?",
                now,
                limit,
            )
            if not rows:
                return []
            ids = [int(r[0]) for r in rows]
            # the lease: another gateway's sender skips them until it runs out (a crash mid-send
            # leaves them due again then: at least once)
            await tx.execute(
                f"UPDATE notify_outbox SET not_before = ? WHERE state = 'pending' AND id IN ({placeholders(len(ids))})",
                now + lease,
                *ids,
            )
            return [OutboxItem(int(r[0]), str(r[1]), str(r[2]), int(r[3]), float(r[4])) for r in rows]

        return await self._transaction(run)

    async def finish_outbox(self, item_id: int, outcome: str, error: str = "", retry_at: float = 0.0) -> None:
        async def run(tx: Tx) -> None:
            if outcome == "done":
                await tx.execute("DELETE FROM notify_outbox WHERE id = ?", item_id)
            else:
                await tx.execute(
                    "UPDATE notify_outbox SET attempts = attempts + 1, not_before = ?, state = ?, last_error = ?"
                    " WHERE id = ?",
                    retry_at,
                    "dead" if outcome == "dead" else "pending",
                    error[:1000],
                    item_id,
                )

        await self._transaction(run)

    async def outbox_stats(self) -> dict[str, float]:
        async def q(tx: Tx) -> dict[str, float]:
            rows = await tx.fetchall("SELECT state, COUNT(*), MIN(created) FROM notify_outbox GROUP BY state")
            out: dict[str, float] = {"pending": 0, "dead": 0, "oldest_pending": 0.0}
            for r in rows:
                out[str(r[0])] = int(r[1])
                if r[0] == "pending" and r[2] is not None:
                    out["oldest_pending"] = float(r[2])
            return out

        return await self._reading(q)

    async def retry_dead_outbox(self) -> int:
        async def run(tx: Tx) -> int:
            return await tx.execute(
                "UPDATE notify_outbox SET state = 'pending', attempts = 0, not_before = 0 WHERE state = 'dead'"
            )

        return await self._transaction(run)


async def note_event(tx: Tx, rec: VersionRecord, what: str, note: Any) -> None:
    """Queue the events of a change inside its own transaction (see ``model.EventNote``):
    nothing when the write carries no hook or the bucket has no notification configuration."""
    if note is None:
        return
    row = await tx.fetchone("SELECT config FROM bucket_notifications WHERE bucket = ?", rec.bucket)
    if row is None:
        return
    rows = note(str(row[0]), rec, what)
    if rows:
        now = time.time()
        await tx.executemany(
            "INSERT INTO notify_outbox (target, payload, created) VALUES (?, ?, ?)", [(t, p, now) for t, p in rows]
        )
