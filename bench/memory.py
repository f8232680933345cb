#!/usr/bin/env python3
"""Peak gateway memory during a large streamed PUT and GET (and a multipart upload).

    python bench/memory.py [--size 2GiB] [--multipart 1GiB] [--workers N]

Starts its own s3gw on a free loopback port and a temporary data directory
(the default serve, or ``--workers N`` processes), warms every worker up,
then streams a PUT of --size bytes (generated, never held in memory by the
client either), GETs it back, and runs a --multipart upload in
64 MiB parts. After each step it prints the peak RSS (VmHWM) of the gateway's
largest process and the largest growth of one process over its warmed-up
baseline (the supervisor of several workers counts as one of them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

import aiohttp

sys.path.insert(0, os.path.dirname(__file__))
from s3bench import Signer, parse_size  # noqa: E402

USER, SECRET = "bench-user", "bench-secret-0123456789"


def hwm_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024


def processes(pid: int) -> list[int]:
    """The server process and its children (the worker processes)."""
    out = [pid]
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        out += [int(x) for x in f.read().split()]
    return out


def peaks(pids: list[int]) -> dict[int, float]:
    out = {}
    for p in pids:
        try:
            out[p] = hwm_mib(p)
        except OSError:  # (a worker that went away)
            pass
    return out


def report(base: dict[int, float], pids: list[int]) -> str:
    now = peaks(pids)
    growth = max(now[p] - base.get(p, now[p]) for p in now)
    return f"peak RSS {max(now.values()):.0f} MiB (+{growth:.0f} in one process)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def body(total: int, chunk: bytes):
    sent = 0
    while sent < total:
        piece = chunk[: min(len(chunk), total - sent)]
        sent += len(piece)
        yield piece


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    data = tempfile.mkdtemp(prefix="s3gw-mem-")
    env = {**os.environ, "S3GW_ROOT_USER": USER, "S3GW_ROOT_PASSWORD": SECRET}
    workers = ["--workers", args.workers] if args.workers else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "s3gw.cli", "serve", "--data", data, "--address", f"127.0.0.1:{port}", *workers],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    signer = Signer(USER, SECRET, "us-east-1", f"127.0.0.1:{port}")
    chunk = os.urandom(1 << 20)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as s:

            async def put(path: str, size: int, query: str = "") -> aiohttp.ClientResponse:
                h = signer.headers("PUT", path, query)
                h["Content-Length"] = str(size)
                url = base + path + (f"?{query}" if query else "")
                async with s.put(url, data=body(size, chunk), headers=h) as r:
                    assert r.status == 200, await r.text()
                    return r

            async with s.put(base + "/mem", headers=signer.headers("PUT", "/mem")) as r:
                assert r.status == 200

            async def warm(i: int) -> None:
                # a PUT and a GET of 16 MiB each on connections of their own: every worker warms up
                async with aiohttp.ClientSession() as own:
                    h = signer.headers("PUT", f"/mem/warm{i}")
                    h["Content-Length"] = str(16 << 20)
                    async with own.put(f"{base}/mem/warm{i}", data=body(16 << 20, chunk), headers=h) as r:
                        assert r.status == 200, await r.text()
                    async with own.get(f"{base}/mem/warm{i}", headers=signer.headers("GET", f"/mem/warm{i}")) as r:
                        await r.read()

            await asyncio.gather(*(warm(i) for i in range(8)))
            pids = processes(proc.pid)
            baseline = peaks(pids)
            print(
                f"{len(pids)} server processes; baseline peak RSS after warm-up: "
                + ", ".join(f"{v:.0f}" for v in baseline.values())
                + " MiB"
            )
            size = parse_size(args.size)
            t = time.monotonic()
            await put("/mem/big", size)
            print(f"PUT {args.size}: {size / 2**20 / (time.monotonic() - t):.0f} MiB/s, {report(baseline, pids)}")
            t = time.monotonic()
            n = 0
            async with s.get(base + "/mem/big", headers=signer.headers("GET", "/mem/big")) as r:
                async for piece in r.content.iter_chunked(1 << 20):
                    n += len(piece)
            assert n == size
            print(f"GET {args.size}: {size / 2**20 / (time.monotonic() - t):.0f} MiB/s, {report(baseline, pids)}")
            mp = parse_size(args.multipart)
            if mp:
                async with s.post(base + "/mem/mp?uploads", headers=signer.headers("POST", "/mem/mp", "uploads=")) as r:
                    uid = re.search(r"<UploadId>(.*?)</UploadId>", await r.text()).group(1)
                part, parts, left, n = 64 << 20, [], mp, 1
                t = time.monotonic()
                while left > 0:
                    sz = min(part, left)
                    q = f"partNumber={n}&uploadId={uid}"
                    h = signer.headers("PUT", "/mem/mp", q)
                    h["Content-Length"] = str(sz)
                    async with s.put(f"{base}/mem/mp?{q}", data=body(sz, chunk), headers=h) as r:
                        assert r.status == 200, await r.text()
                        parts.append((n, r.headers["ETag"]))
                    left -= sz
                    n += 1
                xml = (
                    "<CompleteMultipartUpload>"
                    + "".join(f"<Part><PartNumber>{k}</PartNumber><ETag>{e}</ETag></Part>" for k, e in parts)
                    + "</CompleteMultipartUpload>"
                )
                q = f"uploadId={uid}"
                async with s.post(
                    f"{base}/mem/mp?{q}", data=xml.encode(), headers=signer.headers("POST", "/mem/mp", q)
                ) as r:
                    assert r.status == 200, await r.text()
                print(
                    f"multipart {args.multipart} in {len(parts)} parts: "
                    f"{mp / 2**20 / (time.monotonic() - t):.0f} MiB/s, {report(baseline, pids)}"
                )
    finally:
        proc.terminate()
        proc.wait()
        subprocess.run(["rm", "-rf", data])


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="2GiB")
    ap.add_argument("--multipart", default="1GiB")
    ap.add_argument("--workers", default="", help="serve --workers (default: the server's default)")
    asyncio.run(run(ap.parse_args()))
