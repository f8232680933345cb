"""Repair over the embedded form (local drives, SQLite): the heal queue worker,
the admin heal walk, the orphan reaper, GC deferral and the meta methods
behind them (the cluster tests run the same code against node processes)."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from s3gw.common.records import ObjectLayout, ShardSet
from s3gw.core.repair import Repair
from s3gw.core.service import Core, PutOptions
from s3gw.meta.sqlite import SqliteMeta
from s3gw.storage import Storage
from tests.waiting import async_wait_until

BLOCK = 64 << 10


class Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self):
        for i in range(0, len(self.data), 50_000):
            yield self.data[i : i + 50_000]

    async def trailers(self) -> dict[str, str]:
        return {}


@pytest.fixture
async def env(tmp_path):
    meta = SqliteMeta(str(tmp_path / "meta.db"))
    await meta.open()
    storage = Storage.local(str(tmp_path), block_size=BLOCK, fsync=False)
    core = Core(meta, storage)
    core.gc_grace = 0.0  # these tests watch GC act at once (the grace has tests of its own)
    repair = Repair(meta, storage, orphan_grace=0.0)
    await core.create_bucket("bkt")
    yield core, repair, tmp_path
    await storage.close()
    await meta.close()


def shard_path(root, layout: ShardSet | ObjectLayout, i: int) -> str:
    from nodes.shardstore import fan_dir

    shards = layout.shards if isinstance(layout, ObjectLayout) else layout
    name = f"{shards.data_id}.{i}"
    return os.path.join(root, shards.placement[i], "shards", fan_dir(name), name)


async def read(core: Core, key: str) -> bytes:
    r = await core.get_object("bkt", key)
    return b"".join([c async for c in r.body])


async def test_degraded_read_queues_and_worker_rebuilds(env) -> None:
    core, repair, root = env
    data = os.urandom(5 * BLOCK + 17)
    rec = await core.put_object("bkt", "k", Body(data), PutOptions())
    assert (await core.meta.maintenance_stats())["write_intents"] == 0  # cleared by the commit
    os.unlink(shard_path(root, rec.layout, 0))
    with open(shard_path(root, rec.layout, 7), "r+b") as f:
        f.seek(400)
        f.write(b"\xff" * 8)
    assert await read(core, "k") == data
    await asyncio.gather(*core.storage._bg)  # the hook runs as a task
    assert (await core.meta.maintenance_stats())["heal_queued"] == 1
    assert await repair.drain_heal_queue() == 1
    assert (await core.meta.maintenance_stats())["heal_queued"] == 0
    assert await core.storage.verify(rec.layout.shards, deep=True) == []


async def test_admin_heal_walk_counts_and_dry_run(env) -> None:
    core, repair, root = env
    recs = [await core.put_object("bkt", f"p/{i}", Body(os.urandom(200_000)), PutOptions()) for i in range(3)]
    await core.put_object("bkt", "small", Body(b"tiny"), PutOptions())  # inline: nothing to heal
    os.unlink(shard_path(root, recs[1].layout, 3))
    dry = await repair.run_heal("bkt", "", dry_run=True)
    assert (dry.scanned, dry.would_heal, dry.healed) == (4, 1, 0)
    s = await repair.run_heal("bkt", "p/")
    assert (s.scanned, s.healed, s.healthy, s.shards_healed, s.failed, s.unrecoverable) == (3, 1, 2, 1, 0, 0)
    for i in (0, 1, 2, 4):
        os.unlink(shard_path(root, recs[0].layout, i))  # 4 of 9 gone: fewer than k=6 left
    s = await repair.run_heal("bkt", "p/0")
    assert s.unrecoverable == 1 and s.problems[0]["outcome"] == "unrecoverable"


async def test_orphans_of_uncommitted_writes_are_removed(env) -> None:
    core, repair, root = env
    kept = await core.put_object("bkt", "kept", Body(os.urandom(300_000)), PutOptions())
    w = await core._open_writer()  # a PUT whose gateway dies before the metadata commit
    await w.write(os.urandom(300_000))
    orphan = await w.commit()
    assert os.path.exists(shard_path(root, orphan, 0))
    await core.meta.begin_write(kept.layout.shards.data_id, list(kept.layout.shards.placement))  # a leftover intent
    time.sleep(0.01)
    assert await repair.reap_orphans() == 1
    assert not any(os.path.exists(shard_path(root, orphan, i)) for i in range(9))
    assert all(os.path.exists(shard_path(root, kept.layout, i)) for i in range(9))
    assert (await core.meta.maintenance_stats())["write_intents"] == 0


class _SlowBody:
    """A body that arrives in pieces until ``done`` is set: an upload in progress."""

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.sent = 0

    async def __aiter__(self):
        while not self.done.is_set():
            self.sent += 1
            yield os.urandom(100_000)
            await asyncio.sleep(0.05)

    async def trailers(self) -> dict[str, str]:
        return {}


async def test_an_upload_longer_than_the_grace_is_not_reaped(env) -> None:
    core, _, root = env
    meta = core.meta
    # a grace 15 refresh periods long: a loaded machine may delay the keeper, never by seconds
    repair = Repair(meta, core.storage, orphan_grace=3.0)
    core.intent_refresh = 0.2
    keeper = asyncio.create_task(core.intent_keeper())
    body = _SlowBody()
    put = asyncio.create_task(core.put_object("bkt", "slow", body, PutOptions()))
    try:
        await async_wait_until(lambda: _intents(meta), "the upload's write intent")
        # the upload goes on for several grace periods (by the intent's own clock), with the
        # reaper passing again and again: it must never take the live upload for an orphan
        first = (await meta.stale_writes(time.time() + 3600, 10))[0].started
        while time.time() - first < 2 * repair.orphan_grace:
            assert await repair.reap_orphans() == 0
            await asyncio.sleep(0.1)
        body.done.set()
        rec = await put
    finally:
        keeper.cancel()
        body.done.set()
    assert all(os.path.exists(shard_path(root, rec.layout, i)) for i in range(9))
    assert (await read(core, "slow"))[:1] and rec.size == body.sent * 100_000
    assert await _intents(meta) == 0


async def _intents(meta) -> int:
    return (await meta.maintenance_stats())["write_intents"]


async def test_gc_defers_what_it_cannot_delete(env) -> None:
    core, repair, root = env
    rec = await core.put_object("bkt", "g", Body(os.urandom(300_000)), PutOptions())
    await core.delete_object("bkt", "g")
    gone = core.storage.remove_drive(rec.layout.shards.placement[0])
    offline = core.storage.drive_state
    core.storage.drive_state = lambda d: "offline" if d == gone.id else offline(d)  # down, not gone
    assert await core.run_gc() == 0
    assert (await core.meta.maintenance_stats())["gc_queued"] == 1
    assert await core.meta.take_gc(10) == []  # deferred, not retried at once
    await gone.close()


async def test_heal_queue_retry_and_failed_states(env) -> None:
    core, _, _ = env
    m = core.meta
    await m.enqueue_heal("bkt", "a", "v1", "degraded read")
    await m.enqueue_heal("bkt", "a", "v1", "again")  # one row per version
    (item,) = await m.take_heal(10)
    await m.finish_heal(item.id, "retry", "node down", time.time() + 60)
    assert await m.take_heal(10) == []
    await m.enqueue_heal("bkt", "b", "v1", "scanner")
    (item,) = await m.take_heal(10)
    await m.finish_heal(item.id, "failed", "unrecoverable")
    assert (await m.maintenance_stats())["heal_failed"] == 1
    await m.clear_heal("bkt", "b", "v1")
    assert (await m.maintenance_stats())["heal_failed"] == 0


async def test_scanner_queues_what_it_finds(env) -> None:
    core, repair, root = env
    repair.scan_pace = 0.001
    recs = [await core.put_object("bkt", f"s/{i}", Body(os.urandom(150_000)), PutOptions()) for i in range(3)]
    os.unlink(shard_path(root, recs[0].layout, 2))  # missing: a shallow pass sees it
    with open(shard_path(root, recs[1].layout, 5), "r+b") as f:  # bitrot: only a deep pass sees it
        f.seek(300)
        f.write(b"\x00" * 4)
    s = await repair.scan_once(deep=False)
    assert (s.scanned, s.queued) == (3, 1)
    s = await repair.scan_once(deep=True)
    assert (s.scanned, s.queued) == (3, 2) and repair.last_scan is s
    assert (await core.meta.maintenance_stats())["heal_queued"] == 2
    await repair.drain_heal_queue()
    assert (await repair.scan_once(deep=True)).queued == 0


async def test_too_few_shards_is_retried_before_the_object_is_failed(env) -> None:
    """Fewer than k shards answering may be a node that just went away: the worker retries first."""
    core, repair, root = env
    rec = await core.put_object("bkt", "lost", Body(os.urandom(3 * BLOCK)), PutOptions())
    for i in range(4):
        os.unlink(shard_path(root, rec.layout, i))
    await core.meta.enqueue_heal("bkt", "lost", rec.version_id, "test")
    assert await repair.drain_heal_queue() == 1
    stats = await core.meta.maintenance_stats()
    assert stats["heal_failed"] == 0 and stats["heal_queued"] == 1
    assert repair.worker_totals == {"healed": 0, "retried": 1, "failed": 0}


async def test_heal_sequence_returns_typed_results(env) -> None:
    """``mc admin heal -r``'s walk runs in the core: each version an item with its drives'
    states before and after, polled by token until the sequence is finished."""
    core, repair, root = env
    rec = await core.put_object("bkt", "seq/big", Body(os.urandom(200_000)), PutOptions())
    await core.put_object("bkt", "seq/small", Body(b"tiny"), PutOptions())  # inline: no drives of its own
    os.unlink(shard_path(root, rec.layout, 2))
    seq = repair.start_sequence("bkt", "seq/", client_settings={"recursive": True})
    assert repair.running_sequences("bkt", "seq/") in ([seq], [])
    assert repair.heal_sequence(seq.token) is seq
    await seq.task
    assert seq.status == "finished" and repair.running_sequences("bkt", "seq/") == []
    items = seq.take_items()
    assert seq.take_items() == []
    assert [(i.key, i.outcome, i.result_id) for i in items] == [("seq/big", "healed", 1), ("seq/small", "ok", 2)]
    big, small = items
    assert (big.data_blocks, big.parity_blocks, len(big.drives)) == (6, 3, 9)
    assert [d.endpoint for d in big.drives] == list(rec.layout.shards.placement)
    assert [d.before for d in big.drives].count("missing") == 1  # one shard was rebuilt
    assert {d.after for d in big.drives} == {"ok"}
    assert [d.endpoint for d in small.drives] == [f"drive{i}" for i in range(1, 10)]
    assert repair.sequence_totals == {"healed": 1, "failed": 0}
    assert await core.storage.verify(rec.layout.shards, deep=True) == []
    # a dry run reports without rebuilding; stop cancels a running walk
    os.unlink(shard_path(root, rec.layout, 4))
    dry = repair.start_sequence("bkt", "seq/", dry_run=True)
    await dry.task
    assert [i.outcome for i in dry.take_items()] == ["bad", "ok"]
    assert await core.storage.verify(rec.layout.shards, deep=True) != []
    assert set(repair.sequences) == {seq.token, dry.token}
    assert repair.stop_sequences() == [seq.task, dry.task]


# -- raised parity re-encoded into the normal geometry -------------------------------


def _move(root, drives: list[str], away: bool) -> None:
    for d in drives:
        a, b = os.path.join(root, d), os.path.join(root, d + ".away")
        os.rename(*((a, b) if away else (b, a)))


def _data_files(root) -> dict[str, int]:
    """Shard files on the nine drives, by data id."""
    out: dict[str, int] = {}
    for i in range(1, 10):
        for dirpath, _, files in os.walk(os.path.join(root, f"drive{i}", "shards")):
            for f in files:
                out[f.rsplit(".", 1)[0]] = out.get(f.rsplit(".", 1)[0], 0) + 1
    return out


async def test_raised_parity_versions_are_re_encoded_once_the_drives_are_back(env) -> None:
    """Three drives down: a PUT and a multipart upload (one part before, one during) are
    written with raised parity and queued for heal. While the drives are down heal leaves
    them be (retried later); once they are back the worker writes each raised shard set
    again as 6+3 and swaps it in by compare-and-swap, the old sets queued for GC; the bytes
    read back the same and the old shards go with GC."""
    from s3gw.core.multipart import CompletedPart

    core, repair, root = env
    up = await core.create_upload("bkt", "mp", PutOptions())
    p1 = os.urandom(5 * 1024 * 1024 + 3)
    e1 = (await core.upload_part("bkt", "mp", up.upload_id, 1, Body(p1), PutOptions())).etag
    down = ["drive7", "drive8", "drive9"]
    _move(root, down, away=True)
    await core.storage.probe_local()
    big = os.urandom(9 * BLOCK + 5)
    rec = await core.put_object("bkt", "big", Body(big), PutOptions())
    assert (rec.layout.shards.k, rec.layout.shards.m) == (3, 6)
    p2 = os.urandom(3 * BLOCK + 7)
    e2 = (await core.upload_part("bkt", "mp", up.upload_id, 2, Body(p2), PutOptions())).etag
    mp = await core.complete_upload("bkt", "mp", up.upload_id, [CompletedPart(1, e1), CompletedPart(2, e2)])
    assert [(s.k, s.m) for s in mp.layout.layouts()] == [(6, 3), (3, 6)]
    assert (await core.meta.maintenance_stats())["heal_queued"] == 2
    # drives still down: nothing to do yet, retried later
    await repair.drain_heal_queue()
    stats = await core.meta.maintenance_stats()
    assert stats["heal_queued"] == 2 and repair.worker_totals["retried"] == 2
    _move(root, down, away=False)
    await core.storage.probe_local()
    await core.meta.heal_due_now()  # (what the worker does when a drive comes back)
    assert await repair.drain_heal_queue() == 2
    assert repair.worker_totals["healed"] == 2
    stats = await core.meta.maintenance_stats()
    assert stats["heal_queued"] == 0 and stats["write_intents"] == 0 and stats["gc_queued"] == 2
    big_now = await core.meta.get_version("bkt", "big", rec.version_id)
    mp_now = await core.meta.get_version("bkt", "mp", mp.version_id)
    assert [(s.k, s.m, s.missing) for s in big_now.layout.layouts()] == [(6, 3, ())]
    assert [(s.k, s.m, s.missing) for s in mp_now.layout.layouts()] == [(6, 3, ())] * 2
    assert mp_now.layout.layouts()[0] == mp.layout.layouts()[0]  # the part written 6+3 is kept as it was
    assert await read(core, "big") == big and await read(core, "mp") == p1 + p2
    await core.run_gc()
    files = _data_files(root)
    assert rec.layout.shards.data_id not in files and mp.layout.layouts()[1].data_id not in files
    assert all(files[s.data_id] == 9 for s in [*big_now.layout.layouts(), *mp_now.layout.layouts()])
    # nothing raised is left: the scanner finds nothing to queue
    assert (await repair.scan_once()).queued == 0


async def test_re_encode_of_a_version_replaced_meanwhile_drops_its_new_shards(env) -> None:
    """A heal of a raised version that has been overwritten meanwhile: the compare-and-swap
    fails, the new shard set is removed, and the overwrite stands."""
    core, repair, root = env
    _move(root, ["drive9"], away=True)
    await core.storage.probe_local()
    old = await core.put_object("bkt", "k", Body(os.urandom(4 * BLOCK)), PutOptions())
    assert (old.layout.shards.k, old.layout.shards.m) == (5, 4)
    _move(root, ["drive9"], away=False)
    await core.storage.probe_local()
    new_data = os.urandom(3 * BLOCK + 1)
    await core.put_object("bkt", "k", Body(new_data), PutOptions())  # unversioned: replaces it
    outcome, _, detail = await repair.heal_version(old)  # the record as the heal worker read it
    assert outcome == "failed" and "changed" in detail
    assert set(_data_files(root)) <= {
        old.layout.shards.data_id,
        (await core.meta.get_version("bkt", "k")).layout.shards.data_id,
    }
    assert await read(core, "k") == new_data
    assert (await core.meta.maintenance_stats())["write_intents"] == 0


async def test_scanner_and_admin_heal_re_encode_raised_versions(env) -> None:
    """A raised version the heal queue lost track of: the scanner queues it once the drives are
    back, a dry-run heal counts it as one to heal, and ``admin heal`` re-encodes it itself."""
    core, repair, root = env
    repair.scan_pace = 0.001
    _move(root, ["drive2", "drive5"], away=True)
    await core.storage.probe_local()
    data = os.urandom(4 * BLOCK + 9)
    rec = await core.put_object("bkt", "r", Body(data), PutOptions())
    assert (rec.layout.shards.k, rec.layout.shards.m) == (4, 5)
    assert (await repair.scan_once()).queued == 1  # (drives still down: queued all the same, retried)
    await core.meta.clear_heal("bkt", "r", rec.version_id)
    _move(root, ["drive2", "drive5"], away=False)
    await core.storage.probe_local()
    assert (await repair.scan_once()).queued == 1
    await core.meta.clear_heal("bkt", "r", rec.version_id)
    dry = await repair.run_heal("bkt", dry_run=True)
    assert (dry.would_heal, dry.healed) == (1, 0) and "4+5" in dry.problems[0]["detail"]
    s = await repair.run_heal("bkt")
    assert (s.healed, s.shards_healed, s.failed) == (1, 9, 0)
    now = await core.meta.get_version("bkt", "r", rec.version_id)
    assert (now.layout.shards.k, now.layout.shards.m) == (6, 3) and await read(core, "r") == data
    assert (await repair.scan_once(deep=True)).queued == 0


async def test_a_heal_racing_the_gc_of_a_replaced_version_leaves_no_orphan(env) -> None:
    """The heal read a version's shards, the key was overwritten and the GC removed the
    old shards, then the heal wrote its rebuilt shard: nothing references that shard and
    no GC will come for it again, so the heal itself removes it."""
    core, repair, root = env
    old = await core.put_object("bkt", "raced", Body(os.urandom(300_000)), PutOptions())
    os.remove(shard_path(root, old.layout, 0))
    await core.put_object("bkt", "raced", Body(os.urandom(300_000)), PutOptions())  # replaces it
    st = core.storage
    heal_object = st.heal_object

    async def gc_between_read_and_write(lay, **kw):
        res = await heal_object(lay, **kw)
        # the GC's run fell between the heal's read and its write: every shard it could
        # see is gone, the one the heal was writing lands afterwards
        for i in range(lay.n):
            if i not in res.healed and os.path.exists(shard_path(root, lay, i)):
                os.remove(shard_path(root, lay, i))
        return res

    st.heal_object = gc_between_read_and_write
    outcome, rebuilt, _ = await repair.heal_version(old)
    assert (outcome, rebuilt) == ("healed", 1)
    left = [i for i in range(9) if os.path.exists(shard_path(root, old.layout, i))]
    assert left == [], f"shards of the replaced version left behind: {left}"
    assert len(await read(core, "raced")) == 300_000


async def test_a_heal_of_a_live_version_keeps_its_rebuilt_shard(env) -> None:
    core, repair, root = env
    rec = await core.put_object("bkt", "live", Body(os.urandom(300_000)), PutOptions())
    os.remove(shard_path(root, rec.layout, 2))
    assert (await repair.heal_version(rec))[:2] == ("healed", 1)
    assert os.path.exists(shard_path(root, rec.layout, 2))
