#!/usr/bin/env python3
"""Listing cost against bucket size, SQLite and PostgreSQL: a page should cost what
its length costs, never what the bucket holds; and, with ``--cases writes``, what
the write transactions (versioning, delete markers, multipart) cost.

    python bench/meta_bench.py [--sizes 10000,1000000] [--backends sqlite,postgres] [--repeat 15] [--http]
    python bench/meta_bench.py --cases writes [--ops 300] [--backends sqlite,postgres]

For each bucket size, one bucket is filled directly in the store (bulk insert /
COPY, through the schema the migrations made), keys ``dNNNN/oNNNNNNN`` (1,000
"directories" of 1,000 keys for 1M; 10 of them for 10k). Then pages of 1,000
are timed through ``MetaStore.list_objects`` (the shared listing walk the
gateway uses), median of ``--repeat`` runs:

- ``flat``: no delimiter, at the start, the middle (marker) and near the end;
- ``dir``: prefix ``d0005/`` with delimiter ``/`` (1,000 keys of one directory);
- ``roll-up``: delimiter ``/`` at the root, each common prefix a skip to the
  next directory: over the same bucket (n/1,000 prefixes) and over a second
  bucket ``wide`` of n keys in always 1,000 directories (a page of 1,000
  prefixes whatever n);

and with ``--http`` the same flat and dir pages as ListObjectsV2 requests to a
gateway started on that store (XML included).

``--cases writes`` times, through the public MetaStore methods only (so the same
script measures any version of the store), ``--ops`` calls of each transaction
one after the other (median and p90 per call, in ms) and ``--ops`` PUTs of
distinct keys issued 16 at a time (calls per second): new keys, overwriting the
null version (the old one goes to the GC queue), new versions, delete markers,
deleting a version, an info update by function, multipart create + 2 parts +
complete and create + part + abort, and ``get_version``.

PostgreSQL: a throwaway server from Debian's package (tests/services.py), or
``--dsn`` for one of yours (the bench creates and drops its own tables there).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from s3gw.common.records import ObjectInfo, ObjectLayout, Part, ShardSet  # noqa: E402
from s3gw.meta.base import MetaStore  # noqa: E402
from s3gw.meta.model import BucketRecord, PartRecord, UploadRecord, VersionRecord  # noqa: E402
from s3gw.meta.postgres import PostgresMeta  # noqa: E402
from s3gw.meta.sqlite import SqliteMeta  # noqa: E402

BUCKET = "bench"
ETAG = "d41d8cd98f00b204e9800998ecf8427e"


WIDE = "wide"


def key(i: int) -> bytes:
    """Bucket ``bench``: directories of 1,000 keys (d0000/ ... d0999/ for 1M)."""
    return f"d{i // 1000:04d}/o{i:07d}".encode()


def wide_key(i: int) -> bytes:
    """Bucket ``wide``: always 1,000 directories (of 10 keys for 10k, 1,000 for 1M)."""
    return f"d{i % 1000:04d}/o{i:07d}".encode()


def rows(n: int, bucket: str = BUCKET, keyfn=key):
    mtime = time.time()
    for i in range(n):
        yield (bucket, keyfn(i), "null", 1, 1, 0, 1024, ETAG, mtime, '{"ct":"binary/octet-stream"}', None, None)


COLS = [
    "bucket",
    "key",
    "version_id",
    "seq",
    "is_latest",
    "delete_marker",
    "size",
    "etag",
    "mtime",
    "info",
    "layout",
    "inline_data",
]


async def fill(store: MetaStore, n: int, bucket: str = BUCKET, keyfn=key) -> float:
    t0 = time.perf_counter()
    await store.create_bucket(BucketRecord(bucket, time.time()))
    if isinstance(store, SqliteMeta):

        def load() -> None:
            db = store._conn()
            db.execute("BEGIN")
            db.executemany(
                f"INSERT INTO versions ({', '.join(COLS)}) VALUES ({','.join('?' * 12)})", rows(n, bucket, keyfn)
            )
            db.execute("COMMIT")
            db.execute("ANALYZE")

        await store._run(load)
    else:

        async def load(c) -> None:
            batch: list[tuple] = []
            for r in rows(n, bucket, keyfn):
                batch.append(r)
                if len(batch) == 100_000:
                    await c.copy_records_to_table("versions", records=batch, columns=COLS)
                    batch = []
            if batch:
                await c.copy_records_to_table("versions", records=batch, columns=COLS)
            await c.execute("ANALYZE versions")

        pool = store._p()
        async with pool.acquire() as c:
            await load(c)
    return time.perf_counter() - t0


async def timed(fn, repeat: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        page = await fn()
        times.append(time.perf_counter() - t0)
        count = len(page.entries) + len(page.prefixes)
    return statistics.median(times) * 1000, count


async def bench_store(store: MetaStore, n: int, repeat: int) -> dict[str, tuple[float, int]]:
    mid, end = key(n // 2).decode(), key(n - 1500).decode()
    cases = {
        "flat, start": lambda: store.list_objects(BUCKET, "", "", "", 1000),
        "flat, middle": lambda: store.list_objects(BUCKET, "", "", mid, 1000),
        "flat, near end": lambda: store.list_objects(BUCKET, "", "", end, 1000),
        "dir d0005/": lambda: store.list_objects(BUCKET, "d0005/", "/", "", 1000),
        "roll-up / (dirs of 1000)": lambda: store.list_objects(BUCKET, "", "/", "", 1000),
        "roll-up / (1000 dirs)": lambda: store.list_objects(WIDE, "", "/", "", 1000),
    }
    out = {}
    for name, fn in cases.items():
        await fn()  # warm
        out[name] = await timed(fn, repeat)
    return out


def _layout(i: int) -> ShardSet:
    """A small erasure-coded shard set (what GC queues when a version goes)."""
    return ShardSet(
        f"{i:032x}", 1024, 6, 3, "isa_l_rs_vand", 1 << 20, 176, 176, "blake3", tuple(f"drive{j}" for j in range(9))
    )


async def bench_writes(store: MetaStore, ops: int) -> dict[str, tuple[float, float, float]]:
    """(median ms, p90 ms, calls/s) per write transaction; see the module doc."""
    now = time.time()
    await store.create_bucket(BucketRecord("w-plain", now))
    await store.create_bucket(BucketRecord("w-ver", now, versioning="Enabled"))

    def rec(bucket: str, i: int, vid: str = "null") -> VersionRecord:
        return VersionRecord(
            bucket=bucket,
            key=f"obj/{i:06d}",
            version_id=vid,
            mtime=time.time(),
            size=1024,
            etag=ETAG,
            info=ObjectInfo(content_type="binary/octet-stream"),
            layout=ObjectLayout.single(_layout(i)),
        )

    def marker(bucket: str, i: int) -> VersionRecord:
        return VersionRecord(
            bucket=bucket, key=f"obj/{i:06d}", version_id=f"m{i:031x}", mtime=time.time(), delete_marker=True
        )

    async def multipart(i: int, abort: bool) -> None:
        uid = f"u{i:031x}"
        key = f"mp/{i:06d}"
        await store.create_upload(UploadRecord(uid, "w-plain", key, time.time(), ObjectInfo(content_type="x")))
        for n in (1, 2)[: 1 if abort else 2]:
            await store.put_part(PartRecord(uid, n, 1024, ETAG, time.time(), _layout(i * 10 + n)))
        if abort:
            await store.abort_upload("w-plain", key, uid)
        else:
            parts = ObjectLayout.multipart(
                [Part(1, 1024, ETAG, _layout(i * 10 + 1)), Part(2, 1024, ETAG, _layout(i * 10 + 2))]
            )
            await store.complete_upload(
                uid,
                VersionRecord(bucket="w-plain", key=key, mtime=time.time(), size=2048, etag=ETAG, layout=parts),
                [1, 2],
            )

    def retag(v: VersionRecord) -> ObjectInfo:
        return replace(v.info, tags={"n": str(v.seq)})

    cases = {
        "put, new key": lambda i: store.put_version(rec("w-plain", i)),
        "put, overwrite (null version to GC)": lambda i: store.put_version(rec("w-plain", i)),
        "put, new version (versioned)": lambda i: store.put_version(rec("w-ver", i, f"v{i:031x}")),
        "delete marker (versioned)": lambda i: store.delete_object("w-ver", f"obj/{i:06d}", None, marker("w-ver", i)),
        "delete a version (versioned)": lambda i: store.delete_object(
            "w-ver", f"obj/{i:06d}", f"v{i:031x}", marker("w-ver", i)
        ),
        "update_info (function)": lambda i: store.update_info("w-plain", f"obj/{i:06d}", "null", retag),
        "get_version (latest)": lambda i: store.get_version("w-plain", f"obj/{i:06d}"),
        "multipart create+2 parts+complete": lambda i: multipart(i, False),
        "multipart create+part+abort": lambda i: multipart(ops + i, True),
    }
    out: dict[str, tuple[float, float, float]] = {}
    for name, fn in cases.items():
        times = []
        t_all = time.perf_counter()
        for i in range(ops):
            t0 = time.perf_counter()
            await fn(i)
            times.append(time.perf_counter() - t0)
        total = time.perf_counter() - t_all
        times.sort()
        out[name] = (statistics.median(times) * 1000, times[int(len(times) * 0.9)] * 1000, ops / total)
    # 16 at a time: distinct keys, so PostgreSQL's per-key locks do not serialise them
    sem = asyncio.Semaphore(16)

    async def one(i: int) -> None:
        async with sem:
            await store.put_version(rec("w-plain", 100_000 + i))

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(ops)))
    total = time.perf_counter() - t0
    out["put, new key, 16 concurrent"] = (float("nan"), float("nan"), ops / total)
    return out


def http_bench(config_path: str, n: int, repeat: int) -> dict[str, tuple[float, int]]:
    """ListObjectsV2 pages through a gateway process on the filled store."""
    import socket
    import urllib.request

    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from s3bench import Signer  # type: ignore

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "S3GW_ROOT_USER": "bench-user", "S3GW_ROOT_PASSWORD": "bench-password-0123456789"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "s3gw.cli",
            "serve",
            "--config",
            config_path,
            "--address",
            f"127.0.0.1:{port}",
            "--log-level",
            "WARNING",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        signer = Signer("bench-user", "bench-password-0123456789", "us-east-1", f"127.0.0.1:{port}")
        mid = key(n // 2).decode()

        def page(query: str) -> tuple[float, int]:
            times, count = [], 0
            for _ in range(repeat + 1):
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/{BUCKET}?{query}", headers=signer.headers("GET", f"/{BUCKET}", query)
                )
                t0 = time.perf_counter()
                with urllib.request.urlopen(req) as r:
                    body = r.read()
                times.append(time.perf_counter() - t0)
                count = body.count(b"<Key>") + body.count(b"<Prefix>") - 1
            return statistics.median(times[1:]) * 1000, count

        return {
            "HTTP V2 flat, start": page("list-type=2&max-keys=1000"),
            "HTTP V2 flat, middle": page(f"list-type=2&max-keys=1000&start-after={mid.replace('/', '%2F')}"),
            "HTTP V2 dir d0005/": page("delimiter=%2F&list-type=2&max-keys=1000&prefix=d0005%2F"),
        }
    finally:
        proc.terminate()
        proc.wait()


async def open_store(backend: str, tmp: str, dsn: str | None, pg) -> MetaStore:
    if backend == "sqlite":
        return SqliteMeta(os.path.join(tmp, "meta", "s3gw.db"))
    if dsn is None:
        dsn = pg.dsn(pg.new_database("bench"))
    return PostgresMeta(dsn, timeout=60)


async def run_writes(backend: str, ops: int, dsn: str | None, pg) -> dict:
    tmp = tempfile.mkdtemp(prefix="s3gw-metabench-")
    try:
        store = await open_store(backend, tmp, dsn, pg)
        await store.open()
        try:
            return await bench_writes(store, ops)
        finally:
            await store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def run_backend(backend: str, n: int, repeat: int, dsn: str | None, http: bool, pg) -> dict:
    tmp = tempfile.mkdtemp(prefix="s3gw-metabench-")
    try:
        if backend == "sqlite":
            store: MetaStore = SqliteMeta(os.path.join(tmp, "meta", "s3gw.db"))
            cfg = {"server": {"data": tmp}}
        else:
            if dsn is None:
                db = pg.new_database("bench")
                dsn = pg.dsn(db)
                cfg = {
                    "server": {"data": tmp},
                    "database": {"host": pg.host, "port": pg.port, "name": db, "user": pg.user},
                }
                os.environ["S3GW_DB_PASSWORD"] = pg.password
            else:
                cfg = {}
            store = PostgresMeta(dsn, timeout=60)
        await store.open()
        try:
            load_s = await fill(store, n)
            load_s += await fill(store, n, WIDE, wide_key)
            res = await bench_store(store, n, repeat)
        finally:
            await store.close()
        if http and cfg:
            import yaml

            path = os.path.join(tmp, "config.yaml")
            with open(path, "w") as f:
                yaml.safe_dump(cfg, f)
            res.update(http_bench(path, n, repeat))
        return {"load_seconds": load_s, "pages": res}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,1000000")
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--dsn", default=None, help="PostgreSQL DSN (default: a throwaway server)")
    ap.add_argument("--http", action="store_true", help="also time ListObjectsV2 through a gateway")
    ap.add_argument("--cases", default="listing", help="listing, writes, or listing,writes")
    ap.add_argument("--ops", type=int, default=300, help="calls of each write transaction (--cases writes)")
    ap.add_argument(
        "--tmpdir", default=None, help="where the SQLite file goes (e.g. /dev/shm: no fsync cost, only the code's)"
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.tmpdir:
        tempfile.tempdir = args.tmpdir
    sizes = [int(s) for s in args.sizes.split(",")] if "listing" in args.cases else []
    pg = None
    if "postgres" in args.backends and args.dsn is None:
        from tests.services import start_postgres

        pg = start_postgres()
    results: dict[str, dict[int, dict]] = {}
    writes: dict[str, dict] = {}
    try:
        for backend in args.backends.split(","):
            for n in sizes:
                r = await run_backend(backend, n, args.repeat, args.dsn, args.http, pg)
                results.setdefault(backend, {})[n] = r
                print(f"{backend} {n:>9,} objects: loaded in {r['load_seconds']:.1f}s", file=sys.stderr)
            if "writes" in args.cases:
                writes[backend] = await run_writes(backend, args.ops, args.dsn, pg)
    finally:
        if pg is not None:
            pg.destroy()
            shutil.rmtree(os.path.dirname(pg.datadir), ignore_errors=True)
    if args.json:
        print(json.dumps({"listing": results, "writes": writes} if writes else results, indent=2))
        return
    if writes:
        print("| backend | write transaction | median ms | p90 ms | calls/s |")
        print("|---|---|---|---|---|")
        for backend, res in writes.items():
            for case, (med, p90, rate) in res.items():
                cells = "| |" if med != med else f"| {med:.2f} | {p90:.2f} |"  # NaN: throughput only
                print(f"| {backend} | {case} {cells} {rate:.0f} |")
        if not results:
            return
        print()
    cases = list(next(iter(next(iter(results.values())).values()))["pages"])
    print("| backend | page of 1000 | " + " | ".join(f"{n:,} objects" for n in sizes) + " |")
    print("|---|---|" + "---|" * len(sizes))
    for backend, by_size in results.items():
        for case in cases:
            cells = []
            for n in sizes:
                ms, count = by_size[n]["pages"][case]
                cells.append(f"{ms:.1f} ms ({count})")
            print(f"| {backend} | {case} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    asyncio.run(main())
