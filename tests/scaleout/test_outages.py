"""PostgreSQL or Redis going away under running gateways.

PostgreSQL down, restarting or hung: every request answers 503 ServiceUnavailable
(an S3 error, never a 500, never later than the configured timeout), the
gateways recover by themselves when it is back, and no acknowledged write is
lost. Redis down or hung: the gateways go on without it (slower, never failing),
log it once, and use it again when it is back, still read-after-write.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from tests.scaleout.conftest import _deployment
from tests.waiting import wait_until

DB_TIMEOUT = 2.0
#: what "answers within the timeout" may take on a loaded machine: the database timeout plus
#: generous slack. A request that waited for a dead or hung database would take the client's
#: own 60 s timeout (and its retries); this bound tells the two apart without timing the machine.
WITHIN = DB_TIMEOUT + 20


@pytest.fixture
def own_pg(tmp_path, private_postgres):
    yield from _deployment(tmp_path, private_postgres, None)


@pytest.fixture
def own_redis(tmp_path, postgres, private_redis):
    yield from _deployment(tmp_path, postgres, private_redis)


def status_of(fn) -> tuple[int, float, str]:
    t0 = time.monotonic()
    try:
        fn()
        return 200, time.monotonic() - t0, ""
    except ClientError as e:
        return (
            e.response["ResponseMetadata"]["HTTPStatusCode"],
            time.monotonic() - t0,
            e.response.get("Error", {}).get("Code", ""),
        )


def wait_ok(fn, what: str):
    return wait_until(fn, what, ignore=(ClientError,), until=lambda _: True)


def test_postgres_down_restarting_and_hung(own_pg) -> None:
    dep = own_pg
    a, b = dep.start(**{"database.timeout": f"{DB_TIMEOUT}s"}), dep.start(**{"database.timeout": f"{DB_TIMEOUT}s"})
    sa, sb = a.s3(), b.s3()
    bucket = f"out-{uuid.uuid4().hex[:8]}"
    sa.create_bucket(Bucket=bucket)

    # writers on both gateways all along; what was acknowledged must survive
    acked: list[str] = []
    answers: list[int] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        s = (sa, sb)[n % 2]
        i = 0
        while not stop.is_set():
            key = f"w{n}/{i:05d}"
            st, took, _ = status_of(lambda: s.put_object(Bucket=bucket, Key=key, Body=key.encode()))
            answers.append(st)
            assert took < WITHIN, f"a request took {took:.1f}s"
            if st == 200:
                acked.append(key)
            else:
                time.sleep(0.05)
            i += 1

    def more_answers(n: int, code: int = 200) -> None:
        """Until the writers have had ``n`` more answers with status ``code``."""
        base = answers.count(code)
        wait_until(
            lambda: answers.count(code) >= base + n or any(f.done() for f in futures),
            f"{n} more writes answered {code}",
        )
        for f in futures:
            if f.done():
                f.result()  # a writer failed: show why

    with ThreadPoolExecutor(4) as ex:
        futures = [ex.submit(writer, n) for n in range(4)]
        more_answers(8)  # writes acknowledged before the outage
        dep.pg.stop("fast")  # down
        more_answers(4, 503)  # the writers see it
        for s in (sa, sb):
            for call in (
                lambda: s.get_object(Bucket=bucket, Key="w0/00000"),
                lambda: s.head_object(Bucket=bucket, Key="w0/00000"),
                lambda: s.list_objects_v2(Bucket=bucket),
            ):
                st, took, code = status_of(call)
                assert st == 503 and took < WITHIN, (st, took, code)
                assert code in ("ServiceUnavailable", "503"), code  # HEAD: no body, so no code
        dep.pg.start()  # back
        wait_ok(lambda: sa.head_bucket(Bucket=bucket), "gateway A to recover")
        wait_ok(lambda: sb.head_bucket(Bucket=bucket), "gateway B to recover")
        more_answers(8)
        dep.pg.stop("immediate")  # crashed
        more_answers(4, 503)
        dep.pg.start()
        wait_ok(lambda: sb.head_bucket(Bucket=bucket), "gateway B to recover after the crash")
        more_answers(8)
        stop.set()
        for f in futures:
            f.result()
    assert 503 in answers and 200 in answers
    assert set(answers) <= {200, 503}, sorted(set(answers))  # never a 500

    # hung: connections stay open, nothing answers; requests still end in time
    dep.pg.freeze()
    try:
        with ThreadPoolExecutor(4) as ex:
            results = list(
                ex.map(lambda i: status_of(lambda: (sa, sb)[i % 2].get_object(Bucket=bucket, Key=acked[0])), range(4))
            )
        for st, took, code in results:
            assert st == 503 and took < WITHIN, (st, took, code)
    finally:
        dep.pg.thaw()
    wait_ok(lambda: sa.head_bucket(Bucket=bucket), "gateway A to recover from the hang")

    stored: set[str] = set()
    for page in sa.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        stored |= {o["Key"] for o in page.get("Contents", [])}
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged writes lost: {sorted(missing)[:5]}"
    assert sb.get_object(Bucket=bucket, Key=acked[-1])["Body"].read() == acked[-1].encode()


def test_redis_down_and_hung_gateways_go_on(own_redis) -> None:
    dep = own_redis
    a, b = dep.start(), dep.start()
    sa, sb = a.s3(), b.s3()
    bucket = f"red-{uuid.uuid4().hex[:8]}"
    sa.create_bucket(Bucket=bucket)
    sa.put_object(Bucket=bucket, Key="k", Body=b"v0")
    assert sb.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v0"  # cached now

    def backs() -> list[int]:
        return [gw.logs().count("is back") for gw in (a, b)]

    dep.redis.freeze()  # slow / hung
    try:
        for i in range(1, 6):
            w, r = (sa, sb) if i % 2 else (sb, sa)
            t0 = time.monotonic()
            w.put_object(Bucket=bucket, Key="k", Body=f"v{i}".encode())
            assert r.get_object(Bucket=bucket, Key="k")["Body"].read() == f"v{i}".encode()
            # bounded by the cache's timeout, not the hung server (a wait for it would last until
            # the client's own 60 s timeout): far above the work, far below a hang
            assert time.monotonic() - t0 < 20
        before = backs()
    finally:
        dep.redis.thaw()
    # back: what was cached before the outage must not be served (v0 is still in Redis),
    # neither before the gateways use Redis again nor after
    for s in (sa, sb):
        assert s.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v5"
    wait_until(backs, "both gateways to use Redis again", until=lambda n: all(x > y for x, y in zip(n, before)))
    for s in (sa, sb):
        assert s.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v5"
    sa.put_object(Bucket=bucket, Key="k", Body=b"v6")
    assert sb.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v6"

    dep.redis.stop()  # down
    for i in range(7, 10):
        sb.put_object(Bucket=bucket, Key="k", Body=f"v{i}".encode())
        assert sa.get_object(Bucket=bucket, Key="k")["Body"].read() == f"v{i}".encode()
    before = backs()
    dep.redis.start()
    wait_until(backs, "both gateways to use Redis again", until=lambda n: all(x > y for x, y in zip(n, before)))
    sa.put_object(Bucket=bucket, Key="k", Body=b"v10")
    assert sb.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v10"
    for gw in (a, b):
        logs = gw.logs()
        assert logs.count("unavailable") <= 2 and "is back" in logs, logs[-2000:]
