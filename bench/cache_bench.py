#!/usr/bin/env python3
"""What the metadata cache changes for HEAD and GET of small objects.

    python bench/cache_bench.py [--seconds 6] [--concurrency 1,8] [--objects 200] [--size 1KiB]

Starts a throwaway PostgreSQL and Redis (tests/services.py, Debian's packages)
and, in turn, one gateway per setup below (embedded drives, one process), fills
a bucket with small objects (stored inline in the metadata row, so a GET is a
metadata lookup plus the body), then HEADs and GETs random ones for a fixed
time at each concurrency, from one asyncio client process (bench/s3bench.py's
signer). Client and server share the machine's cores.

Setups: SQLite with and without the in-process cache; PostgreSQL without a
cache, with Redis, with the in-process cache.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import aiohttp
import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

from s3bench import Signer, parse_size  # type: ignore  # noqa: E402

from tests.services import start_postgres, start_redis  # noqa: E402

USER, PASSWORD = "bench-user", "bench-password-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setups(pg, redis) -> dict[str, dict]:
    pgdb = {"host": pg.host, "port": pg.port, "user": pg.user, "timeout": "10s"}
    return {
        "sqlite, no cache": {"cache": {"memory": {"enabled": "false"}}},
        "sqlite, in-process cache": {"cache": {"memory": {"enabled": "true"}}},
        "postgres, no cache": {"database": pgdb, "cache": {"memory": {"enabled": "false"}}},
        "postgres + redis": {"database": pgdb, "cache": {"redis": {"endpoints": [redis.endpoint]}}},
        "postgres, in-process cache": {"database": pgdb, "cache": {"memory": {"enabled": "true"}}},
    }


async def run_load(
    url: str, signer: Signer, bucket: str, keys: list[str], method: str, seconds: float, concurrency: int
) -> tuple[float, float, float]:
    lat: list[float] = []
    stop = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def worker(seed: int) -> None:
            rnd = random.Random(seed)
            while time.monotonic() < stop:
                k = rnd.choice(keys)
                path = f"/{bucket}/{k}"
                t0 = time.perf_counter()
                async with http.request(method, url + path, headers=signer.headers(method, path)) as r:
                    await r.read()
                    assert r.status == 200, r.status
                lat.append(time.perf_counter() - t0)

        t0 = time.monotonic()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        took = time.monotonic() - t0
    lat.sort()
    return len(lat) / took, statistics.median(lat) * 1000, lat[int(len(lat) * 0.99)] * 1000


async def fill(url: str, signer: Signer, bucket: str, n: int, size: int) -> list[str]:
    keys = [f"obj/{i:05d}" for i in range(n)]
    body = os.urandom(size)
    async with aiohttp.ClientSession() as http:
        async with http.put(url + f"/{bucket}", headers=signer.headers("PUT", f"/{bucket}")) as r:
            assert r.status == 200, await r.text()
        for k in keys:
            path = f"/{bucket}/{k}"
            async with http.put(url + path, data=body, headers=signer.headers("PUT", path)) as r:
                assert r.status == 200, await r.text()
    return keys


async def bench_setup(name: str, extra: dict, pg, redis, args) -> list[tuple]:
    tmp = tempfile.mkdtemp(prefix="s3gw-cachebench-")
    port = free_port()
    cfg = {"server": {"host": "127.0.0.1", "port": port, "data": tmp}, **extra}
    if "database" in extra:
        cfg["database"] = {**extra["database"], "name": pg.new_database("cb")}
    path = os.path.join(tmp, "config.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    env = {
        **os.environ,
        "S3GW_ROOT_USER": USER,
        "S3GW_ROOT_PASSWORD": PASSWORD,
        "S3GW_DB_PASSWORD": pg.password,
        "S3GW_REDIS_PASSWORD": redis.password,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "s3gw.cli", "serve", "--config", path, "--log-level", "WARNING"],
        env=env,
        stdout=open(os.path.join(tmp, "log"), "w"),
        stderr=subprocess.STDOUT,
    )
    out = []
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError(open(os.path.join(tmp, "log")).read()) from None
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}"
        signer = Signer(USER, PASSWORD, "us-east-1", f"127.0.0.1:{port}")
        keys = await fill(url, signer, "bench", args.objects, parse_size(args.size))
        for method in ("HEAD", "GET"):
            for c in args.concurrency:
                await run_load(url, signer, "bench", keys, method, 1.0, c)  # warm-up (fills the cache)
                rps, p50, p99 = await run_load(url, signer, "bench", keys, method, args.seconds, c)
                out.append((name, method, c, rps, p50, p99))
                print(
                    f"{name:28} {method:4} c={c:<3} {rps:8.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms",
                    file=sys.stderr,
                )
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--concurrency", default="1,8")
    ap.add_argument("--objects", type=int, default=200)
    ap.add_argument("--size", default="1KiB")
    ap.add_argument("--only", default="", help="semicolon-separated setup names (default: all)")
    args = ap.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    pg, redis = start_postgres(), start_redis()
    rows = []
    try:
        for name, extra in setups(pg, redis).items():
            if args.only and name not in args.only.split(";"):
                continue
            rows += await bench_setup(name, extra, pg, redis, args)
    finally:
        pg.destroy()
        shutil.rmtree(os.path.dirname(pg.datadir), ignore_errors=True)
        redis.stop()
        shutil.rmtree(redis.datadir, ignore_errors=True)
    print("| setup | op | concurrency | req/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|")
    for name, method, c, rps, p50, p99 in rows:
        print(f"| {name} | {method} | {c} | {rps:.0f} | {p50:.2f} | {p99:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
