"""SQLite MetaStore: the embedded default.

One connection, owned by one worker thread: SQLite allows a single writer, and
funnelling every call through one thread keeps transactions simple (``BEGIN
IMMEDIATE`` for writes) while the event loop never blocks on the file. WAL mode
lets a crash at any point leave either the old or the new state.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

from . import migrate
from .base import (
    BucketExists,
    BucketMissing,
    BucketNotEmptyError,
    DeleteCheck,
    MetaStore,
    MetaUnavailable,
    SchemaTooNew,
    WriteCheck,
)
from .model import NULL_VERSION, BucketRecord, VersionRecord

T = TypeVar("T")

_COLS = "bucket, key, version_id, seq, is_latest, delete_marker, size, etag, mtime, info, layout, inline_data"


def _row_to_version(row: tuple) -> VersionRecord:
    return VersionRecord(
        bucket=row[0],
        key=bytes(row[1]).decode(),
        version_id=row[2],
        seq=row[3],
        is_latest=bool(row[4]),
        delete_marker=bool(row[5]),
        size=row[6],
        etag=row[7],
        mtime=row[8],
        info=json.loads(row[9]),
        layout=json.loads(row[10]) if row[10] else None,
        inline=bytes(row[11]) if row[11] is not None else None,
    )


def _version_params(r: VersionRecord) -> tuple:
    return (
        r.bucket,
        r.key.encode(),
        r.version_id,
        r.seq,
        int(r.is_latest),
        int(r.delete_marker),
        r.size,
        r.etag,
        r.mtime,
        json.dumps(r.info, separators=(",", ":")),
        json.dumps(r.layout, separators=(",", ":")) if r.layout is not None else None,
        r.inline,
    )


class SqliteMeta(MetaStore):
    def __init__(self, path: str) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None

    # -- plumbing -------------------------------------------------------------
    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, fn, *args)
        except sqlite3.OperationalError as e:  # locked, disk I/O error, ...
            raise MetaUnavailable(str(e)) from e

    def _conn(self) -> sqlite3.Connection:
        assert self._db is not None, "SqliteMeta.open() was not awaited"
        return self._db

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            out = fn(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return out

    async def open(self) -> None:
        def _open() -> None:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=5000")
            self._db = db
            self._migrate(db)

        await self._run(_open)

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        current = row[0] or 0
        newest = migrate.latest_version()
        if current > newest:
            raise SchemaTooNew(f"database schema {current} is newer than this s3gw knows ({newest})")
        for number, sql in migrate.migrations("sqlite"):
            if number <= current:
                continue
            db.execute("BEGIN IMMEDIATE")
            for stmt in migrate.split_statements(sql):
                db.execute(stmt)
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
            db.execute("COMMIT")

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._pool.shutdown(wait=True)

    async def ping(self) -> None:
        await self._run(lambda: self._conn().execute("SELECT 1").fetchone())

    async def backup(self, dest: str) -> None:
        """Online copy through SQLite's backup API (consistent while serving)."""

        def _backup() -> None:
            out = sqlite3.connect(dest)
            try:
                self._conn().backup(out)
            finally:
                out.close()

        await self._run(_backup)

    # -- buckets --------------------------------------------------------------
    async def create_bucket(self, rec: BucketRecord) -> None:
        def tx(db: sqlite3.Connection) -> None:
            try:
                db.execute(
                    "INSERT INTO buckets (name, created, versioning, object_lock, config) VALUES (?,?,?,?,?)",
                    (rec.name, rec.created, rec.versioning, int(rec.object_lock), json.dumps(rec.config)),
                )
            except sqlite3.IntegrityError as e:
                raise BucketExists(rec.name) from e

        await self._run(self._write, tx)

    @staticmethod
    def _bucket(row: tuple | None) -> BucketRecord | None:
        if row is None:
            return None
        return BucketRecord(row[0], row[1], row[2], bool(row[3]), json.loads(row[4]))

    async def get_bucket(self, name: str) -> BucketRecord | None:
        q = "SELECT name, created, versioning, object_lock, config FROM buckets WHERE name = ?"
        return await self._run(lambda: self._bucket(self._conn().execute(q, (name,)).fetchone()))

    async def list_buckets(self) -> list[BucketRecord]:
        q = "SELECT name, created, versioning, object_lock, config FROM buckets ORDER BY name"
        rows = await self._run(lambda: self._conn().execute(q).fetchall())
        return [b for b in map(self._bucket, rows) if b is not None]

    async def update_bucket(self, name: str, **fields: Any) -> None:
        allowed = {"versioning", "object_lock", "config"}
        assert set(fields) <= allowed, fields
        vals = [json.dumps(v) if k == "config" else (int(v) if k == "object_lock" else v) for k, v in fields.items()]

        def tx(db: sqlite3.Connection) -> None:
            sets = ", ".join(f"{k} = ?" for k in fields)
            cur = db.execute(f"UPDATE buckets SET {sets} WHERE name = ?", (*vals, name))
            if cur.rowcount == 0:
                raise BucketMissing(name)

        await self._run(self._write, tx)

    async def delete_bucket(self, name: str) -> None:
        def tx(db: sqlite3.Connection) -> None:
            if db.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone() is None:
                raise BucketMissing(name)
            if db.execute("SELECT 1 FROM versions WHERE bucket = ? LIMIT 1", (name,)).fetchone():
                raise BucketNotEmptyError(name)
            db.execute("DELETE FROM buckets WHERE name = ?", (name,))

        await self._run(self._write, tx)

    # -- versions -------------------------------------------------------------
    @staticmethod
    def _latest(db: sqlite3.Connection, bucket: str, kb: bytes) -> VersionRecord | None:
        row = db.execute(
            f"SELECT {_COLS} FROM versions WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 1", (bucket, kb)
        ).fetchone()
        return _row_to_version(row) if row else None

    @staticmethod
    def _one(db: sqlite3.Connection, bucket: str, kb: bytes, version_id: str) -> VersionRecord | None:
        row = db.execute(
            f"SELECT {_COLS} FROM versions WHERE bucket = ? AND key = ? AND version_id = ?", (bucket, kb, version_id)
        ).fetchone()
        return _row_to_version(row) if row else None

    async def get_version(self, bucket: str, key: str, version_id: str | None = None) -> VersionRecord | None:
        kb = key.encode()
        if version_id is None:
            return await self._run(self._latest, self._conn(), bucket, kb)
        return await self._run(self._one, self._conn(), bucket, kb, version_id)

    def _versioning(self, db: sqlite3.Connection, bucket: str) -> str:
        row = db.execute("SELECT versioning FROM buckets WHERE name = ?", (bucket,)).fetchone()
        if row is None:
            raise BucketMissing(bucket)
        return row[0]

    def _drop(self, db: sqlite3.Connection, rec: VersionRecord) -> None:
        """Remove one version row; its shards go to the GC queue in the same transaction."""
        db.execute(
            "DELETE FROM versions WHERE bucket = ? AND key = ? AND version_id = ?",
            (rec.bucket, rec.key.encode(), rec.version_id),
        )
        for layout in _layouts(rec):
            db.execute("INSERT INTO gc_queue (layout, queued_at) VALUES (?, ?)", (json.dumps(layout), time.time()))

    def _insert_latest(self, db: sqlite3.Connection, rec: VersionRecord) -> None:
        kb = rec.key.encode()
        row = db.execute("SELECT MAX(seq) FROM versions WHERE bucket = ? AND key = ?", (rec.bucket, kb)).fetchone()
        rec.seq = (row[0] or 0) + 1
        rec.is_latest = True
        db.execute("UPDATE versions SET is_latest = 0 WHERE bucket = ? AND key = ? AND is_latest = 1", (rec.bucket, kb))
        db.execute(f"INSERT INTO versions ({_COLS}) VALUES ({','.join('?' * 12)})", _version_params(rec))

    async def put_version(self, rec: VersionRecord, check: WriteCheck | None = None) -> VersionRecord:
        def tx(db: sqlite3.Connection) -> VersionRecord:
            kb = rec.key.encode()
            if self._versioning(db, rec.bucket) != "Enabled":
                rec.version_id = NULL_VERSION
            latest = self._latest(db, rec.bucket, kb)
            replaced = self._one(db, rec.bucket, kb, NULL_VERSION) if rec.version_id == NULL_VERSION else None
            if check is not None:
                check(latest, replaced)
            if replaced is not None:
                self._drop(db, replaced)
            self._insert_latest(db, rec)
            return rec

        return await self._run(self._write, tx)

    async def delete_object(
        self, bucket: str, key: str, version_id: str | None, marker: VersionRecord, check: DeleteCheck | None = None
    ) -> tuple[VersionRecord | None, VersionRecord | None]:
        def tx(db: sqlite3.Connection) -> tuple[VersionRecord | None, VersionRecord | None]:
            kb = key.encode()
            state = self._versioning(db, bucket)
            if version_id is not None:
                victim = self._one(db, bucket, kb, version_id)
                if victim is None:
                    return None, None
                if check is not None:
                    check(victim)
                self._drop(db, victim)
                if victim.is_latest:
                    db.execute(
                        "UPDATE versions SET is_latest = 1 WHERE bucket = ? AND key = ? AND seq = "
                        "(SELECT MAX(seq) FROM versions WHERE bucket = ? AND key = ?)",
                        (bucket, kb, bucket, kb),
                    )
                return victim, None
            if state == "Enabled":
                self._insert_latest(db, marker)
                return None, marker
            victim = self._one(db, bucket, kb, NULL_VERSION)
            if victim is not None:
                if check is not None:
                    check(victim)
                self._drop(db, victim)
            if state == "Suspended":
                marker.version_id = NULL_VERSION
                self._insert_latest(db, marker)
                return victim, marker
            return victim, None

        return await self._run(self._write, tx)

    async def update_info(self, bucket: str, key: str, version_id: str, info: dict[str, Any]) -> None:
        def tx(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE versions SET info = ? WHERE bucket = ? AND key = ? AND version_id = ?",
                (json.dumps(info, separators=(",", ":")), bucket, key.encode(), version_id),
            )

        await self._run(self._write, tx)

    async def _scan_live(self, bucket: str, lo: bytes, inclusive: bool, hi: bytes | None, limit: int) -> list[VersionRecord]:
        op = ">=" if inclusive else ">"
        q = f"SELECT {_COLS} FROM versions WHERE bucket = ? AND is_latest = 1 AND delete_marker = 0 AND key {op} ?"
        args: list[Any] = [bucket, lo]
        if hi is not None:
            q += " AND key < ?"
            args.append(hi)
        q += " ORDER BY key LIMIT ?"
        args.append(limit)
        rows = await self._run(lambda: self._conn().execute(q, args).fetchall())
        return [_row_to_version(r) for r in rows]

    async def _scan_versions(
        self, bucket: str, lo: bytes, inclusive: bool, hi: bytes | None, limit: int, below_seq: int | None = None
    ) -> list[VersionRecord]:
        if below_seq is not None:
            q = f"SELECT {_COLS} FROM versions WHERE bucket = ? AND key = ? AND seq < ? ORDER BY seq DESC LIMIT ?"
            args: list[Any] = [bucket, lo, below_seq, limit]
        else:
            op = ">=" if inclusive else ">"
            q = f"SELECT {_COLS} FROM versions WHERE bucket = ? AND key {op} ?"
            args = [bucket, lo]
            if hi is not None:
                q += " AND key < ?"
                args.append(hi)
            q += " ORDER BY key, seq DESC LIMIT ?"
            args.append(limit)
        rows = await self._run(lambda: self._conn().execute(q, args).fetchall())
        return [_row_to_version(r) for r in rows]

    # -- queues ---------------------------------------------------------------
    async def enqueue_gc(self, layouts: list[dict[str, Any]]) -> None:
        def tx(db: sqlite3.Connection) -> None:
            now = time.time()
            db.executemany(
                "INSERT INTO gc_queue (layout, queued_at) VALUES (?, ?)", [(json.dumps(lay), now) for lay in layouts]
            )

        await self._run(self._write, tx)

    async def take_gc(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        q = "SELECT id, layout FROM gc_queue ORDER BY id LIMIT ?"
        rows = await self._run(lambda: self._conn().execute(q, (limit,)).fetchall())
        return [(r[0], json.loads(r[1])) for r in rows]

    async def done_gc(self, ids: list[int]) -> None:
        def tx(db: sqlite3.Connection) -> None:
            db.executemany("DELETE FROM gc_queue WHERE id = ?", [(i,) for i in ids])

        await self._run(self._write, tx)

    async def enqueue_heal(self, bucket: str, key: str, version_id: str, reason: str) -> None:
        def tx(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO heal_queue (bucket, key, version_id, reason, queued_at) VALUES (?,?,?,?,?)",
                (bucket, key.encode(), version_id, reason, time.time()),
            )

        await self._run(self._write, tx)


def _layouts(rec: VersionRecord) -> list[dict[str, Any]]:
    """Every storage layout a version references: its own, or one per multipart part."""
    if rec.layout is None:
        return []
    if "parts" in rec.layout:
        return [p["layout"] for p in rec.layout["parts"] if p.get("layout")]
    return [rec.layout]
