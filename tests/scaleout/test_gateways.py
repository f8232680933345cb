"""Concurrency across gateway processes on one PostgreSQL (and Redis): the rules of S3
hold when the racing requests arrive at different gateways.

- two PUTs of one key: one wins, and what is read is one whole body, never a mix;
- conditional creates (If-None-Match: *): exactly one winner;
- versioning and object lock under concurrent deletes: exactly one latest
  version, no locked version removed, a hold set and a delete racing never both
  succeed;
- strict read-after-write across gateways with the Redis cache on.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError


def code(e: ClientError) -> str:
    return e.response["Error"]["Code"]


#: what a delete refused by object lock answers (MinIO's ErrObjectLocked; see s3gw/core/errors.py)
LOCKED = {"AccessDenied", "InvalidRequest"}


def race(n: int, fn):
    """Run fn(i) for i in range(n) on n threads released together; return results (or exceptions)."""
    barrier = threading.Barrier(n)

    def run(i: int):
        barrier.wait()
        try:
            return fn(i)
        except ClientError as e:
            return e

    with ThreadPoolExecutor(n) as ex:
        return list(ex.map(run, range(n)))


def bucket_name() -> str:
    return f"scale-{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize("size", [1_000, 300_000], ids=["inline", "sharded"])
def test_two_puts_of_one_key_one_wins_nothing_mixed(deployment, size) -> None:
    a, b = deployment.start(), deployment.start()
    sa, sb = a.s3(), b.s3()
    bucket = bucket_name()
    sa.create_bucket(Bucket=bucket)
    for round_ in range(12):
        bodies = [os.urandom(size), os.urandom(size)]
        results = race(2, lambda i: (sa, sb)[i].put_object(Bucket=bucket, Key="k", Body=bodies[i]))
        assert all(not isinstance(r, Exception) for r in results), results
        got = [s.get_object(Bucket=bucket, Key="k") for s in (sa, sb)]
        body = got[0]["Body"].read()
        assert body in bodies, "a mix of two writes"
        assert got[1]["Body"].read() == body
        assert got[0]["ETag"] == got[1]["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
        versions = sa.list_object_versions(Bucket=bucket)["Versions"]
        assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True)]


def test_versioned_puts_race_to_exactly_one_latest(deployment) -> None:
    a, b = deployment.start(), deployment.start()
    sa, sb = a.s3(), b.s3()
    bucket = bucket_name()
    sa.create_bucket(Bucket=bucket)
    sa.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for _ in range(8):
        bodies = [os.urandom(2000) for _ in range(4)]
        race(4, lambda i: (sa, sb)[i % 2].put_object(Bucket=bucket, Key="k", Body=bodies[i]))
    versions = sa.list_object_versions(Bucket=bucket)["Versions"]
    assert len(versions) == 32 and sum(v["IsLatest"] for v in versions) == 1 and versions[0]["IsLatest"]
    latest = sb.get_object(Bucket=bucket, Key="k")
    assert latest["VersionId"] == versions[0]["VersionId"]


def test_conditional_create_has_exactly_one_winner(deployment) -> None:
    gws = [deployment.start() for _ in range(3)]
    clients = [g.s3() for g in gws]
    bucket = bucket_name()
    clients[0].create_bucket(Bucket=bucket)
    for key in ("k1", "k2", "k3", "k4", "k5"):
        results = race(
            9, lambda i: clients[i % 3].put_object(Bucket=bucket, Key=key, Body=f"w{i}".encode(), IfNoneMatch="*")
        )
        winners = [i for i, r in enumerate(results) if not isinstance(r, Exception)]
        losers = [code(r) for r in results if isinstance(r, Exception)]
        assert len(winners) == 1, results
        assert set(losers) <= {"PreconditionFailed", "ConditionalRequestConflict"} and len(losers) == 8, losers
        assert clients[2].get_object(Bucket=bucket, Key=key)["Body"].read() == f"w{winners[0]}".encode()


def test_versioning_holds_under_concurrent_deletes(deployment) -> None:
    a, b = deployment.start(), deployment.start()
    sa, sb = a.s3(), b.s3()
    bucket = bucket_name()
    sa.create_bucket(Bucket=bucket)
    sa.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    ids = [sa.put_object(Bucket=bucket, Key="k", Body=os.urandom(500))["VersionId"] for _ in range(12)]

    def work(i: int):
        s = (sa, sb)[i % 2]
        order = ids[:]
        random.Random(i).shuffle(order)
        for vid in order:  # every version deleted by both gateways at once
            s.delete_object(Bucket=bucket, Key="k", VersionId=vid)
            if vid == order[len(order) // 2]:
                s.delete_object(Bucket=bucket, Key="k")  # and delete markers in between
        return True

    assert all(r is True for r in race(4, work))
    listing = sa.list_object_versions(Bucket=bucket)
    assert listing.get("Versions", []) == []
    # a DELETE finding no version left adds no marker (MinIO): up to one marker per worker
    markers = listing.get("DeleteMarkers", [])
    assert len(markers) <= 4
    if markers:
        assert sum(m["IsLatest"] for m in markers) == 1 and markers[0]["IsLatest"]
    with pytest.raises(ClientError) as e:
        sb.get_object(Bucket=bucket, Key="k")
    assert code(e.value) == "NoSuchKey"


def test_object_lock_holds_under_concurrent_deletes(deployment) -> None:
    a, b = deployment.start(), deployment.start()
    sa, sb = a.s3(), b.s3()
    bucket = bucket_name()
    sa.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    held = [
        sa.put_object(Bucket=bucket, Key=f"h{i}", Body=b"x", ObjectLockLegalHoldStatus="ON")["VersionId"]
        for i in range(4)
    ]
    free = [sa.put_object(Bucket=bucket, Key=f"f{i}", Body=b"x")["VersionId"] for i in range(4)]

    # 1. deletes from both gateways at once: held versions stay, the others go
    targets = [(f"h{i}", v) for i, v in enumerate(held)] + [(f"f{i}", v) for i, v in enumerate(free)]

    def delete_all(i: int) -> list[str]:
        out = []
        for k, v in targets:  # every thread deletes every version: two gateways, two threads each
            try:
                (sa, sb)[i % 2].delete_object(Bucket=bucket, Key=k, VersionId=v)
                out.append("ok")
            except ClientError as e:
                out.append(code(e))
        return out

    for r in race(4, delete_all):
        assert r[:4] == ["InvalidRequest"] * 4 or set(r[:4]) <= LOCKED, r
        assert r[4:] == ["ok"] * 4, r
    for i, v in enumerate(held):
        assert sb.head_object(Bucket=bucket, Key=f"h{i}", VersionId=v)["ObjectLockLegalHoldStatus"] == "ON"
    for i, v in enumerate(free):
        with pytest.raises(ClientError):
            sb.head_object(Bucket=bucket, Key=f"f{i}", VersionId=v)

    # 2. a hold and a delete racing on one version: never both succeed
    for n in range(10):
        key = f"r{n}"
        vid = sa.put_object(Bucket=bucket, Key=key, Body=b"x")["VersionId"]

        def hold(_: int) -> str:
            sa.put_object_legal_hold(Bucket=bucket, Key=key, VersionId=vid, LegalHold={"Status": "ON"})
            return "held"

        def delete(_: int) -> str:
            sb.delete_object(Bucket=bucket, Key=key, VersionId=vid)
            return "deleted"

        out = race(2, lambda i: (hold, delete)[i](i))
        outcomes = {x if isinstance(x, str) else code(x) for x in out}
        try:
            present = sb.head_object(Bucket=bucket, Key=key, VersionId=vid)["ObjectLockLegalHoldStatus"] == "ON"
        except ClientError:
            present = False
        if present:
            assert len(outcomes) == 2 and "held" in outcomes and outcomes & LOCKED, outcomes
        else:
            assert outcomes in ({"deleted", "NoSuchVersion"}, {"deleted", "NoSuchKey"}), outcomes
    # clean up the holds so the bucket could go
    for i, v in enumerate(held):
        sa.put_object_legal_hold(Bucket=bucket, Key=f"h{i}", VersionId=v, LegalHold={"Status": "OFF"})


def test_strict_read_after_write_across_gateways_with_the_cache(deployment) -> None:
    a, b = deployment.start(), deployment.start()
    sa, sb = a.s3(), b.s3()
    bucket = bucket_name()
    sa.create_bucket(Bucket=bucket)
    for i in range(40):
        w, r = (sa, sb) if i % 2 == 0 else (sb, sa)
        r.head_object(Bucket=bucket, Key="k") if i else None  # warm the reader's cache entry
        body = f"v{i}".encode() * (i + 1)
        etag = w.put_object(Bucket=bucket, Key="k", Body=body)["ETag"]
        assert r.head_object(Bucket=bucket, Key="k")["ETag"] == etag
        assert r.get_object(Bucket=bucket, Key="k")["Body"].read() == body
    sa.delete_object(Bucket=bucket, Key="k")
    with pytest.raises(ClientError) as e:
        sb.head_object(Bucket=bucket, Key="k")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    sb.put_object(Bucket=bucket, Key="k", Body=b"back")
    assert sa.get_object(Bucket=bucket, Key="k")["Body"].read() == b"back"
    sa.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert sb.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    vid = sb.put_object(Bucket=bucket, Key="k", Body=b"v")["VersionId"]
    sa.put_object_tagging(Bucket=bucket, Key="k", VersionId=vid, Tagging={"TagSet": [{"Key": "a", "Value": "1"}]})
    assert sb.get_object_tagging(Bucket=bucket, Key="k", VersionId=vid)["TagSet"] == [{"Key": "a", "Value": "1"}]
    # the cache was really in the way: Redis holds entries of this deployment
    keys = deployment.redis.command("KEYS", f"{deployment.database}:*")
    assert f":b:{bucket}".encode() in keys and f":o:{bucket}\0k".encode() in keys, keys


def test_workers_share_one_port(deployment) -> None:
    gw = deployment.start("--workers", "2")
    s3 = gw.s3()
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    bodies = {f"k{i}": os.urandom(3000) for i in range(40)}
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda kv: gw.s3().put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), bodies.items()))
    for k, v in bodies.items():
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == v
    import subprocess

    children = subprocess.run(["pgrep", "-P", str(gw.proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) >= 2, children  # (spawn also starts a resource tracker)


def test_tls_port_serves_https_beside_http(pg_only, tmp_path) -> None:
    import subprocess as sp
    import warnings

    from tests.conftest import free_port

    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    sp.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    tls_port = free_port()
    gw = pg_only.start(
        **{"server.tls_port": tls_port, "security.tls.cert_file": str(cert), "security.tls.key_file": str(key)}
    )
    bucket = bucket_name()
    gw.s3().create_bucket(Bucket=bucket)
    import boto3
    from botocore.config import Config

    from tests.conftest import ACCESS_KEY, SECRET_KEY

    s = boto3.client(
        "s3",
        endpoint_url=f"https://127.0.0.1:{tls_port}",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        verify=str(cert),
        config=Config(retries={"total_max_attempts": 1}),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s.put_object(Bucket=bucket, Key="k", Body=b"over tls")
        assert gw.s3().get_object(Bucket=bucket, Key="k")["Body"].read() == b"over tls"
