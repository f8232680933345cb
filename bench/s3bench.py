#!/usr/bin/env python3
"""PUT and GET throughput against a running S3 endpoint (s3gw or MinIO, side by side).

    python bench/s3bench.py --endpoint http://127.0.0.1:8080 --access-key KEY --secret-key SECRET \
        [--sizes 4KiB,1MiB,64MiB] [--concurrency 1,4,16] [--seconds 10] [--max-bytes 1GiB] [--sse AES256]

For every size and concurrency level it PUTs objects for a fixed time (or up to
--max-bytes), then GETs them back, and prints objects/s and MiB/s. Requests are
SigV4-signed with UNSIGNED-PAYLOAD (what SDKs do over TLS), from one asyncio
process with aiohttp, so the client costs as little CPU as possible: on a small
machine the client still shares the cores with the server, and the figures say
so. Only loopback endpoints are meant here. ``--sse AES256`` (or ``aws:kms``)
sets the bench bucket's default encryption first, so every PUT is encrypted and
every GET decrypted (the endpoint needs a KMS: docs/encryption.md).
``--get-passes N`` reads the objects just written N times over (a longer GET
phase than one pass over what a few seconds of PUTs wrote).
``--server-pid PID`` (a server on this machine) adds the server's CPU seconds per
GiB moved, which other work on a shared machine disturbs far less than MiB/s.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import hmac
import os
import sys
import time
import uuid
from urllib.parse import quote, urlsplit

import aiohttp

UNITS = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "B": 1}


def parse_size(s: str) -> int:
    for unit, mult in sorted(UNITS.items(), key=lambda u: -len(u[0])):
        if s.endswith(unit):
            return int(float(s[: -len(unit)]) * mult)
    return int(s)


class Signer:
    def __init__(self, access: str, secret: str, region: str, host: str) -> None:
        self.access, self.secret, self.region, self.host = access, secret, region, host
        self._keys: dict[str, bytes] = {}

    def _key(self, date: str) -> bytes:
        if date not in self._keys:
            k = hmac.new(("AWS4" + self.secret).encode(), date.encode(), hashlib.sha256).digest()
            for part in (self.region, "s3", "aws4_request"):
                k = hmac.new(k, part.encode(), hashlib.sha256).digest()
            self._keys[date] = k
        return self._keys[date]

    def headers(self, method: str, path: str, query: str = "") -> dict[str, str]:
        now = dt.datetime.now(dt.UTC)
        amz = now.strftime("%Y%m%dT%H%M%SZ")
        date = amz[:8]
        canonical = "\n".join(
            [
                method,
                quote(path, safe="/-_.~"),
                query,
                f"host:{self.host}\nx-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:{amz}\n",
                "host;x-amz-content-sha256;x-amz-date",
                "UNSIGNED-PAYLOAD",
            ]
        )
        scope = f"{date}/{self.region}/s3/aws4_request"
        sts = f"AWS4-HMAC-SHA256\n{amz}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        sig = hmac.new(self._key(date), sts.encode(), hashlib.sha256).hexdigest()
        return {
            "x-amz-date": amz,
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
            "Authorization": f"AWS4-HMAC-SHA256 Credential={self.access}/{scope}, "
            f"SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={sig}",
        }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux /proc), its threads included."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def make_bucket(session: aiohttp.ClientSession, endpoint: str, signer: Signer, bucket: str, sse: str) -> bool:
    """Create ``bucket``, with ``sse`` (AES256 / aws:kms) as its default encryption when given;
    False (the reason printed) when the server refuses."""
    async with session.put(f"{endpoint}/{bucket}", headers=signer.headers("PUT", f"/{bucket}")) as r:
        if r.status != 200:
            print(f"cannot create bucket: {r.status} {await r.text()}", file=sys.stderr)
            return False
    if sse:
        doc = (
            '<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule>'
            f"<ApplyServerSideEncryptionByDefault><SSEAlgorithm>{sse}</SSEAlgorithm>"
            "</ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"
        ).encode()
        hdrs = signer.headers("PUT", f"/{bucket}", "encryption=")
        async with session.put(f"{endpoint}/{bucket}?encryption=", data=doc, headers=hdrs) as r:
            if r.status != 200:
                print(f"cannot set the bucket's encryption: {r.status} {await r.text()}", file=sys.stderr)
                return False
    return True


async def run_phase(
    session: aiohttp.ClientSession,
    signer: Signer,
    base: str,
    bucket: str,
    method: str,
    size: int,
    keys: list[str],
    concurrency: int,
    seconds: float,
    payload: bytes,
) -> tuple[int, float]:
    """Issue requests from ``concurrency`` workers; PUT makes new keys, GET cycles through ``keys``."""
    deadline = time.monotonic() + seconds
    done = 0
    started = time.monotonic()
    max_objects = len(keys) if method == "GET" else None
    lock = asyncio.Lock()
    next_index = 0

    async def worker() -> None:
        nonlocal done, next_index
        while time.monotonic() < deadline:
            async with lock:
                i = next_index
                next_index += 1
            if max_objects is not None:
                if i >= max_objects:
                    return
                key = keys[i]
            else:
                if i >= len(keys):
                    return
                key = keys[i]
            path = f"/{bucket}/{key}"
            hdrs = signer.headers(method, path)
            if method == "PUT":
                async with session.put(base + path, data=payload, headers=hdrs) as r:
                    if r.status != 200:
                        raise RuntimeError(f"PUT {r.status}: {await r.text()}")
                    await r.read()
            else:
                async with session.get(base + path, headers=hdrs) as r:
                    if r.status != 200:
                        raise RuntimeError(f"GET {r.status}: {await r.text()}")
                    n = 0
                    async for chunk in r.content.iter_chunked(1 << 20):
                        n += len(chunk)
                    if n != size:
                        raise RuntimeError(f"short GET: {n} of {size}")
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, time.monotonic() - started


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--access-key", default=os.environ.get("AWS_ACCESS_KEY_ID", "minioadmin"))
    ap.add_argument("--secret-key", default=os.environ.get("AWS_SECRET_ACCESS_KEY", "minioadmin"))
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--sizes", default="4KiB,1MiB,64MiB")
    ap.add_argument("--concurrency", default="1,4,16")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--max-bytes", default="2GiB", help="cap on data written per (size, concurrency) run")
    ap.add_argument("--sse", default="", help="bucket default encryption: AES256 (SSE-S3) or aws:kms")
    ap.add_argument("--get-passes", type=int, default=1, help="GET the objects just PUT this many times over")
    ap.add_argument("--server-pid", type=int, default=0, help="also report this server process's CPU s/GiB")
    args = ap.parse_args()

    host = urlsplit(args.endpoint).netloc
    signer = Signer(args.access_key, args.secret_key, args.region, host)
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    timeout = aiohttp.ClientTimeout(total=None, sock_read=300)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=256)) as session:
        if not await make_bucket(session, args.endpoint, signer, bucket, args.sse):
            return 1
        print(f"endpoint {args.endpoint}  bucket {bucket}" + (f"  encryption {args.sse}" if args.sse else ""))
        cpu_col = f" {'cpu s/GiB':>9}" if args.server_pid else ""
        print(f"{'op':4} {'size':>7} {'conc':>4} {'objects':>8} {'secs':>6} {'obj/s':>9} {'MiB/s':>9}{cpu_col}")

        def line(op: str, size_s: str, conc: int, n: int, secs: float, size: int, cpu0: float) -> str:
            text = f"{op:4} {size_s:>7} {conc:>4} {n:>8} {secs:>6.1f} {n / secs:>9.1f} {n * size / secs / 2**20:>9.1f}"
            if args.server_pid and n:
                text += f" {(cpu_seconds(args.server_pid) - cpu0) / (n * size / 2**30):>9.2f}"
            return text

        def cpu_now() -> float:
            return cpu_seconds(args.server_pid) if args.server_pid else 0.0

        cap = parse_size(args.max_bytes)
        for size_s in args.sizes.split(","):
            size = parse_size(size_s)
            payload = os.urandom(size)
            for conc in (int(c) for c in args.concurrency.split(",")):
                n_max = max(conc, min(cap // max(size, 1), 200_000))
                keys = [f"{size_s}/{conc}/{i:08d}" for i in range(n_max)]
                cpu0 = cpu_now()
                n, secs = await run_phase(
                    session, signer, args.endpoint, bucket, "PUT", size, keys, conc, args.seconds, payload
                )
                print(line("PUT", size_s, conc, n, secs, size, cpu0))
                cpu0 = cpu_now()
                n, secs = await run_phase(
                    session,
                    signer,
                    args.endpoint,
                    bucket,
                    "GET",
                    size,
                    keys[:n] * args.get_passes,
                    conc,
                    args.seconds,
                    payload,
                )
                print(line("GET", size_s, conc, n, secs, size, cpu0))
                sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
