"""Storage end to end over local drives: round trips, bitrot, lost shards,
failing drives, quorum, heal."""

from __future__ import annotations

import asyncio
import json
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodes.errors import DiskFull
from nodes.shardstore import frame_offset
from s3gw.common.records import RecordError, ShardSet
from s3gw.storage import (
    InsufficientReadQuorum,
    InsufficientWriteQuorum,
    LocalDrive,
    Storage,
    StorageError,
    StorageFull,
)
from tests.waiting import async_wait_until

from .helpers import BLOCK, FailingDrive, ProxyDrive, local_drives, shard_files

MiB = 1 << 20


async def put(storage: Storage, data: bytes, data_id: str | None = None, piece: int = 50_000) -> ShardSet:
    data_id = data_id or os.urandom(16).hex()
    w = await storage.open_writer(data_id, storage.new_placement(data_id))
    for i in range(0, len(data), piece):
        await w.write(data[i : i + piece])
    return await w.commit()


async def get(storage: Storage, layout: ShardSet, offset: int = 0, length: int | None = None) -> bytes:
    if length is None:
        length = layout.size - offset
    return b"".join([c async for c in storage.read(layout, offset, length)])


def shard_path(storage: Storage, layout: ShardSet, i: int) -> str:
    drive = storage.drive(layout.placement[i])
    local = drive.inner if isinstance(drive, ProxyDrive) else drive
    assert isinstance(local, LocalDrive)
    return local.store.path(f"{layout.data_id}.{i}")


def corrupt(storage: Storage, layout: ShardSet, i: int, stripe: int, rng: random.Random) -> None:
    """Flip a byte inside block ``stripe`` of shard ``i`` (hash or data)."""
    path = shard_path(storage, layout, i)
    start = frame_offset(stripe, layout.frag_size, 32)
    flen = 32 + (layout.frag_size if stripe < layout.stripes - 1 else layout.last_frag_size)
    pos = start + rng.randrange(flen)
    with open(path, "r+b") as f:
        f.seek(pos)
        b = f.read(1)
        f.seek(pos)
        f.write(bytes([b[0] ^ 0xFF]))


# -- round trips ---------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 5 * BLOCK + 17])
async def test_round_trip_sizes(storage: Storage, size: int) -> None:
    data = os.urandom(size)
    layout = await put(storage, data)
    assert ShardSet.from_json(json.loads(json.dumps(layout.to_json()))) == layout
    assert layout.size == size and list(layout.missing) == []
    assert layout.stripes == -(-size // BLOCK)
    assert await get(storage, layout) == data
    if size:
        assert await get(storage, layout, size - 1, 1) == data[-1:]
        assert await get(storage, layout, 0, 1) == data[:1]
    assert await get(storage, layout, size, 0) == b""
    assert await storage.verify(layout) == []
    assert await storage.verify(layout, deep=True) == []


def test_random_ranges_of_a_large_object(tmp_path) -> None:
    """Several MiB in default 1 MiB stripes; hypothesis picks the ranges."""
    data = os.urandom(5 * MiB + 12345)

    async def setup():
        st_ = Storage.local(str(tmp_path), fsync=False)
        return st_, await put(st_, data, piece=300_000)

    loop = asyncio.new_event_loop()
    storage, layout = loop.run_until_complete(setup())

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.integers(0, len(data)), st.data())
    def check(offset, d):
        length = d.draw(st.integers(0, len(data) - offset))
        assert loop.run_until_complete(get(storage, layout, offset, length)) == data[offset : offset + length]

    try:
        check()
        assert loop.run_until_complete(get(storage, layout)) == data
    finally:
        loop.run_until_complete(storage.close())
        loop.close()


async def test_write_piece_sizes_do_not_matter(storage: Storage) -> None:
    data = os.urandom(3 * BLOCK + 5)
    for piece in (1, 7, 4096, BLOCK, 2 * BLOCK, 10 * BLOCK):
        w = await storage.open_writer(f"p{piece}", storage.new_placement(f"p{piece}"))
        chunks = (
            [data[i : i + piece] for i in range(0, len(data), piece)]
            if piece > 1000
            else [data[:10], data[10:11], data[11:5000], data[5000:]]
        )
        for c in chunks:
            await w.write(bytearray(c))
        await w.write(b"")
        layout = await w.commit()
        assert await get(storage, layout) == data


