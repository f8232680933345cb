"""``s3gw serve --workers 2``: one gateway in two processes, each with its own metadata cache.

Strict read-after-write must hold whichever worker a request lands on: the kernel spreads
connections over the workers (SO_REUSEPORT), so every read here opens a connection of its own,
and the workers' caches are warmed before each write, so a worker that missed the other's
invalidation would answer the old version.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from tests.conftest import ACCESS_KEY, SECRET_KEY, Server, start_server
from tests.functional.rawhttp import send, signed_request
from tests.waiting import wait_until

READERS = 8  # fresh connections per check: both workers answer some (with near certainty)


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(str(tmp_path_factory.mktemp("workers")), "--workers", "2")
    yield srv
    srv.stop()


def one_connection(srv: Server):
    return boto3.client(
        "s3",
        endpoint_url=srv.url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, max_pool_connections=1),
    )


def read_everywhere(srv: Server, path: str) -> list[tuple[int, bytes, str]]:
    out = []
    for _ in range(READERS):
        r = signed_request(srv, "GET", path)
        h = signed_request(srv, "HEAD", path)
        out.append((r.status, r.body, h.headers.get("etag", "").strip('"')))
    return out


@pytest.mark.parametrize("size", [100, 300_000], ids=["inline", "sharded"])
def test_overwrites_through_one_connection_are_read_through_every_worker(two: Server, size: int) -> None:
    s3 = one_connection(two)
    bucket = f"workers-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    path = f"/{bucket}/hot"
    for i in range(15):
        body = f"{i:06d}".encode() * (size // 6)
        read_everywhere(two, path)  # every worker caches what it sees (or "no such key")
        s3.put_object(Bucket=bucket, Key="hot", Body=body)
        etag = hashlib.md5(body).hexdigest()
        assert read_everywhere(two, path) == [(200, body, etag)] * READERS, f"overwrite {i}"
    s3.delete_object(Bucket=bucket, Key="hot")
    assert {status for status, _, _ in read_everywhere(two, path)} == {404}


def test_a_deleted_and_recreated_bucket_is_seen_by_every_worker(two: Server) -> None:
    s3 = one_connection(two)
    bucket = f"workers-{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        s3.create_bucket(Bucket=bucket)
        assert {signed_request(two, "HEAD", f"/{bucket}").status for _ in range(READERS)} == {200}
        s3.delete_bucket(Bucket=bucket)
        assert {signed_request(two, "HEAD", f"/{bucket}").status for _ in range(READERS)} == {404}


def anonymous_get(srv: Server, path: str) -> int:
    return send(srv, "GET", path, {"Host": f"127.0.0.1:{srv.port}"}).status


def test_a_bucket_policy_change_is_seen_by_every_worker_at_once(two: Server) -> None:
    # The policy caches (users, policies, bucket policies) follow the shared generations too:
    # without them another worker answers from its cache for up to a second after a change.
    s3 = one_connection(two)
    bucket = f"workers-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="public", Body=b"hello")
    path = f"/{bucket}/public"
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
            ],
        }
    )
    for _ in range(3):
        assert {anonymous_get(two, path) for _ in range(READERS)} == {403}  # every worker caches "no policy"
        s3.put_bucket_policy(Bucket=bucket, Policy=policy)
        assert {anonymous_get(two, path) for _ in range(READERS)} == {200}
        s3.delete_bucket_policy(Bucket=bucket)


def worker_pids(srv: Server) -> list[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker)."""
    with open(f"/proc/{srv.proc.pid}/task/{srv.proc.pid}/children") as f:
        children = [int(p) for p in f.read().split()]
    out = []
    for pid in children:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"spawn_main" in f.read():
                    out.append(pid)
        except FileNotFoundError:
            pass
    return out


def listening_workers(srv: Server) -> list[int]:
    """The worker processes that listen on the server's port (a worker listens once it has
    started up: drives opened, and formatted when new)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = [line.split() for line in f.read().splitlines()[1:]]
        except FileNotFoundError:
            continue
        inodes |= {r[9] for r in rows if r[3] == "0A" and int(r[1].rsplit(":", 1)[1], 16) == srv.port}
    out = []
    for pid in worker_pids(srv):
        try:
            links = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        except (FileNotFoundError, ProcessLookupError):
            continue
        if any(f"socket:[{i}]" in links for i in inodes):
            out.append(pid)
    return out


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="auto is one process on one core")
def test_auto_runs_a_worker_per_core_and_one_of_them_formats_a_wiped_drive(tmp_path) -> None:
    """``auto`` (what ``s3gw serve`` runs by default) starts one worker per core; a drive wiped
    while they run is formatted again by worker 0 alone, which runs heal (the drives it formats
    are the ones it rebuilds), while every worker watches the drives."""
    srv = start_server(str(tmp_path), "--node-probe-interval", "0.3", env={"S3GW_SERVER_WORKERS": "auto"})
    try:
        assert len(wait_until(lambda: worker_pids(srv), "the workers", until=lambda p: len(p) == os.cpu_count())) == (
            os.cpu_count()
        )
        # every worker started up (a worker still starting formats the drive it finds wiped as a
        # new one, silently, and this test would wait for the wrong thing)
        wait_until(lambda: listening_workers(srv), "every worker listening", until=lambda p: len(p) == os.cpu_count())
        s3 = one_connection(srv)
        s3.create_bucket(Bucket="wipe")
        s3.put_object(Bucket="wipe", Key="k", Body=os.urandom(300_000))
        shutil.rmtree(os.path.join(srv.data, "drive3"))
        log = os.path.join(srv.data, f"server-{srv.port}.log")
        wait_until(
            lambda: open(log).read(),
            "drive3 to be formatted again",
            until=lambda text: "drive drive3 was empty: formatted it" in text,
        )
        # every worker has had several probes meanwhile (each sees the wiped drive twice
        # before it may format): wait for one more round of all of them
        wait_until(lambda: os.path.exists(os.path.join(srv.data, "drive3", "drive.json")), "the drive marker")
        for _ in range(READERS):
            assert signed_request(srv, "GET", "/wipe/k").status == 200
        formatted = [line for line in open(log).read().splitlines() if "was empty: formatted it" in line]
        assert len(formatted) == 1 and "[w0]" in formatted[0], formatted
    finally:
        srv.stop()
