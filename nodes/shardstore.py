"""A shard store on one drive directory.

A *shard* is one erasure-coded column of an object: the gateway sends it as a
sequence of *blocks* (one per stripe) and this store keeps them in one file.
Everything here is blocking I/O; the gateway's local drive runs it in a thread
pool, and the node daemon will serve the same code over HTTP.

Drive layout::

    <root>/drive.json          marker: which drive this is (guards against an
                               unmounted or swapped disk)
    <root>/shards/<fan>/<name> committed shards; <fan> = 2 hex digits of
                               blake2b(name), so no directory grows past
                               1/256 of the drive
    <root>/tmp/<name>.<rand>.tmp
                               shards being written; never listed, never read,
                               swept by ``cleanup_tmp``

Shard file format (all integers little-endian)::

    header, HEADER_SIZE = 256 bytes:
        0   8   magic b"S3GWSHRD"
        8   2   format version (1)
        10  2   bitrot hash id (nodes.bitrot.KNOWN_IDS)
        12  2   hash length H
        14  2   name length
        16  4   block size B: every block but the last has exactly B bytes
        20  4   reserved (0)
        24  200 shard name, NUL padded (a renamed/misplaced file is detected)
        224 28  reserved (0)
        252 4   CRC32 of bytes 0..251
    then frames, one per block:  hash(block) [H bytes] || block [<= B bytes]

So block j starts at ``HEADER_SIZE + j * (H + B)`` (see ``frame_offset``) and
the file size alone tells how many blocks there are and how long the last one
is (see ``block_geometry``). Each block carries its own hash, so the node can
scrub itself without any metadata, and a reader verifies exactly the blocks it
reads.

Durability: a shard is written to ``tmp/``, fsynced, renamed into
``shards/<fan>/`` and that directory is fsynced. A crash leaves either the old
state or the complete new shard, plus perhaps a stray temp file.

Writes bypass the page cache where the filesystem allows it (``O_DIRECT``, as
MinIO writes its shards): the frames are gathered in a page-aligned buffer and
written in whole 4 KiB blocks straight to the disk, the last partial block
through the page cache at commit, then fsync as above. Copying every byte
into the page cache (and writing it back from there) was the largest cost of
a PUT; a filesystem without ``O_DIRECT`` (tmpfs) gets ordinary writes.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import hashlib
import json
import mmap
import os
import re
import secrets
import stat
import struct
import threading
import time
import zlib
from collections.abc import Awaitable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from . import bitrot
from .errors import (
    ChecksumMismatch,
    DiskFull,
    DriveError,
    InvalidShardName,
    NodeError,
    ShardNotFound,
)

Buffer = bytes | bytearray | memoryview

MAGIC = b"S3GWSHRD"
FORMAT_VERSION = 1
HEADER_SIZE = 256
MAX_NAME = 200
MAX_BLOCK_SIZE = (1 << 32) - 1
_HDR = struct.Struct("<8sHHHHII200s28x")  # 252 bytes, then the CRC32
assert _HDR.size == HEADER_SIZE - 4

MARKER = "drive.json"
_IOV_MAX = 1024
#: O_DIRECT writes: offsets, lengths and the buffer's address are multiples of this
_DIRECT_ALIGN = 4096
#: a writer's aligned buffer; idle ones are kept for the next writers (at most _DIRECT_POOL)
_DIRECT_BUF = 256 << 10
_DIRECT_POOL = 32
_O_DIRECT = getattr(os, "O_DIRECT", 0)
_SCRUB_CHUNK = 8 << 20

# A shard name: what the gateway sends ("<data id>.<shard index>"). Only
# characters that are inert in every path and URL; no leading dot (so it can
# never be ".", "..", or look like a hidden/temp file), no "..", no "/", "\\",
# NUL or other control characters. ``fullmatch`` (``$`` would accept a
# trailing newline).
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def validate_name(name: object) -> str:
    """Return ``name`` if it is a safe shard name, else raise InvalidShardName.

    >>> validate_name("3f2a9c0e8b1d4e6fa7c5d9e0b1a2c3d4.0")
    '3f2a9c0e8b1d4e6fa7c5d9e0b1a2c3d4.0'
    >>> validate_name("../etc/passwd")
    Traceback (most recent call last):
    ...
    nodes.errors.InvalidShardName: invalid shard name '../etc/passwd'
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or ".." in name:
        raise InvalidShardName(f"invalid shard name {name!r}")
    return name