async def test_layout_shape(storage: Storage) -> None:
    layout = await put(storage, os.urandom(BLOCK + 1), data_id="abc123")
    assert set(layout.to_json()) == {
        "v",
        "data_id",
        "size",
        "k",
        "m",
        "ec",
        "block_size",
        "frag_size",
        "last_frag_size",
        "stripes",
        "hash",
        "placement",
        "missing",
    }
    assert layout.data_id == "abc123" and (layout.k, layout.m) == (6, 3)
    assert list(layout.placement) == storage.new_placement("abc123")
    assert layout.hash in ("blake3", "sha256")
    stored = layout.to_json()
    with pytest.raises(RecordError):
        ShardSet.from_json({**stored, "placement": stored["placement"][:-1]})
    with pytest.raises(RecordError):
        ShardSet.from_json({"size": 3})
    with pytest.raises(RecordError):
        ShardSet.from_json({**stored, "data_id": "../x"})


async def test_open_writer_validates(storage: Storage) -> None:
    p = storage.new_placement("x")
    for bad in ("", "../x", "a/b", "a.b", "x" * 129, ".x"):
        with pytest.raises(ValueError):
            await storage.open_writer(bad, p)
    with pytest.raises(ValueError):
        await storage.open_writer("x", p[:-1])
    with pytest.raises(ValueError):
        await storage.open_writer("x", [p[0]] * 9)


async def test_read_range_validated(storage: Storage) -> None:
    layout = await put(storage, b"abc")
    with pytest.raises(ValueError):
        await get(storage, layout, 2, 2)
    with pytest.raises(ValueError):
        await get(storage, layout, -1, 1)


# -- reads touch only what they need --------------------------------------------


async def test_healthy_read_uses_data_shards_only(storage: Storage) -> None:
    data = os.urandom(7 * BLOCK)
    layout = await put(storage, data)
    for d in storage.drives:
        d.reads.clear()
    assert await get(storage, layout) == data
    read_idx = {int(name.rsplit(".", 1)[1]) for d in storage.drives for name, _, _ in d.reads}
    assert read_idx == set(range(6))


async def test_range_read_reads_only_covering_stripes(storage: Storage) -> None:
    data = os.urandom(10 * BLOCK)
    layout = await put(storage, data)
    for d in storage.drives:
        d.reads.clear()
    off, n = 4 * BLOCK + 100, BLOCK  # stripes 4 and 5
    assert await get(storage, layout, off, n) == data[off : off + n]
    blocks = {(first, count) for d in storage.drives for _, first, count in d.reads}
    assert blocks == {(4, 2)}


async def test_read_batches_grow_after_the_first(storage: Storage) -> None:
    # read_batch_bytes=2 blocks for the first batch, read_batch_max_bytes=4 after
    data = os.urandom(11 * BLOCK + 5)
    layout = await put(storage, data)
    for d in storage.drives:
        d.reads.clear()
    assert await get(storage, layout) == data
    blocks = {(first, count) for d in storage.drives for _, first, count in d.reads}
    assert blocks == {(0, 2), (2, 4), (6, 4), (10, 2)}


# -- bitrot and lost shards --------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
async def test_up_to_m_bad_shards_still_exact(storage: Storage, seed: int) -> None:
    rng = random.Random(seed)
    data = os.urandom(6 * BLOCK + rng.randrange(BLOCK))
    layout = await put(storage, data)
    bad = rng.sample(range(9), 3)
    n_deleted = rng.randrange(4)
    for i in bad[:n_deleted]:
        os.unlink(shard_path(storage, layout, i))
    for i in bad[n_deleted:]:
        for stripe in rng.sample(range(layout.stripes), 3):
            corrupt(storage, layout, i, stripe, rng)
    reported = []
    storage.on_degraded = lambda lay, idx: reported.append(idx)
    assert await get(storage, layout) == data
    off = rng.randrange(len(data))
    assert await get(storage, layout, off, len(data) - off) == data[off:]
    assert reported and set(reported[0]) <= set(bad)
    assert set(await storage.verify(layout, deep=True)) == set(bad)
    assert set(await storage.verify(layout)) >= set(bad[:n_deleted])


