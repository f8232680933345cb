"""The lifecycle worker's queries (0009_lifecycle.sql), written once over the transaction adapter
like ``identity.py``: due versions and uploads found by index range scans, and the per-bucket
lease that keeps one applier per bucket across gateways.

Every query is keyset-paginated (``after``: the last row of the previous batch, in the
query's order) so a pass reads each due row once, whatever the batch size.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .base import MetaStore, successor
from .model import UploadRecord, VersionRecord
from .rows import UPLOAD_COLS, VERSION_COLS, upload_from_row, version_from_row
from .tx import Tx

T = TypeVar("T")
TxFn = Callable[[Tx], Coroutine[Any, Any, T]]

#: a version's columns without its inline data (the worker never needs the bytes)
_LIGHT = ", ".join("NULL" if c == "inline_data" else f"v.{c}" for c in VERSION_COLS.split(", "))
#: "after" a time before any object's, for the first batch
FIRST: tuple[float, bytes, str] = (-1.0, b"", "")


def _prefix(prefix: str, col: str = "v.key") -> tuple[str, list[Any]]:
    """The key range of a prefix: an index range, nothing for the empty prefix."""
    if not prefix:
        return "", []
    pb = prefix.encode()
    hi = successor(pb)
    if hi is None:
        return f" AND {col} >= ?", [pb]
    return f" AND {col} >= ? AND {col} < ?", [pb, hi]


#: after (mtime, key, version id): the keyset condition of the (bucket, mtime) index order
_AFTER = " AND (v.mtime > ? OR (v.mtime = ? AND (v.key > ? OR (v.key = ? AND v.version_id > ?))))"


class LifecycleSql(MetaStore):
    """``MetaStore``'s lifecycle methods over ``_transaction`` / ``_reading``."""

    @abc.abstractmethod
    async def _transaction(self, fn: TxFn[T]) -> T: ...

    @abc.abstractmethod
    async def _reading(self, fn: TxFn[T]) -> T: ...

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
        m, k, vid = after
        where, args = _prefix(prefix)
        sql = (
            f"SELECT {_LIGHT} FROM versions v WHERE v.bucket = ? AND v.is_latest = 1 AND v.mtime < ?"
            f"{'' if markers else ' AND v.delete_marker = 0'}{where}{_AFTER} ORDER BY v.mtime, v.key, v.version_id"
            " LIMIT ?"
        )

        async def q(tx: Tx) -> list[VersionRecord]:
            rows = await tx.fetchall(sql, bucket, before, *args, m, m, k, k, vid, limit)
            return [version_from_row(r) for r in rows]

        return await self._reading(q)

    async def lifecycle_noncurrent(
        self, bucket: str, prefix: str, before: float, after: tuple[float, bytes, str], limit: int
    ) -> list[tuple[VersionRecord, float, int]]:
        m, k, vid = after
        where, args = _prefix(prefix)
        # the successor (next seq of the key: versions_by_seq) made this version noncurrent at its
        # own time; the newer noncurrent versions are those between it and the latest
        sql = (
            f"SELECT {_LIGHT},"
            " (SELECT s.mtime FROM versions s WHERE s.bucket = v.bucket AND s.key = v.key AND s.seq > v.seq"
            " ORDER BY s.seq LIMIT 1),"
            " (SELECT COUNT(*) FROM versions s WHERE s.bucket = v.bucket AND s.key = v.key AND s.seq > v.seq"
            " AND s.is_latest = 0)"
            f" FROM versions v WHERE v.bucket = ? AND v.is_latest = 0 AND v.mtime < ?{where}{_AFTER}"
            " ORDER BY v.mtime, v.key, v.version_id LIMIT ?"
        )
        n = len(VERSION_COLS.split(", "))

        async def q(tx: Tx) -> list[tuple[VersionRecord, float, int]]:
            rows = await tx.fetchall(sql, bucket, before, *args, m, m, k, k, vid, limit)
            out = []
            for r in rows:
                rec = version_from_row(r)  # reads the version's columns; the two after them are ours
                out.append((rec, float(r[n]) if r[n] is not None else rec.mtime, int(r[n + 1])))
            return out

        return await self._reading(q)

    async def lifecycle_uploads(
        self, bucket: str | None, prefix: str, before: float, after: tuple[float, str], limit: int
    ) -> list[UploadRecord]:
        t, uid = after
        where, args = _prefix(prefix, "u.key")
        cols = ", ".join(f"u.{c}" for c in UPLOAD_COLS.split(", "))
        scope = "u.bucket = ? AND " if bucket is not None else ""
        sql = (
            f"SELECT {cols} FROM uploads u WHERE {scope}u.initiated < ?{where}"
            " AND (u.initiated > ? OR (u.initiated = ? AND u.upload_id > ?))"
            " ORDER BY u.initiated, u.upload_id LIMIT ?"
        )
        head = [bucket] if bucket is not None else []

        async def q(tx: Tx) -> list[UploadRecord]:
            rows = await tx.fetchall(sql, *head, before, *args, t, t, uid, limit)
            return [upload_from_row(r) for r in rows]

        return await self._reading(q)

    async def take_lease(self, name: str, owner: str, ttl: float, now: float) -> bool:
        async def run(tx: Tx) -> bool:
            await tx.execute(
                "INSERT INTO lifecycle_leases (name, owner, expires) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                name,
                "",
                0.0,
            )
            # compare and set: free, expired, or already ours
            return (
                await tx.execute(
                    "UPDATE lifecycle_leases SET owner = ?, expires = ? WHERE name = ? AND (owner = ? OR expires < ?)",
                    owner,
                    now + ttl,
                    name,
                    owner,
                    now,
                )
                > 0
            )

        return await self._transaction(run)

    async def release_lease(self, name: str, owner: str, now: float, *, finished: bool) -> None:
        async def run(tx: Tx) -> None:
            await tx.execute(
                "UPDATE lifecycle_leases SET owner = '', expires = 0"
                + (", last_pass = ?" if finished else "")
                + " WHERE name = ? AND owner = ?",
                *([now] if finished else []),
                name,
                owner,
            )

        await self._transaction(run)

    async def lease_passes(self) -> dict[str, float]:
        async def q(tx: Tx) -> dict[str, float]:
            rows = await tx.fetchall("SELECT name, last_pass FROM lifecycle_leases")
            return {str(r[0]): float(r[1]) for r in rows}

        return await self._reading(q)
