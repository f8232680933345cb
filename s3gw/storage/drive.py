"""The drive interface, and its local form.

A ``Drive`` is where one shard of an object lives. The storage layer talks to
drives only through this interface, so the local form (a ``ShardStore`` on a
directory, run in threads) and the remote form (a drive of a storage node over
HTTP, ``s3gw.storage.remote``) are interchangeable, as are the failing/slow fakes used in tests.

Drives raise the node error vocabulary (``nodes.errors``: ShardNotFound,
ChecksumMismatch, DiskFull, DriveError, ...); ``Storage`` decides what they
mean for an object. Any other exception is treated like a DriveError.

Wire shapes, chosen so that the remote form is a straight mapping:

* ``write_shard`` consumes an async stream of *frame batches*: sequences of
  buffers that, concatenated, are whole frames (hash || block). Over HTTP that
  is a chunked PUT body; locally one ``writev`` per batch. The shard is durable
  and visible under its name when ``write_shard`` returns; if the stream
  raises, or the call is cancelled, nothing is left behind.
* ``read_blocks`` returns the verified blocks of a range, ``None`` for each
  block that is corrupt, torn or missing (the reader then uses parity for just
  those stripes). A remote client fetches raw frames and verifies them on the
  gateway with ``nodes.shardstore.verify_frames``, so bitrot in transit is
  caught too.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from nodes.shardstore import Capacity, ShardStat, ShardStore, ShardWriter, made_writer

Buffer = bytes | bytearray | memoryview
_T = TypeVar("_T")


class Drive(ABC):
    """One drive: a local directory or a drive of a remote storage node."""

    id: str
    node_id: str

    @abstractmethod
    async def write_shard(
        self, name: str, frames: AsyncIterable[Sequence[Buffer]], *, block_size: int, hash_algo: str
    ) -> ShardStat:
        """Write shard ``name`` from a stream of frame batches; durable on return."""

    @abstractmethod
    async def read_blocks(
        self, name: str, first: int, count: int, *, block_size: int | None = None, hash_algo: str | None = None
    ) -> list[Buffer | None]:
        """Verified blocks ``[first, first+count)``; None for each bad block."""

    @abstractmethod
    async def stat_shard(self, name: str) -> ShardStat: ...

    @abstractmethod
    async def scrub_shard(self, name: str) -> list[int]:
        """Indices of blocks failing their hash (reads the whole shard)."""

    @abstractmethod
    async def delete_shard(self, name: str) -> bool: ...

    @abstractmethod
    def list_shards(self, prefix: str = "") -> AsyncIterator[str]: ...

    @abstractmethod
    async def capacity(self) -> Capacity: ...

    @abstractmethod
    async def health(self) -> dict[str, Any]: ...

    async def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} on {self.node_id}>"


def _create(
    store: ShardStore, name: str, block_size: int, hash_algo: str, first: Sequence[Buffer] | None
) -> ShardWriter:
    writer = store.create(name, block_size, hash_algo)
    if first is not None:
        try:
            writer.write(first)
        except BaseException:
            writer.abort()
            raise
    return writer


async def _in_pool(pool: ThreadPoolExecutor, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    loop = asyncio.get_running_loop()
    if kwargs:
        return await loop.run_in_executor(pool, lambda: fn(*args, **kwargs))
    return await loop.run_in_executor(pool, fn, *args)


class LocalDrive(Drive):
    """A ``ShardStore`` in this process. Blocking calls run in small thread
    pools of the drive's own, so a hung disk ties up only its own threads (and
    the reader's timeout moves on to parity).

    Block reads have a pool of their own, of ``read_threads`` (default one):
    the reads of concurrent GETs queue on one thread per drive and run back to
    back, instead of waking a thread each and contending for the two cores
    (docs/benchmarks.md: a fifth less CPU per MiB read with four streams);
    writes, with their fsyncs, never wait behind them, nor they behind writes."""

    def __init__(
        self, store: ShardStore, drive_id: str, node_id: str = "local", threads: int = 4, read_threads: int = 1
    ) -> None:
        self.store = store
        self.id = drive_id
        self.node_id = node_id
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=f"drive-{drive_id}")
        self._read_pool = ThreadPoolExecutor(read_threads, thread_name_prefix=f"drive-{drive_id}-read")

    async def _run(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        return await _in_pool(self._pool, fn, *args, **kwargs)

    async def write_shard(
        self, name: str, frames: AsyncIterable[Sequence[Buffer]], *, block_size: int, hash_algo: str
    ) -> ShardStat:
        # Thread hops are a large part of a small write's cost: the temp file is made
        # with the first batch (a 1 MiB object: two hops, not three)
        it = aiter(frames)
        first = await anext(it, None)
        writer = await made_writer(self._run(_create, self.store, name, block_size, hash_algo, first))
        try:
            if first is not None:
                async for batch in it:
                    await self._run(writer.write, batch)
            return await self._run(writer.commit)
        except asyncio.CancelledError:
            # A write may still be running in its thread (a stalled disk): do
            # not wait for it. The writer's lock queues the abort behind it.
            try:
                self._pool.submit(writer.abort)
            except RuntimeError:  # pool already shut down
                writer.abort()
            raise
        except BaseException:
            await self._run(writer.abort)  # no-op after commit
            raise

    async def read_blocks(
        self, name: str, first: int, count: int, *, block_size: int | None = None, hash_algo: str | None = None
    ) -> list[Buffer | None]:
        blocks = await _in_pool(
            self._read_pool, self.store.read_blocks, name, first, count, block_size=block_size, hash_algo=hash_algo
        )
        return cast("list[Buffer | None]", blocks)  # list is invariant: memoryviews are Buffers

    async def stat_shard(self, name: str) -> ShardStat:
        return await self._run(self.store.stat, name)

    async def scrub_shard(self, name: str) -> list[int]:
        return await self._run(self.store.scrub, name)

    async def delete_shard(self, name: str) -> bool:
        return await self._run(self.store.delete, name)

    async def list_shards(self, prefix: str = "") -> AsyncIterator[str]:
        for fan in range(256):
            for name in await self._run(self.store.list_fan, f"{fan:02x}", prefix):
                yield name

    async def capacity(self) -> Capacity:
        return await self._run(self.store.capacity)

    async def health(self) -> dict[str, Any]:
        return {"id": self.id, "node_id": self.node_id, **await self._run(self.store.health)}

    async def close(self) -> None:
        self._pool.shutdown(wait=False)
        self._read_pool.shutdown(wait=False)