async def test_bad_blocks_in_different_shards_per_stripe(storage: Storage) -> None:
    # 5 shards each lose a different stripe: every stripe still has 8 good fragments.
    rng = random.Random(7)
    data = os.urandom(5 * BLOCK)
    layout = await put(storage, data)
    for stripe, i in enumerate([0, 2, 4, 6, 8]):
        corrupt(storage, layout, i, stripe, rng)
    assert await get(storage, layout) == data


async def test_four_bad_shards_is_read_quorum_error(storage: Storage) -> None:
    rng = random.Random(1)
    data = os.urandom(4 * BLOCK)
    layout = await put(storage, data)
    os.unlink(shard_path(storage, layout, 1))
    os.unlink(shard_path(storage, layout, 7))
    corrupt(storage, layout, 3, 2, rng)
    corrupt(storage, layout, 8, 2, rng)
    got = b""
    with pytest.raises(InsufficientReadQuorum):
        async for chunk in storage.read(layout, 0, len(data)):
            got += chunk
    assert data.startswith(got) and len(got) <= 2 * BLOCK  # never wrong bytes
    # stripes 0, 1 and 3 are still readable
    assert await get(storage, layout, 0, 2 * BLOCK) == data[: 2 * BLOCK]
    assert await get(storage, layout, 3 * BLOCK, BLOCK) == data[3 * BLOCK :]


async def test_four_missing_shards(storage: Storage) -> None:
    layout = await put(storage, os.urandom(BLOCK))
    for i in (0, 4, 5, 8):
        os.unlink(shard_path(storage, layout, i))
    with pytest.raises(InsufficientReadQuorum):
        await get(storage, layout)
    with pytest.raises(InsufficientReadQuorum):
        await storage.heal(layout)


async def test_swapped_shard_files_are_not_trusted(storage: Storage) -> None:
    data = os.urandom(2 * BLOCK)
    layout = await put(storage, data)
    a, b = shard_path(storage, layout, 0), shard_path(storage, layout, 1)
    with open(a, "rb") as f:
        content = f.read()
    with open(b, "wb") as f:  # shard 1's file now holds shard 0
        f.write(content)
    assert await get(storage, layout) == data
    assert 1 in await storage.verify(layout)


async def test_slow_drive_read_times_out_to_parity(tmp_path) -> None:
    drives = [FailingDrive(d) for d in local_drives(tmp_path)]
    for d in drives:
        d.fail_writes = False
    # generous for the healthy drives of a loaded machine; the slow one takes far longer
    storage = Storage(drives, block_size=BLOCK, read_timeout=2.0)
    try:
        data = os.urandom(2 * BLOCK)
        layout = await put(storage, data)
        slow = storage.drive(layout.placement[2])
        slow.read_delay = 300
        seen = []
        storage.on_degraded = lambda lay, idx: seen.append(idx)
        assert await get(storage, layout) == data
        assert seen == [[2]]
    finally:
        await storage.close()


class PacedDrive(FailingDrive):
    """Reads at a steady pace: ``per_block`` seconds for each block asked."""

    per_block = 0.0

    async def read_blocks(self, name, first, count, *, block_size=None, hash_algo=None):
        await asyncio.sleep(self.per_block * count)
        return await super().read_blocks(name, first, count, block_size=block_size, hash_algo=hash_algo)


async def test_larger_read_ahead_batches_get_time_in_proportion(tmp_path) -> None:
    """Every drive reads at the same steady pace, fast enough for the first batch (4 blocks each in
    0.2 s against a 1 s bound); the read-ahead batch asks 8 times as much of each drive (1.6 s,
    bound 8 s). It must get its share of time too: a bound per request, whatever its size, failed
    them all at once and cut the read short in the middle of its body."""
    drives = [PacedDrive(d) for d in local_drives(tmp_path)]
    for d in drives:
        d.fail_writes = False
    storage = Storage(
        drives, block_size=BLOCK, read_timeout=1.0, read_batch_bytes=4 * BLOCK, read_batch_max_bytes=32 * BLOCK
    )
    try:
        data = os.urandom(36 * BLOCK)
        layout = await put(storage, data)
        for d in drives:
            d.per_block = 0.05
        seen = []
        storage.on_degraded = lambda lay, idx: seen.append(idx)
        assert await get(storage, layout) == data
        assert seen == []  # no drive was given up on
    finally:
        await storage.close()


