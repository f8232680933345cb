"""PostgreSQL MetaStore: the production backend, through an asyncpg connection pool.

Same schema and migrations as SQLite (``migrations/*.sql``, ``{{BLOB}}`` becomes
``bytea``), same listing walk (``base.MetaStore``), so both backends return
byte-identical pages; same versioning and multipart transactions
(``sql.SqlMetaStore``), run here through ``PgTx`` on a pooled connection.
Keys are ``bytea``: PostgreSQL compares them byte by byte whatever the
database's collation, which is S3's UTF-8 binary order. The few text columns
that are ordered (bucket names, upload ids) say ``COLLATE "C"``.

Concurrency (several gateways, each with a pool, on one database). Every
transaction runs at READ COMMITTED; what makes it correct is locking, in one
fixed order so two transactions can never wait on each other in a cycle:

1. the bucket row, ``FOR KEY SHARE`` by every write inside the bucket (many at
   once), ``FOR UPDATE`` by DeleteBucket: a bucket cannot be deleted under a
   write, and a write into a bucket being deleted finds it gone;
2. the object key, with a transaction-scoped advisory lock on a 64-bit hash of
   (bucket, key): every transaction that reads-then-writes a key's versions
   (put, delete, complete multipart, info and layout updates) holds it
   (``PgTx.lock_key``), so the ``check`` callbacks (If-None-Match, If-Match,
   object lock) see the row that the transaction then replaces, and exactly
   one version stays latest;
3. rows of ``uploads`` / ``parts`` (ordinary row locks; ``PgTx.share_lock``
   on the upload row by ``put_part``).

A hash collision between two keys only makes them wait for each other.

Failures: a refused, dropped or timed-out connection, a server shutting down or
starting up, too many connections, a read-only (standby) server all become
``MetaUnavailable`` (the API answers 503 ServiceUnavailable), always within
``timeout`` seconds. A transaction that failed *before* its COMMIT was sent is
retried once on a fresh connection (it cannot have taken effect); a failure
during COMMIT is not retried, since its outcome is unknown, and is reported
as ``CommitUnknown`` (a kind of unavailable; the core then asks
``settled_version`` whether the write took effect: docs/metadata.md,
Failures). After such a failure every call fails at once for
``fail_fast`` seconds (1 s), so a request that makes several calls still
answers within ``timeout``; then calls go through again and the pool replaces
its dead connections by itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

import asyncpg

from ..common import failpoints
from ..common.records import ShardSet
from . import migrate
from .base import (
    BucketExists,
    BucketMissing,
    BucketNotEmptyError,
    CommitUnknown,
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
from .tx import numbered

log = logging.getLogger(__name__)

T = TypeVar("T")

#: advisory lock that serialises migrations across gateways starting together
MIGRATION_LOCK = 0x5333_4757_4D49_4752  # "S3GWMIGR"

#: errors that mean "the database is not there right now", not "your request is wrong"
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable; TimeoutError too
    asyncpg.PostgresConnectionError,  # connection does not exist / failure
    asyncpg.exceptions.OperatorInterventionError,  # admin/crash shutdown, cannot connect now, canceled
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # we were pointed at a standby
    # asyncpg's protocol state machine, confused by a server that vanished mid-message
    asyncpg.exceptions.InternalClientError,
)
RETRY_TX = (asyncpg.exceptions.SerializationError, asyncpg.exceptions.DeadlockDetectedError)

#: set by a transaction that inserts a version (one that makes a write visible), for the
#: ``commit-reply-lost`` failpoint (s3gw/common/failpoints.py)
_VERSION_TX: ContextVar[bool] = ContextVar("s3gw_version_tx", default=False)

_VCOLS = ", ".join(f"v.{c.strip()}" for c in VERSION_COLS.split(","))


def unavailable(e: BaseException) -> bool:
    """Is ``e`` the database being away (retry later) rather than a bug or a semantic error?"""
    if isinstance(e, asyncpg.exceptions.ProtocolViolationError):
        return False  # a malformed statement or argument: a bug to see (500, logged), not an outage
    if isinstance(e, UNAVAILABLE):
        return True
    # asyncpg says "connection is closed" / "pool is closing" as InterfaceError; argument
    # mistakes are InterfaceError too (DataError), and those are bugs, not outages
    return (
        isinstance(e, asyncpg.InterfaceError)
        and not isinstance(e, asyncpg.exceptions.DataError)
        and ("closed" in str(e) or "closing" in str(e))
    )


def _abandon(e: BaseException) -> bool:
    """Must the connection be dropped rather than rolled back after ``e``?"""
    return isinstance(e, (asyncio.CancelledError, TimeoutError)) or unavailable(e)


def key_lock(bucket: str, kb: bytes) -> int:
    """The advisory-lock id of one object key: a signed 64-bit hash of (bucket, key).

    >>> key_lock("b", b"k") == key_lock("b", b"k") != key_lock("b", b"k2")
    True
    """
    h = hashlib.blake2b(bucket.encode() + b"\0" + kb, digest_size=8).digest()
    return int.from_bytes(h, "big", signed=True)


def dsn_command_args(dsn: str) -> tuple[list[str], dict[str, str]]:
    """``--dbname`` for pg_dump / pg_restore from a DSN, the password moved to PGPASSWORD
    (a command line is visible to every user of the machine; the environment is not).

    >>> dsn_command_args("postgresql://s3gw:pw@db:5432/s3gw?sslmode=require")
    (['--dbname=postgresql://s3gw@db:5432/s3gw?sslmode=require'], {'PGPASSWORD': 'pw'})
    """
    from urllib.parse import unquote, urlsplit, urlunsplit

    u = urlsplit(dsn)
    if u.scheme not in ("postgres", "postgresql") or u.password is None:
        return [f"--dbname={dsn}"], {}
    netloc = u.netloc.rsplit("@", 1)
    userinfo = netloc[0].split(":", 1)[0]
    clean = urlunsplit((u.scheme, f"{userinfo}@{netloc[1]}", u.path, u.query, u.fragment))
    return [f"--dbname={clean}"], {"PGPASSWORD": unquote(u.password)}


def _key_range(bucket: str, lo: bytes, inclusive: bool, hi: bytes | None) -> tuple[str, list[Any]]:
    """The WHERE clause of a listing scan ($1.. numbered): one bucket, lo <(=) key < hi (an index range)."""
    where = f"bucket = $1 AND key {'>=' if inclusive else '>'} $2"
    args: list[Any] = [bucket, lo]
    if hi is not None:
        where += " AND key < $3"
        args.append(hi)
    return where, args


class PgTx:
    """``tx.Tx`` on an asyncpg connection inside a transaction ``PostgresMeta`` opened."""

    share_lock = " FOR KEY SHARE"  # other writers share the row; DELETE / FOR UPDATE wait for them

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.c = conn

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        return await self.c.fetchrow(numbered(sql), *args)  # type: ignore[no-any-return]

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        return await self.c.fetch(numbered(sql), *args)  # type: ignore[no-any-return]

    async def execute(self, sql: str, *args: Any) -> int:
        if sql.startswith("INSERT INTO versions"):
            _VERSION_TX.set(True)
        status = await self.c.execute(numbered(sql), *args)  # "UPDATE 2", "INSERT 0 1", ...
        count = status.rsplit(" ", 1)[-1]
        return int(count) if count.isdigit() else 0

    async def executemany(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        await self.c.executemany(numbered(sql), args)

    async def delete_returning(self, table: str, where: str, cols: str, *args: Any) -> list[Row]:
        return await self.fetchall(f"DELETE FROM {table} WHERE {where} RETURNING {cols}", *args)

    async def lock_key(self, bucket: str, kb: bytes) -> None:
        await self.c.execute("SELECT pg_advisory_xact_lock($1)", key_lock(bucket, kb))


class PostgresMeta(SqlMetaStore):
    """MetaStore on PostgreSQL (see the module doc for the locking design)."""

    def __init__(
        self,
        dsn: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 5432,
        database: str = "s3gw",
        user: str = "s3gw",
        password: str | None = None,
        max_connections: int = 20,
        min_connections: int = 2,
        max_idle_lifetime: float = 300.0,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        startup_wait: float = 0.0,
        auto_migrate: bool = True,
        ssl: Any = None,
        fail_fast: float = 1.0,
    ) -> None:
        self._connect = dict(dsn=dsn, host=host, port=port, database=database, user=user, password=password, ssl=ssl)
        if dsn:  # a DSN names everything itself
            self._connect = dict(dsn=dsn, ssl=ssl)
        self.max_connections = max_connections
        self.min_connections = min(min_connections, max_connections)
        self.max_idle_lifetime = max_idle_lifetime
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.startup_wait = startup_wait
        self.auto_migrate = auto_migrate
        self.fail_fast = min(fail_fast, timeout)
        self._failing_until = 0.0
        self._pool: asyncpg.Pool | None = None
        self.applied: list[int] = []  # migrations this open() applied
        self.stats = PoolStats("postgres", max_connections)  # /debug/db-stats

    def describe(self) -> str:
        c = self._connect
        if c.get("dsn"):
            return "postgres (dsn)"
        return f"postgres://{c['user']}@{c['host']}:{c['port']}/{c['database']}"

    # -- plumbing -------------------------------------------------------------
    async def _create_pool(self) -> asyncpg.Pool:
        kwargs = {k: v for k, v in self._connect.items() if v is not None}
        return await asyncpg.create_pool(
            **kwargs,
            min_size=self.min_connections,
            max_size=self.max_connections,
            max_inactive_connection_lifetime=self.max_idle_lifetime,
            timeout=self.connect_timeout,
            command_timeout=self.timeout,
        )

    def _p(self) -> asyncpg.Pool:
        assert self._pool is not None, "PostgresMeta.open() was not awaited"
        return self._pool

    async def _tx(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run ``fn`` in one transaction, within ``timeout``; see the module doc for retries."""
        return await self._run(fn, tx=True)

    async def _read(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run ``fn`` outside any explicit transaction (one statement), within ``timeout``."""
        return await self._run(fn, tx=False)

    async def _run(self, fn: Callable[[asyncpg.Connection], Awaitable[T]], *, tx: bool) -> T:
        """``_run_timed``, counted in ``self.stats`` (pool waits and latencies)."""
        call = self.stats.begin()
        ok = False
        try:
            out = await self._run_timed(fn, tx=tx, call=call)
            ok = True
            return out
        finally:
            self.stats.end(call, ok)

    async def _run_timed(self, fn: Callable[[asyncpg.Connection], Awaitable[T]], *, tx: bool, call: Any = None) -> T:
        """The one place a connection is used: deadline, retries, and what a failure means.

        Everything (waiting for a pooled connection, connecting, the statements,
        the retries) fits in ``timeout`` seconds. A connection interrupted by a
        timeout, a cancellation or an outage is terminated (closed without
        talking to the server, which may be hung), never rolled back or reset.
        """
        loop = asyncio.get_running_loop()
        if loop.time() < self._failing_until:
            # a call just found the database away: fail at once for a moment, so a request making
            # several calls answers 503 within ``timeout``, not a multiple of it
            raise MetaUnavailable("postgres: unavailable (a call failed just now)")
        deadline = loop.time() + self.timeout
        reconnects = conflicts = 0
        while True:
            committing = False
            try:
                async with asyncio.timeout_at(deadline):
                    conn = await self._p().acquire()
                try:
                    if call is not None:
                        self.stats.acquired(call)
                    async with asyncio.timeout_at(deadline):
                        if not tx:
                            return await fn(conn)
                        tr = conn.transaction()
                        await tr.start()
                        _VERSION_TX.set(False)
                        try:
                            out = await fn(conn)
                        except BaseException as e:
                            if not _abandon(e):  # a semantic error (BucketMissing, a failed check): undo
                                await tr.rollback()
                            raise
                        committing = True
                        await tr.commit()
                        if _VERSION_TX.get() and failpoints.armed("commit-reply-lost"):
                            await failpoints.pause("commit-reply-lost")
                            raise ConnectionResetError("failpoint commit-reply-lost: the answer to COMMIT was lost")
                        return out
                except BaseException as e:
                    if _abandon(e):
                        try:
                            conn.terminate()
                        except asyncpg.InterfaceError:  # already detached: the connection died on its own
                            pass
                    raise
                finally:
                    await self._p().release(conn)
            except RETRY_TX:
                conflicts += 1
                if conflicts > 5:
                    raise MetaUnavailable("too many transaction conflicts") from None
                await asyncio.sleep(0.005 * conflicts)
            except Exception as e:
                if not unavailable(e):
                    raise
                # before COMMIT was sent the transaction cannot have taken effect: one retry
                if committing:
                    # after: it may have. Never retried here; the caller finds out (settled_version)
                    self._failing_until = loop.time() + self.fail_fast
                    raise CommitUnknown(
                        f"postgres: outcome unknown, failed during COMMIT: {type(e).__name__}: {e}"
                    ) from e
                if reconnects >= 1 or isinstance(e, TimeoutError):
                    self._failing_until = loop.time() + self.fail_fast
                    raise MetaUnavailable(f"postgres: {type(e).__name__}: {e}") from e
                reconnects += 1

    async def _transaction(self, fn: TxFn[T]) -> T:
        return await self._tx(lambda c: fn(PgTx(c)))

    async def _reading(self, fn: TxFn[T]) -> T:
        return await self._read(lambda c: fn(PgTx(c)))

    async def _fetch(self, q: str, *args: Any) -> list[asyncpg.Record]:
        return await self._read(lambda c: c.fetch(q, *args))

    async def _fetchrow(self, q: str, *args: Any) -> asyncpg.Record | None:
        return await self._read(lambda c: c.fetchrow(q, *args))

    # -- lifecycle ------------------------------------------------------------
    async def open(self) -> None:
        deadline = time.monotonic() + self.startup_wait
        while True:
            try:
                self._pool = await self._create_pool()
                break
            except Exception as e:
                if not unavailable(e):
                    raise
                if time.monotonic() >= deadline:
                    raise MetaUnavailable(f"cannot connect to {self.describe()}: {type(e).__name__}: {e}") from e
                log.warning("waiting for %s: %s", self.describe(), e)
                await asyncio.sleep(1.0)
        try:
            if self.auto_migrate:
                await self.migrate()
            else:
                current = await self.schema_version()
                newest = migrate.latest_version()
                if current > newest:
                    raise SchemaTooNew(f"database schema {current} is newer than this s3gw knows ({newest})")
                if current < newest:
                    raise SchemaTooOld(f"database schema {current} is older than {newest}: run `s3gw meta migrate`")
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), 5)
            except Exception:
                pool.terminate()

    async def ping(self) -> None:
        await self._read(lambda c: c.fetchval("SELECT 1"))

    async def schema_version(self) -> int:
        async def q(c: asyncpg.Connection) -> int:
            exists = await c.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
            return (await c.fetchval("SELECT MAX(version) FROM schema_version") or 0) if exists else 0

        return await self._read(q)

    async def migrate(self) -> list[int]:
        """Apply pending migrations (under an advisory lock: gateways may start together)."""
        applied: list[int] = []

        async def run(conn: asyncpg.Connection) -> None:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                current = await conn.fetchval("SELECT MAX(version) FROM schema_version") or 0
                newest = migrate.latest_version()
                if current > newest:
                    raise SchemaTooNew(f"database schema {current} is newer than this s3gw knows ({newest})")
                for number, sql in migrate.migrations("postgres"):
                    if number <= current:
                        continue
                    async with conn.transaction():
                        for stmt in migrate.split_statements(sql):
                            await conn.execute(stmt)
                        await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", number)
                    applied.append(number)
                    self.applied.append(number)
                    log.info("applied migration %04d", number)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)

        try:
            async with self._p().acquire() as conn:
                await asyncio.wait_for(run(conn), max(self.timeout, 60))
        except Exception as e:
            if not unavailable(e):
                raise
            raise MetaUnavailable(f"postgres: migration: {type(e).__name__}: {e}") from e
        return applied

    # -- buckets --------------------------------------------------------------
    async def create_bucket(self, rec: BucketRecord) -> None:
        async def tx(c: asyncpg.Connection) -> None:
            done = await c.fetchval(
                "INSERT INTO buckets (name, created, versioning, object_lock, config) VALUES ($1,$2,$3,$4,$5) "
                "ON CONFLICT (name) DO NOTHING RETURNING 1",
                rec.name,
                rec.created,
                rec.versioning,
                int(rec.object_lock),
                json.dumps(rec.config),
            )
            if done is None:
                raise BucketExists(rec.name)

        await self._tx(tx)

    async def get_bucket(self, name: str) -> BucketRecord | None:
        return bucket_from_row(
            await self._fetchrow(
                "SELECT name, created, versioning, object_lock, config FROM buckets WHERE name = $1", name
            )
        )

    async def list_buckets(self) -> list[BucketRecord]:
        rows = await self._fetch(
            'SELECT name, created, versioning, object_lock, config FROM buckets ORDER BY name COLLATE "C"'
        )
        return [b for b in map(bucket_from_row, rows) if b is not None]

    async def update_bucket(self, name: str, **fields: Any) -> None:
        allowed = {"versioning", "object_lock", "config"}
        assert set(fields) <= allowed, fields
        vals = [json.dumps(v) if k == "config" else (int(v) if k == "object_lock" else v) for k, v in fields.items()]
        sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(fields, start=2))

        async def tx(c: asyncpg.Connection) -> None:
            if await c.fetchval(f"UPDATE buckets SET {sets} WHERE name = $1 RETURNING 1", name, *vals) is None:
                raise BucketMissing(name)

        await self._tx(tx)

    async def delete_bucket(self, name: str) -> None:
        async def tx(c: asyncpg.Connection) -> None:
            # FOR UPDATE waits for every write holding the row FOR KEY SHARE, then sees what it committed
            if await c.fetchval("SELECT 1 FROM buckets WHERE name = $1 FOR UPDATE", name) is None:
                raise BucketMissing(name)
            if await c.fetchval("SELECT 1 FROM versions WHERE bucket = $1 LIMIT 1", name):
                raise BucketNotEmptyError(name)
            await c.execute("DELETE FROM buckets WHERE name = $1", name)
            await c.execute("DELETE FROM bucket_policies WHERE bucket = $1", name)
            await c.execute("DELETE FROM lifecycle_leases WHERE name = $1", name)
            await c.execute("DELETE FROM bucket_usage WHERE bucket = $1", name)  # all zero: an empty bucket
            await c.execute("DELETE FROM usage_deltas WHERE bucket = $1", name)
            await c.execute("DELETE FROM bucket_notifications WHERE bucket = $1", name)
            # its replication targets (and their sealed secrets) go with it; queued rows of an empty
            # bucket find nothing left to copy
            await c.execute("DELETE FROM replication_targets WHERE bucket = $1", name)

        await self._tx(tx)

    # -- versions -------------------------------------------------------------
    async def _scan_live(
        self, bucket: str, lo: bytes, inclusive: bool, hi: bytes | None, limit: int
    ) -> list[VersionRecord]:
        where, args = _key_range(bucket, lo, inclusive, hi)
        q = (
            f"SELECT {VERSION_COLS} FROM versions WHERE is_latest = 1 AND delete_marker = 0 AND {where} "
            f"ORDER BY key LIMIT ${len(args) + 1}"
        )
        args.append(limit)
        return [version_from_row(r) for r in await self._fetch(q, *args)]

    groups_prefixes = True

    async def _scan_live_grouped(
        self, bucket: str, lo: bytes, inclusive: bool, hi: bytes | None, limit: int, prefix_len: int, delimiter: bytes
    ) -> list[VersionRecord]:
        """One statement for a page with a delimiter: a recursive loose index scan.

        Each step seeks (index ``versions_live``) to the first live key at or
        after the bound the previous key gives: ``key || 0x00`` for a plain key,
        the successor of its common prefix (last byte + 1; UTF-8 never has an
        0xFF byte) when the delimiter follows the listing prefix in it. So a
        page of 1,000 prefixes is 1,000 index probes inside PostgreSQL, not
        1,000 round trips.
        """
        op = ">=" if inclusive else ">"
        upper = " AND key < $6" if hi is not None else ""
        upper_v = " AND v.key < $6" if hi is not None else ""
        cp_end = "$4 + d.p + length($3::bytea) - 2"  # bytes of the common prefix but its last
        q = f"""
            WITH RECURSIVE walk(k, n) AS (
                (SELECT key, 1 FROM versions
                 WHERE bucket = $1 AND is_latest = 1 AND delete_marker = 0 AND key {op} $2{upper}
                 ORDER BY key LIMIT 1)
              UNION ALL
                SELECT nk.key, walk.n + 1
                FROM walk,
                     LATERAL (SELECT position($3::bytea IN substring(walk.k FROM $4 + 1)) AS p) d,
                     LATERAL (SELECT v.key FROM versions v
                              WHERE v.bucket = $1 AND v.is_latest = 1 AND v.delete_marker = 0{upper_v}
                                AND v.key >= CASE WHEN d.p > 0
                                    THEN substring(walk.k FROM 1 FOR {cp_end})
                                         || set_byte('\\x00'::bytea, 0, get_byte(walk.k, {cp_end}) + 1)
                                    ELSE walk.k || '\\x00'::bytea END
                              ORDER BY v.key LIMIT 1) nk
                WHERE walk.n < $5
            )
            SELECT {_VCOLS} FROM walk
            CROSS JOIN LATERAL (SELECT * FROM versions
                                WHERE bucket = $1 AND key = walk.k AND is_latest = 1 AND delete_marker = 0) v
            ORDER BY walk.k"""
        args: list[Any] = [bucket, lo, delimiter, prefix_len, limit]
        if hi is not None:
            args.append(hi)
        return [version_from_row(r) for r in await self._fetch(q, *args)]

    async def _scan_versions(
        self, bucket: str, lo: bytes, inclusive: bool, hi: bytes | None, limit: int, below_seq: int | None = None
    ) -> list[VersionRecord]:
        if below_seq is not None:
            q = f"SELECT {VERSION_COLS} FROM versions WHERE bucket = $1 AND key = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4"
            args: list[Any] = [bucket, lo, below_seq, limit]
        else:
            where, args = _key_range(bucket, lo, inclusive, hi)
            q = f"SELECT {VERSION_COLS} FROM versions WHERE {where} ORDER BY key, seq DESC LIMIT ${len(args) + 1}"
            args.append(limit)
        return [version_from_row(r) for r in await self._fetch(q, *args)]

    # -- multipart ------------------------------------------------------------
    async def _scan_uploads(
        self, bucket: str, lo: bytes, inclusive: bool, hi: bytes | None, limit: int, after_id: str | None = None
    ) -> list[UploadRecord]:
        cols = UPLOAD_COLS
        if after_id is not None:
            q = (
                f'SELECT {cols} FROM uploads WHERE bucket = $1 AND key = $2 AND (initiated, upload_id COLLATE "C") > '
                "(SELECT initiated, upload_id FROM uploads WHERE upload_id = $3) "
                'ORDER BY initiated, upload_id COLLATE "C" LIMIT $4'
            )
            args: list[Any] = [bucket, lo, after_id, limit]
        else:
            where, args = _key_range(bucket, lo, inclusive, hi)
            q = (
                f"SELECT {cols} FROM uploads WHERE {where} "
                f'ORDER BY key, initiated, upload_id COLLATE "C" LIMIT ${len(args) + 1}'
            )
            args.append(limit)
        return [upload_from_row(r) for r in await self._fetch(q, *args)]

    # -- queues ---------------------------------------------------------------
    async def take_gc(self, limit: int, queued_before: float | None = None) -> list[tuple[int, ShardSet]]:
        now = time.time()
        rows = await self._fetch(
            "SELECT id, layout FROM gc_queue WHERE not_before <= $1 AND queued_at <= $2 ORDER BY id LIMIT $3",
            now,
            now if queued_before is None else queued_before,
            limit,
        )
        return [(r[0], shard_set_from_json(r[1])) for r in rows]

    async def done_gc(self, ids: list[int]) -> None:
        async def tx(c: asyncpg.Connection) -> None:
            await c.execute("DELETE FROM gc_queue WHERE id = ANY($1::bigint[])", ids)

        await self._tx(tx)

    async def enqueue_heal(self, bucket: str, key: str, version_id: str, reason: str) -> None:
        async def tx(c: asyncpg.Connection) -> None:
            # one row per version (0003_cluster): a known item is left as it is
            await c.execute(
                "INSERT INTO heal_queue (bucket, key, version_id, reason, queued_at) VALUES ($1,$2,$3,$4,$5)"
                " ON CONFLICT (bucket, key, version_id) DO NOTHING",
                bucket,
                key.encode(),
                version_id,
                reason,
                time.time(),
            )

        await self._tx(tx)

    # -- cluster maintenance ----------------------------------------------------
    # (write intents, the heal work list, deferred GC, layout updates; 0003_cluster.sql)
    async def begin_write(self, data_id: str, placement: list[str]) -> None:
        async def tx(c: asyncpg.Connection) -> None:
            await c.execute(
                "INSERT INTO write_intents (data_id, placement, started) VALUES ($1,$2,$3)"
                " ON CONFLICT (data_id) DO NOTHING",
                data_id,
                json.dumps(placement),
                time.time(),
            )

        await self._tx(tx)

    async def touch_writes(self, data_ids: list[str]) -> None:
        async def tx(c: asyncpg.Connection) -> None:
            await c.execute(
                "UPDATE write_intents SET started = $1 WHERE data_id = ANY($2::text[])", time.time(), data_ids
            )

        if data_ids:
            await self._tx(tx)

    async def end_write(self, data_ids: list[str]) -> None:
        async def tx(c: asyncpg.Connection) -> None:
            await c.execute("DELETE FROM write_intents WHERE data_id = ANY($1::text[])", data_ids)

        if data_ids:
            await self._tx(tx)

    async def stale_writes(self, started_before: float, limit: int) -> list[WriteIntent]:
        rows = await self._fetch(
            "SELECT data_id, placement, started FROM write_intents WHERE started < $1 ORDER BY started LIMIT $2",
            started_before,
            limit,
        )
        return [WriteIntent(r[0], json.loads(r[1]), r[2]) for r in rows]

    async def data_referenced(self, data_id: str) -> bool:
        async def q(c: asyncpg.Connection) -> bool:
            # every table with a ``layout`` column but the GC queue (see SqliteMeta.data_referenced)
            tables = await c.fetch(
                "SELECT table_name FROM information_schema.columns WHERE column_name = 'layout'"
                " AND table_schema = current_schema()"
            )
            for (t,) in tables:
                if t in ("gc_queue", "write_intents"):
                    continue
                if await c.fetchval(f'SELECT 1 FROM "{t}" WHERE strpos(layout, $1) > 0 LIMIT 1', data_id):
                    return True
            return False

        return await self._read(q)

    async def take_heal(self, limit: int) -> list[HealItem]:
        rows = await self._fetch(
            "SELECT id, bucket, key, version_id, reason, attempts FROM heal_queue"
            " WHERE state = 'queued' AND not_before <= $1 ORDER BY not_before, id LIMIT $2",
            time.time(),
            limit,
        )
        return [HealItem(r[0], r[1], bytes(r[2]).decode(), r[3], r[4], r[5]) for r in rows]

    async def finish_heal(self, item_id: int, outcome: str, error: str = "", retry_at: float = 0.0) -> None:
        assert outcome in ("done", "retry", "failed"), outcome

        async def tx(c: asyncpg.Connection) -> None:
            if outcome == "done":
                await c.execute("DELETE FROM heal_queue WHERE id = $1", item_id)
            elif outcome == "retry":
                await c.execute(
                    "UPDATE heal_queue SET attempts = attempts + 1, not_before = $1, last_error = $2 WHERE id = $3",
                    retry_at,
                    error,
                    item_id,
                )
            else:
                await c.execute(
                    "UPDATE heal_queue SET attempts = attempts + 1, state = 'failed', last_error = $1 WHERE id = $2",
                    error,
                    item_id,
                )

        await self._tx(tx)

    async def heal_due_now(self) -> None:
        async def tx(c: asyncpg.Connection) -> None:
            await c.execute("UPDATE heal_queue SET not_before = 0 WHERE state = 'queued' AND not_before > 0")

        await self._tx(tx)

    async def clear_heal(self, bucket: str, key: str, version_id: str) -> None:
        async def tx(c: asyncpg.Connection) -> None:
            await c.execute(
                "DELETE FROM heal_queue WHERE bucket = $1 AND key = $2 AND version_id = $3",
                bucket,
                key.encode(),
                version_id,
            )

        await self._tx(tx)

    async def defer_gc(self, ids: list[int], until: float) -> None:
        async def tx(c: asyncpg.Connection) -> None:
            await c.execute("UPDATE gc_queue SET not_before = $1 WHERE id = ANY($2::bigint[])", until, ids)

        await self._tx(tx)

    async def maintenance_stats(self) -> dict[str, int]:
        row = await self._fetchrow(
            "SELECT (SELECT COUNT(*) FROM heal_queue WHERE state = 'queued'),"
            " (SELECT COUNT(*) FROM heal_queue WHERE state = 'failed'),"
            " (SELECT COUNT(*) FROM gc_queue), (SELECT COUNT(*) FROM write_intents)"
        )
        assert row is not None
        return {"heal_queued": row[0], "heal_failed": row[1], "gc_queued": row[2], "write_intents": row[3]}

    # -- users ------------------------------------------------------------------
    # (users, stored policies, settings, usage, pool statistics, backup; 0004_users.sql)
    async def get_policy(self, name: str) -> str | None:
        return await self._read(lambda c: c.fetchval("SELECT document FROM iam_policies WHERE name = $1", name))

    async def list_policies(self) -> dict[str, str]:
        rows = await self._fetch('SELECT name, document FROM iam_policies ORDER BY name COLLATE "C"')
        return {r[0]: r[1] for r in rows}

    async def put_policy(self, name: str, document: str) -> None:
        async def tx(c: asyncpg.Connection) -> None:
            now = time.time()
            await c.execute(
                "INSERT INTO iam_policies (name, document, created, updated) VALUES ($1,$2,$3,$4)"
                " ON CONFLICT (name) DO UPDATE SET document = EXCLUDED.document,"
                " updated = EXCLUDED.updated",
                name,
                document,
                now,
                now,
            )

        await self._tx(tx)

    async def delete_policy(self, name: str) -> bool:
        async def tx(c: asyncpg.Connection) -> bool:
            return await c.fetchval("DELETE FROM iam_policies WHERE name = $1 RETURNING 1", name) is not None

        return await self._tx(tx)

    async def get_bucket_policy(self, bucket: str) -> str | None:
        return await self._read(lambda c: c.fetchval("SELECT document FROM bucket_policies WHERE bucket = $1", bucket))

    async def put_bucket_policy(self, bucket: str, document: str) -> None:
        async def tx(c: asyncpg.Connection) -> None:
            # FOR KEY SHARE: a DeleteBucket (FOR UPDATE) waits for this write, or this one finds it gone
            if await c.fetchval("SELECT 1 FROM buckets WHERE name = $1 FOR KEY SHARE", bucket) is None:
                raise BucketMissing(bucket)
            await c.execute(
                "INSERT INTO bucket_policies (bucket, document, updated) VALUES ($1,$2,$3)"
                " ON CONFLICT (bucket) DO UPDATE SET document = EXCLUDED.document,"
                " updated = EXCLUDED.updated",
                bucket,
                document,
                time.time(),
            )

        await self._tx(tx)

    async def delete_bucket_policy(self, bucket: str) -> bool:
        async def tx(c: asyncpg.Connection) -> bool:
            return await c.fetchval("DELETE FROM bucket_policies WHERE bucket = $1 RETURNING 1", bucket) is not None

        return await self._tx(tx)

    async def get_setting(self, name: str) -> tuple[str, float] | None:
        row = await self._fetchrow("SELECT value, updated FROM settings WHERE name = $1", name)
        return (row[0], row[1]) if row else None

    async def set_setting(self, name: str, value: str | None) -> None:
        async def tx(c: asyncpg.Connection) -> None:
            if value is None:
                await c.execute("DELETE FROM settings WHERE name = $1", name)
            else:
                await c.execute(
                    "INSERT INTO settings (name, value, updated) VALUES ($1,$2,$3) ON CONFLICT (name)"
                    " DO UPDATE SET value = EXCLUDED.value, updated = EXCLUDED.updated",
                    name,
                    value,
                    time.time(),
                )

        await self._tx(tx)

    def pool_stats(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"target": self.describe()}
        if self._pool is not None:
            size, idle = self._pool.get_size(), self._pool.get_idle_size()
            extra.update(
                connections_open=size,
                connections_idle=idle,
                connections_busy=size - idle,
                min_size=self._pool.get_min_size(),
                max_size=self._pool.get_max_size(),
            )
        return self.stats.snapshot(**extra)

    def pg_command_args(self) -> tuple[list[str], dict[str, str]]:
        """libpq arguments and environment naming this store's database (for pg_dump / pg_restore)."""
        c, env = self._connect, {}
        if c.get("dsn"):
            return dsn_command_args(str(c["dsn"]))
        if c.get("password"):
            env["PGPASSWORD"] = str(c["password"])
        return [
            f"--host={c['host']}",
            f"--port={c['port']}",
            f"--username={c['user']}",
            f"--dbname={c['database']}",
        ], env

    async def backup(self, dest: str) -> None:
        """``pg_dump --format=custom`` of the whole database into ``dest`` (a consistent snapshot)."""
        args, env = self.pg_command_args()
        proc = await asyncio.create_subprocess_exec(
            "pg_dump",
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            f"--file={dest}",
            *args,
            env={**os.environ, **env},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"pg_dump failed ({proc.returncode}): {err.decode(errors='replace').strip()}")
