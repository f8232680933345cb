"""Webhook, Redis and PostgreSQL targets, each sending MinIO's event shapes.

Each target's ``send`` delivers one event log entry (``{"EventName", "Key", "Records"}``,
core/notify.py ``event_log``) or raises; the sender retries what raised. Connections are
opened on first use and again after a failure, so a target that is down at start-up is
no reason to refuse to start (MinIO, with a queue directory, starts too).

* webhook: ``POST`` of the entry as JSON to the endpoint; ``Authorization`` is the token
  as given when it has a scheme (``Bearer x``), else ``Bearer TOKEN`` (MinIO's rule); any
  2xx is delivered.
* Redis, ``access`` format: ``RPUSH key [{"Event": [record], "EventTime": time}]``;
  ``namespace`` format: ``HSET key bucket/object {"Records": [record]}``, ``HDEL`` on removal.
* PostgreSQL, ``access`` format: a row ``(event_time, event_data {"Records": [record]})``;
  ``namespace``: ``(key bucket/object, value)``, upserted, deleted on removal. The table is
  created when missing, as MinIO does.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import re
from dataclasses import dataclass, field
from typing import Any

import aiohttp

try:  # optional (s3gw[redis] / s3gw[postgres]): a target of that kind needs it
    import redis.asyncio as aioredis
except ImportError:  # pragma: no cover - depends on the environment
    aioredis = None  # type: ignore[assignment]
try:
    import asyncpg
except ImportError:  # pragma: no cover
    asyncpg = None  # type: ignore[assignment]

KINDS = ("webhook", "redis", "postgresql")
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class TargetSpec:
    """One target the operator configured: its kind, its id (``_`` for MinIO's default one) and
    its settings (lower-case names: endpoint, auth_token, address, key, format, ...)."""

    kind: str
    id: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def target_id(self) -> str:
        return f"{self.id}:{self.kind}"


def _removal(entry: dict[str, Any]) -> bool:
    return str(entry.get("EventName", "")).startswith("s3:ObjectRemoved:")


class WebhookTarget:
    def __init__(self, spec: TargetSpec) -> None:
        self.target_id = spec.target_id
        self.endpoint = spec.params["endpoint"]
        token = spec.params.get("auth_token", "")
        self.authorization = token if len(token.split()) == 2 else (f"Bearer {token}" if token else "")
        self._session: aiohttp.ClientSession | None = None

    async def send(self, entry: dict[str, Any]) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        headers = {"Content-Type": "application/json"}
        if self.authorization:
            headers["Authorization"] = self.authorization
        async with self._session.post(self.endpoint, data=json.dumps(entry), headers=headers) as resp:
            await resp.read()
            if not 200 <= resp.status < 300:
                raise RuntimeError(f"{self.endpoint} answered {resp.status}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class RedisTarget:
    def __init__(self, spec: TargetSpec) -> None:
        if aioredis is None:
            raise ValueError("a redis notification target needs redis-py (pip install 's3gw[redis]')")
        self.target_id = spec.target_id
        p = spec.params
        self.address = p["address"]
        self.key = p["key"]
        self.format = p.get("format", "namespace") or "namespace"
        host, _, port = self.address.rpartition(":")
        self._client = aioredis.Redis(
            host=host or self.address,
            port=int(port or 6379),
            password=p.get("password") or None,
            username=p.get("user") or None,
            socket_timeout=10,
            socket_connect_timeout=5,
        )

    async def send(self, entry: dict[str, Any]) -> None:
        record = entry["Records"][0]
        if self.format == "access":
            data = json.dumps([{"Event": [record], "EventTime": record["eventTime"]}])
            await self._client.rpush(self.key, data)
        elif _removal(entry):
            await self._client.hdel(self.key, entry["Key"])
        else:
            await self._client.hset(self.key, entry["Key"], json.dumps({"Records": [record]}))

    async def close(self) -> None:
        await self._client.aclose()


class PostgresTarget:
    def __init__(self, spec: TargetSpec) -> None:
        if asyncpg is None:
            raise ValueError("a postgresql notification target needs asyncpg (pip install 's3gw[postgres]')")
        self.target_id = spec.target_id
        p = spec.params
        self.dsn = p["connection_string"]
        self.table = p["table"]
        if not _TABLE.match(self.table):
            raise ValueError(f"postgresql notification target {spec.id}: table {self.table!r} is not a plain name")
        self.format = p.get("format", "namespace") or "namespace"
        self._conn: Any = None
        self._lock = asyncio.Lock()

    async def _connection(self) -> Any:
        if self._conn is None or self._conn.is_closed():
            conn = await asyncpg.connect(self.dsn, timeout=10)
            if self.format == "access":
                ddl = (
                    f"CREATE TABLE IF NOT EXISTS {self.table} "
                    "(event_time TIMESTAMP WITH TIME ZONE NOT NULL, event_data JSONB)"
                )
            else:
                ddl = f"CREATE TABLE IF NOT EXISTS {self.table} (key VARCHAR PRIMARY KEY, value JSONB)"
            await conn.execute(ddl)
            self._conn = conn
        return self._conn

    async def send(self, entry: dict[str, Any]) -> None:
        record = entry["Records"][0]
        data = json.dumps({"Records": [record]})
        async with self._lock:  # one connection: one statement at a time
            try:
                conn = await self._connection()
                if self.format == "access":
                    await conn.execute(
                        f"INSERT INTO {self.table} (event_time, event_data) VALUES ($1::timestamptz, $2::jsonb)",
                        _timestamp(record["eventTime"]),
                        data,
                    )
                elif _removal(entry):
                    await conn.execute(f"DELETE FROM {self.table} WHERE key = $1", entry["Key"])
                else:
                    await conn.execute(
                        f"INSERT INTO {self.table} (key, value) VALUES ($1, $2::jsonb)"
                        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                        entry["Key"],
                        data,
                    )
            except BaseException:
                await self._drop()
                raise

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.terminate()
            except Exception:  # already gone
                pass

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()


def _timestamp(iso: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))


def make_target(spec: TargetSpec) -> WebhookTarget | RedisTarget | PostgresTarget:
    if spec.kind == "webhook":
        return WebhookTarget(spec)
    if spec.kind == "redis":
        return RedisTarget(spec)
    if spec.kind == "postgresql":
        return PostgresTarget(spec)
    raise ValueError(f"unknown notification target kind {spec.kind!r}")