async def test_async_degraded_hook(storage: Storage) -> None:
    layout = await put(storage, os.urandom(100))
    os.unlink(shard_path(storage, layout, 0))
    got = asyncio.Event()

    async def hook(lay, idx):
        assert lay is layout and idx == [0]
        got.set()

    storage.on_degraded = hook
    await get(storage, layout)
    await asyncio.wait_for(got.wait(), 60)


async def test_read_can_stop_early(storage: Storage) -> None:
    data = os.urandom(20 * BLOCK)
    layout = await put(storage, data)
    gen = storage.read(layout, 0, len(data))
    first = await gen.__anext__()  # a piece of the first stripe (a view of a data fragment)
    assert 0 < len(first) <= BLOCK and bytes(first) == data[: len(first)]
    await gen.aclose()


# -- write failures ------------------------------------------------------------


def failing_storage(tmp_path, bad: dict[int, int], **kw) -> tuple[Storage, list[FailingDrive]]:
    """Drives drive1..9; drive{i} fails its writes after bad[i] batches."""
    drives = [FailingDrive(d, after=bad.get(n, 0)) for n, d in enumerate(local_drives(tmp_path), 1)]
    for n, d in enumerate(drives, 1):
        d.fail_writes = n in bad
    return Storage(drives, block_size=BLOCK, write_batch_bytes=BLOCK, **kw), drives


@pytest.mark.parametrize("after", [0, 1, 3])
async def test_drive_failing_during_write(tmp_path, after: int) -> None:
    storage, drives = failing_storage(tmp_path, {4: after, 7: after})
    try:
        data = os.urandom(5 * BLOCK + 3)
        layout = await put(storage, data, data_id="d1")
        missing = sorted(layout.placement.index(f"drive{n}") for n in (4, 7))
        assert list(layout.missing) == missing
        assert await get(storage, layout) == data
        assert await storage.verify(layout) == missing
        # nothing of the failed shards is left on the failed drives
        for n in (4, 7):
            assert not [f for f in shard_files(tmp_path / f"drive{n}") if "d1" in f]
        for d in drives:
            d.fail_writes = False
        assert await storage.heal(layout, layout.missing) == missing
        assert await storage.verify(layout, deep=True) == []
    finally:
        await storage.close()


async def test_missing_drive_directory(tmp_path) -> None:
    storage = Storage.local(str(tmp_path), fsync=False, block_size=BLOCK)
    try:
        import shutil

        shutil.rmtree(tmp_path / "drive3")
        data = os.urandom(2 * BLOCK)
        layout = await put(storage, data, data_id="m1")
        assert list(layout.missing) == [layout.placement.index("drive3")]
        assert await get(storage, layout) == data
        health = {h["id"]: h["ok"] for h in await storage.drive_health()}
        assert health["drive3"] is False and sum(health.values()) == 8
    finally:
        await storage.close()


@pytest.mark.parametrize("after", [0, 2])
async def test_below_write_quorum_leaves_nothing(tmp_path, after: int) -> None:
    storage, _ = failing_storage(tmp_path, {1: after, 2: after, 9: after})
    try:
        with pytest.raises(InsufficientWriteQuorum) as info:
            await put(storage, os.urandom(4 * BLOCK), data_id="q1")
        assert len(info.value.errors) == 3
        assert shard_files(tmp_path) == []
    finally:
        await storage.close()


async def test_quorum_lost_at_commit_cleans_committed_shards(tmp_path) -> None:
    # Small object: all frames fit before the failure shows, fail at the end.
    storage, _ = failing_storage(tmp_path, {3: 1, 5: 1, 6: 1})
    try:
        with pytest.raises(InsufficientWriteQuorum):
            await put(storage, os.urandom(100), data_id="q2")
        assert shard_files(tmp_path) == []
    finally:
        await storage.close()


