"""PostgreSQL going away: every call fails as MetaUnavailable within the timeout, and
the store recovers on its own when the server is back; acknowledged writes survive
a crash of the server.

Each test has its own PostgreSQL (``private_postgres``), which it stops, crashes
or freezes (SIGSTOP: the sockets stay open and nothing answers).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from s3gw.meta.base import MetaUnavailable
from s3gw.meta.model import BucketRecord, VersionRecord
from s3gw.meta.postgres import PostgresMeta
from tests.waiting import async_wait_until

TIMEOUT = 1.5
#: "within the timeout" on a loaded machine: the timeout plus slack far above the work and far
#: below a hang (a call waiting on a dead or frozen server without its timeout waits forever)
WITHIN = TIMEOUT + 10


async def open_store(pg, **kw) -> PostgresMeta:
    s = PostgresMeta(pg.dsn(), timeout=TIMEOUT, connect_timeout=1.0, **kw)
    await s.open()
    return s


async def eventually(fn):
    return await async_wait_until(fn, "the store to answer again", ignore=(MetaUnavailable,), until=lambda _: True)


async def timed_unavailable(coro) -> float:
    t0 = time.monotonic()
    with pytest.raises(MetaUnavailable):
        await coro
    return time.monotonic() - t0


async def test_stopped_then_restarted(private_postgres) -> None:
    pg = private_postgres
    s = await open_store(pg)
    try:
        await s.create_bucket(BucketRecord("b", 1.0))
        await s.put_version(VersionRecord(bucket="b", key="before"))
        pg.stop("fast")
        for call in (
            s.get_bucket("b"),
            s.put_version(VersionRecord(bucket="b", key="during")),
            s.list_objects("b", "", "", "", 10),
            s.ping(),
        ):
            assert await timed_unavailable(call) < WITHIN
        pg.start()
        # the pool replaces its dead connections by itself: no reopen
        await eventually(lambda: s.put_version(VersionRecord(bucket="b", key="after")))
        page = await s.list_objects("b", "", "", "", 10)
        assert [e.key for e in page.entries] == ["after", "before"]
    finally:
        await s.close()


async def test_hung_server_costs_at_most_the_timeout(private_postgres) -> None:
    pg = private_postgres
    s = await open_store(pg)
    try:
        await s.create_bucket(BucketRecord("b", 1.0))
        pg.freeze()
        try:
            waits = await asyncio.gather(
                *(timed_unavailable(s.get_version("b", f"k{i}")) for i in range(5)),
                timed_unavailable(s.put_version(VersionRecord(bucket="b", key="x"))),
            )
            assert max(waits) < WITHIN, waits
            # and again, with connections stuck from the first round
            assert await timed_unavailable(s.get_bucket("b")) < WITHIN
        finally:
            pg.thaw()
        await eventually(lambda: s.put_version(VersionRecord(bucket="b", key="y")))
        assert (await s.get_version("b", "y")) is not None
    finally:
        await s.close()


async def test_acknowledged_writes_survive_a_crash(private_postgres) -> None:
    pg = private_postgres
    s = await open_store(pg)
    acked: list[str] = []
    try:
        await s.create_bucket(BucketRecord("b", 1.0, versioning="Enabled"))

        async def writer(n: int) -> None:
            for i in range(1000):
                try:
                    await s.put_version(VersionRecord(bucket="b", key=f"w{n}/{i:04d}", version_id=f"v{n}-{i}"))
                except MetaUnavailable:
                    return
                acked.append(f"w{n}/{i:04d}")

        tasks = [asyncio.create_task(writer(n)) for n in range(4)]

        async def some_acked() -> bool:
            return len(acked) >= 20

        await async_wait_until(some_acked, "writes acknowledged before the crash")
        pg.stop("immediate")  # like a crash: no checkpoint, WAL replay on start
        await asyncio.gather(*tasks)
        assert acked, "some writes must have been acknowledged before the crash"
        pg.start()
        stored: list[str] = []
        marker = ""
        while True:
            page = await eventually(lambda: s.list_objects("b", "", "", marker, 1000))
            stored += [e.key for e in page.entries]
            if not page.truncated:
                break
            marker = page.next_marker
        assert set(acked) <= set(stored)
    finally:
        await s.close()


async def test_open_waits_for_the_server_then_gives_up(private_postgres) -> None:
    pg = private_postgres
    pg.stop("fast")
    t0 = time.monotonic()
    with pytest.raises(MetaUnavailable):
        await PostgresMeta(pg.dsn(), connect_timeout=0.5, startup_wait=1.0).open()
    assert time.monotonic() - t0 < 1.0 + WITHIN  # startup_wait, not forever
    # started while open() waits: it connects
    s = PostgresMeta(pg.dsn(), connect_timeout=0.5, startup_wait=20.0)
    opening = asyncio.create_task(s.open())
    await asyncio.sleep(1.0)
    pg.start()
    await opening
    await s.ping()
    await s.close()
