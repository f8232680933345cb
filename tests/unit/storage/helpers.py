"""Fault-injecting drives and helpers for the storage tests."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, Sequence

from nodes.errors import DriveError
from nodes.shardstore import ShardStore
from s3gw.storage import Drive, LocalDrive

BLOCK = 64 << 10  # small stripes: multi-stripe objects stay small


class ProxyDrive(Drive):
    """Delegates everything to another drive; subclasses inject faults."""

    def __init__(self, inner: Drive) -> None:
        self.inner = inner
        self.id = inner.id
        self.node_id = inner.node_id
        self.reads: list[tuple[str, int, int]] = []

    async def write_shard(self, name, frames, *, block_size, hash_algo):
        return await self.inner.write_shard(name, frames, block_size=block_size, hash_algo=hash_algo)

    async def read_blocks(self, name, first, count, *, block_size=None, hash_algo=None):
        self.reads.append((name, first, count))
        return await self.inner.read_blocks(name, first, count, block_size=block_size, hash_algo=hash_algo)

    async def stat_shard(self, name):
        return await self.inner.stat_shard(name)

    async def scrub_shard(self, name):
        return await self.inner.scrub_shard(name)

    async def delete_shard(self, name):
        return await self.inner.delete_shard(name)

    async def list_shards(self, prefix=""):
        async for n in self.inner.list_shards(prefix):
            yield n

    async def capacity(self):
        return await self.inner.capacity()

    async def health(self):
        return await self.inner.health()

    async def close(self):
        await self.inner.close()


class FailingDrive(ProxyDrive):
    """Fails writes after ``after`` frame batches (0: at open) with ``exc``;
    can also fail or stall reads."""

    def __init__(self, inner: Drive, after: int = 0, exc: Exception | None = None) -> None:
        super().__init__(inner)
        self.after = after
        self.exc = exc or DriveError("injected write failure")
        self.fail_writes = True
        self.read_delay = 0.0
        self.write_delay = 0.0

    async def write_shard(self, name, frames: AsyncIterable[Sequence], *, block_size, hash_algo):
        seen = 0

        async def gated():
            nonlocal seen
            async for batch in frames:
                if self.write_delay:
                    await asyncio.sleep(self.write_delay)
                if self.fail_writes and seen >= self.after:
                    raise self.exc
                seen += 1
                yield batch
            if self.fail_writes and seen >= self.after:
                raise self.exc

        return await self.inner.write_shard(name, gated(), block_size=block_size, hash_algo=hash_algo)

    async def read_blocks(self, name, first, count, *, block_size=None, hash_algo=None):
        if self.read_delay:
            await asyncio.sleep(self.read_delay)
        return await super().read_blocks(name, first, count, block_size=block_size, hash_algo=hash_algo)


def local_drives(root, n: int = 9, fsync: bool = False) -> list[LocalDrive]:
    return [
        LocalDrive(
            ShardStore(os.path.join(root, f"drive{i}"), drive_id=f"drive{i}", create=True, fsync=fsync), f"drive{i}"
        )
        for i in range(1, n + 1)
    ]


def shard_files(root) -> list[str]:
    """Every file under the drives' shards/ and tmp/ directories."""
    out = []
    for dirpath, _, files in os.walk(root):
        if os.sep + "shards" in dirpath or dirpath.endswith(os.sep + "tmp"):
            out += [os.path.join(dirpath, f) for f in files]
    return out