async def test_full_drives_are_storage_full(tmp_path) -> None:
    drives = [FailingDrive(d, exc=DiskFull("full")) for d in local_drives(tmp_path)]
    storage = Storage(drives, block_size=BLOCK)
    try:
        with pytest.raises(StorageFull):
            await put(storage, os.urandom(BLOCK))
        assert shard_files(tmp_path) == []
    finally:
        await storage.close()


async def test_stalled_drive_is_dropped(tmp_path) -> None:
    # the stall timeout is generous (a healthy drive on a loaded machine must never look stalled);
    # drive2 sleeps far longer than it
    storage, drives = failing_storage(tmp_path, {2: 10**9}, stall_timeout=3.0)
    drives[1].write_delay = 300  # drive2 never keeps up
    try:
        data = os.urandom(6 * BLOCK)
        layout = await asyncio.wait_for(put(storage, data, piece=BLOCK), 120)
        assert list(layout.missing) == [layout.placement.index("drive2")]
        assert await get(storage, layout) == data
    finally:
        await storage.close()


async def test_abort_before_commit(storage: Storage, tmp_path) -> None:
    w = await storage.open_writer("ab1", storage.new_placement("ab1"))
    await w.write(os.urandom(3 * BLOCK))
    await w.abort()
    await w.abort()
    assert shard_files(tmp_path) == []
    with pytest.raises(StorageError):
        await w.write(b"x")


async def test_abort_after_commit_deletes(storage: Storage, tmp_path) -> None:
    async with await storage.open_writer("ab2", storage.new_placement("ab2")) as w:
        await w.write(os.urandom(BLOCK))
        await w.commit()
    assert len(shard_files(tmp_path)) == 9
    await w.abort()
    assert shard_files(tmp_path) == []


async def test_context_manager_aborts_on_error(storage: Storage, tmp_path) -> None:
    with pytest.raises(RuntimeError):
        async with await storage.open_writer("cm1", storage.new_placement("cm1")) as w:
            await w.write(os.urandom(2 * BLOCK))
            raise RuntimeError("client went away")
    assert shard_files(tmp_path) == []


async def test_delete(storage: Storage, tmp_path) -> None:
    layout = await put(storage, os.urandom(BLOCK * 2))
    os.unlink(shard_path(storage, layout, 4))
    await storage.delete(layout)
    await storage.delete(layout)
    assert shard_files(tmp_path) == []
    with pytest.raises(InsufficientReadQuorum):
        await get(storage, layout)


# -- heal ------------------------------------------------------------------------


async def test_heal_rebuilds_deleted_and_corrupt(storage: Storage) -> None:
    rng = random.Random(3)
    data = os.urandom(9 * BLOCK + 999)
    layout = await put(storage, data)
    os.unlink(shard_path(storage, layout, 0))
    os.unlink(shard_path(storage, layout, 7))
    corrupt(storage, layout, 4, layout.stripes - 1, rng)
    assert await storage.verify(layout, deep=True) == [0, 4, 7]
    assert await storage.heal(layout) == [0, 4, 7]
    assert await storage.verify(layout, deep=True) == []
    # the rebuilt shards are real: read with three of the untouched ones gone
    for i in (1, 2, 8):
        os.unlink(shard_path(storage, layout, i))
    assert await get(storage, layout) == data


async def test_heal_of_empty_object_and_nothing_to_do(storage: Storage) -> None:
    layout = await put(storage, b"")
    assert await storage.heal(layout) == []
    os.unlink(shard_path(storage, layout, 5))
    assert await storage.verify(layout) == [5]
    assert await storage.heal(layout) == [5]
    assert await storage.verify(layout) == []
    assert await get(storage, layout) == b""


async def test_heal_skips_a_failing_drive(tmp_path) -> None:
    storage, drives = failing_storage(tmp_path, {})
    try:
        layout = await put(storage, os.urandom(3 * BLOCK))
        for i in (2, 3):
            os.unlink(shard_path(storage, layout, i))
        storage.drive(layout.placement[3]).fail_writes = True
        assert await storage.heal(layout) == [2]
        assert await storage.verify(layout) == [3]
    finally:
        await storage.close()


# -- m = 0 -------------------------------------------------------------------------


