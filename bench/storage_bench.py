"""Throughput of the storage layer alone (no HTTP): write, read, degraded read.

    python bench/storage_bench.py [--size-mib 256] [--piece-kib 1024] [--dir DIR] [--readers 4]

Writes one object through ``Storage.local`` (9 drives, 6+3, fsync on), reads it
back whole, then reads it again with three data shards deleted (decode path).
``--readers N`` also reads it N times at once, twice, and prints the process's
CPU time per MiB read (page cache warm): the storage layer's share of a GET.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import resource
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from s3gw.storage import Storage  # noqa: E402


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--piece-kib", type=int, default=1024, help="size of each write() call")
    ap.add_argument("--dir", default=None, help="data dir (default: a temp dir, removed)")
    ap.add_argument("--no-fsync", action="store_true")
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--m", type=int, default=3)
    ap.add_argument("--block-kib", type=int, default=1024)
    ap.add_argument("--readers", type=int, default=0, help="also time N concurrent whole reads (CPU per MiB)")
    args = ap.parse_args()

    root = args.dir or tempfile.mkdtemp(prefix="s3gw-bench-")
    size = args.size_mib << 20
    piece = args.piece_kib << 10
    # Incompressible, but cheap to make: 16 MiB of random bytes, repeated.
    pattern = os.urandom(16 << 20)
    storage = Storage.local(
        root,
        drives=args.k + args.m,
        data_shards=args.k,
        parity_shards=args.m,
        block_size=args.block_kib << 10,
        fsync=not args.no_fsync,
    )
    try:
        data_id = os.urandom(16).hex()
        w = await storage.open_writer(data_id, storage.new_placement(data_id))
        mv = memoryview(pattern)
        t0 = time.perf_counter()
        sent = 0
        while sent < size:
            n = min(piece, size - sent)
            off = sent % len(pattern)
            n = min(n, len(pattern) - off)
            await w.write(mv[off : off + n])
            sent += n
        layout = await w.commit()
        t_write = time.perf_counter() - t0

        async def read_all() -> tuple[float, int]:
            t = time.perf_counter()
            got = 0
            async for chunk in storage.read(layout, 0, size):
                got += len(chunk)
            return time.perf_counter() - t, got

        t_read, got = await read_all()
        assert got == size, (got, size)
        concurrent = ""
        if args.readers:
            c0, t0 = sum(os.times()[:2]), time.perf_counter()
            for _ in range(2):
                await asyncio.gather(*(read_all() for _ in range(args.readers)))
            cpu, wall = sum(os.times()[:2]) - c0, time.perf_counter() - t0
            mib = 2 * args.readers * args.size_mib
            concurrent = (
                f"  {args.readers} concurrent reads: {mib / wall:7.1f} MiB/s, {cpu * 1000 / mib:.3f} ms CPU per MiB\n"
            )
        degraded = ""
        if args.m:
            for i in range(min(args.m, args.k)):
                await storage.drive(layout.placement[i]).delete_shard(f"{data_id}.{i}")
            t_deg, got = await read_all()
            assert got == size
            degraded = f"  degraded read ({min(args.m, args.k)} data shards gone): {args.size_mib / t_deg:7.1f} MiB/s\n"
            t = time.perf_counter()
            healed = await storage.heal(layout)
            degraded += f"  heal of {healed}: {time.perf_counter() - t:.2f}s\n"
        # check the bytes once, off the clock
        h1, h2 = hashlib.blake2b(), hashlib.blake2b()
        sent = 0
        while sent < size:
            off = sent % len(pattern)
            n = min(len(pattern) - off, size - sent)
            h1.update(mv[off : off + n])
            sent += n
        async for chunk in storage.read(layout, 0, size):
            h2.update(chunk)
        assert h1.digest() == h2.digest(), "data mismatch"
        print(
            f"{args.size_mib} MiB object, {args.k}+{args.m}, {args.block_kib} KiB stripes, "
            f"{args.piece_kib} KiB writes, fsync={'off' if args.no_fsync else 'on'}, "
            f"hash={layout.hash}, ec={layout.ec}\n"
            f"  write: {args.size_mib / t_write:7.1f} MiB/s\n"
            f"  read:  {args.size_mib / t_read:7.1f} MiB/s\n{concurrent}{degraded}"
            f"  peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10} MiB\n",
            end="",
        )
    finally:
        await storage.close()
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
