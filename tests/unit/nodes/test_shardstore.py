"""The shard store of one drive: format, bitrot, names, durability rules."""

from __future__ import annotations

import doctest
import errno
import hashlib
import os
import shutil
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nodes.bitrot
import nodes.shardstore
from nodes import bitrot
from nodes.errors import (
    ChecksumMismatch,
    DiskFull,
    DriveError,
    InvalidShardName,
    ShardNotFound,
    UnsupportedHash,
)
from nodes.shardstore import (
    HEADER_SIZE,
    ShardHeader,
    ShardStore,
    block_geometry,
    frame_offset,
    validate_name,
    verify_frames,
)

NAME = "0123456789abcdef0123456789abcdef.3"


@pytest.fixture
def store(tmp_path) -> ShardStore:
    return ShardStore(str(tmp_path / "drive1"), drive_id="drive1", create=True)


def blocks_of(n: int, size: int = 100, last: int | None = None) -> list[bytes]:
    out = [bytes([i % 251]) * size for i in range(n)]
    if last is not None and n:
        out[-1] = out[-1][:last]
    return out


def test_doctests() -> None:
    assert doctest.testmod(nodes.shardstore).failed == 0


# -- names -------------------------------------------------------------------


@pytest.mark.parametrize("name", [NAME, "a", "A-b_c.9", "x" * 200])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "../x",
        "a/b",
        "/etc/passwd",
        "a\\b",
        "a\x00b",
        ".hidden",
        "a..b",
        "x" * 201,
        "a\n",
        "\na",
        "a b",
        "é",
        "-x",
        None,
        5,
        b"abc",
    ],
)
def test_invalid_names(name, store: ShardStore) -> None:
    with pytest.raises(InvalidShardName):
        validate_name(name)
    with pytest.raises(InvalidShardName):
        store.create(name, 100)
    with pytest.raises(InvalidShardName):
        store.read_blocks(name, 0, 1)
    with pytest.raises(InvalidShardName):
        store.stat(name)
    with pytest.raises(InvalidShardName):
        store.delete(name)


def test_paths_stay_inside_the_drive(store: ShardStore) -> None:
    path = store.path(NAME)
    assert os.path.commonpath([path, store.shards_dir]) == store.shards_dir
    assert os.path.basename(path) == NAME


# -- round trips ---------------------------------------------------------------


def test_write_read_stat(store: ShardStore) -> None:
    data = blocks_of(5, last=37)
    stat = store.write_shard(NAME, data, block_size=100)
    assert (stat.blocks, stat.last_block_size, stat.block_size) == (5, 37, 100)
    again = store.stat(NAME)
    assert (again.blocks, again.last_block_size, again.size) == (5, 37, stat.size)
    assert [bytes(b) for b in store.read_blocks(NAME, 0, 5)] == data
    assert [bytes(b) for b in store.read_blocks(NAME, 2, 2)] == data[2:4]
    # past the end: missing, not an error
    got = store.read_blocks(NAME, 3, 4)
    assert [bytes(b) for b in got[:2]] == data[3:5] and got[2:] == [None, None]
    assert store.read_blocks(NAME, 9, 2) == [None, None]
    assert store.read_blocks(NAME, 1, 0) == []


def test_empty_shard(store: ShardStore) -> None:
    stat = store.write_shard(NAME, [], block_size=100)
    assert (stat.blocks, stat.size) == (0, HEADER_SIZE)
    assert store.read_blocks(NAME, 0, 1) == [None]


@pytest.mark.parametrize("algo", bitrot.available())
def test_every_hash(store: ShardStore, algo: str) -> None:
    store.write_shard(NAME, blocks_of(3), block_size=100, hash_algo=algo)
    assert store.stat(NAME).hash_algo == algo
    assert [bytes(b) for b in store.read_blocks(NAME, 0, 3, hash_algo=algo)] == blocks_of(3)
    other = next(a for a in ("sha256", "blake2b") if a != algo)
    with pytest.raises(ChecksumMismatch):
        store.read_blocks(NAME, 0, 3, hash_algo=other)


