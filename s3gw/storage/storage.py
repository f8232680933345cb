"""Erasure-coded objects over drives: write, read, verify, heal, delete.

Write path: ``ObjectWriter`` buffers the body into batches of whole stripes,
encodes and hashes a batch in one call on the compute pool, and hands every
shard's frames to that drive's bounded queue. Each drive drains its queue into
its own ``write_shard`` stream, concurrently. The slowest healthy drive sets
the pace (back-pressure through its full queue), a drive that fails is dropped
for the rest of the write, and one that stalls past ``stall_timeout`` is
dropped too. ``commit`` succeeds once the write quorum of shards is durable
and reports the rest as the shard set's ``missing``.

Read path: stripes are fetched in batches (bounded memory whatever the object
size, one batch prefetched ahead), from the k data shards while they are
healthy; every block is checked against its hash, and for each stripe still
short of k good fragments the next shards (parity, then shards already seen
failing) are asked. Only when no k good fragments exist for a stripe does the
read fail, with InsufficientReadQuorum -- never with wrong bytes.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from nodes import bitrot
from nodes.errors import DiskFull, DriveError
from nodes.shardstore import ShardStore

from ..common import failpoints
from ..common.records import ShardSet, valid_data_id
from .drive import Drive, LocalDrive
from .erasure import (
    Codec,
    codec_for,
    decode_stripes,
    default_ec_type,
    encode_stripes,
    raised_parity,
    raised_parity_ec,
    reconstruct_stripes,
    stripe_count,
    stripe_length,
    stripe_slice,
    stripe_span,
    write_quorum,
)
from .errors import InsufficientReadQuorum, InsufficientWriteQuorum, StorageError, StorageFull
from .placement import placement
from .remote import Cluster

log = logging.getLogger(__name__)

DegradedHook = Callable[[ShardSet, list[int]], Any]
Buffer = bytes | bytearray | memoryview


def shard_name(data_id: str, index: int) -> str:
    """The file name of shard ``index`` of ``data_id`` on its drive.

    >>> shard_name("9b1f0c2d", 4)
    '9b1f0c2d.4'
    """
    return f"{data_id}.{index}"


def failpoint(name: str) -> None:
    """Crash tests: ``S3GW_FAILPOINT=<name>`` SIGKILLs this process here (e.g.
    ``shards-durable``: after a write's shards are committed on the drives and
    before the metadata commit, the window that leaves orphan shards)."""
    failpoints.kill(name)


def _cut(pieces: Sequence[Buffer], lo: int, hi: int) -> Iterable[Buffer]:
    """The bytes ``[lo, hi)`` of the concatenation of ``pieces``, as views.

    >>> [bytes(p) for p in _cut([b"abc", b"def", b"g"], 2, 6)]
    [b'c', b'def']
    >>> [bytes(p) for p in _cut([b"abc", b"def"], 0, 6)]
    [b'abc', b'def']
    """
    pos = 0
    for p in pieces:
        n = len(p)
        if pos + n > lo and pos < hi:
            yield p if lo <= pos and pos + n <= hi else memoryview(p)[max(0, lo - pos) : min(n, hi - pos)]
        pos += n
        if pos >= hi:
            return


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# --------------------------------------------------------------------------
# layout (the record itself, ``ShardSet``, is in s3gw/common/records.py)


def stripe_len(lay: ShardSet, s: int) -> int:
    """Object bytes in stripe ``s`` of a shard set."""
    return stripe_length(s, lay.size, lay.block_size)


# --------------------------------------------------------------------------
# fan-out of shard streams


_END = object()
_ABORT = object()


class _WriteAborted(Exception):
    pass


class _Fanout:
    """One ``write_shard`` stream per target drive, each fed by a bounded
    queue. A drive whose stream fails is marked failed (``errors``) and its
    queue drained, so nothing ever waits on it again."""

    def __init__(
        self,
        targets: Mapping[int, tuple[Drive | BaseException | None, str]],
        *,
        block_size: int,
        hash_algo: str,
        depth: int,
        stall_timeout: float,
    ) -> None:
        self.stall_timeout = stall_timeout
        self.queues: dict[int, asyncio.Queue[Any]] = {}
        self.tasks: dict[int, asyncio.Task[Any]] = {}
        self.errors: dict[int, BaseException] = {}
        for i, (drive, name) in targets.items():
            if drive is None or isinstance(drive, BaseException):
                # not configured, or on a node known to be down: failed up front,
                # never waited on
                self.errors[i] = drive if drive is not None else DriveError("drive not configured")
                continue
            q: asyncio.Queue[Any] = asyncio.Queue(depth)
            self.queues[i] = q
            task = asyncio.create_task(
                drive.write_shard(name, self._stream(q), block_size=block_size, hash_algo=hash_algo),
                name=f"write {name} to {drive.id}",
            )
            task.add_done_callback(partial(self._done, i))
            self.tasks[i] = task

    @staticmethod
    async def _stream(q: asyncio.Queue[Any]) -> AsyncIterator[Any]:
        while True:
            item = await q.get()
            if item is _END:
                return
            if item is _ABORT:
                raise _WriteAborted()
            yield item

    @property
    def live(self) -> list[int]:
        return [i for i in self.tasks if i not in self.errors]

    def _done(self, i: int, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            self.errors.setdefault(i, asyncio.CancelledError("write cancelled"))
        elif (e := task.exception()) is not None:
            self.errors.setdefault(i, e)
        else:
            return
        q = self.queues[i]
        while not q.empty():  # wakes a put() blocked on this queue
            q.get_nowait()

    def _fail(self, i: int, exc: BaseException) -> None:
        self.errors.setdefault(i, exc)
        self.tasks[i].cancel()

    async def put(self, items: Mapping[int, Any]) -> None:
        """Queue one item per live drive; waits while a healthy drive's queue
        is full (back-pressure), drops a drive stalled past the timeout."""
        for i, item in items.items():
            if i in self.errors or i not in self.queues:
                continue
            q = self.queues[i]
            if not q.full():
                q.put_nowait(item)
                continue
            try:
                await asyncio.wait_for(q.put(item), self.stall_timeout)
            except TimeoutError:
                self._fail(i, TimeoutError(f"drive stalled for {self.stall_timeout}s"))

    async def finish(self, quorum: int = 0) -> dict[int, Any]:
        """End every stream; wait for the shards to be durable. Returns the
        results (ShardStat) of the drives that made it.

        The final fsync of a big shard can take long, so there is no timeout
        until ``quorum`` shards are durable; after that, stragglers get
        ``stall_timeout`` more before they are dropped (and ten times that is
        the limit for everything, for drives that hang outright).
        """
        await self.put({i: _END for i in self.live})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10 * self.stall_timeout
        pending = {t for t in self.tasks.values() if not t.done()}
        quorum_at: float | None = None
        while pending:
            if quorum_at is None and quorum <= sum(
                1 for i, t in self.tasks.items() if t.done() and i not in self.errors
            ):
                quorum_at = loop.time()
            limit = deadline if quorum_at is None else min(deadline, quorum_at + self.stall_timeout)
            _, pending = await asyncio.wait(
                pending, timeout=max(0.0, limit - loop.time()), return_when=asyncio.FIRST_COMPLETED
            )
            if pending and loop.time() >= limit:
                for i, t in self.tasks.items():
                    if t in pending:
                        self._fail(i, TimeoutError(f"drive stalled for {self.stall_timeout}s"))
                break
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        return {i: t.result() for i, t in self.tasks.items() if i not in self.errors}

    async def abort(self) -> list[int]:
        """End every stream with an error: drives drop their temp files.
        Returns the shards that had already been committed (for deletion)."""
        for i in self.live:
            if self.tasks[i].done():
                continue
            q = self.queues[i]
            while not q.empty():
                q.get_nowait()
            q.put_nowait(_ABORT)
        pending = [t for t in self.tasks.values() if not t.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=self.stall_timeout)
            for t in late:
                t.cancel()
            await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        return [i for i, t in self.tasks.items() if not t.cancelled() and t.exception() is None]


# --------------------------------------------------------------------------
# writer


class ObjectWriter:
    """Streams one object onto its placement, in the geometry ``k``+``m``
    (codec ``ec``) chosen for it (``Storage.geometry``). Use ``write`` any
    number of times, then ``commit`` (or ``abort``); or ``async with`` it,
    which aborts unless committed. One ``write`` at a time."""

    def __init__(self, storage: Storage, data_id: str, placement: Sequence[str], k: int, m: int, ec: str) -> None:
        self._st = storage
        self.data_id = data_id
        self.placement = tuple(placement)
        self.k, self.m = k, m
        self._codec = codec_for(ec, k, m)
        self._hash = bitrot.algorithm(storage.hash_algo)
        self._block = storage.block_size
        self._batch = max(1, storage.write_batch_bytes // self._block) * self._block
        self._quorum = write_quorum(self.k, self.m)
        self._frag_size = self._codec.fragment_size(self._block)
        self._buf = bytearray()
        self._size = 0
        self._state = "open"
        self._busy = False
        self._fan = _Fanout(
            {i: (storage._write_target(did), shard_name(data_id, i)) for i, did in enumerate(self.placement)},
            block_size=self._frag_size,
            hash_algo=self._hash.name,
            depth=storage.write_depth,
            stall_timeout=storage.stall_timeout,
        )

    @property
    def size(self) -> int:
        return self._size

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._state != "open":
            raise StorageError(f"writer is {self._state}")
        if self._busy:
            raise StorageError("concurrent write() on one ObjectWriter")
        self._busy = True
        try:
            mv = memoryview(data).cast("B")
            self._size += len(mv)
            if self._buf:
                take = self._batch - len(self._buf)
                self._buf += mv[:take]
                mv = mv[take:]
                if len(self._buf) == self._batch:
                    buf, self._buf = self._buf, bytearray()
                    await self._flush(memoryview(buf))
            # Whole batches straight from the caller's buffer: it cannot change
            # while we are awaited, and encoding copies what it keeps.
            while len(mv) >= self._batch:
                await self._flush(mv[: self._batch])
                mv = mv[self._batch :]
            if len(mv):
                self._buf += mv
        except BaseException:
            await self._fail()
            raise
        finally:
            self._busy = False

    async def _flush(self, chunk: memoryview) -> None:
        self._check_quorum()
        loop = asyncio.get_running_loop()
        frames = await loop.run_in_executor(
            self._st._compute, encode_stripes, self._codec, self._hash.fn, chunk, self._block
        )
        await self._fan.put(dict(enumerate(frames)))
        self._check_quorum()

    def _check_quorum(self) -> None:
        if len(self._fan.live) < self._quorum:
            raise self._quorum_error()

    def _quorum_error(self) -> InsufficientWriteQuorum:
        errors = {i: _why(e) for i, e in sorted(self._fan.errors.items())}
        full = sum(isinstance(e, DiskFull) for e in self._fan.errors.values())
        n = self.k + self.m
        cls = StorageFull if full > n - self._quorum else InsufficientWriteQuorum
        return cls(f"{n - len(errors)} of {n} shards written for {self.data_id}, need {self._quorum}: {errors}", errors)

    async def _fail(self) -> None:
        if self._state == "open":
            self._state = "failed"
            self._buf = bytearray()
            committed = await self._fan.abort()
            if committed:
                await self._st._delete_shards(self.data_id, self.placement, committed)

    async def commit(self) -> ShardSet:
        """Flush, wait for the shards to be durable, return the shard set written."""
        if self._state != "open":
            raise StorageError(f"writer is {self._state}")
        try:
            if self._buf:
                buf, self._buf = self._buf, bytearray()
                await self._flush(memoryview(buf))
            done = await self._fan.finish(self._quorum)
        except BaseException:
            await self._fail()
            raise
        if len(done) < self._quorum:
            self._state = "failed"
            err = self._quorum_error()
            await self._st._delete_shards(self.data_id, self.placement, done)
            raise err
        self._state = "committed"
        stripes = stripe_count(self._size, self._block)
        last = self._codec.fragment_size(stripe_length(stripes - 1, self._size, self._block)) if stripes else 0
        missing = sorted(self._fan.errors)
        layout = ShardSet(
            self.data_id,
            self._size,
            self.k,
            self.m,
            self._codec.name,
            self._block,
            self._frag_size,
            last,
            self._hash.name,
            self.placement,
            tuple(missing),
        )
        failpoint("shards-durable")
        if missing:
            log.warning(
                "object %s written without shards %s: %s",
                self.data_id,
                missing,
                {i: _why(self._fan.errors[i]) for i in missing},
            )
        return layout

    async def abort(self) -> None:
        """Drop the write. Before commit: temp files go. After commit (e.g. the
        metadata transaction failed): the committed shards are deleted."""
        if self._state == "open":
            await self._fail()
        elif self._state == "committed":
            self._state = "aborted"
            await self._st._delete_shards(self.data_id, self.placement, range(len(self.placement)))
        self._state = "aborted"

    async def discard(self) -> bool:
        """Give the write up (failed quorum, a client gone, a digest mismatch):
        abort it, then remove shard ``i`` from every drive of the placement --
        also those whose stream failed, in case one was committed all the same.
        True when nothing can be left behind (the write intent may go); False
        when a drive could not be asked (down): the orphan reaper retries."""
        await self.abort()
        return not await self._st._delete_shards(self.data_id, self.placement, range(len(self.placement)))

    async def __aenter__(self) -> ObjectWriter:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if self._state == "open":
            await self.abort()


# --------------------------------------------------------------------------
# storage


@dataclass
class HealResult:
    """What ``Storage.heal_object`` found and did (shard indices)."""

    bad: list[int] = field(default_factory=list)  # missing / corrupt / on a bad drive
    healed: list[int] = field(default_factory=list)  # rebuilt
    failed: list[int] = field(default_factory=list)  # rebuild attempted and failed
    offline: list[int] = field(default_factory=list)  # on drives that are down: later
    unrecoverable: bool = False  # fewer than k good shards
    layout: ShardSet | None = None  # new shard set when shards moved
    moved: dict[int, str] = field(default_factory=dict)  # index -> the drive its shard left

    @property
    def complete(self) -> bool:
        return not self.unrecoverable and not self.failed and not self.offline


class _ReadCtx:
    """State of one read (or heal): the layout, its drives, the shards seen
    failing so far (index -> reason) and the ones never to read."""

    def __init__(self, storage: Storage, lay: ShardSet, exclude: Iterable[int] = ()) -> None:
        self.lay = lay
        self.codec = storage._codec(lay)
        self.drives = [storage.drive(d) for d in lay.placement]
        self.bad: dict[int, str] = {}
        self.exclude = set(exclude)
        # Shards on drives known to be offline are asked last (only if needed)
        # and the object counts as degraded.
        for i, did in enumerate(lay.placement):
            if i not in self.exclude and not storage.drive_online(did):
                self.bad[i] = "drive offline"


class Storage:
    """Erasure-coded object storage over a set of drives (see module doc)."""

    def __init__(
        self,
        drives: Sequence[Drive],
        *,
        data_shards: int = 6,
        parity_shards: int = 3,
        block_size: int = 1 << 20,
        ec_type: str | None = None,
        hash_algo: str | None = None,
        write_batch_bytes: int = 4 << 20,
        read_batch_bytes: int = 4 << 20,
        read_batch_max_bytes: int = 16 << 20,
        write_depth: int = 1,
        read_timeout: float = 30.0,
        stall_timeout: float = 60.0,
        compute_threads: int = 2,
        cluster: Cluster | None = None,
        probe_interval: float = 2.0,
        tmp_grace: float = 3600.0,
    ) -> None:
        k, m = data_shards, parity_shards
        if k < 1 or m < 0 or block_size < 1:
            raise ValueError(f"bad erasure geometry k={k} m={m} block_size={block_size}")
        ids = [d.id for d in drives]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate drive ids")
        if cluster is None and len(ids) < k + m:
            # (a cluster learns its drives from its nodes, after start())
            raise ValueError(f"{k}+{m} erasure coding needs {k + m} drives, have {len(ids)}")
        self.k, self.m = k, m
        self.block_size = block_size
        self.ec_type = "stripe" if m == 0 else (ec_type or default_ec_type())
        self.codec = codec_for(self.ec_type, k, m)
        self.hash_algo = bitrot.algorithm(hash_algo or bitrot.DEFAULT_ALGO).name
        self.write_batch_bytes = write_batch_bytes
        self.read_batch_bytes = read_batch_bytes
        self.read_batch_max_bytes = max(read_batch_max_bytes, read_batch_bytes)
        self.write_depth = write_depth
        self.read_timeout = read_timeout
        self.stall_timeout = stall_timeout
        #: called as ``on_degraded(layout, bad_indices)`` after a read that had
        #: to work around missing/corrupt shards (an awaitable result is
        #: scheduled as a task); exceptions are logged and swallowed.
        self.on_degraded: DegradedHook | None = None
        self._drives: dict[str, Drive] = {d.id: d for d in drives}
        self.cluster = cluster
        self._compute = ThreadPoolExecutor(compute_threads, thread_name_prefix="s3gw-ec")
        self._bg: set[asyncio.Task[Any]] = set()
        # The embedded form's drive monitor (``start``): each local drive's status
        # as its last probe saw it, how many probes in a row found it unformatted,
        # and the drives formatted while running, whose shards heal still has to
        # rebuild (``Repair`` takes them from ``healing``).
        self.probe_interval = probe_interval
        self.tmp_grace = tmp_grace
        #: this process formats wiped drives and sweeps temp files: one process per
        #: gateway does (with ``--workers N``, worker 0, where heal runs: the drives it
        #: formats are the ones it heals); the others only watch
        self.maintain = True
        self._status: dict[str, tuple[str, str | None]] = {}
        self._unformatted: dict[str, int] = {}
        self.healing: dict[str, float] = {}
        self.formatted = 0
        self._came_online = 0
        self._monitor: asyncio.Task[Any] | None = None

    @classmethod
    def local(
        cls,
        data_dir: str,
        drives: int = 9,
        data_shards: int = 6,
        parity_shards: int = 3,
        block_size: int = 1 << 20,
        *,
        fsync: bool = True,
        tmp_grace: float = 3600.0,
        **options: Any,
    ) -> Storage:
        """The embedded form: ``drives`` directories ``data_dir/drive1..N``
        (created and formatted when missing), one node ``"local"``. ``start()``
        then watches them (``probe_local``): a drive wiped or replaced while
        running is seen, formatted again and healed."""
        root = os.path.abspath(data_dir)
        os.makedirs(root, exist_ok=True)
        local: list[Drive] = []
        for i in range(1, drives + 1):
            did = f"drive{i}"
            store = ShardStore(os.path.join(root, did), drive_id=did, create=True, fsync=fsync)
            store.cleanup_tmp(tmp_grace)  # temp files of writes a crash cut off
            local.append(LocalDrive(store, did))
        return cls(
            local,
            data_shards=data_shards,
            parity_shards=parity_shards,
            block_size=block_size,
            tmp_grace=tmp_grace,
            **options,
        )

    @classmethod
    def cluster_form(
        cls,
        node_urls: Sequence[str],
        secret: bytes,
        *,
        probe_interval: float = 2.0,
        connect_timeout: float = 3.0,
        ca_file: str | None = None,
        **options: Any,
    ) -> Storage:
        """The cluster form: the drives of remote storage nodes, learned and
        health-tracked by a ``Cluster`` once ``start()`` is awaited
        (``ca_file``: the CA bundle https:// node URLs are verified with)."""
        options.setdefault("read_timeout", 10.0)
        options.setdefault("stall_timeout", 15.0)
        cluster = Cluster(
            node_urls,
            secret,
            probe_interval=probe_interval,
            ca_file=ca_file,
            connect_timeout=connect_timeout,
            read_timeout=options["read_timeout"],
            write_timeout=options["stall_timeout"],
        )
        return cls([], cluster=cluster, **options)

    async def start(self) -> None:
        """Start background work: the cluster's node prober, or the local drive monitor."""
        if self.cluster is not None:
            await self.cluster.start(self.add_drive)
        elif self._local_drives():
            await self.probe_local()
            self._monitor = asyncio.create_task(self._watch_local(), name="drive monitor")

    # -- the embedded form's drives --------------------------------------------

    def _local_drives(self) -> list[LocalDrive]:
        return [d for d in self._drives.values() if isinstance(d, LocalDrive)]

    async def _watch_local(self) -> None:
        """Probe the local drives every ``probe_interval`` seconds; sweep their
        temp files every ``tmp_grace / 2`` (at most every minute, at least every second)."""
        sweep_every = max(1.0, min(60.0, self.tmp_grace / 2))
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + sweep_every
        while True:
            await asyncio.sleep(self.probe_interval)
            try:
                await self.probe_local()
                if self.maintain and loop.time() >= next_sweep:
                    next_sweep = loop.time() + sweep_every
                    await self.sweep_tmp()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("drive monitor round failed")

    async def sweep_tmp(self) -> int:
        """Remove temp files older than ``tmp_grace`` on every local drive
        (writes cut off by a crash; a node's sweeper does the same)."""
        removed = 0
        for d in self._local_drives():
            if self._status.get(d.id, ("online", None))[0] != "online":
                continue
            try:
                n = await asyncio.wait_for(d._run(d.store.cleanup_tmp, self.tmp_grace), self.read_timeout)
            except Exception as e:
                log.warning("temp sweep of %s failed: %s", d.id, _why(e))
                continue
            if n:
                log.info("removed %d stale temp files on %s", n, d.id)
            removed += n
        return removed

    async def probe_local(self) -> None:
        """One round of the local drive monitor (MinIO's local disk monitor).

        Each drive is probed end to end (``ShardStore.status``: marker, a
        write+fsync probe): ``online``, ``faulty`` (I/O errors, a marker naming
        another drive, shards without a marker) or ``unformatted`` (the folder
        is missing or empty: wiped, or a new disk in its place). A drive that
        is not online takes no new shards and is read last, like a node that is
        down. An unformatted drive seen so on two probes in a row is formatted
        again while the other drives online are enough to take writes (more
        drives lost at once looks like a disaster, not a replacement: those are
        left for the operator, and a restart formats them); it is then marked
        ``healing`` until heal has rebuilt its shards (``Repair``). Only a
        process that ``maintain``s formats; another sees the drive unformatted
        until that one has.
        """
        drives = self._local_drives()

        async def one(d: LocalDrive) -> tuple[str, str | None]:
            try:
                return await asyncio.wait_for(d._run(d.store.status), self.read_timeout)
            except Exception as e:  # a hung or failing disk
                return "faulty", f"probe failed: {_why(e)}"

        results = await asyncio.gather(*(one(d) for d in drives))
        for d, (state, error) in zip(drives, results):
            before = self._status.get(d.id, ("online", None))[0]
            self._status[d.id] = (state, error)
            self._unformatted[d.id] = self._unformatted.get(d.id, 0) + 1 if state == "unformatted" else 0
            if state != before:
                (log.info if state == "online" else log.warning)(
                    "drive %s is %s%s", d.id, state, f": {error}" if error else ""
                )
                self._came_online += state == "online"
        online = sum(1 for d in drives if self._status[d.id][0] == "online")
        for d in drives:
            if not self.maintain or self._unformatted[d.id] < 2 or online < self.write_quorum:
                continue
            try:
                await asyncio.wait_for(d._run(d.store.format), self.read_timeout)
            except Exception as e:
                log.error("could not format drive %s: %s", d.id, _why(e))
                continue
            self._status[d.id] = ("online", None)
            self._unformatted[d.id] = 0
            self.healing[d.id] = time.time()
            self.formatted += 1
            self._came_online += 1
            online += 1
            log.warning("drive %s was empty: formatted it; heal rebuilds its shards", d.id)

    @property
    def online_epoch(self) -> int:
        """Grows whenever a drive or node comes (back) online: work that waited
        for one (heal retries) may go on."""
        return self.cluster.epoch if self.cluster is not None else self._came_online

    def drive_status(self, drive_id: str) -> str:
        """What ``s3gw admin info`` shows for a drive: ``online``, ``healing``
        (formatted while running, heal not done yet), ``unformatted``, ``faulty``,
        ``offline`` (a node down) or ``gone``."""
        state = self.drive_state(drive_id)
        if drive_id in self.healing and state == "online":
            return "healing"
        if self.cluster is None and drive_id in self._status and state != "gone":
            return self._status[drive_id][0]
        return state

    def healed(self, drive_ids: Iterable[str], started: float) -> None:
        """Heal has rebuilt every shard these drives should hold (a pass that
        began at ``started``, after they were formatted): they are no longer healing."""
        for d in drive_ids:
            if self.healing.get(d, float("inf")) <= started:
                del self.healing[d]
                log.info("drive %s healed", d)

    # -- drives -------------------------------------------------------------

    def add_drive(self, drive: Drive) -> None:
        self._drives[drive.id] = drive

    def remove_drive(self, drive_id: str) -> Drive | None:
        """Take a drive out of the set (decommissioned): its shards are 'gone'
        and heal rebuilds them on replacement drives."""
        return self._drives.pop(drive_id, None)

    def drive_state(self, drive_id: str) -> str:
        """'online', 'offline' (may come back) or 'gone' (not part of the set any
        more: its shards are rebuilt elsewhere by heal)."""
        if self.cluster is not None:
            return self.cluster.state(drive_id)
        if drive_id not in self._drives:
            return "gone"
        return "online" if self._status.get(drive_id, ("online", None))[0] == "online" else "offline"

    def drive_online(self, drive_id: str) -> bool:
        return self.drive_state(drive_id) == "online"

    def _write_target(self, drive_id: str) -> Drive | BaseException | None:
        drive = self.drive(drive_id)
        if drive is not None and not self.drive_online(drive_id):
            return DriveError(f"drive {drive_id} is offline")
        return drive

    def online_drives(self) -> list[str]:
        return [d for d in self._drives if self.drive_online(d)]

    @property
    def write_quorum(self) -> int:
        """Shards of an object in the normal geometry that must be durable (k+1)."""
        return write_quorum(self.k, self.m)

    @property
    def write_drives(self) -> int:
        """Drives that must be online for new objects to be taken: with up to m
        drives of a placement down, parity is raised instead (``geometry``), so
        k for 6+3 -- what MinIO reports as an erasure set's write quorum."""
        return max(self.k, self.m + 1)

    def write_quorum_possible(self) -> bool:
        """Enough drives online to take new objects (what /minio/health/cluster answers)."""
        return len(self.online_drives()) >= self.write_drives

    def geometry(self, placement: Sequence[str]) -> tuple[int, int, str]:
        """(k, m, codec) for a new object on ``placement``: the store's own when
        every drive of it is online; with some offline, parity raised by as many
        (MinIO's putObject; ``erasure.raised_parity``): their shards are written
        as missing, and what the drives online hold still survives the loss of
        m more drives. Heal rebuilds the missing shards on those drives once
        they are back. More than m offline: InsufficientWriteQuorum."""
        offline = sum(1 for d in placement if not self.drive_online(d))
        geo = raised_parity(self.k, self.m, offline)
        if geo is None:
            raise InsufficientWriteQuorum(
                f"{offline} of the {len(placement)} drives of the placement are offline; at most "
                f"{min(self.m, self.k - 1)} may be"
            )
        k, m = geo
        return k, m, self.ec_type if offline == 0 else raised_parity_ec(self.ec_type, m)

    def read_quorum_possible(self) -> bool:
        return len(self.online_drives()) >= self.k

    @property
    def drives(self) -> list[Drive]:
        return list(self._drives.values())

    def drive(self, drive_id: str) -> Drive | None:
        return self._drives.get(drive_id)

    async def drive_health(self) -> list[dict[str, Any]]:
        async def one(d: Drive) -> dict[str, Any]:
            try:
                return await asyncio.wait_for(d.health(), self.read_timeout)
            except Exception as e:
                return {"id": d.id, "node_id": d.node_id, "ok": False, "error": _why(e)}

        return list(await asyncio.gather(*(one(d) for d in self._drives.values())))

    def _codec(self, lay: ShardSet) -> Codec:
        return codec_for(lay.ec, lay.k, lay.m)

    # -- write --------------------------------------------------------------

    def new_placement(self, data_id: str) -> list[str]:
        """k+m distinct drives by rendezvous hashing, online drives first: a
        drive that is down is used only when there are not enough online ones;
        then the object gets more parity (``geometry``), the shards of the
        drives down come last, are written as missing and queued for heal."""
        n = self.k + self.m
        if len(self._drives) < n:  # a cluster whose nodes have not all been reached yet
            raise InsufficientWriteQuorum(f"{len(self._drives)} drives known, {n} needed for a placement")
        online = [d for d in self._drives.values() if self.drive_online(d.id)]
        if len(online) >= n:
            return placement(data_id, online, n)
        rest = [d for d in self._drives.values() if not self.drive_online(d.id)]
        return placement(data_id, online, len(online)) + placement(data_id, rest, n - len(online))

    async def open_writer(self, data_id: str, placement: list[str]) -> ObjectWriter:
        if not valid_data_id(data_id):
            raise ValueError(f"invalid data id {data_id!r}")
        if len(placement) != self.k + self.m or len(set(placement)) != len(placement):
            raise ValueError(f"placement must name {self.k + self.m} distinct drives")
        return ObjectWriter(self, data_id, placement, *self.geometry(placement))

    # -- read ---------------------------------------------------------------

    async def read(
        self, lay: ShardSet, offset: int = 0, length: int | None = None, *, on_degraded: DegradedHook | None = None
    ) -> AsyncIterator[Buffer]:
        """Object bytes ``[offset, offset+length)`` (to the end when ``length``
        is None), from the first byte on, in pieces of at most one stripe: views
        of the verified fragments when the data shards are healthy (no copy),
        decoded stripes otherwise. The pieces are read-only views the caller
        may keep. ``on_degraded`` replaces ``self.on_degraded`` for this read."""
        if length is None:
            length = lay.size - offset
        if offset < 0 or length < 0 or offset + length > lay.size:
            raise ValueError(f"range {offset}+{length} outside object of {lay.size} bytes")
        if length == 0:
            return
        first, end = stripe_span(offset, length, lay.block_size)
        # The first batch is small (the first byte goes out soon); the later
        # ones, read ahead while the previous one is sent, are larger: fewer
        # thread hops (local drives) or node requests (cluster) per MiB.
        per = self._first_batch(lay)
        per_max = max(per, self.read_batch_max_bytes // lay.block_size)
        batches = [(first, min(first + per, end))]
        while batches[-1][1] < end:
            s = batches[-1][1]
            batches.append((s, min(s + per_max, end)))
        ctx = _ReadCtx(self, lay)
        nxt: asyncio.Task[Any] | None = None
        try:
            # read-ahead: the next batch is read (and verified) while this one is sent
            nxt = asyncio.ensure_future(self._read_stripes(ctx, *batches[0]))
            for j, (s0, s1) in enumerate(batches):
                assert nxt is not None  # set for every batch but after the last
                stripes = await nxt
                nxt = asyncio.ensure_future(self._read_stripes(ctx, *batches[j + 1])) if j + 1 < len(batches) else None
                for s, pieces in zip(range(s0, s1), stripes):
                    lo, hi = stripe_slice(s, offset, length, lay.block_size)
                    for piece in _cut(pieces, lo, hi):
                        yield piece
        finally:
            if nxt is not None and not nxt.done():
                nxt.cancel()
                nxt.add_done_callback(lambda t: t.cancelled() or t.exception())
            if ctx.bad:
                self._report_degraded(lay, ctx.bad, on_degraded)

    async def _read_stripes(self, ctx: _ReadCtx, s0: int, s1: int) -> list[Sequence[Buffer]]:
        """Each stripe of ``[s0, s1)`` as the pieces that make it up, in order."""
        frags = await self._gather_fragments(ctx, s0, s1)
        lengths = [stripe_len(ctx.lay, s) for s in range(s0, s1)]
        # The k data fragments of a systematic code are the stripe itself: their
        # payloads are sent as they are, sliced on the event loop (no copy, no
        # thread). Only a stripe missing one of them is decoded, in the compute pool.
        out: list[Sequence[Buffer] | None] = [ctx.codec.data_views(f, n) for f, n in zip(frags, lengths)]
        todo = [j for j, v in enumerate(out) if v is None]
        if todo:
            loop = asyncio.get_running_loop()
            decoded = await loop.run_in_executor(
                self._compute, decode_stripes, ctx.codec, [frags[j] for j in todo], [lengths[j] for j in todo]
            )
            for j, data in zip(todo, decoded):
                out[j] = [data]
        return out  # type: ignore[return-value]

    async def _read_shard(self, ctx: _ReadCtx, i: int, first: int, count: int) -> list[Any]:
        drive = ctx.drives[i]
        if drive is None:
            raise DriveError(f"drive {ctx.lay.placement[i]!r} not configured")
        return await asyncio.wait_for(
            drive.read_blocks(
                shard_name(ctx.lay.data_id, i), first, count, block_size=ctx.lay.frag_size, hash_algo=ctx.lay.hash
            ),
            self._read_bound(ctx.lay, count),
        )

    def _read_bound(self, lay: ShardSet, count: int) -> float:
        """How long one shard read of ``count`` blocks may take: ``read_timeout`` for as many blocks
        as a first batch asks of each drive, and as much again for each such share of a larger
        (read-ahead) batch. A bound per request that ignored its size gave the larger later batches
        of a busy machine less time per byte than the first one, and a read could run out of
        shards in the middle of its body. (A frozen node is still found after ``read_timeout``:
        the node client's socket timeout counts from the last byte received.)"""
        return self.read_timeout * max(1.0, count / self._first_batch(lay))

    def _first_batch(self, lay: ShardSet) -> int:
        """Stripes in a read's first batch (``read_batch_bytes`` of object data)."""
        return max(1, self.read_batch_bytes // lay.block_size)

    async def _gather_fragments(self, ctx: _ReadCtx, s0: int, s1: int) -> list[dict[int, Any]]:
        """At least k verified fragments for each stripe in ``[s0, s1)``:
        data shards first, then parity, then shards already seen failing
        (their other blocks may still be good)."""
        lay, k = ctx.lay, ctx.lay.k
        have: list[dict[int, Any]] = [{} for _ in range(s0, s1)]
        usable = [i for i in range(lay.n) if i not in ctx.exclude]
        order = [i for i in usable if i not in ctx.bad] + [i for i in usable if i in ctx.bad]
        wave, lo, hi = order[:k], s0, s1
        tried: set[int] = set()
        while True:
            tried.update(wave)
            results = await asyncio.gather(
                *(self._read_shard(ctx, i, lo, hi - lo) for i in wave), return_exceptions=True
            )
            for i, blocks in zip(wave, results):
                if isinstance(blocks, BaseException):
                    if isinstance(blocks, asyncio.CancelledError):
                        raise blocks
                    ctx.bad.setdefault(i, _why(blocks))
                    continue
                for s, b in zip(range(lo, hi), blocks):
                    if b is not None and ctx.codec.check_fragment(i, b, stripe_len(lay, s)):
                        have[s - s0][i] = b
                    else:
                        ctx.bad.setdefault(i, f"bad block {s}")
            short = [s for s in range(s0, s1) if len(have[s - s0]) < k]
            if not short:
                return have
            left = [i for i in order if i not in tried]
            need = max(k - len(have[s - s0]) for s in short)
            if len(left) < need:
                raise InsufficientReadQuorum(
                    f"{lay.data_id}: stripe {short[0]} has {len(have[short[0] - s0])} good "
                    f"fragments, needs {k}; bad shards: {ctx.bad}"
                )
            wave, lo, hi = left[:need], short[0], short[-1] + 1

    def _report_degraded(self, layout: ShardSet, bad: Mapping[int, str], hook: DegradedHook | None = None) -> None:
        # (a node known to be down makes every read degraded: not worth a warning each)
        level = logging.INFO if all(r == "drive offline" for r in bad.values()) else logging.WARNING
        log.log(level, "degraded read of %s: %s", layout.data_id, dict(bad))
        hook = hook or self.on_degraded
        if hook is None:
            return
        try:
            res = hook(layout, sorted(bad))
            if inspect.isawaitable(res):
                task = asyncio.ensure_future(res)
                self._bg.add(task)
                task.add_done_callback(self._bg.discard)
        except Exception:
            log.exception("on_degraded hook failed")

    # -- delete -------------------------------------------------------------

    async def delete(self, lay: ShardSet) -> list[int]:
        """Remove every shard of the object. Missing shards count as removed;
        returns the indices that could not be removed (drive offline or
        failing), for the caller to retry later."""
        return await self._delete_shards(lay.data_id, lay.placement, range(lay.n))

    async def delete_shards(self, data_id: str, placement: Sequence[str]) -> list[int]:
        """Remove shards ``0..len(placement)-1`` of ``data_id`` (an orphaned write)."""
        return await self._delete_shards(data_id, placement, range(len(placement)))

    async def _delete_shards(self, data_id: str, placement: Sequence[str], indices: Iterable[int]) -> list[int]:
        async def one(i: int) -> bool:
            if self.drive_state(placement[i]) == "gone":
                return True
            drive = self.drive(placement[i])
            if drive is None or not self.drive_online(placement[i]):
                return False
            try:
                await asyncio.wait_for(drive.delete_shard(shard_name(data_id, i)), self.read_timeout)
                return True
            except Exception as e:  # reported to the caller, who retries
                log.warning("delete of %s.%d on %s failed: %s", data_id, i, drive.id, _why(e))
                return False

        idx = list(indices)
        ok = await asyncio.gather(*(one(i) for i in idx))
        return [i for i, good in zip(idx, ok) if not good]

    # -- verify / heal ------------------------------------------------------

    async def verify(self, lay: ShardSet, deep: bool = False) -> list[int]:
        """Shard indices that are missing, malformed, or (``deep``: every block
        hashed) corrupt."""
        stripes = lay.stripes

        async def bad(i: int) -> bool:
            drive = self.drive(lay.placement[i])
            if drive is None:
                return True
            try:
                st = await asyncio.wait_for(drive.stat_shard(shard_name(lay.data_id, i)), self.read_timeout)
                if (
                    st.block_size != lay.frag_size
                    or st.hash_algo != lay.hash
                    or st.blocks != stripes
                    or (stripes and st.last_block_size != lay.last_frag_size)
                ):
                    return True
                if deep and stripes:
                    return bool(await drive.scrub_shard(shard_name(lay.data_id, i)))
                return False
            except Exception as e:  # NodeError, timeouts, a remote client's errors
                log.info("verify %s.%d: %s", lay.data_id, i, _why(e))
                return True

        flags = await asyncio.gather(*(bad(i) for i in range(lay.n)))
        return [i for i, f in enumerate(flags) if f]

    async def heal(self, lay: ShardSet, indices: Iterable[int] | None = None) -> list[int]:
        """Rebuild the given shards (default: what ``verify(deep=True)``
        finds) from the good ones, on their placement drives. Returns the
        indices healed; raises InsufficientReadQuorum when the object itself
        is unreadable."""
        wanted = sorted(set(indices)) if indices is not None else await self.verify(lay, True)
        done, _ = await self._heal(lay, wanted)
        return done

    async def _heal(self, lay: ShardSet, wanted: Iterable[int]) -> tuple[list[int], dict[int, BaseException]]:
        """``heal``'s work: (indices rebuilt, index -> why a rebuild failed)."""
        targets = [i for i in wanted if 0 <= i < lay.n and self.drive(lay.placement[i])]
        if not targets:
            return [], {}
        if lay.m == 0:
            raise InsufficientReadQuorum(f"{lay.data_id}: no parity to rebuild {targets} from")
        ctx = _ReadCtx(self, lay, exclude=targets)
        fan = _Fanout(
            {i: (self.drive(lay.placement[i]), shard_name(lay.data_id, i)) for i in targets},
            block_size=lay.frag_size,
            hash_algo=lay.hash,
            depth=self.write_depth,
            stall_timeout=self.stall_timeout,
        )
        hash_fn = bitrot.algorithm(lay.hash).fn
        loop = asyncio.get_running_loop()
        per = max(1, self.read_batch_bytes // lay.block_size)
        try:
            for s0 in range(0, lay.stripes, per):
                s1 = min(s0 + per, lay.stripes)
                if not fan.live:
                    break
                frags = await self._gather_fragments(ctx, s0, s1)
                lengths = [stripe_len(lay, s) for s in range(s0, s1)]
                frames = await loop.run_in_executor(
                    self._compute, reconstruct_stripes, ctx.codec, hash_fn, frags, lengths, fan.live
                )
                await fan.put(frames)
            done = await fan.finish(len(fan.live))
        except BaseException:
            await fan.abort()
            raise
        for i, e in fan.errors.items():
            log.warning("heal of %s.%d failed: %s", lay.data_id, i, _why(e))
        return sorted(done), dict(fan.errors)

    def _replacements(self, lay: ShardSet, placement_: list[str], indices: Iterable[int]) -> dict[int, str]:
        """A drive for each shard in ``indices`` that has to move: online, not
        holding a shard of the object yet, on a node without one first; chosen
        by rendezvous hashing on "<data id>.<index>". ``placement_`` is updated;
        shards with nowhere to go are left out."""
        chosen = set(placement_)
        used_nodes = {drv.node_id for d in placement_ if (drv := self.drive(d)) is not None}
        picks: dict[int, str] = {}
        for i in indices:
            free = [self._drives[d] for d in self.online_drives() if d not in chosen]
            fresh = [d for d in free if d.node_id not in used_nodes]
            pool = fresh or free
            if not pool:
                continue
            pick = placement(f"{lay.data_id}.{i}", pool, 1)[0]
            placement_[i] = picks[i] = pick
            chosen.add(pick)
            used_nodes.add(self._drives[pick].node_id)
        return picks

    async def heal_object(self, lay: ShardSet, *, deep: bool = False, dry_run: bool = False) -> HealResult:
        """Verify one shard set and rebuild what is bad.

        Shards on drives that are *gone* (no longer part of the set) are rebuilt
        on replacement drives (``_replacements``), and so are shards whose own
        drive refuses them for lack of space (``DiskFull``: a drive that stays
        too full); the result then carries the new layout for the caller to
        store (and ``moved``: the drives they left). Shards on drives that are
        merely *offline* cannot be rebuilt now: they come back as ``offline``.
        """
        bad = await self.verify(lay, deep)
        res = HealResult(bad=bad)
        states = {i: self.drive_state(lay.placement[i]) for i in bad}
        res.offline = [i for i in bad if states[i] == "offline"]
        gone = [i for i in bad if states[i] == "gone"]
        fixable = [i for i in bad if states[i] == "online"] + gone
        if not fixable or dry_run:
            if dry_run and lay.n - len(bad) < lay.k:
                # (a real heal would still try: corrupt blocks in different
                # stripes of different shards can leave every stripe readable)
                res.unrecoverable = not res.offline
            return res
        placement_ = list(lay.placement)
        if gone:
            picks = self._replacements(lay, placement_, gone)
            for i in gone:
                if i not in picks:
                    res.offline.append(i)  # nowhere to put it yet
                    fixable.remove(i)
                else:
                    res.moved[i] = lay.placement[i]
        new_layout = replace(lay, placement=tuple(placement_)) if res.moved else lay
        if not fixable:
            return res
        try:
            healed, errors = await self._heal(new_layout, fixable)
            full = [i for i, e in errors.items() if isinstance(e, DiskFull)]
            if full:
                # the drive has no room for its shard: rebuild it on another one
                picks = self._replacements(new_layout, placement_, full)
                if picks:
                    moved_layout = replace(new_layout, placement=tuple(placement_))
                    more, _ = await self._heal(moved_layout, list(picks))
                    for i in more:
                        res.moved[i] = new_layout.placement[i]
                        healed.append(i)
                    placement_ = [
                        moved_layout.placement[i] if i in more else new_layout.placement[i] for i in range(lay.n)
                    ]
                    new_layout = replace(lay, placement=tuple(placement_))
        except InsufficientReadQuorum:
            # with shards offline it may still come back; otherwise it is lost
            res.unrecoverable = not res.offline
            res.failed = sorted(fixable)
            return res
        res.healed = sorted(healed)
        res.failed = sorted(set(fixable) - set(res.healed))
        res.moved = {i: d for i, d in res.moved.items() if i in res.healed or i in gone}
        if res.moved:
            res.layout = replace(
                lay,
                placement=tuple(new_layout.placement[i] if i in res.moved else lay.placement[i] for i in range(lay.n)),
            )
        return res

    # -- re-encode (raised parity back to the normal geometry) ----------------

    def raised(self, lay: ShardSet) -> bool:
        """A shard set written with parity raised (drives were down, ``geometry``):
        the same k+m drives, fewer data shards, more parity, than the store's own.

        >>> st = Storage.__new__(Storage); st.k, st.m = 6, 3
        >>> st.raised(ShardSet("d", 1, 3, 6, "x", 1, 1, 1, "h", tuple("abcdefghi")))
        True
        >>> st.raised(ShardSet("d", 1, 6, 3, "x", 1, 1, 1, "h", tuple("abcdefghi")))
        False
        """
        return lay.m > self.m and lay.n == self.k + self.m

    def can_reencode(self) -> bool:
        """Enough drives online for a shard set in the normal geometry: every
        shard of it on a drive that is up (no shard written as missing)."""
        return len(self.online_drives()) >= self.k + self.m

    async def reencode(
        self,
        lay: ShardSet,
        data_id: str,
        placement: Sequence[str],
        *,
        progress: Callable[[], Any] | None = None,
    ) -> ShardSet:
        """Write the bytes of ``lay`` again as a new shard set ``data_id`` on
        ``placement``, in the store's normal geometry (heal of a raised-parity
        object once its drives are back). The stored bytes are read stripe by
        stripe (every block checked against its hash, lost shards decoded
        around) and streamed into the new writer: memory stays bounded whatever
        the size, and an encrypted object's ciphertext is copied as it is.
        ``progress`` is called (and awaited if it returns an awaitable) after
        each piece read (at most a stripe). Every shard of the new set must be durable, else the new set
        is removed and StorageError raised; the old set is left untouched."""
        k, m, _ = self.geometry(placement)
        if (k, m) != (self.k, self.m):
            raise StorageError(f"re-encode of {lay.data_id}: drives of the new placement are down")
        writer = ObjectWriter(self, data_id, placement, k, m, self.ec_type)
        ok = False
        try:
            # the read reports nothing as degraded: this set is replaced, not healed
            async for piece in self.read(lay, on_degraded=lambda _lay, _bad: None):
                await writer.write(piece)
                if progress is not None:
                    res = progress()
                    if inspect.isawaitable(res):
                        await res
            if writer.size != lay.size:
                raise StorageError(f"re-encode of {lay.data_id}: read {writer.size} of {lay.size} bytes")
            new = await writer.commit()
            if new.missing:
                raise StorageError(f"re-encode of {lay.data_id}: shards {list(new.missing)} not written")
            ok = True
            return new
        finally:
            if not ok:
                await writer.discard()

    # -- lifecycle ----------------------------------------------------------

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            try:
                await self._monitor
            except asyncio.CancelledError:
                pass
        if self.cluster is not None:
            await self.cluster.close()
        for t in list(self._bg):
            t.cancel()
        for d in self._drives.values():
            await d.close()
        self._compute.shutdown(wait=False)