async def test_striping_without_parity(tmp_path) -> None:
    storage = Storage(local_drives(tmp_path, 4), data_shards=4, parity_shards=0, block_size=BLOCK)
    try:
        for size in (0, 1, BLOCK + 3, 3 * BLOCK):
            data = os.urandom(size)
            layout = await put(storage, data)
            assert layout.ec == "stripe" and layout.m == 0
            assert await get(storage, layout) == data
            if size > 10:
                assert await get(storage, layout, 5, size - 10) == data[5:-5]
        os.unlink(shard_path(storage, layout, 2))
        with pytest.raises(InsufficientReadQuorum):
            await get(storage, layout)
        with pytest.raises(InsufficientReadQuorum):
            await storage.heal(layout)
    finally:
        await storage.close()


# -- the embedded constructor ----------------------------------------------------


async def test_local_creates_drives(tmp_path) -> None:
    storage = Storage.local(str(tmp_path / "data"))
    try:
        assert sorted(os.listdir(tmp_path / "data")) == sorted(f"drive{i}" for i in range(1, 10))
        assert (storage.k, storage.m) == (6, 3)
        assert sorted(storage.new_placement("x")) == sorted(f"drive{i}" for i in range(1, 10))
        data = os.urandom(3 * MiB + 1)
        layout = await put(storage, data, piece=MiB)
        assert await get(storage, layout) == data
    finally:
        await storage.close()
    again = Storage.local(str(tmp_path / "data"))  # reopening an existing data dir
    try:
        assert await get(again, layout, 5, 10) == data[5:15]
    finally:
        await again.close()


# -- writes with drives down: parity raised (MinIO's putObject) ---------------------


def unmount(root, drives) -> None:
    """Make drive folders unavailable (as an unmounted disk): moved aside, kept."""
    for d in drives:
        os.rename(root / d, root / f"{d}.away")


def remount(root, drives) -> None:
    for d in drives:
        os.rename(root / f"{d}.away", root / d)


async def test_writes_with_parity_drives_down_raise_parity_and_heal_back(tmp_path) -> None:
    """Three of nine drive folders unavailable: a new object is written 3+6 onto the six left
    (the shards of the three down are missing), reads back exactly, survives three more drives
    lost; once the drives are back heal rebuilds the missing shards, and the object survives the
    loss of any three other drives. Objects written before keep their 6+3 and stay readable."""
    root = tmp_path / "data"
    st = Storage.local(str(root), block_size=BLOCK, fsync=False, probe_interval=3600)
    try:
        await st.start()
        old_data = os.urandom(4 * BLOCK + 17)
        old = await put(st, old_data, "old")
        down = ["drive7", "drive8", "drive9"]
        unmount(root, down)
        await st.probe_local()
        assert st.online_drives() == [f"drive{i}" for i in range(1, 7)] and st.write_quorum_possible()
        data = os.urandom(5 * BLOCK + 99)
        lay = await put(st, data, "new")
        assert (lay.k, lay.m, lay.n) == (3, 6, 9)
        assert set(lay.placement[6:]) == set(down) and lay.missing == (6, 7, 8)
        assert (
            await get(st, lay) == data and await get(st, lay, BLOCK - 3, 2 * BLOCK) == data[BLOCK - 3 : 3 * BLOCK - 3]
        )
        assert await get(st, old) == old_data
        # three more lost: six of nine down, the new object still reads
        more = list(lay.placement[:3])
        unmount(root, more)
        await st.probe_local()
        assert not st.write_quorum_possible()
        with pytest.raises(InsufficientWriteQuorum):
            await st.open_writer("refused", st.new_placement("refused"))
        assert await get(st, lay) == data
        remount(root, more + down)
        await st.probe_local()
        assert len(st.online_drives()) == 9
        assert sorted(await st.verify(lay)) == [6, 7, 8]
        res = await st.heal_object(lay)
        assert res.healed == [6, 7, 8] and res.complete
        assert await st.verify(lay, deep=True) == []
        # every drive holds one shard of it again; any three others may go
        assert sum(1 for f in shard_files(root) if os.path.basename(f).startswith("new.")) == 9
        unmount(root, list(lay.placement[:3]))
        await st.probe_local()
        assert await get(st, lay) == data and await get(st, old) == old_data
    finally:
        await st.close()


