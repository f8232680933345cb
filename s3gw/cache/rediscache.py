"""Redis cache shared by every gateway (redis-py asyncio; hiredis parses replies when installed).

Layout, per Redis server (``cache.redis.endpoints`` are independent servers; a
name lives on one of them, chosen by rendezvous hashing, so the list can grow
without moving most names):

    {prefix}epoch                      a counter; bumping it drops every entry at once
    {prefix}{epoch}:{ns}:{name}        a hash: field "g" = generation token, other
                                       fields = cached values (see base.py)

Each operation is one Lua script, so it is atomic and one round trip:

- get: read the epoch, then ``HMGET g field``; the token is (epoch, g);
- fill: store the field only if the epoch and ``g`` are still the token's;
- invalidate: for each name, delete the hash and recreate it holding only a
  fresh random ``g`` (the tombstone, kept ``TOMBSTONE_MS`` at least, longer
  than any database read can take), so a racing reader's fill is refused.

Failure: every call is bounded by ``timeout`` (default 100 ms). A server that
errs or times out is marked down: lookups miss, fills are dropped, writes skip
their invalidation, and a background task tries the server again every
``retry_interval``. Coming back, the gateway first bumps the server's epoch,
dropping every entry on it, and only then uses it again: whatever this gateway
(or any other that noticed the outage) could not invalidate while it was down
is gone before anyone reads it. Down and back are logged once each.

What this cannot close, documented in docs/metadata.md: a gateway that did not
notice an outage can read an entry that another gateway failed to invalidate
during it, until that gateway's epoch bump (at most ``retry_interval`` after
the server answers again); and a tombstone evicted by Redis (memory pressure)
within the milliseconds between a racing reader's lookup and its fill lets that
fill through. ``ttl`` bounds both.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .base import Cache, Token

log = logging.getLogger(__name__)

T = TypeVar("T")

TOMBSTONE_MS = 120_000

_GET = """
local e = redis.call('GET', KEYS[1]) or '0'
local r = redis.call('HMGET', ARGV[1] .. e .. ':' .. ARGV[2], 'g', ARGV[3])
return {e, r[1] or '', r[2] or ''}
"""

_FILL = """
local e = redis.call('GET', KEYS[1]) or '0'
if e ~= ARGV[4] then return 0 end
local h = ARGV[1] .. e .. ':' .. ARGV[2]
if (redis.call('HGET', h, 'g') or '') ~= ARGV[5] then return 0 end
redis.call('HSET', h, ARGV[3], ARGV[6])
if redis.call('PTTL', h) < tonumber(ARGV[7]) then redis.call('PEXPIRE', h, ARGV[7]) end
return 1
"""

_INVALIDATE = """
local e = redis.call('GET', KEYS[1]) or '0'
for i = 4, #ARGV do
  local h = ARGV[1] .. e .. ':' .. ARGV[i]
  redis.call('DEL', h)
  redis.call('HSET', h, 'g', ARGV[2])
  redis.call('PEXPIRE', h, ARGV[3])
