"""SQLite MetaStore: the embedded default.

One connection, owned by one worker thread: SQLite allows a single writer, and
funnelling every call through one thread keeps transactions simple (``BEGIN
IMMEDIATE`` for writes) while the event loop never blocks on the file. WAL mode
lets a crash at any point leave either the old or the new state.

The versioning and multipart transactions are ``sql.SqlMetaStore``'s, written
once for both backends; here they run through ``SqliteTx`` on the worker thread,
each as one synchronous step (``tx.run_sync``): one thread hop per transaction.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..common.records import ShardSet
from . import migrate
from .base import (
    BucketExists,
    BucketMissing,
    BucketNotEmptyError,
    HealItem,
    MetaUnavailable,
    SchemaTooNew,
    SchemaTooOld,
    WriteIntent,
)
from .model import BucketRecord, UploadRecord, VersionRecord
from .rows import (
    UPLOAD_COLS,
    VERSION_COLS,
    Row,
    bucket_from_row,
    shard_set_from_json,
    upload_from_row,
    version_from_row,
)
from .sql import SqlMetaStore, TxFn
from .stats import PoolStats
from .tx import run_sync

T = TypeVar("T")


def _key_range(bucket: str, lo: bytes, inclusive: bool, hi: bytes | None) -> tuple[str, list[Any]]:
    """The WHERE clause of a listing scan: one bucket, lo <(=) key < hi (an index range)."""
    where = f"bucket = ? AND key {'>=' if inclusive else '>'} ?"
    args: list[Any] = [bucket, lo]
    if hi is not None:
        where += " AND key < ?"
        args.append(hi)
    return where, args


class SqliteTx:
    """``tx.Tx`` on the store's connection, on its worker thread: every method runs its statement
    at once and never suspends, so a transaction written as a coroutine runs in one step."""

    share_lock = ""  # a write transaction (BEGIN IMMEDIATE) holds the whole database

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        return self.db.execute(sql, args).fetchone()  # type: ignore[no-any-return]

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        return self.db.execute(sql, args).fetchall()

    async def execute(self, sql: str, *args: Any) -> int:
        return self.db.execute(sql, args).rowcount

    async def executemany(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        self.db.executemany(sql, args)

    async def delete_returning(self, table: str, where: str, cols: str, *args: Any) -> list[Row]:
        rows = self.db.execute(f"SELECT {cols} FROM {table} WHERE {where}", args).fetchall()
        if rows:
            self.db.execute(f"DELETE FROM {table} WHERE {where}", args)
        return rows

    async def lock_key(self, bucket: str, kb: bytes) -> None:
        pass  # one writer at a time: the transaction already excludes every other


def private_files(path: str) -> None:
    """The database file, created 0600 when new, and it and its -wal/-shm files
    tightened to 0600 when they exist (SQLite gives new -wal/-shm files the
    database file's mode)."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
    for p in (path, path + "-wal", path + "-shm"):
        try:
            if stat.S_IMODE(os.stat(p).st_mode) & 0o077:
                os.chmod(p, 0o600)
        except FileNotFoundError:
            pass


class SqliteMeta(SqlMetaStore):
    def __init__(self, path: str, *, auto_migrate: bool = True) -> None:
        self.path = path
        self.auto_migrate = auto_migrate
        self.applied: list[int] = []  # migrations this open() applied
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None
        self.stats = PoolStats("sqlite", 1)  # /debug/db-stats: one worker thread is the "pool"

    # -- plumbing -------------------------------------------------------------
    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        call = self.stats.begin()

        def timed() -> T:  # on the worker thread: the wait ends when the call gets its turn
            self.stats.acquired(call)
            return fn(*args)

        ok = False
        try:
            out = await loop.run_in_executor(self._pool, timed)
            ok = True
            return out
        except sqlite3.OperationalError as e:  # locked, disk I/O error, ...
            raise MetaUnavailable(str(e)) from e
        finally:
            self.stats.end(call, ok)

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

    async def _transaction(self, fn: TxFn[T]) -> T:
        return await self._run(self._write, lambda db: run_sync(fn(SqliteTx(db))))

    async def _reading(self, fn: TxFn[T]) -> T:
        return await self._run(lambda: run_sync(fn(SqliteTx(self._conn()))))

    async def open(self) -> None:
        def _open() -> None:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), mode=0o700, exist_ok=True)
            private_files(self.path)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=5000")
            self._db = db
            self._migrate(db)

        await self._run(_open)

    def _migrate(self, db: sqlite3.Connection) -> None:
        """Apply pending migrations, each in its own write transaction.

        The current version is re-read inside each transaction: several
        processes (``serve --workers``) opening one file apply every migration
        exactly once.
        """
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        current = self._schema_version(db)
        newest = migrate.latest_version()
        if current > newest:
            raise SchemaTooNew(f"database schema {current} is newer than this s3gw knows ({newest})")
        if current < newest and not self.auto_migrate:
            raise SchemaTooOld(f"database schema {current} is older than {newest}: run `s3gw meta migrate`")
        for number, sql in migrate.migrations("sqlite"):
            if number <= current:
                continue
            db.execute("BEGIN IMMEDIATE")
            try:
                current = self._schema_version(db)
                if number > current:
                    for stmt in migrate.split_statements(sql):
                        db.execute(stmt)
                    db.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
                    self.applied.append(number)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @staticmethod
    def _schema_version(db: sqlite3.Connection) -> int:
        return db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0

    async def schema_version(self) -> int:
        return await self._run(self._schema_version, self._conn())

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._pool.shutdown(wait=True)

    async def ping(self) -> None:
        await self._run(lambda: self._conn().execute("SELECT 1").fetchone())

    async def backup(self, dest: str) -> None:
        """Online copy through SQLite's backup API (consistent while serving).

        It runs on a connection and a thread of its own: copying all pages in
        one step is one read transaction (a consistent snapshot), and in WAL
        mode writers go on meanwhile, so the store's one worker thread keeps
        serving requests instead of waiting for the copy of a large database.
        """

        def _backup() -> None:
            src = sqlite3.connect(self.path)
            out = sqlite3.connect(dest)
            try:
                src.backup(out)
            finally:
                out.close()
                src.close()

        try:
            await asyncio.get_running_loop().run_in_executor(None, _backup)
        except sqlite3.Error as e:
            raise MetaUnavailable(f"backup failed: {e}") from e

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

    async def get_bucket(self, name: str) -> BucketRecord | None:
        q = "SELECT name, created, versioning, object_lock, config FROM buckets WHERE name = ?"
        return await self._run(lambda: bucket_from_row(self._conn().execute(q, (name,)).fetchone()))

    async def list_buckets(self) -> list[BucketRecord]:
        q = "SELECT name, created, versioning, object_lock, config FROM buckets ORDER BY name"
        rows = await self._run(lambda: self._conn().execute(q).fetchall())
        return [b for b in map(bucket_from_row, rows) if b is not None]

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
            db.execute("DELETE FROM bucket_policies WHERE bucket = ?", (name,))
            db.execute("DELETE FROM lifecycle_leases WHERE name = ?", (name,))
            db.execute("DELETE FROM bucket_usage WHERE bucket = ?", (name,))  # all zero: an empty bucket
            db.execute("DELETE FROM usage_deltas WHERE bucket = ?", (name,))
            db.execute("DELETE FROM bucket_notifications WHERE bucket = ?", (name,))
            # its replication targets (and their sealed secrets) go with it
            db.execute("DELETE FROM replication_targets WHERE bucket = ?", (name,))

        await self._run(self._write, tx)

    # -- versions -------------------------------------------------------------
    async def _scan_live(
        self, bucket: str, lo: bytes, inclusive: bool, hi: bytes | None, limit: int
    ) -> list[VersionRecord]:
        where, args = _key_range(bucket, lo, inclusive, hi)
        q = f"SELECT {VERSION_COLS} FROM versions WHERE is_latest = 1 AND delete_marker = 0 AND {where} ORDER BY key LIMIT ?"
        args.append(limit)
        rows = await self._run(lambda: self._conn().execute(q, args).fetchall())
        return [version_from_row(r) for r in rows]

    async def _scan_versions(
        self, bucket: str, lo: bytes, inclusive: bool, hi: bytes | None, limit: int, below_seq: int | None = None
    ) -> list[VersionRecord]:
        if below_seq is not None:
            q = f"SELECT {VERSION_COLS} FROM versions WHERE bucket = ? AND key = ? AND seq < ? ORDER BY seq DESC LIMIT ?"
            args: list[Any] = [bucket, lo, below_seq, limit]
        else:
            where, args = _key_range(bucket, lo, inclusive, hi)
            q = f"SELECT {VERSION_COLS} FROM versions WHERE {where} ORDER BY key, seq DESC LIMIT ?"
            args.append(limit)
        rows = await self._run(lambda: self._conn().execute(q, args).fetchall())
        return [version_from_row(r) for r in rows]

    # -- multipart ------------------------------------------------------------
    async def _scan_uploads(
        self, bucket: str, lo: bytes, inclusive: bool, hi: bytes | None, limit: int, after_id: str | None = None
    ) -> list[UploadRecord]:
        cols = UPLOAD_COLS
        if after_id is not None:
            q = (
                f"SELECT {cols} FROM uploads WHERE bucket = ? AND key = ? AND (initiated, upload_id) > "
                "(SELECT initiated, upload_id FROM uploads WHERE upload_id = ?) ORDER BY initiated, upload_id LIMIT ?"
            )
            args: list[Any] = [bucket, lo, after_id, limit]
        else:
            where, args = _key_range(bucket, lo, inclusive, hi)
            q = f"SELECT {cols} FROM uploads WHERE {where} ORDER BY key, initiated, upload_id LIMIT ?"
            args.append(limit)
        rows = await self._run(lambda: self._conn().execute(q, args).fetchall())
        return [upload_from_row(r) for r in rows]

    # -- queues ---------------------------------------------------------------
    async def take_gc(self, limit: int, queued_before: float | None = None) -> list[tuple[int, ShardSet]]:
        q = "SELECT id, layout FROM gc_queue WHERE not_before <= ? AND queued_at <= ? ORDER BY id LIMIT ?"
        now = time.time()
        args = (now, now if queued_before is None else queued_before, limit)
        rows = await self._run(lambda: self._conn().execute(q, args).fetchall())
        return [(r[0], shard_set_from_json(r[1])) for r in rows]

    async def done_gc(self, ids: list[int]) -> None:
        def tx(db: sqlite3.Connection) -> None:
            db.executemany("DELETE FROM gc_queue WHERE id = ?", [(i,) for i in ids])

        await self._run(self._write, tx)

    async def enqueue_heal(self, bucket: str, key: str, version_id: str, reason: str) -> None:
        def tx(db: sqlite3.Connection) -> None:
            # one row per version (0003_cluster): a known item is left as it is
            db.execute(
                "INSERT INTO heal_queue (bucket, key, version_id, reason, queued_at) VALUES (?,?,?,?,?)"
                " ON CONFLICT (bucket, key, version_id) DO NOTHING",
                (bucket, key.encode(), version_id, reason, time.time()),
            )

        await self._run(self._write, tx)

    # -- cluster maintenance ----------------------------------------------------
    # (write intents, the heal work list, deferred GC, layout updates; 0003_cluster.sql)
    async def begin_write(self, data_id: str, placement: list[str]) -> None:
        def tx(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO write_intents (data_id, placement, started) VALUES (?,?,?)"
                " ON CONFLICT (data_id) DO NOTHING",
                (data_id, json.dumps(placement), time.time()),
            )

        await self._run(self._write, tx)

    async def touch_writes(self, data_ids: list[str]) -> None:
        now = time.time()

        def tx(db: sqlite3.Connection) -> None:
            db.executemany("UPDATE write_intents SET started = ? WHERE data_id = ?", [(now, d) for d in data_ids])

        if data_ids:
            await self._run(self._write, tx)

    async def end_write(self, data_ids: list[str]) -> None:
        def tx(db: sqlite3.Connection) -> None:
            db.executemany("DELETE FROM write_intents WHERE data_id = ?", [(d,) for d in data_ids])

        if data_ids:
            await self._run(self._write, tx)

    async def stale_writes(self, started_before: float, limit: int) -> list[WriteIntent]:
        q = "SELECT data_id, placement, started FROM write_intents WHERE started < ? ORDER BY started LIMIT ?"
        rows = await self._run(lambda: self._conn().execute(q, (started_before, limit)).fetchall())
        return [WriteIntent(r[0], json.loads(r[1]), r[2]) for r in rows]

    async def data_referenced(self, data_id: str) -> bool:
        def q() -> bool:
            db = self._conn()
            # Every table with a ``layout`` column (versions, and any table a
            # later migration adds for upload parts) except the GC queue, whose
            # entries are going away anyway. Only run for stale intents, i.e.
            # after a crash, so a scan is affordable; the data id is 32 random
            # hex digits, so a substring match cannot hit another object.
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for t in tables:
                if t in ("gc_queue", "write_intents"):
                    continue
                cols = [c[1] for c in db.execute(f'PRAGMA table_info("{t}")')]
                if (
                    "layout" in cols
                    and db.execute(f'SELECT 1 FROM "{t}" WHERE instr(layout, ?) > 0 LIMIT 1', (data_id,)).fetchone()
                ):
                    return True
            return False

        return await self._run(q)

    async def take_heal(self, limit: int) -> list[HealItem]:
        q = (
            "SELECT id, bucket, key, version_id, reason, attempts FROM heal_queue"
            " WHERE state = 'queued' AND not_before <= ? ORDER BY not_before, id LIMIT ?"
        )
        rows = await self._run(lambda: self._conn().execute(q, (time.time(), limit)).fetchall())
        return [HealItem(r[0], r[1], bytes(r[2]).decode(), r[3], r[4], r[5]) for r in rows]

    async def finish_heal(self, item_id: int, outcome: str, error: str = "", retry_at: float = 0.0) -> None:
        def tx(db: sqlite3.Connection) -> None:
            if outcome == "done":
                db.execute("DELETE FROM heal_queue WHERE id = ?", (item_id,))
            elif outcome == "retry":
                db.execute(
                    "UPDATE heal_queue SET attempts = attempts + 1, not_before = ?, last_error = ? WHERE id = ?",
                    (retry_at, error, item_id),
                )
            else:
                db.execute(
                    "UPDATE heal_queue SET attempts = attempts + 1, state = 'failed', last_error = ? WHERE id = ?",
                    (error, item_id),
                )

        assert outcome in ("done", "retry", "failed"), outcome
        await self._run(self._write, tx)

    async def heal_due_now(self) -> None:
        def tx(db: sqlite3.Connection) -> None:
            db.execute("UPDATE heal_queue SET not_before = 0 WHERE state = 'queued' AND not_before > 0")

        await self._run(self._write, tx)

    async def clear_heal(self, bucket: str, key: str, version_id: str) -> None:
        def tx(db: sqlite3.Connection) -> None:
            db.execute(
                "DELETE FROM heal_queue WHERE bucket = ? AND key = ? AND version_id = ?",
                (bucket, key.encode(), version_id),
            )

        await self._run(self._write, tx)

    async def defer_gc(self, ids: list[int], until: float) -> None:
        def tx(db: sqlite3.Connection) -> None:
            db.executemany("UPDATE gc_queue SET not_before = ? WHERE id = ?", [(until, i) for i in ids])

        await self._run(self._write, tx)

    async def maintenance_stats(self) -> dict[str, int]:
        def q() -> dict[str, int]:
            db = self._conn()

            def one(sql: str) -> int:
                return int(db.execute(sql).fetchone()[0])

            return {
                "heal_queued": one("SELECT COUNT(*) FROM heal_queue WHERE state = 'queued'"),
                "heal_failed": one("SELECT COUNT(*) FROM heal_queue WHERE state = 'failed'"),
                "gc_queued": one("SELECT COUNT(*) FROM gc_queue"),
                "write_intents": one("SELECT COUNT(*) FROM write_intents"),
            }

        return await self._run(q)

    # -- users ------------------------------------------------------------------
    # (users, stored policies, settings, usage, pool statistics; 0004_users.sql)
    async def get_policy(self, name: str) -> str | None:
        q = "SELECT document FROM iam_policies WHERE name = ?"
        row = await self._run(lambda: self._conn().execute(q, (name,)).fetchone())
        return row[0] if row else None

    async def list_policies(self) -> dict[str, str]:
        q = "SELECT name, document FROM iam_policies ORDER BY name"
        return dict(await self._run(lambda: self._conn().execute(q).fetchall()))

    async def put_policy(self, name: str, document: str) -> None:
        def tx(db: sqlite3.Connection) -> None:
            now = time.time()
            db.execute(
                "INSERT INTO iam_policies (name, document, created, updated) VALUES (?,?,?,?)"
                " ON CONFLICT (name) DO UPDATE SET document = excluded.document, updated = excluded.updated",
                (name, document, now, now),
            )

        await self._run(self._write, tx)

    async def delete_policy(self, name: str) -> bool:
        def tx(db: sqlite3.Connection) -> bool:
            return db.execute("DELETE FROM iam_policies WHERE name = ?", (name,)).rowcount > 0

        return await self._run(self._write, tx)

    async def get_bucket_policy(self, bucket: str) -> str | None:
        q = "SELECT document FROM bucket_policies WHERE bucket = ?"
        row = await self._run(lambda: self._conn().execute(q, (bucket,)).fetchone())
        return row[0] if row else None

    async def put_bucket_policy(self, bucket: str, document: str) -> None:
        def tx(db: sqlite3.Connection) -> None:
            if db.execute("SELECT 1 FROM buckets WHERE name = ?", (bucket,)).fetchone() is None:
                raise BucketMissing(bucket)
            db.execute(
                "INSERT INTO bucket_policies (bucket, document, updated) VALUES (?,?,?) ON CONFLICT (bucket)"
                " DO UPDATE SET document = excluded.document, updated = excluded.updated",
                (bucket, document, time.time()),
            )

        await self._run(self._write, tx)

    async def delete_bucket_policy(self, bucket: str) -> bool:
        def tx(db: sqlite3.Connection) -> bool:
            return db.execute("DELETE FROM bucket_policies WHERE bucket = ?", (bucket,)).rowcount > 0

        return await self._run(self._write, tx)

    async def get_setting(self, name: str) -> tuple[str, float] | None:
        q = "SELECT value, updated FROM settings WHERE name = ?"
        row = await self._run(lambda: self._conn().execute(q, (name,)).fetchone())
        return (row[0], row[1]) if row else None

    async def set_setting(self, name: str, value: str | None) -> None:
        def tx(db: sqlite3.Connection) -> None:
            if value is None:
                db.execute("DELETE FROM settings WHERE name = ?", (name,))
            else:
                db.execute(
                    "INSERT INTO settings (name, value, updated) VALUES (?,?,?) ON CONFLICT (name)"
                    " DO UPDATE SET value = excluded.value, updated = excluded.updated",
                    (name, value, time.time()),
                )

        await self._run(self._write, tx)

    def pool_stats(self) -> dict[str, Any]:
        return self.stats.snapshot(path=self.path)
