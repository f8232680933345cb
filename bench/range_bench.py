#!/usr/bin/env python3
"""Range GET latency on a big object, encrypted (SSE-S3) against plain, side by side.

    python bench/range_bench.py --endpoint http://127.0.0.1:8080 --access-key KEY --secret-key SECRET \
        [--size 1GiB] [--range 1MiB] [--count 200] [--sse AES256]

It makes two buckets, one plain and one with default encryption ``--sse`` (the
endpoint needs a KMS: docs/encryption.md), PUTs the same ``--size`` object into
each, then GETs ``--count`` ranges of ``--range`` bytes at random offsets from
both, alternating plain and encrypted with the same offsets, one request at a
time, and prints the latency (request sent to last byte read) percentiles of each.
Every range's bytes are checked against what was written. Requests are signed
as in s3bench.py (UNSIGNED-PAYLOAD); only loopback endpoints are meant here.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
from s3bench import Signer, make_bucket, parse_size

BLOCK = 16 << 20  # the object is this much random data, repeated


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of ``values`` (p in 0..100).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50), percentile([1.0, 2.0, 3.0, 4.0], 99)
    (2.0, 4.0)
    """
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def expected(block: bytes, offset: int, length: int) -> bytes:
    """Bytes ``[offset, offset+length)`` of ``block`` repeated."""
    out = bytearray()
    while length > 0:
        pos = offset % len(block)
        piece = block[pos : pos + length]
        out += piece
        offset += len(piece)
        length -= len(piece)
    return bytes(out)


async def body(block: bytes, size: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < size:
        piece = block[: min(len(block), size - sent)]
        sent += len(piece)
        yield piece


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--access-key", default=os.environ.get("AWS_ACCESS_KEY_ID", "minioadmin"))
    ap.add_argument("--secret-key", default=os.environ.get("AWS_SECRET_ACCESS_KEY", "minioadmin"))
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--size", default="1GiB", help="object size")
    ap.add_argument("--range", default="1MiB", help="bytes per Range GET")
    ap.add_argument("--count", type=int, default=200, help="ranges read from each object")
    ap.add_argument("--sse", default="AES256", help="the encrypted bucket's default encryption: AES256 or aws:kms")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    size, span = parse_size(args.size), parse_size(args.range)
    host = urlsplit(args.endpoint).netloc
    signer = Signer(args.access_key, args.secret_key, args.region, host)
    block = os.urandom(min(BLOCK, size))
    name = f"range-{uuid.uuid4().hex[:8]}"
    buckets = {"plain": name, args.sse: name + "-sse"}
    timeout = aiohttp.ClientTimeout(total=None, sock_read=300)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for label, bucket in buckets.items():
            if not await make_bucket(session, args.endpoint, signer, bucket, "" if label == "plain" else args.sse):
                return 1
            t0 = time.monotonic()
            hdrs = {**signer.headers("PUT", f"/{bucket}/big"), "Content-Length": str(size)}
            async with session.put(f"{args.endpoint}/{bucket}/big", data=body(block, size), headers=hdrs) as r:
                if r.status != 200:
                    print(f"PUT {r.status}: {await r.text()}", file=sys.stderr)
                    return 1
                sse = r.headers.get("x-amz-server-side-encryption", "none")
            secs = time.monotonic() - t0
            print(f"PUT {bucket}/big: {size / 2**20:.0f} MiB in {secs:.1f} s, encryption {sse}")

        async def get(bucket: str, offset: int) -> float:
            path = f"/{bucket}/big"
            hdrs = {**signer.headers("GET", path), "Range": f"bytes={offset}-{offset + span - 1}"}
            t0 = time.perf_counter()
            async with session.get(args.endpoint + path, headers=hdrs) as r:
                data = await r.read()
            took = time.perf_counter() - t0
            if r.status != 206 or data != expected(block, offset, span):
                raise RuntimeError(f"GET {bucket} range at {offset}: {r.status}, {len(data)} bytes, wrong content")
            return took * 1000

        rng = random.Random(args.seed)
        for _ in range(3):  # warm-up (connection, key caches)
            for bucket in buckets.values():
                await get(bucket, rng.randrange(0, size - span + 1))
        times: dict[str, list[float]] = {label: [] for label in buckets}
        for i in range(args.count):
            offset = rng.randrange(0, size - span + 1)
            order = list(buckets.items()) if i % 2 == 0 else list(buckets.items())[::-1]
            for label, bucket in order:
                times[label].append(await get(bucket, offset))
        print(
            f"{args.count} ranges of {span} bytes at random offsets in a {size / 2**20:.0f} MiB object, one at a time"
        )
        print(f"{'object':8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
        for label, values in times.items():
            p50, p90, p99 = (percentile(values, p) for p in (50, 90, 99))
            print(f"{label:8} {p50:>8.2f} {p90:>8.2f} {p99:>8.2f} {statistics.fmean(values):>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