end
return 1
"""

FAILURES = (RedisError, OSError, asyncio.TimeoutError)


def parse_endpoint(ep: str) -> tuple[str, int]:
    """``host:port`` (port 6379 when absent; IPv6 in brackets).

    >>> parse_endpoint("cache-001.objectstore.local:6379"), parse_endpoint("[::1]:7000"), parse_endpoint("r")
    (('cache-001.objectstore.local', 6379), ('::1', 7000), ('r', 6379))
    """
    ep = ep.removeprefix("redis://")
    if ep.startswith("["):
        host, _, rest = ep[1:].partition("]")
        return host, int(rest.lstrip(":") or 6379)
    host, sep, port = ep.rpartition(":")
    return (host, int(port)) if sep else (ep, 6379)


class _Shard:
    """One Redis server and what this gateway knows about it."""

    def __init__(self, endpoint: str, client: Any) -> None:
        self.endpoint = endpoint
        self.client = client
        self.up = True
        self.recovering: asyncio.Task | None = None
        self.scripts: dict[str, Any] = {}
        self.slots: asyncio.Semaphore | None = None  # one per pooled connection


class RedisCache(Cache):
    name = "redis"

    def __init__(
        self,
        endpoints: list[str],
        *,
        password: str | None = None,
        username: str | None = None,
        db: int = 0,
        pool_size: int = 50,
        timeout: float = 0.1,
        ttl: float = 60.0,
        retry_interval: float = 1.0,
        prefix: str = "s3gw:",
        tls: bool = False,
        ca_file: str | None = None,
    ) -> None:
        super().__init__()
        if not endpoints:
            raise ValueError("no Redis endpoints")
        self.endpoints = list(endpoints)
        self.timeout = timeout
        self.ttl_ms = int(ttl * 1000)
        self.retry_interval = retry_interval
        self.prefix = prefix
        self._opts = dict(password=password, username=username, db=db, pool_size=pool_size, tls=tls, ca_file=ca_file)
        self._shards: list[_Shard] = []
        self.stats.update({"down": 0, "recoveries": 0, "busy": 0})

    def describe(self) -> str:
        return f"redis {','.join(self.endpoints)}"

    async def open(self) -> None:
        o = self._opts
        for ep in self.endpoints:
            host, port = parse_endpoint(ep)
            pool = aioredis.BlockingConnectionPool(
                host=host,
                port=port,
                db=o["db"],
                password=o["password"],
                username=o["username"],
                max_connections=o["pool_size"],
                timeout=self.timeout,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                # TLS: the server's certificate and host name verified, against ca_file (else the system's CAs)
                **(
                    {
                        "connection_class": aioredis.SSLConnection,
                        "ssl_ca_certs": o["ca_file"],
                        "ssl_check_hostname": True,
                    }
                    if o["tls"]
                    else {}
                ),
            )
            client = aioredis.Redis(connection_pool=pool)
            shard = _Shard(ep, client)
            shard.slots = asyncio.Semaphore(o["pool_size"])
            shard.scripts = {
                n: client.register_script(src) for n, src in (("get", _GET), ("fill", _FILL), ("inval", _INVALIDATE))
            }
            self._shards.append(shard)
        # a first contact, so a wrong password or address is logged at start (the gateway starts anyway)
        for shard in self._shards:
            await self._call(shard, lambda c: c.ping())

    async def close(self) -> None:
        for shard in self._shards:
            if shard.recovering is not None:
                shard.recovering.cancel()
            try:
                await shard.client.aclose()
            except FAILURES:
                pass
        self._shards = []

    # -- plumbing -------------------------------------------------------------
    def _shard(self, name: str) -> _Shard:
        if len(self._shards) == 1:
            return self._shards[0]
        return max(
            self._shards, key=lambda s: hashlib.blake2b(f"{s.endpoint}\0{name}".encode(), digest_size=8).digest()
        )

    def _down(self, shard: _Shard, exc: BaseException) -> None:
        self.stats["errors"] += 1
        if shard.up:
            shard.up = False
            self.stats["down"] += 1
            log.warning("redis %s unavailable (%s: %s): going on without it", shard.endpoint, type(exc).__name__, exc)
        if shard.recovering is None or shard.recovering.done():
            shard.recovering = asyncio.create_task(self._recover(shard))

    async def _recover(self, shard: _Shard) -> None:
        """Until the server answers: then drop everything on it (epoch + 1), then use it again."""
        while True:
            await asyncio.sleep(self.retry_interval)
            try:
                async with asyncio.timeout(max(self.timeout, 1.0)):
                    await shard.client.incr(self.prefix + "epoch")
            except FAILURES as e:
                self.stats["errors"] += 1
                log.debug("redis %s still unavailable: %s", shard.endpoint, e)
                continue
            shard.up = True
            self.stats["recoveries"] += 1
            log.warning("redis %s is back: its entries were dropped (epoch bumped)", shard.endpoint)
            return

    async def _call(self, shard: _Shard, fn: Callable[[Any], Awaitable[T]], *, optional: bool = False) -> T | None:
        """One call within ``timeout``; None when the server is down or failed (then marked down).

        ``optional`` calls (lookups, fills) are skipped, not queued, while every pooled
        connection is busy: a burst must not look like an outage.
        """
        if not shard.up:
            return None
        assert shard.slots is not None
        if optional and shard.slots.locked():
            self.stats["busy"] += 1
            return None
        try:
            async with asyncio.timeout(self.timeout):
                async with shard.slots:
                    return await fn(shard.client)
        except FAILURES as e:
            self._down(shard, e)
            return None

    async def _invalidate_on(self, shard: _Shard, names: list[str]) -> None:
        token = os.urandom(9).hex()
        await shard.scripts["inval"](keys=[self.prefix + "epoch"], args=[self.prefix, token, TOMBSTONE_MS, *names])

    # -- the interface --------------------------------------------------------
    async def get(self, ns: str, name: str, field: str) -> tuple[bytes | None, Token]:
        shard = self._shard(name)
        res = await self._call(
            shard,
            lambda c: shard.scripts["get"](keys=[self.prefix + "epoch"], args=[self.prefix, f"{ns}:{name}", field]),
            optional=True,
        )
        if res is None:
            self.stats["misses"] += 1
            return None, None
        epoch, gen, value = res
        if value:
            self.stats["hits"] += 1
            return bytes(value), None
        self.stats["misses"] += 1
        return None, (epoch, gen)

    async def fill(self, ns: str, name: str, field: str, token: Token, value: bytes) -> None:
        if token is None:
            return
        shard = self._shard(name)
        epoch, gen = token
        done = await self._call(
            shard,
            lambda c: shard.scripts["fill"](
                keys=[self.prefix + "epoch"],
                args=[self.prefix, f"{ns}:{name}", field, epoch, gen, value, max(self.ttl_ms, 1)],
            ),
            optional=True,
        )
        if done == 1:
            self.stats["fills"] += 1
        elif done == 0:
            self.stats["stale_fills"] += 1

    async def invalidate(self, ns: str, names: list[str]) -> None:
        by_shard: dict[int, list[str]] = {}
        for n in names:
            by_shard.setdefault(id(self._shard(n)), []).append(f"{ns}:{n}")
        for shard in self._shards:
            todo = by_shard.get(id(shard))
            if todo:
                self.stats["invalidations"] += len(todo)
                # down (or failing now): the epoch bump on recovery drops these entries with the rest
                await self._call(shard, lambda c, shard=shard, todo=todo: self._invalidate_on(shard, todo))

    async def flush(self) -> None:
        for shard in self._shards:
            await self._call(shard, lambda c: c.incr(self.prefix + "epoch"))  # down: recovery bumps it
