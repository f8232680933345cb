"""Bucket replication in SQL (0011_replication.sql), written once over the transaction
adapter like ``outbox.py``: the remote targets of each source bucket."""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .base import BucketMissing, MetaStore
from .tx import Tx

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