async def test_raised_parity_object_is_re_encoded_in_the_normal_geometry(tmp_path) -> None:
    """Written 3+6 with three drives down; once they are back, ``reencode`` writes the same
    bytes again as a new 6+3 shard set (nine shards, each about a sixth of the object) from
    the six shards there are -- one of them with a corrupt block, decoded around -- and
    leaves the old set as it was. With a drive down it refuses, and leaves nothing behind."""
    root = tmp_path / "data"
    st = Storage.local(str(root), block_size=BLOCK, fsync=False, probe_interval=3600)
    try:
        await st.start()
        down = ["drive7", "drive8", "drive9"]
        unmount(root, down)
        await st.probe_local()
        data = os.urandom(7 * BLOCK + 1234)
        lay = await put(st, data, "raised")
        assert (lay.k, lay.m) == (3, 6) and st.raised(lay) and not st.can_reencode()
        remount(root, down)
        await st.probe_local()
        assert st.can_reencode()
        corrupt(st, lay, 1, 2, random.Random(7))
        ticks = []
        new = await st.reencode(lay, "normal", st.new_placement("normal"), progress=lambda: ticks.append(1))
        assert (new.k, new.m, new.missing, new.size) == (6, 3, (), len(data)) and not st.raised(new)
        assert len(ticks) >= lay.stripes
        assert await get(st, new) == data and await st.verify(new, deep=True) == []
        sizes = [os.path.getsize(f) for f in shard_files(root) if os.path.basename(f).startswith("normal.")]
        assert len(sizes) == 9 and all(abs(sz - len(data) / 6) < len(data) / 6 * 0.05 for sz in sizes)
        assert await get(st, lay) == data  # the old set is untouched (GC's, not this)
        # a drive down: no normal geometry to write, nothing written
        unmount(root, ["drive4"])
        await st.probe_local()
        assert not st.can_reencode()
        with pytest.raises(StorageError):
            await st.reencode(lay, "again", st.new_placement("again"))
        assert not any(os.path.basename(f).startswith("again.") for f in shard_files(root))
    finally:
        await st.close()


async def test_re_encode_that_misses_a_shard_is_given_up(tmp_path) -> None:
    """A drive failing during a re-encode: the new set would miss a shard, so it is removed
    whole (StorageError) and the old one still reads."""
    storage, drives = failing_storage(tmp_path, {4: 1})
    try:
        drives[3].fail_writes = False
        data = os.urandom(6 * BLOCK + 3)
        old = await put(storage, data, "src")
        drives[3].fail_writes = True
        with pytest.raises(StorageError, match="not written"):
            await storage.reencode(old, "dst", storage.new_placement("dst"))
        assert not [f for f in shard_files(tmp_path) if "dst" in os.path.basename(f)]
        assert await get(storage, old) == data
    finally:
        await storage.close()


@pytest.mark.parametrize("offline", [1, 2, 3])
async def test_raised_parity_geometry_is_mds(tmp_path, offline: int) -> None:
    """Every choice of k shards of a raised-parity object decodes it (the codec is MDS for it)."""
    import itertools

    root = tmp_path / "data"
    st = Storage.local(str(root), block_size=BLOCK, fsync=False, probe_interval=3600)
    try:
        await st.start()
        unmount(root, [f"drive{i}" for i in range(10 - offline, 10)])
        await st.probe_local()
        remount(root, [f"drive{i}" for i in range(10 - offline, 10)])
        data = os.urandom(2 * BLOCK + 5)
        lay = await put(st, data, "mds")
        await st.probe_local()
        assert (lay.k, lay.m) == (6 - offline, 3 + offline)
        await st.heal_object(lay)
        for keep in itertools.combinations(range(9), lay.k):
            gone = [i for i in range(9) if i not in keep]
            # read with only the shards ``keep``: the others' drives are taken out of the set
            sub = Storage([st.drive(lay.placement[i]) for i in keep], data_shards=1, parity_shards=0, block_size=BLOCK)
            try:
                assert await get(sub, lay) == data, gone
            finally:
                sub._compute.shutdown()
    finally:
        await st.close()


