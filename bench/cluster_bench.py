"""End-to-end S3 throughput of the cluster form: 9 local storage-node processes
(``s3gw node``, fsync on) and one gateway (``s3gw serve --nodes``), driven over
HTTP by boto3.

    python bench/cluster_bench.py [--big 8] [--big-mib 64] [--small 2000] [--threads 4]

Reports PUT and GET MiB/s for the big objects, PUT and GET objects/s for 4 KiB
objects (stored inline in the metadata row, as MinIO inlines small objects:
this measures the gateway and SQLite, not the nodes), then GET MiB/s of the big
objects with 3 of the 9 nodes killed (SIGKILL): reconstruction from parity.
Every byte read is checked.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from tests.cluster.conftest import ClusterProcs  # noqa: E402
from tests.conftest import ACCESS_KEY, SECRET_KEY  # noqa: E402


def client(url: str, threads: int):
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(
            retries={"max_attempts": 1},
            max_pool_connections=threads * 2,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def timed(threads: int, fn, items) -> float:
    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(fn, items))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", type=int, default=8, help="number of big objects")
    ap.add_argument("--big-mib", type=int, default=64)
    ap.add_argument("--small", type=int, default=2000, help="number of 4 KiB objects")
    ap.add_argument("--threads", type=int, default=4, help="concurrent client requests")
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()

    root = args.dir or tempfile.mkdtemp(prefix="s3gw-cluster-bench-")
    c = ClusterProcs(root)
    c.start_nodes()
    c.start_gateway()
    try:
        s3 = client(c.url, args.threads)
        s3.create_bucket(Bucket="bench")
        size = args.big_mib << 20
        payloads = [os.urandom(size) for _ in range(min(args.big, 2))]  # reused: bounded client memory
        digests = [hashlib.sha256(p).digest() for p in payloads]

        def put_big(i: int) -> None:
            s3.put_object(Bucket="bench", Key=f"big/{i}", Body=payloads[i % len(payloads)])

        def get_big(i: int) -> None:
            body = s3.get_object(Bucket="bench", Key=f"big/{i}")["Body"]
            h = hashlib.sha256()
            while chunk := body.read(1 << 20):
                h.update(chunk)
            assert h.digest() == digests[i % len(payloads)], f"big/{i} corrupt"

        small = os.urandom(4096)

        def put_small(i: int) -> None:
            s3.put_object(Bucket="bench", Key=f"small/{i}", Body=small)

        def get_small(i: int) -> None:
            assert s3.get_object(Bucket="bench", Key=f"small/{i}")["Body"].read() == small

        mib = args.big * args.big_mib
        t_put = timed(args.threads, put_big, range(args.big))
        t_get = timed(args.threads, get_big, range(args.big))
        t_sput = timed(args.threads, put_small, range(args.small))
        t_sget = timed(args.threads, get_small, range(args.small))
        for i in (0, 4, 8):
            c.kill_node(i)
        c.wait_online(6)
        t_deg = timed(args.threads, get_big, range(args.big))
        print(
            f"cluster: 9 node processes (1 drive each, fsync on) + 1 gateway, 6+3, 1 MiB stripes; "
            f"{args.threads} client threads; {os.cpu_count()} CPUs\n"
            f"  PUT {args.big} x {args.big_mib} MiB: {mib / t_put:7.1f} MiB/s\n"
            f"  GET {args.big} x {args.big_mib} MiB: {mib / t_get:7.1f} MiB/s\n"
            f"  PUT {args.small} x 4 KiB:  {args.small / t_sput:7.0f} objects/s\n"
            f"  GET {args.small} x 4 KiB:  {args.small / t_sget:7.0f} objects/s\n"
            f"  GET {args.big} x {args.big_mib} MiB with 3 of 9 nodes killed: {mib / t_deg:7.1f} MiB/s"
        )
    finally:
        c.stop()
        if args.dir is None:
            import shutil

            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