def fan_dir(name: str) -> str:
    """The 2-hex-digit fan-out directory of a (valid) shard name."""
    return hashlib.blake2b(name.encode(), digest_size=1).hexdigest()


# --------------------------------------------------------------------------
# file geometry: pure functions


def frame_offset(block: int, block_size: int, hash_len: int) -> int:
    """Byte offset of frame ``block`` (its hash, then its bytes) in the file.

    >>> frame_offset(0, 174843, 32)
    256
    >>> frame_offset(2, 174843, 32)   # 256 + 2 * (32 + 174843)
    350006
    """
    return HEADER_SIZE + block * (hash_len + block_size)


def block_geometry(file_size: int, block_size: int, hash_len: int) -> tuple[int, int]:
    """(number of blocks, length of the last block) of a shard file.

    Every frame but the last is ``hash_len + block_size`` bytes. A tail too
    short to hold even a hash plus one byte is a torn frame: it is counted as
    a block of length <= 0, which no reader accepts.

    >>> block_geometry(256, 100, 32)             # header only: empty shard
    (0, 0)
    >>> block_geometry(256 + 2 * 132, 100, 32)   # two full blocks
    (2, 100)
    >>> block_geometry(256 + 132 + 32 + 7, 100, 32)  # one full, one of 7 bytes
    (2, 7)
    >>> block_geometry(256 + 132 + 10, 100, 32)  # torn: 10 bytes of a hash
    (2, -22)
    """
    body = file_size - HEADER_SIZE
    if body < 0:
        raise ValueError("file shorter than its header")
    stride = hash_len + block_size
    full, rem = divmod(body, stride)
    if rem == 0:
        return full, (block_size if full else 0)
    return full + 1, rem - hash_len


# --------------------------------------------------------------------------
# header


@dataclass(frozen=True)
class ShardHeader:
    name: str
    block_size: int
    hash_algo: str
    hash_len: int

    def encode(self) -> bytes:
        ident = next(i for i, n in bitrot.KNOWN_IDS.items() if n == self.hash_algo)
        raw = _HDR.pack(
            MAGIC, FORMAT_VERSION, ident, self.hash_len, len(self.name), self.block_size, 0, self.name.encode()
        )
        return raw + struct.pack("<I", zlib.crc32(raw))

    @classmethod
    def decode(cls, raw: Buffer) -> ShardHeader:
        if len(raw) < HEADER_SIZE:
            raise ChecksumMismatch("shard header truncated")
        raw = bytes(raw[:HEADER_SIZE])
        (crc,) = struct.unpack_from("<I", raw, HEADER_SIZE - 4)
        if zlib.crc32(raw[: HEADER_SIZE - 4]) != crc:
            raise ChecksumMismatch("shard header checksum mismatch")
        magic, version, ident, hash_len, name_len, block_size, _, name = _HDR.unpack_from(raw)
        if magic != MAGIC or version != FORMAT_VERSION:
            raise ChecksumMismatch("not a shard file (bad magic or version)")
        algo = bitrot.KNOWN_IDS.get(ident)
        if algo is None or hash_len == 0 or block_size == 0 or name_len > MAX_NAME:
            raise ChecksumMismatch("malformed shard header")
        return cls(name[:name_len].decode("ascii", "replace"), block_size, algo, hash_len)


@dataclass(frozen=True)
class ShardStat:
    name: str
    size: int  # file bytes, header included
    block_size: int
    hash_algo: str
    blocks: int
    last_block_size: int  # <= 0 means a torn last frame
    mtime: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Capacity:
    total: int
    free: int  # available to this process (f_bavail), minus the reserve
    used: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Frames:
    """Raw frames ``first .. first+len(lengths)-1`` as stored, for verification
    by whoever reads them (the local drive, or the gateway on a remote read)."""

    header: ShardHeader
    first: int
    data: bytes  # the frames back to back
    lengths: list[int]  # block length of each frame (<= 0: torn)

    def blocks(self, verify: bool = True) -> list[memoryview | None]:
        """Each block's bytes (a view into ``data``), or None where the frame is
        missing, torn, or its hash does not match."""
        return verify_frames(self.header, self.data, self.lengths, verify)