def test_unknown_hash_rejected(store: ShardStore) -> None:
    with pytest.raises(UnsupportedHash):
        store.create(NAME, 100, "md4")


def test_default_hash_is_blake3_when_available() -> None:
    assert bitrot.DEFAULT_ALGO == ("blake3" if "blake3" in bitrot.available() else "sha256")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=64), max_size=12), st.integers(0, 14), st.integers(0, 14))
def test_round_trip_property(tmp_path_factory, blocks, first, count) -> None:
    store = ShardStore(str(tmp_path_factory.mktemp("d")), create=True, fsync=False)
    blocks = [b.ljust(64, b"\0") for b in blocks[:-1]] + blocks[-1:]
    store.write_shard(NAME, blocks, block_size=64)
    got = store.read_blocks(NAME, first, count)
    want = [blocks[j] if j < len(blocks) else None for j in range(first, first + count)]
    assert [bytes(b) if b is not None else None for b in got] == want


def test_block_too_large(store: ShardStore) -> None:
    with store.create(NAME, 10) as w, pytest.raises(ValueError):
        w.append_block(b"x" * 11)
    assert os.listdir(store.tmp_dir) == []


def test_torn_frame_not_committed(store: ShardStore) -> None:
    w = store.create(NAME, 10)
    w.write(b"x" * 20)  # 32-byte hash not even complete
    with pytest.raises(ValueError):
        w.commit()
    assert os.listdir(store.tmp_dir) == []
    with pytest.raises(ShardNotFound):
        store.stat(NAME)


def test_writev_of_many_buffers(store: ShardStore) -> None:
    fn = bitrot.algorithm(bitrot.DEFAULT_ALGO).fn
    blocks = blocks_of(1500, size=8)  # 3000 buffers > IOV_MAX
    w = store.create(NAME, 8)
    w.write([x for b in blocks for x in (fn(b), memoryview(b))])
    w.commit()
    assert [bytes(b) for b in store.read_blocks(NAME, 0, 1500)] == blocks


def test_overwrite_replaces(store: ShardStore) -> None:
    store.write_shard(NAME, blocks_of(2), block_size=100)
    store.write_shard(NAME, [b"new"], block_size=100)
    assert [bytes(b) for b in store.read_blocks(NAME, 0, 1)] == [b"new"]


# -- bitrot ------------------------------------------------------------------


def flip(path: str, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x40]))


def test_bitrot_in_one_block(store: ShardStore) -> None:
    store.write_shard(NAME, blocks_of(4), block_size=100)
    st_ = store.stat(NAME)
    hl = 32
    flip(store.path(NAME), frame_offset(2, 100, hl) + hl + 50)  # data of block 2
    flip(store.path(NAME), frame_offset(0, 100, hl) + 3)  # hash of block 0
    got = store.read_blocks(NAME, 0, 4)
    assert got[0] is None and got[2] is None
    assert bytes(got[1]) == blocks_of(4)[1] and bytes(got[3]) == blocks_of(4)[3]
    assert store.scrub(NAME) == [0, 2]
    assert store.stat(NAME).blocks == st_.blocks  # stat does not read data


def test_corrupt_header(store: ShardStore) -> None:
    store.write_shard(NAME, blocks_of(2), block_size=100)
    flip(store.path(NAME), 17)
    with pytest.raises(ChecksumMismatch):
        store.read_blocks(NAME, 0, 1)
    with pytest.raises(ChecksumMismatch):
        store.stat(NAME)


def test_not_a_shard_file(store: ShardStore) -> None:
    store.write_shard(NAME, [], block_size=100)
    with open(store.path(NAME), "wb") as f:
        f.write(b"hello")
    with pytest.raises(ChecksumMismatch):
        store.read_blocks(NAME, 0, 1)