def test_too_few_drives(tmp_path) -> None:
    with pytest.raises(ValueError):
        Storage(local_drives(tmp_path, 8))


async def test_cancelled_write_leaves_nothing(tmp_path) -> None:
    """A client that goes away mid-body: core cancels, then aborts."""
    # the drives never keep up: the write is still going when cancelled; abort gives them the
    # stall timeout to stop on their own, then cancels them
    storage, drives = failing_storage(tmp_path, {}, stall_timeout=3.0)
    for d in drives:
        d.write_delay = 300
    try:
        w = await storage.open_writer("c1", storage.new_placement("c1"))
        task = asyncio.ensure_future(w.write(os.urandom(400 * BLOCK)))
        await asyncio.sleep(0.1)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(w.abort(), 60)

        async def nothing_left() -> bool:
            # a cancelled drive's temp file goes in its thread pool, queued behind any write
            return shard_files(tmp_path) == []

        await async_wait_until(nothing_left, "the cancelled write's temp files removed")
        with pytest.raises(StorageError):
            await w.commit()
    finally:
        await storage.close()


class _SlowCommitDrive(ProxyDrive):
    def __init__(self, inner, delay: float) -> None:
        super().__init__(inner)
        self.delay = delay

    async def write_shard(self, name, frames, *, block_size, hash_algo):
        res = await self.inner.write_shard(name, frames, block_size=block_size, hash_algo=hash_algo)
        await asyncio.sleep(self.delay)
        return res


async def test_straggler_after_quorum_is_dropped(tmp_path) -> None:
    drives: list = local_drives(tmp_path)
    drives[0] = _SlowCommitDrive(drives[0], 300)  # drive1 hangs after its data
    drives[1] = _SlowCommitDrive(drives[1], 0.3)  # drive2 is merely slow
    storage = Storage(drives, block_size=BLOCK, stall_timeout=3.0)
    try:
        data = os.urandom(2 * BLOCK)
        layout = await asyncio.wait_for(put(storage, data), 120)
        assert list(layout.missing) == [layout.placement.index("drive1")]
        assert await get(storage, layout) == data
    finally:
        await storage.close()


async def test_local_drive_interface(storage: Storage) -> None:
    layout = await put(storage, os.urandom(100), data_id="li1")
    drive = storage.drive(layout.placement[3])
    assert [n async for n in drive.list_shards()] == ["li1.3"]
    assert [n async for n in drive.list_shards("zz")] == []
    st_ = await drive.stat_shard("li1.3")
    assert st_.blocks == 1 and st_.last_block_size == layout.last_frag_size
    assert await drive.scrub_shard("li1.3") == []
    cap = await drive.capacity()
    assert cap.total > 0
    health = await drive.health()
    assert health["ok"] and health["id"] == drive.id
    assert await drive.delete_shard("li1.3") is True
    assert await drive.delete_shard("li1.3") is False


@pytest.mark.parametrize("maintain", [True, False], ids=["services-process", "other-worker"])
async def test_only_the_maintaining_process_formats_a_wiped_drive(tmp_path, maintain: bool) -> None:
    """With several worker processes on the same drives, the one that runs heal (``maintain``)
    formats a wiped drive and records it as healing; another only sees it unformatted (and
    online again once formatted), so a drive is never formatted behind heal's back."""
    import shutil

    root = tmp_path / "data"
    st = Storage.local(str(root), block_size=BLOCK, fsync=False, probe_interval=3600)
    st.maintain = maintain
    try:
        await st.start()
        shutil.rmtree(root / "drive3")
        await st.probe_local()
        await st.probe_local()  # unformatted on two probes in a row: formatted, if this process may
        assert os.path.exists(root / "drive3" / "drive.json") == maintain
        assert st.drive_status("drive3") == ("healing" if maintain else "unformatted")
        assert ("drive3" in st.healing) == maintain
        if not maintain:  # the maintaining process formats it: seen online, not healing here
            from nodes.shardstore import ShardStore

            ShardStore(str(root / "drive3"), drive_id="drive3", create=True)
            await st.probe_local()
            assert st.drive_status("drive3") == "online"
    finally:
        await st.close()
