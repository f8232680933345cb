"""The cache contract (in-process and Redis, same assertions) and CachedMeta's invalidation.

Redis is a real server (tests/services.py); outages are real too: the server is
stopped, or frozen with SIGSTOP (connections open, no answers).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

import pytest

from s3gw.cache import CachedMeta, MemoryCache, NullCache, RedisCache
from s3gw.cache.meta import HANDLED, PASS_THROUGH, encode_version
from s3gw.cache.shared import Generations
from s3gw.common.records import ObjectInfo, ObjectLayout, Part, ShardSet
from s3gw.meta.base import MetaStore
from s3gw.meta.model import BucketRecord, VersionRecord
from s3gw.meta.sqlite import SqliteMeta
from tests.services import start_redis
from tests.waiting import async_wait_until

#: an outage must cost at most the cache's own timeout; this bound is far above that on any
#: machine and far below what a call waiting for a dead or hung server would take (forever)
HANG = 10.0


async def recovered(c: RedisCache, before: int) -> None:
    """Until the cache has found its server again (its own retry loop, every ``retry_interval``)."""

    async def more() -> bool:
        return c.stats["recoveries"] > before

    await async_wait_until(more, "the cache to find Redis again")


def redis_cache(srv, **kw) -> RedisCache:
    kw.setdefault("timeout", 1.0)
    kw.setdefault("retry_interval", 0.3)
    return RedisCache([srv.endpoint], password=srv.password, prefix=f"t{secrets.token_hex(4)}:", **kw)


@pytest.fixture(params=["memory", "redis"])
async def cache(request):
    c = MemoryCache() if request.param == "memory" else redis_cache(request.getfixturevalue("redis_server"))
    await c.open()
    yield c
    await c.close()


async def test_a_fill_racing_an_invalidation_is_refused(cache) -> None:
    value, token = await cache.get("o", "b\0k", "L")
    assert value is None
    # a writer commits and invalidates between the reader's lookup and its fill
    await cache.invalidate("o", ["b\0k"])
    await cache.fill("o", "b\0k", "L", token, b"old")
    assert (await cache.get("o", "b\0k", "L"))[0] is None
    value, token = await cache.get("o", "b\0k", "L")
    await cache.fill("o", "b\0k", "L", token, b"new")
    assert (await cache.get("o", "b\0k", "L"))[0] == b"new"
    assert cache.stats["stale_fills"] >= 1 and cache.stats["hits"] >= 1


async def test_invalidation_drops_every_field_of_a_name(cache) -> None:
    for field in ("L", "V:1", "V:2"):
        _, t = await cache.get("o", "n", field)
        await cache.fill("o", "n", field, t, field.encode())
    _, t = await cache.get("o", "other", "L")
    await cache.fill("o", "other", "L", t, b"x")
    await cache.invalidate("o", ["n"])
    for field in ("L", "V:1", "V:2"):
        assert (await cache.get("o", "n", field))[0] is None
    assert (await cache.get("o", "other", "L"))[0] == b"x"
    await cache.flush()
    assert (await cache.get("o", "other", "L"))[0] is None


async def test_memory_cache_stays_bounded_without_aba() -> None:
    c = MemoryCache(max_bytes=4096)
    _, stale = await c.get("o", "k", "L")  # a reader looks up k ...
    await c.invalidate("o", ["k"])  # ... k is written ...
    for i in range(200):  # ... and k's tombstone is evicted
        _, t = await c.get("o", f"x{i}", "L")
        await c.fill("o", f"x{i}", "L", t, b"v" * 100)
    assert c._bytes <= 4096 and ("o", "k") not in c._entries
    await c.fill("o", "k", "L", stale, b"old")  # the old reader's fill must still be refused
    assert (await c.get("o", "k", "L"))[0] is None


async def test_worker_caches_sharing_generations_see_each_others_invalidations() -> None:
    # two worker processes of one gateway: each its own MemoryCache, one shared generation array
    shared = Generations.create(slots=1024)
    a, b = MemoryCache(generations=shared.for_worker(0)), MemoryCache(generations=shared.for_worker(1))
    for c in (a, b):
        _, t = await c.get("o", "b\0k", "L")
        await c.fill("o", "b\0k", "L", t, b"v1")
    _, stale = await a.get("o", "b\0k", "L")  # a's reader looks up (a hit) ...
    await b.invalidate("o", ["b\0k"])  # ... b commits v2 and invalidates
    assert (await a.get("o", "b\0k", "L"))[0] is None  # a's entry is no longer answered
    await a.fill("o", "b\0k", "L", stale, b"v1")  # nor put back by a token from before
    assert (await a.get("o", "b\0k", "L"))[0] is None
    _, t = await a.get("o", "b\0k", "L")
    await a.fill("o", "b\0k", "L", t, b"v2")
    assert (await a.get("o", "b\0k", "L"))[0] == b"v2"
    await b.flush()  # a flush in one worker empties them all
    assert (await a.get("o", "b\0k", "L"))[0] is None


async def test_null_cache_never_holds_anything() -> None:
    c = NullCache()
    _, t = await c.get("o", "k", "L")
    await c.fill("o", "k", "L", t, b"v")
    assert (await c.get("o", "k", "L"))[0] is None


# --------------------------------------------------------------------------- Redis down, slow, back


async def test_redis_down_then_back(private_redis, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="s3gw.cache.rediscache")
    c = redis_cache(private_redis)
    await c.open()
    try:
        _, t = await c.get("o", "k", "L")
        await c.fill("o", "k", "L", t, b"v1")
        private_redis.stop()
        t0 = time.monotonic()
        for _ in range(20):
            assert (await c.get("o", "k", "L"))[0] is None
        await c.invalidate("o", ["k"])  # must not raise
        # marked down once, then skipped: nothing waited (the bound tells a hang from a slow machine)
        assert time.monotonic() - t0 < HANG
        downs = [r for r in caplog.records if "unavailable" in r.getMessage()]
        assert len(downs) == 1, [r.getMessage() for r in caplog.records]
        back = c.stats["recoveries"]
        private_redis.start()  # empty again (no persistence)
        await recovered(c, back)
        _, t = await c.get("o", "k", "L")
        await c.fill("o", "k", "L", t, b"v2")
        assert (await c.get("o", "k", "L"))[0] == b"v2"
        assert any("is back" in r.getMessage() for r in caplog.records)
    finally:
        await c.close()


async def test_entries_from_before_an_outage_are_never_served_after_it(private_redis) -> None:
    """The server kept its data while this gateway could not reach it: the epoch bump drops it all."""
    c = redis_cache(private_redis)
    await c.open()
    try:
        _, t = await c.get("o", "k", "L")
        await c.fill("o", "k", "L", t, b"old")
        private_redis.freeze()  # slow / hung: the invalidation times out
        t0 = time.monotonic()
        await c.invalidate("o", ["k"])
        assert time.monotonic() - t0 < HANG  # the cache's timeout, not the hung server
        assert (await c.get("o", "k", "L"))[0] is None  # down: miss, at once
        back = c.stats["recoveries"]
        private_redis.thaw()
        assert (await c.get("o", "k", "L"))[0] is None  # not yet used again: miss
        await recovered(c, back)
        assert (await c.get("o", "k", "L"))[0] is None  # dropped before use, so never "old"
        _, t = await c.get("o", "k", "L")
        await c.fill("o", "k", "L", t, b"new")
        assert (await c.get("o", "k", "L"))[0] == b"new"
    finally:
        private_redis.thaw()
        await c.close()


async def test_names_spread_over_endpoints_and_one_down_spares_the_rest(private_redis) -> None:
    other = start_redis(password=private_redis.password)
    c = RedisCache(
        [private_redis.endpoint, other.endpoint],
        password=private_redis.password,
        prefix="t2:",
        timeout=1.0,
        retry_interval=0.3,
    )
    try:
        await c.open()
        names = [f"n{i}" for i in range(60)]
        on = {n: c._shard(n).endpoint for n in names}
        assert set(on.values()) == {private_redis.endpoint, other.endpoint}
        for n in names:
            _, t = await c.get("o", n, "L")
            await c.fill("o", n, "L", t, n.encode())
        other.freeze()
        got = {n: (await c.get("o", n, "L"))[0] for n in names}
        assert all((got[n] == n.encode()) == (on[n] == private_redis.endpoint) for n in names)
        await c.invalidate("o", names)
        back = c.stats["recoveries"]
        other.thaw()
        await recovered(c, back)
        assert [(await c.get("o", n, "L"))[0] for n in names] == [None] * len(names)
    finally:
        await c.close()
        other.stop()


# --------------------------------------------------------------------------- CachedMeta


def test_every_metastore_method_is_classified() -> None:
    """A new MetaStore method must be put in HANDLED (it changes lookups) or PASS_THROUGH (it does not)."""
    unknown = sorted(MetaStore.__abstractmethods__ - HANDLED - PASS_THROUGH)
    assert not unknown, f"classify {unknown} in s3gw/cache/meta.py (HANDLED or PASS_THROUGH)"


class Gated(SqliteMeta):
    """A store whose next get_version waits for the test: to stage the fill race deterministically."""

    gate: asyncio.Event | None = None
    reached: asyncio.Event | None = None

    async def get_version(self, bucket, key, version_id=None):
        rec = await super().get_version(bucket, key, version_id)
        if self.gate is not None:
            self.reached.set()
            await self.gate.wait()
        return rec


@pytest.fixture(params=["memory", "redis"])
async def two_gateways(request, tmp_path):
    """Two CachedMeta over one database and one cache (the memory one is shared in-process)."""
    if request.param == "memory":
        shared = MemoryCache()
        caches = [shared, shared]
    else:
        srv = request.getfixturevalue("redis_server")
        a = redis_cache(srv)
        caches = [a, RedisCache([srv.endpoint], password=srv.password, prefix=a.prefix, timeout=1.0)]
    metas = [CachedMeta(Gated(str(tmp_path / "m.db")), c) for c in caches]
    for m in metas:
        await m.open()
    yield metas
    for m in metas:
        await m.close()


async def test_read_after_write_across_gateways(two_gateways) -> None:
    a, b = two_gateways
    await a.create_bucket(BucketRecord("b", 1.0))
    assert (await b.get_bucket("b")).versioning == ""
    await a.update_bucket("b", versioning="Enabled")
    assert (await b.get_bucket("b")).versioning == "Enabled"
    assert await b.get_version("b", "k") is None  # caches "absent"
    await a.put_version(VersionRecord(bucket="b", key="k", version_id="v1", etag="1", inline=b"one"))
    assert (await b.get_version("b", "k")).inline == b"one"
    assert (await b.get_version("b", "k", "v1")).etag == "1"
    await a.put_version(VersionRecord(bucket="b", key="k", version_id="v2", etag="2", inline=b"two"))
    assert (await b.get_version("b", "k")).etag == "2"
    assert (await b.get_version("b", "k", "v1")).is_latest is False
    await a.update_info("b", "k", "v1", ObjectInfo(tags={"x": "y"}))
    assert (await b.get_version("b", "k", "v1")).info == ObjectInfo(tags={"x": "y"})
    await a.delete_object("b", "k", "v2", VersionRecord(bucket="b", key="k"))
    assert (await b.get_version("b", "k")).version_id == "v1"
    assert await b.get_version("b", "k", "v2") is None
    await a.delete_object("b", "k", "v1", VersionRecord(bucket="b", key="k"))
    await a.delete_bucket("b")
    assert await b.get_bucket("b") is None


async def test_a_slow_reader_cannot_put_back_an_old_version(two_gateways) -> None:
    a, b = two_gateways
    await a.create_bucket(BucketRecord("b", 1.0))
    await a.put_version(VersionRecord(bucket="b", key="k", etag="old"))
    store_b = b.store
    store_b.gate, store_b.reached = asyncio.Event(), asyncio.Event()
    reader = asyncio.create_task(b.get_version("b", "k"))  # reads "old" from the database, then waits
    await store_b.reached.wait()
    await a.put_version(VersionRecord(bucket="b", key="k", etag="new"))
    store_b.gate.set()
    assert (await reader).etag == "old"  # it read before the write: fine to answer
    store_b.gate = None
    assert (await b.get_version("b", "k")).etag == "new"  # but it did not cache "old"
    assert (await a.get_version("b", "k")).etag == "new"


async def test_failed_writes_still_invalidate(two_gateways) -> None:
    a, b = two_gateways
    await a.create_bucket(BucketRecord("b", 1.0))
    await a.put_version(VersionRecord(bucket="b", key="k", etag="1"))
    assert (await b.get_version("b", "k")).etag == "1"

    class Nope(Exception):
        pass

    def check(latest, replaced):
        raise Nope()

    with pytest.raises(Nope):
        await a.put_version(VersionRecord(bucket="b", key="k", etag="2"), check)
    assert a.cache.stats["invalidations"] >= 2


def test_records_round_trip_through_the_cache_encoding() -> None:
    from s3gw.cache.meta import decode_bucket, decode_version, encode_bucket

    rec = VersionRecord(
        bucket="b",
        key="é\n/x",
        version_id="v",
        mtime=1.5,
        size=3,
        etag="e",
        delete_marker=False,
        is_latest=False,
        seq=7,
        info=ObjectInfo(user_meta={"a": "\n"}),
        layout=ObjectLayout.multipart([Part(1, 3, "e", ShardSet("d", 3, 1, 0, "stripe", 4, 3, 3, "blake3", ("n1",)))]),
        inline=b"\n\x00I",
    )
    assert decode_version(encode_version(rec)) == rec
    marker = VersionRecord(bucket="b", key="k", delete_marker=True)
    assert decode_version(encode_version(marker)) == marker
    b = BucketRecord("b", 2.0, "Suspended", True, {"x": 1})
    assert decode_bucket(encode_bucket(b)) == b and decode_bucket(encode_bucket(None)) is None


def test_listings_go_to_the_backend_itself() -> None:
    """Not cached, and not re-walked above the backend: PostgreSQL's grouped roll-up stays in use."""
    for name in ("list_objects", "list_versions", "list_uploads", "pool_stats"):
        assert name in CachedMeta.__dict__, name