def test_misplaced_file_detected(store: ShardStore) -> None:
    store.write_shard(NAME, blocks_of(2), block_size=100)
    other = NAME[:-1] + "4"
    os.makedirs(os.path.dirname(store.path(other)), exist_ok=True)
    shutil.copy(store.path(NAME), store.path(other))
    with pytest.raises(ChecksumMismatch):
        store.read_blocks(other, 0, 1)


def test_block_size_must_match_when_asked(store: ShardStore) -> None:
    store.write_shard(NAME, blocks_of(2), block_size=100)
    with pytest.raises(ChecksumMismatch):
        store.read_blocks(NAME, 0, 1, block_size=99)


def test_truncated_shard(store: ShardStore) -> None:
    store.write_shard(NAME, blocks_of(3), block_size=100)
    os.truncate(store.path(NAME), frame_offset(2, 100, 32) + 40)
    got = store.read_blocks(NAME, 0, 3)
    assert got[2] is None and bytes(got[1]) == blocks_of(3)[1]
    assert store.stat(NAME).last_block_size == 8
    os.truncate(store.path(NAME), frame_offset(2, 100, 32) + 5)
    assert store.read_blocks(NAME, 2, 1) == [None]
    assert store.stat(NAME).last_block_size <= 0
    assert store.scrub(NAME) == [2]


def test_verify_frames_doctest_shape() -> None:
    h = ShardHeader("x.0", 4, "sha256", 32)
    good = hashlib.sha256(b"abcd").digest() + b"abcd"
    assert [bytes(b) for b in verify_frames(h, good, [4])] == [b"abcd"]
    assert verify_frames(h, good[:-1], [4]) == [None]


def test_geometry_examples() -> None:
    assert block_geometry(HEADER_SIZE, 10, 32) == (0, 0)
    assert block_geometry(HEADER_SIZE + 42 * 3, 10, 32) == (3, 10)
    with pytest.raises(ValueError):
        block_geometry(10, 10, 32)


# -- temp files, listing, deletion ---------------------------------------------


def test_temp_files_never_look_committed(store: ShardStore) -> None:
    w = store.create(NAME, 100)
    w.append_block(b"x" * 100)
    assert list(store.list_shards()) == []
    with pytest.raises(ShardNotFound):
        store.read_blocks(NAME, 0, 1)
    (tmp,) = os.listdir(store.tmp_dir)
    assert tmp.startswith(NAME) and tmp.endswith(".tmp")
    w.commit()
    assert os.listdir(store.tmp_dir) == []
    assert list(store.list_shards()) == [NAME]


def test_abort_removes_temp(store: ShardStore) -> None:
    w = store.create(NAME, 100)
    w.append_block(b"x")
    w.abort()
    w.abort()
    assert os.listdir(store.tmp_dir) == []
    with pytest.raises(DriveError):
        w.write(b"more")


def test_abort_after_commit_keeps_shard(store: ShardStore) -> None:
    w = store.create(NAME, 100)
    w.commit()
    w.abort()
    assert store.stat(NAME).blocks == 0


def test_list_and_delete(store: ShardStore) -> None:
    names = sorted(f"{i:032x}.{j}" for i in range(20) for j in range(2))
    for n in names:
        store.write_shard(n, [b"x"], block_size=10)
    assert sorted(store.list_shards()) == names
    assert sorted(store.list_shards(prefix=f"{3:032x}")) == names[6:8]
    # junk in a fan directory is not a shard
    with open(os.path.join(os.path.dirname(store.path(names[0])), ".junk"), "w"):
        pass
    assert sorted(store.list_shards()) == names
    assert store.delete(names[0]) is True
    assert store.delete(names[0]) is False
    assert names[0] not in set(store.list_shards())
    with pytest.raises(ShardNotFound):
        store.stat(names[0])