def verify_frames(
    header: ShardHeader, data: Buffer, lengths: Sequence[int], verify: bool = True
) -> list[memoryview | None]:
    """Split back-to-back frames and check each block against its hash.

    >>> h = ShardHeader("x.0", 4, "sha256", 32)
    >>> good = hashlib.sha256(b"abcd").digest() + b"abcd"
    >>> [bytes(b) if b is not None else None
    ...  for b in verify_frames(h, good + good[:-1] + b"X", [4, 4])]
    [b'abcd', None]
    """
    fn = bitrot.algorithm(header.hash_algo).fn
    hl = header.hash_len
    mv = memoryview(data)
    out: list[memoryview | None] = []
    pos = 0
    for n in lengths:
        if n <= 0 or pos + hl + n > len(mv):
            out.append(None)
            pos += hl + max(n, 0)
            continue
        block = mv[pos + hl : pos + hl + n]
        if verify and fn(block) != mv[pos : pos + hl]:
            out.append(None)
        else:
            out.append(block)
        pos += hl + n
    return out


# --------------------------------------------------------------------------
# helpers


def _node_error(e: OSError, what: str) -> NodeError:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull(f"{what}: {e.strerror}")
    return DriveError(f"{what}: {e}")


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pread_all(fd: int, length: int, offset: int) -> bytes:
    data = os.pread(fd, length, offset)
    if len(data) == length or not data:
        return data
    parts = [data]
    got = len(data)
    while got < length:
        more = os.pread(fd, length - got, offset + got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _writev_all(fd: int, buffers: Sequence[Buffer]) -> int:
    """Write every buffer, in order, with as few syscalls as possible."""
    bufs = [memoryview(b).cast("B") for b in buffers]
    bufs = [b for b in bufs if len(b)]
    total = 0
    while bufs:
        batch = bufs[:_IOV_MAX]
        n = os.writev(fd, batch)
        total += n
        # drop what was written, slice a partially written buffer
        i = 0
        while i < len(batch) and n >= len(batch[i]):
            n -= len(batch[i])
            i += 1
        bufs = bufs[i:]
        if n:
            bufs[0] = bufs[0][n:]
    return total


_pool_lock = threading.Lock()
_pool: list[mmap.mmap] = []


def _take_buffer() -> mmap.mmap:
    with _pool_lock:
        if _pool:
            return _pool.pop()
    return mmap.mmap(-1, _DIRECT_BUF)  # anonymous maps are page aligned


def _give_buffer(buf: mmap.mmap) -> None:
    with _pool_lock:
        if len(_pool) < _DIRECT_POOL:
            _pool.append(buf)
            return
    buf.close()


def _write_all(fd: int, data: memoryview) -> None:
    while len(data):
        data = data[os.write(fd, data) :]


# --------------------------------------------------------------------------
# writer


class ShardWriter:
    """One shard being written: temp file, then ``commit`` or ``abort``.

    ``write`` takes pre-framed bytes (hash || block, as the gateway builds them
    with ``frame``), so the store never re-hashes on the write path;
    ``append_block`` hashes and frames one block itself. Methods may be called
    from different threads, never concurrently (a lock serialises ``abort``
    behind an in-flight ``write``).
    """

    def __init__(self, store: ShardStore, name: str, header: ShardHeader) -> None:
        self.store = store
        self.name = name
        self.header = header
        self._hash = bitrot.algorithm(header.hash_algo)
        self._lock = threading.Lock()
        self.tmp_path = os.path.join(store.tmp_dir, f"{name}.{secrets.token_hex(8)}.tmp")
        self.size = 0
        self.state = "open"
        # O_DIRECT: frames are gathered in an aligned buffer (``_buf``, ``_fill``
        # bytes of it used) and written out in whole buffers; None: plain writes
        self._buf: mmap.mmap | None = None
        self._view: memoryview | None = None
        self._fill = 0
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        try:
            self._fd = -1
            if store.direct_io and _O_DIRECT:
                try:
                    self._fd = os.open(self.tmp_path, flags | _O_DIRECT, 0o600)
                except OSError as e:
                    if e.errno != errno.EINVAL:  # EINVAL: this filesystem has no O_DIRECT
                        raise
            if self._fd < 0:
                self._fd = os.open(self.tmp_path, flags, 0o600)
            else:
                self._buf = _take_buffer()
                self._view = memoryview(self._buf)
        except OSError as e:
            raise _node_error(e, f"create {name}") from e
        try:
            self._write([header.encode()])
        except BaseException:
            self.abort()
            raise

    def _write(self, buffers: Sequence[Buffer]) -> None:
        try:
            if self._view is None:
                self.size += _writev_all(self._fd, buffers)
                return
            view, cap = self._view, len(self._view)
            for b in buffers:
                mv = memoryview(b).cast("B")
                while len(mv):
                    n = min(len(mv), cap - self._fill)
                    view[self._fill : self._fill + n] = mv[:n]
                    self._fill += n
                    self.size += n
                    mv = mv[n:]
                    if self._fill == cap:
                        self._out(view)
                        self._fill = 0
        except OSError as e:
            raise _node_error(e, f"write {self.name}") from e

    def _out(self, data: memoryview) -> None:
        """Write ``data`` at the file's end (aligned, with O_DIRECT on: a whole
        buffer, or the aligned part of the last one)."""
        while len(data):
            try:
                n = os.write(self._fd, data)
            except OSError as e:
                if e.errno != errno.EINVAL or self._view is None:
                    raise
                # a short direct write left the offset unaligned: go on through the page cache
                self._plain()
                continue
            data = data[n:]

    def _plain(self) -> None:
        fl = fcntl.fcntl(self._fd, fcntl.F_GETFL)
        if fl & _O_DIRECT:
            fcntl.fcntl(self._fd, fcntl.F_SETFL, fl & ~_O_DIRECT)

    def _drain(self) -> None:
        """Write what the aligned buffer still holds: its whole 4 KiB blocks
        directly, the rest through the page cache; then give the buffer back."""
        view = self._view
        if view is None:
            return
        whole = self._fill - self._fill % _DIRECT_ALIGN
        if whole:
            self._out(view[:whole])
        if self._fill > whole:
            self._plain()
            self._out(view[whole : self._fill])
        self._fill = 0
        self._release()

    def _release(self) -> None:
        if self._view is not None:
            self._view.release()
            self._view = None
        if self._buf is not None:
            _give_buffer(self._buf)
            self._buf = None

    def write(self, frames: Buffer | Sequence[Buffer]) -> None:
        """Append frames (one buffer, or a sequence written with one writev)."""
        if isinstance(frames, (bytes, bytearray, memoryview)):
            frames = [frames]
        with self._lock:
            if self.state != "open":
                raise DriveError(f"shard {self.name} is {self.state}")
            self._write(frames)

    def append_block(self, block: Buffer) -> None:
        """Hash, frame and append one block (at most ``block_size`` bytes)."""
        if len(block) > self.header.block_size:
            raise ValueError("block larger than the shard's block size")
        self.write([self._hash.fn(block), block])

    def commit(self) -> ShardStat:
        """fsync, rename into place, fsync the directory."""
        with self._lock:
            if self.state != "open":
                raise DriveError(f"shard {self.name} is {self.state}")
            nblocks, last = block_geometry(self.size, self.header.block_size, self.header.hash_len)
            if nblocks and last <= 0:
                self._abort_locked()
                raise ValueError(f"shard {self.name}: torn last frame, not committed")
            store = self.store
            final = store.path(self.name)
            try:
                self._drain()
                if store.fsync:
                    os.fsync(self._fd)
                os.close(self._fd)
                self.state = "closed"
                fdir = os.path.dirname(final)
                if not os.path.isdir(fdir):
                    os.makedirs(fdir, exist_ok=True)
                    if store.fsync:
                        _fsync_dir(store.shards_dir)
                os.replace(self.tmp_path, final)
                self.state = "committed"
                if store.fsync:
                    _fsync_dir(fdir)
            except OSError as e:
                if self.state != "committed":
                    self._abort_locked()
                raise _node_error(e, f"commit {self.name}") from e
            return ShardStat(
                self.name, self.size, self.header.block_size, self.header.hash_algo, nblocks, last, time.time()
            )

    def abort(self) -> None:
        """Drop the temp file. A no-op once committed (delete the shard then)."""
        with self._lock:
            self._abort_locked()

    def _abort_locked(self) -> None:
        self._release()
        if self.state == "open":
            try:
                os.close(self._fd)
            except OSError:
                pass
        if self.state in ("open", "closed"):
            try:
                os.unlink(self.tmp_path)
            except OSError:
                pass
            self.state = "aborted"

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is not None or self.state == "open":
            self.abort()


# --------------------------------------------------------------------------
# store


class ShardStore:
    """The shards of one drive directory. Blocking; thread-safe."""

    def __init__(
        self,
        root: str,
        *,
        drive_id: str | None = None,
        create: bool = False,
        fsync: bool = True,
        reserve_bytes: int = 0,
        direct_io: bool = True,
    ) -> None:
        self.root = os.path.abspath(root)
        self.drive_id = drive_id
        self.fsync = fsync
        #: write shards with O_DIRECT where the filesystem has it (module doc)
        self.direct_io = direct_io
        self.reserve_bytes = reserve_bytes
        self.shards_dir = os.path.join(self.root, "shards")
        self.tmp_dir = os.path.join(self.root, "tmp")
        if create:
            self.format()

    # -- drive identity ---------------------------------------------------

    def format(self) -> None:
        """Create the directories and the drive marker (idempotent).

        The drive is private to the process's user: directories 0700 (an
        existing drive is tightened on every start, which makes everything
        below it unreachable to others whatever the files' own modes), files 0600.
        """
        try:
            for d in (self.root, self.shards_dir, self.tmp_dir):
                os.makedirs(d, mode=0o700, exist_ok=True)
                if stat.S_IMODE(os.stat(d).st_mode) & 0o077:
                    os.chmod(d, 0o700)
            marker = os.path.join(self.root, MARKER)
            if not os.path.exists(marker):
                # a name of its own: the worker processes of one gateway format a new drive at the
                # same time on their first start (the markers they write are the same)
                tmp = f"{marker}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
                with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), "w") as f:
                    json.dump({"format": "s3gw-drive", "version": 1, "drive_id": self.drive_id}, f)
                    f.flush()
                    if self.fsync:
                        os.fsync(f.fileno())
                os.replace(tmp, marker)
                if self.fsync:
                    _fsync_dir(self.root)
        except OSError as e:
            raise _node_error(e, f"format {self.root}") from e
        self.check()

    def check(self) -> None:
        """Raise DriveError unless this directory is the expected drive."""
        try:
            with open(os.path.join(self.root, MARKER)) as f:
                marker = json.load(f)
        except (OSError, ValueError) as e:
            raise DriveError(f"{self.root}: not an s3gw drive ({e})") from e
        if self.drive_id is not None and marker.get("drive_id") not in (None, self.drive_id):
            raise DriveError(f"{self.root} is drive {marker.get('drive_id')!r}, expected {self.drive_id!r}")

    # -- paths --------------------------------------------------------------

    def path(self, name: str) -> str:
        validate_name(name)
        return os.path.join(self.shards_dir, fan_dir(name), name)

    # -- write --------------------------------------------------------------

    def create(self, name: str, block_size: int, hash_algo: str = bitrot.DEFAULT_ALGO) -> ShardWriter:
        """Start writing shard ``name`` (replacing any committed one on commit)."""
        validate_name(name)
        if not 0 < block_size <= MAX_BLOCK_SIZE:
            raise ValueError(f"block size {block_size} out of range")
        algo = bitrot.algorithm(hash_algo)
        if self.reserve_bytes and self.capacity().free <= 0:
            raise DiskFull(f"{self.root}: below the free-space reserve")
        return ShardWriter(self, name, ShardHeader(name, block_size, algo.name, algo.digest_size))

    def write_shard(
        self, name: str, blocks: Iterable[Buffer], block_size: int, hash_algo: str = bitrot.DEFAULT_ALGO
    ) -> ShardStat:
        """Write a whole shard from blocks (hashing each); for tests and tools."""
        with self.create(name, block_size, hash_algo) as w:
            for b in blocks:
                w.append_block(b)
            return w.commit()

    # -- read ---------------------------------------------------------------

    def _open(self, name: str) -> int:
        path = self.path(name)
        try:
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise ShardNotFound(name) from None
        except OSError as e:
            raise _node_error(e, f"open {name}") from e

    def _header(self, fd: int, name: str, block_size: int | None, hash_algo: str | None) -> tuple[ShardHeader, int]:
        size = os.fstat(fd).st_size
        hdr = ShardHeader.decode(_pread_all(fd, HEADER_SIZE, 0))
        if hdr.name != name:
            raise ChecksumMismatch(f"{name}: file holds shard {hdr.name!r}")
        if block_size is not None and hdr.block_size != block_size:
            raise ChecksumMismatch(f"{name}: block size {hdr.block_size}, expected {block_size}")
        if hash_algo is not None and hdr.hash_algo != hash_algo:
            raise ChecksumMismatch(f"{name}: hash {hdr.hash_algo}, expected {hash_algo}")
        return hdr, size

    def read_frames(
        self, name: str, first: int, count: int, *, block_size: int | None = None, hash_algo: str | None = None
    ) -> Frames:
        """Raw frames of blocks ``[first, first + count)`` in one read.

        Blocks past the end of the file come back with length 0 (the caller
        sees them as missing). ``block_size``/``hash_algo``, when given, must
        match the header (else ChecksumMismatch).
        """
        if first < 0 or count < 0:
            raise ValueError("negative block range")
        fd = self._open(name)
        try:
            hdr, size = self._header(fd, name, block_size, hash_algo)
            nblocks, last = block_geometry(size, hdr.block_size, hdr.hash_len)
            end = min(first + count, nblocks)
            lengths = [hdr.block_size if j < nblocks - 1 else last for j in range(first, end)]
            data = b""
            if end > first:
                start = frame_offset(first, hdr.block_size, hdr.hash_len)
                stop = frame_offset(end - 1, hdr.block_size, hdr.hash_len) + hdr.hash_len
                stop += max(lengths[-1], 0)
                data = _pread_all(fd, min(stop, size) - start, start)
            lengths += [0] * (first + count - max(end, first))
            return Frames(hdr, first, data, lengths)
        except OSError as e:
            raise _node_error(e, f"read {name}") from e
        finally:
            os.close(fd)

    def read_blocks(
        self,
        name: str,
        first: int,
        count: int,
        *,
        block_size: int | None = None,
        hash_algo: str | None = None,
        verify: bool = True,
    ) -> list[memoryview | None]:
        """Blocks ``[first, first + count)``, each verified against its hash;
        None for a block that is corrupt, torn or past the end of the file."""
        return self.read_frames(name, first, count, block_size=block_size, hash_algo=hash_algo).blocks(verify)

    def stat(self, name: str) -> ShardStat:
        fd = self._open(name)
        try:
            hdr, size = self._header(fd, name, None, None)
            mtime = os.fstat(fd).st_mtime
        except OSError as e:
            raise _node_error(e, f"stat {name}") from e
        finally:
            os.close(fd)
        nblocks, last = block_geometry(size, hdr.block_size, hdr.hash_len)
        return ShardStat(name, size, hdr.block_size, hdr.hash_algo, nblocks, last, mtime)

    def scrub(self, name: str) -> list[int]:
        """Indices of the blocks whose bytes no longer match their hash
        (reading the shard in bounded chunks)."""
        st = self.stat(name)
        per = max(1, _SCRUB_CHUNK // (st.block_size + 32))
        bad: list[int] = []
        for first in range(0, st.blocks, per):
            blocks = self.read_blocks(name, first, min(per, st.blocks - first))
            bad += [first + i for i, b in enumerate(blocks) if b is None]
        return bad

    # -- delete / list ------------------------------------------------------

    def delete(self, name: str) -> bool:
        """Remove a committed shard; False when there was none."""
        path = self.path(name)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        except OSError as e:
            raise _node_error(e, f"delete {name}") from e
        if self.fsync:
            try:
                _fsync_dir(os.path.dirname(path))
            except OSError:
                pass
        return True

    def list_shards(self, prefix: str = "") -> Iterator[str]:
        """Names of committed shards (for the scanner), fan directory by fan
        directory; temp files are never listed."""
        try:
            fans = sorted(os.listdir(self.shards_dir))
        except FileNotFoundError:
            return
        except OSError as e:
            raise _node_error(e, "list") from e
        for fan in fans:
            yield from self.list_fan(fan, prefix)

    def list_fan(self, fan: str, prefix: str = "") -> list[str]:
        if not re.fullmatch(r"[0-9a-f]{2}", fan):
            return []
        try:
            names = os.listdir(os.path.join(self.shards_dir, fan))
        except FileNotFoundError:
            return []
        except OSError as e:
            raise _node_error(e, "list") from e
        return sorted(
            n for n in names if n.startswith(prefix) and _NAME_RE.fullmatch(n) and ".." not in n and fan_dir(n) == fan
        )

    def cleanup_tmp(self, max_age: float = 3600.0) -> int:
        """Remove temp files older than ``max_age`` seconds (left by a crash)."""
        removed = 0
        now = time.time()
        try:
            entries = list(os.scandir(self.tmp_dir))
        except OSError:
            return 0
        for e in entries:
            try:
                if e.is_file() and now - e.stat().st_mtime > max_age:
                    os.unlink(e.path)
                    removed += 1
            except OSError:
                pass
        return removed

    # -- capacity / health --------------------------------------------------

    def capacity(self) -> Capacity:
        try:
            st = os.statvfs(self.root)
        except OSError as e:
            raise _node_error(e, "statvfs") from e
        total = st.f_blocks * st.f_frsize
        free = max(0, st.f_bavail * st.f_frsize - self.reserve_bytes)
        used = (st.f_blocks - st.f_bfree) * st.f_frsize
        return Capacity(total, free, used)

    def status(self) -> tuple[str, str | None]:
        """(state, error): ``online``; ``unformatted`` when the folder is missing,
        or holds neither a marker nor any shard (a wiped drive, or a new empty
        disk in its place: safe to ``format``); else ``faulty`` (I/O errors, a
        marker naming another drive, shards without a marker: never formatted
        over). Never raises."""
        if not os.path.exists(os.path.join(self.root, MARKER)):
            try:
                if not os.path.isdir(self.root) or not any(True for _ in self._all_shard_entries()):
                    return "unformatted", f"{self.root}: no drive marker and no shards"
            except OSError as e:
                return "faulty", f"{self.root}: {e}"
            return "faulty", f"{self.root}: shards but no drive marker"
        h = self.health()
        return ("online", None) if h["ok"] else ("faulty", h["error"])

    def _all_shard_entries(self) -> Iterator[str]:
        try:
            fans = os.listdir(self.shards_dir)
        except FileNotFoundError:
            return
        for fan in fans:
            try:
                yield from os.listdir(os.path.join(self.shards_dir, fan))
            except NotADirectoryError:
                yield fan

    def health(self) -> dict[str, Any]:
        """Check the drive end to end: marker, a write+fsync+unlink probe in
        tmp/, and capacity. Never raises."""
        t0 = time.monotonic()
        try:
            self.check()
            probe = os.path.join(self.tmp_dir, f".probe.{secrets.token_hex(4)}")
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, b"probe")
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
                os.unlink(probe)
            cap = self.capacity()
        except (OSError, NodeError) as e:
            return {"ok": False, "drive_id": self.drive_id, "error": str(e)}
        return {"ok": True, "drive_id": self.drive_id, "error": None, "latency": time.monotonic() - t0, **cap.to_dict()}


def frame(hash_fn: bitrot.HashFn, block: Buffer) -> list[Buffer]:
    """The buffers of one frame (hash, then the block), ready for writev."""
    return [hash_fn(block), block]


async def made_writer(making: Awaitable[ShardWriter]) -> ShardWriter:
    """Await ``making`` (``ShardStore.create`` run in a thread). Cancelled meanwhile -- the
    upload dropped, e.g. by a node frozen then resumed -- the thread still makes the temp
    file: it is removed as soon as it exists, not left for the sweeper's grace."""
    made = asyncio.ensure_future(making)
    try:
        return await asyncio.shield(made)
    except asyncio.CancelledError:
        made.add_done_callback(_abort_made)
        raise


def _abort_made(made: asyncio.Future[ShardWriter]) -> None:
    if not made.cancelled() and made.exception() is None:
        made.result().abort()  # removes the temp file; errors are swallowed there
