"""``s3gw serve --workers 2``: one gateway in two processes, each with its own metadata cache.

Strict read-after-write must hold whichever worker a request lands on: the kernel spreads
connections over the workers (SO_REUSEPORT), so every read here opens a connection of its own,
and the workers' caches are warmed before each write, so a worker that missed the other's
invalidation would answer the old version.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from tests.conftest import ACCESS_KEY, SECRET_KEY, Server, start_server
from tests.functional.rawhttp import send, signed_request

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
