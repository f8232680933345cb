#!/usr/bin/env python3
"""What an SSE-S3 GET costs the server, and where it goes (docs/benchmarks.md).

    python bench/sse_get.py local
    python bench/sse_get.py serve --access-key KEY --secret-key SECRET \
        [--rounds 8] [--gets 6] NAME=http://127.0.0.1:PORT=PID [NAME=URL=PID ...]

``local`` (no server) times, in CPU seconds per GiB of plaintext: AES-256-GCM alone on
64 KiB packages (the floor: ``AESGCM.decrypt_into`` on this CPU, no Python around it), and
``s3gw.core.sse.decrypt_range`` over ciphertext cut as the storage hands it over (views of
174,843-byte fragments, six per 1 MiB stripe), against passing the same views through.

``serve`` puts one plain and one SSE-S3 64 MiB object on each server (bucket default
encryption; the servers need a KMS), then per round and per server GETs the plain one
``--gets`` times and the encrypted one as often, and reports per pair the server's CPU
seconds per GiB (every thread, from /proc/PID/task/*/schedstat, nanoseconds), those of its
event-loop thread alone (where the decryption runs), MiB/s, and the cost 1 - SSE/plain.
Several servers (e.g. two versions of the code side by side) are measured round-robin, so
the machine's other load falls on all of them alike. Loopback endpoints only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.append(os.path.dirname(HERE))  # s3gw from PYTHONPATH first (another version of the code)

SIZE = 64 << 20
GiB = 1 << 30


def local() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from s3gw.core import sse as S

    key, iv = os.urandom(32), os.urandom(32)
    plain = os.urandom(SIZE)
    sealed = S.encrypt_all(key, iv, 0, plain)
    n = SIZE // S.PACKAGE
    aead = AESGCM(S.package_key(key, iv, 0))
    args = [(S._nonce(i), S.DOMAIN + bytes(4) + i.to_bytes(8, "big") + bytes([i == n - 1])) for i in range(n)]
    view = memoryview(sealed)
    packages = [view[i * S.SEALED_PACKAGE : (i + 1) * S.SEALED_PACKAGE] for i in range(n)]

    def floor() -> None:
        dst = memoryview(bytearray(S.PACKAGE))
        for (nonce, aad), p in zip(args, packages):
            aead.decrypt_into(nonce, p, aad, dst)

    def fragments(buf: bytes) -> list[memoryview]:
        mv, out = memoryview(buf), []
        for s in range(0, len(buf), 1 << 20):
            stripe = mv[s : s + (1 << 20)]
            out += [stripe[f : f + 174_843] for f in range(0, len(stripe), 174_843)]
        return out

    cipher_views, plain_views = fragments(sealed), fragments(plain)

    async def source(views: list[memoryview]) -> AsyncIterator[memoryview]:
        for v in views:
            yield v

    async def passthrough() -> None:
        async for _ in source(plain_views):
            pass

    async def opened() -> None:
        async for _ in S.decrypt_range(source(cipher_views), key, iv, 0, SIZE, 0, SIZE):
            pass

    def cpu(fn: Callable[[], object], reps: int = 7) -> float:
        best = float("inf")
        for _ in range(reps):
            t = time.process_time()
            fn()
            best = min(best, time.process_time() - t)
        return best * GiB / SIZE

    f = cpu(floor)
    p = cpu(lambda: asyncio.run(passthrough()))
    d = cpu(lambda: asyncio.run(opened()))
    print(f"AES-256-GCM alone (64 KiB packages): {f:.3f} CPU s/GiB ({1 / f:.1f} GiB/s on one core)")
    print(f"decrypt_range over storage fragments: {d:.3f} CPU s/GiB (pass-through {p:.3f}); beyond AES: {d - f:.3f}")


async def serve(args: argparse.Namespace) -> None:
    import aiohttp
    from s3bench import Signer, make_bucket

    servers = []
    for spec in args.servers:
        name, url, pid = spec.split("=")
        servers.append((name, url, int(pid), Signer(args.access_key, args.secret_key, "us-east-1", url.split("//")[1])))

    def cpu(pid: int, tids: list[str] | None = None) -> float:
        total = 0
        for tid in tids or os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except OSError:  # a thread that ended meanwhile
                pass
        return total / 1e9

    async def get(sess: aiohttp.ClientSession, url: str, signer: Signer, bucket: str) -> None:
        path = f"/{bucket}/o"
        async with sess.get(url + path, headers=signer.headers("GET", path)) as r:
            n = 0
            async for chunk in r.content.iter_chunked(1 << 20):
                n += len(chunk)
            if r.status != 200 or n != SIZE:
                raise RuntimeError(f"GET {url}{path}: {r.status}, {n} bytes")

    body = os.urandom(SIZE)
    res: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    async with aiohttp.ClientSession() as sess:
        for _, url, _, signer in servers:
            for bucket, sse in (("sse-get-plain", ""), ("sse-get-sse", "AES256")):
                await make_bucket(sess, url, signer, bucket, sse)  # says so when it exists already
                async with sess.put(f"{url}/{bucket}/o", data=body, headers=signer.headers("PUT", f"/{bucket}/o")) as r:
                    if r.status != 200:
                        raise RuntimeError(f"PUT: {r.status} {await r.text()}")
                await get(sess, url, signer, bucket)
        for _ in range(args.rounds):
            for name, url, pid, signer in servers:
                for bucket in ("sse-get-plain", "sse-get-sse"):
                    c0, l0, t0 = cpu(pid), cpu(pid, [str(pid)]), time.monotonic()
                    for _ in range(args.gets):
                        await get(sess, url, signer, bucket)
                    c1, l1, t1 = cpu(pid), cpu(pid, [str(pid)]), time.monotonic()
                    gib = args.gets * SIZE / GiB
                    res.setdefault((name, bucket), []).append(
                        ((c1 - c0) / gib, (l1 - l0) / gib, gib * 1024 / (t1 - t0))
                    )
    med = statistics.median
    for name, *_ in servers:
        p, e = res[(name, "sse-get-plain")], res[(name, "sse-get-sse")]
        cost = [1 - b[2] / a[2] for a, b in zip(p, e)]
        print(
            f"{name}: server CPU s/GiB plain {med(x[0] for x in p):.3f} -> SSE-S3 {med(x[0] for x in e):.3f} "
            f"(per pair {' '.join(f'{b[0] - a[0]:+.2f}' for a, b in zip(p, e))}); event-loop thread "
            f"{med(x[1] for x in p):.3f} -> {med(x[1] for x in e):.3f}; MiB/s {med(x[2] for x in p):.0f} -> "
            f"{med(x[2] for x in e):.0f}; cost per pair {' '.join(f'{100 * c:.0f}%' for c in cost)} "
            f"(median {100 * med(cost):.0f}%)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    sub.add_parser("local")
    sv = sub.add_parser("serve")
    sv.add_argument("--access-key", default=os.environ.get("AWS_ACCESS_KEY_ID", "minioadmin"))
    sv.add_argument("--secret-key", default=os.environ.get("AWS_SECRET_ACCESS_KEY", "minioadmin"))
    sv.add_argument("--rounds", type=int, default=8)
    sv.add_argument("--gets", type=int, default=6, help="GETs of each object per round")
    sv.add_argument("servers", nargs="+", metavar="NAME=URL=PID")
    args = ap.parse_args()
    if args.mode == "local":
        local()
    else:
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