def test_cleanup_tmp(store: ShardStore) -> None:
    w = store.create(NAME, 100)
    old = time.time() - 7200
    os.utime(w.tmp_path, (old, old))
    assert store.cleanup_tmp(max_age=3600) == 1
    assert os.listdir(store.tmp_dir) == []


# -- capacity, full disk, drive identity, health -------------------------------


def test_capacity(store: ShardStore) -> None:
    cap = store.capacity()
    assert cap.total > 0 and 0 <= cap.free <= cap.total and cap.used >= 0


def test_reserve_means_disk_full(tmp_path) -> None:
    s = ShardStore(str(tmp_path / "d"), create=True, reserve_bytes=1 << 62)
    assert s.capacity().free == 0
    with pytest.raises(DiskFull):
        s.create(NAME, 100)


@pytest.mark.parametrize("direct", [True, False])
def test_enospc_is_disk_full(tmp_path, monkeypatch, direct: bool) -> None:
    store = ShardStore(str(tmp_path / "d"), create=True, direct_io=direct)
    w = store.create(NAME, 100)

    def full(fd, bufs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(nodes.shardstore.os, "writev", full)
    monkeypatch.setattr(nodes.shardstore.os, "write", full)
    with pytest.raises(DiskFull):  # at the write, or (frames still in the aligned buffer) at the commit
        w.append_block(b"x")
        w.commit()
    monkeypatch.undo()
    w.abort()
    assert os.listdir(store.tmp_dir) == []


# -- O_DIRECT writes -----------------------------------------------------------


def _shard_bytes(store: ShardStore, blocks: list[bytes], block_size: int, batch: int) -> bytes:
    with store.create(NAME, block_size) as w:
        framed = [b for blk in blocks for b in nodes.shardstore.frame(bitrot.algorithm(w.header.hash_algo).fn, blk)]
        for i in range(0, len(framed), batch):
            w.write(framed[i : i + batch])
        w.commit()
    with open(store.path(NAME), "rb") as f:
        return f.read()


@pytest.mark.parametrize("block_size", [1, 4000, 4096, 100_000, nodes.shardstore._DIRECT_BUF + 1])
@pytest.mark.parametrize("count", [0, 1, 7])
def test_direct_writes_make_the_same_file(tmp_path, block_size: int, count: int) -> None:
    """Aligned direct writes plus a buffered tail give the bytes plain writes give,
    whatever the sizes against the 4 KiB alignment and the writer's buffer."""
    blocks = [os.urandom(block_size) for _ in range(count)]
    if count:
        blocks[-1] = blocks[-1][: max(1, block_size // 3)]
    direct = ShardStore(str(tmp_path / "direct"), create=True, direct_io=True)
    plain = ShardStore(str(tmp_path / "plain"), create=True, direct_io=False)
    got = _shard_bytes(direct, blocks, block_size, 3)
    assert got == _shard_bytes(plain, blocks, block_size, 3)
    assert direct.read_blocks(NAME, 0, count) == blocks
    assert os.listdir(direct.tmp_dir) == []


def test_direct_writes_are_used(store: ShardStore, monkeypatch) -> None:
    """The store opens its temp files with O_DIRECT where the filesystem has it
    (the test's own folder must then be on one: ext4, xfs, ... not tmpfs)."""
    if not nodes.shardstore._O_DIRECT:
        pytest.skip("no O_DIRECT on this platform")
    seen: list[int] = []
    real_open = os.open

    def spy(path, flags, *a):
        fd = real_open(path, flags, *a)
        if str(path).startswith(store.tmp_dir):
            seen.append(flags)
        return fd

    monkeypatch.setattr(nodes.shardstore.os, "open", spy)
    w = store.create(NAME, 100)
    monkeypatch.undo()
    w.abort()
    assert seen and seen[0] & nodes.shardstore._O_DIRECT


def test_no_direct_io_falls_back_to_plain_writes(store: ShardStore, monkeypatch) -> None:
    """A filesystem that refuses O_DIRECT (EINVAL at open, as tmpfs does) gets plain writes."""
    real_open = os.open
    direct = nodes.shardstore._O_DIRECT or 0x4000

    def no_direct(path, flags, *a):
        if flags & direct:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *a)

    monkeypatch.setattr(nodes.shardstore, "_O_DIRECT", direct)
    monkeypatch.setattr(nodes.shardstore.os, "open", no_direct)
    store.write_shard(NAME, blocks_of(3), 100)
    monkeypatch.undo()
    assert store.read_blocks(NAME, 0, 3) == blocks_of(3)


def test_a_refused_direct_write_goes_on_through_the_page_cache(store: ShardStore, monkeypatch) -> None:
    """EINVAL from a direct write (an offset left unaligned by a short write) turns
    O_DIRECT off for the rest of that file instead of failing the write."""
    if not nodes.shardstore._O_DIRECT:
        pytest.skip("no O_DIRECT on this platform")
    real_write = os.write
    refused: list[int] = []

    def picky(fd, data):
        import fcntl

        if fcntl.fcntl(fd, fcntl.F_GETFL) & nodes.shardstore._O_DIRECT:
            refused.append(len(data))
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(nodes.shardstore.os, "write", picky)
    blocks = [os.urandom(200_000) for _ in range(5)]
    store.write_shard(NAME, blocks, 200_000)
    monkeypatch.undo()
    assert refused  # a direct write was tried, and refused
    assert store.read_blocks(NAME, 0, 5) == blocks


def test_other_io_errors_are_drive_errors(store: ShardStore, monkeypatch) -> None:
    w = store.create(NAME, 100)

    def eio(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(nodes.shardstore.os, "fsync", eio)
    with pytest.raises(DriveError):
        w.commit()
    monkeypatch.undo()
    assert os.listdir(store.tmp_dir) == []
    with pytest.raises(ShardNotFound):
        store.stat(NAME)


def test_drive_identity(tmp_path) -> None:
    ShardStore(str(tmp_path / "d"), drive_id="drive1", create=True)
    with pytest.raises(DriveError):
        ShardStore(str(tmp_path / "d"), drive_id="drive2").check()
    with pytest.raises(DriveError):
        ShardStore(str(tmp_path / "empty")).check()


def test_health(store: ShardStore) -> None:
    h = store.health()
    assert h["ok"] and h["total"] > 0 and h["error"] is None
    assert os.listdir(store.tmp_dir) == []
    shutil.rmtree(store.root)
    h = store.health()
    assert not h["ok"] and h["error"]


def test_missing_drive_root(tmp_path) -> None:
    s = ShardStore(str(tmp_path / "gone"))
    with pytest.raises(ShardNotFound):
        s.read_blocks(NAME, 0, 1)
    with pytest.raises(DriveError):
        s.create(NAME, 100)
    assert list(s.list_shards()) == []


def test_bitrot_module_doc_lists_default() -> None:
    assert bitrot.algorithm(bitrot.DEFAULT_ALGO).digest_size == 32
    assert nodes.bitrot.algorithm_by_id(1).name == "sha256"


def test_processes_formatting_a_new_drive_at_once_all_succeed(tmp_path) -> None:
    """The worker processes of one gateway open (and so format) a new drive at the same time on
    their first start: each must come up with the one marker, none may fail on another's file."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    for round_ in range(20):
        root = str(tmp_path / f"d{round_}")
        procs = [ctx.Process(target=_open_store, args=(root,)) for _ in range(6)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * 6, round_
        store = ShardStore(root, drive_id="drive1")
        assert store.status() == ("online", None)
        assert sorted(os.listdir(root)) == ["drive.json", "shards", "tmp"]


def _open_store(root: str) -> None:
    ShardStore(root, drive_id="drive1", create=True)
