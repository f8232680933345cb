"""The chaos workload: several client threads writing, overwriting, deleting and reading
objects of random sizes through the gateways, every answer recorded in the ledger.

Two buckets: ``chaos-plain`` (unversioned: an overwrite replaces the object, a delete
removes it) and ``chaos-versioned`` (every write a new version, deletes put a marker on
top, some older versions are deleted by id). Bodies are random bytes of 1 KiB up to the
schedule's maximum (log-uniform, so most are small and some are inline in the metadata
row); about a quarter of the writes are multipart uploads of 5 MiB parts. Each client
sends each request to a random gateway, so a read on one gateway races writes on the
other. botocore retries nothing: every error answered is counted by its code.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from tests.chaos.ledger import Ledger, Op, ReadResult
from tests.conftest import ACCESS_KEY, SECRET_KEY

PLAIN = "chaos-plain"
VERSIONED = "chaos-versioned"
BUCKETS = (PLAIN, VERSIONED)
KiB, MiB = 1 << 10, 1 << 20
PART = 5 * MiB  # every part but the last (S3's minimum part size)


@dataclass
class Shape:
    """The size of a workload."""

    clients: int = 3
    keys: int = 24  # per bucket
    max_put: int = 2 * MiB  # largest single PUT
    max_mpu: int = 8 * MiB  # largest multipart upload (at least two parts)
    mpu_share: float = 0.2  # of the writes


def s3_client(url: str, pool: int = 8):
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(
            retries={"total_max_attempts": 1},
            connect_timeout=10,
            read_timeout=120,
            max_pool_connections=pool,
        ),
    )


def error_code(e: BaseException) -> tuple[int, str]:
    """(HTTP status or 0, the S3 error code or the exception's class name)."""
    if isinstance(e, ClientError):
        meta = e.response.get("ResponseMetadata", {})
        status = int(meta.get("HTTPStatusCode") or 0)
        return status, e.response.get("Error", {}).get("Code") or str(status)
    return 0, type(e).__name__


def body(rng: random.Random, size: int) -> tuple[bytes, str]:
    data = rng.randbytes(size)
    return data, hashlib.sha256(data).hexdigest()


def put(s3: Any, ledger: Ledger, gateway: int, bucket: str, key: str, data: bytes, sha: str, probe: str = "") -> Op:
    op = ledger.begin(bucket, key, "put", gateway, sha=sha, size=len(data), probe=probe)
    try:
        r = s3.put_object(Bucket=bucket, Key=key, Body=data)
    except (ClientError, BotoCoreError) as e:
        ledger.finish(op, False, error_code(e)[1], maybe=not isinstance(e, EndpointConnectionError))
    else:
        ledger.finish(op, True, version_id=r.get("VersionId", ""))
    return op


def multipart(
    s3: Any, ledger: Ledger, gateway: int, bucket: str, key: str, data: bytes, sha: str, probe: str = ""
) -> Op:
    """Create, upload 5 MiB parts (the last one shorter), complete; abort (best effort) on an error
    before the complete. Only a failed complete leaves an unknown outcome."""
    op = ledger.begin(bucket, key, "mpu", gateway, sha=sha, size=len(data), probe=probe)
    upload_id, completing = "", False
    try:
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        parts = []
        for n, off in enumerate(range(0, len(data), PART), 1):
            r = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=data[off : off + PART])
            parts.append({"PartNumber": n, "ETag": r["ETag"]})
        completing = True
        r = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    except (ClientError, BotoCoreError) as e:
        ledger.finish(op, False, error_code(e)[1], maybe=completing)
        if upload_id and not completing:
            try:
                s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            except (ClientError, BotoCoreError):
                pass  # left for the lifecycle of incomplete uploads; its parts stay referenced
    else:
        ledger.finish(op, True, version_id=r.get("VersionId", ""))
    return op


def delete(s3: Any, ledger: Ledger, gateway: int, bucket: str, key: str, version_id: str = "") -> Op:
    op = ledger.begin(bucket, key, "delete_version" if version_id else "delete", gateway, target=version_id)
    try:
        kw = {"VersionId": version_id} if version_id else {}
        r = s3.delete_object(Bucket=bucket, Key=key, **kw)
    except (ClientError, BotoCoreError) as e:
        ledger.finish(op, False, error_code(e)[1], maybe=not isinstance(e, EndpointConnectionError))
    else:
        ledger.finish(op, True, version_id=r.get("VersionId", "") if not version_id else "")
    return op


class Stream:
    """A GET whose body is read in pieces, so a probe can pause it halfway."""

    def __init__(
        self, s3: Any, ledger: Ledger, gateway: int, bucket: str, key: str, version_id: str = "", probe: str = ""
    ) -> None:
        self.ledger = ledger
        self.r = ReadResult(bucket, key, gateway, time.monotonic(), 0.0, version_id=version_id, probe=probe)
        self.hash = hashlib.sha256()
        self.body: Any = None
        try:
            kw = {"VersionId": version_id} if version_id else {}
            resp = s3.get_object(Bucket=bucket, Key=key, **kw)
        except (ClientError, BotoCoreError) as e:
            self.r.status, self.r.code = error_code(e)
            return
        self.r.status = 200
        self.r.length = int(resp.get("ContentLength", -1))
        self.body = resp["Body"]

    def read(self, limit: int | None = None) -> None:
        """Read ``limit`` more bytes (None: to the end)."""
        if self.body is None or self.r.cut_error:
            return
        want = math.inf if limit is None else limit
        while want > 0:
            try:
                chunk = self.body.read(int(min(want, MiB)))
            except Exception as e:  # noqa: BLE001 - whatever ends a 200's body early is a cut-short read
                self.r.cut_error = f"{type(e).__name__}: {str(e)[:200]}"
                return
            if not chunk:
                break
            self.hash.update(chunk)
            self.r.got += len(chunk)
            want -= len(chunk)
        if limit is None and self.r.got != self.r.length:
            self.r.cut_error = f"body ended at {self.r.got} of {self.r.length} bytes"

    def finish(self) -> str:
        """Read to the end, check against the ledger; the outcome."""
        self.read()
        if self.body is not None:
            self.body.close()
        self.r.end = time.monotonic()
        if self.r.status == 200 and not self.r.cut_error:
            self.r.sha = self.hash.hexdigest()
        return self.ledger.check_read(self.r)


def get(s3: Any, ledger: Ledger, gateway: int, bucket: str, key: str, version_id: str = "", probe: str = "") -> str:
    return Stream(s3, ledger, gateway, bucket, key, version_id, probe).finish()


class Workload:
    """``shape.clients`` threads running random operations until ``stop()``."""

    def __init__(self, urls: list[str], ledger: Ledger, shape: Shape, seed: int = 0) -> None:
        self.urls, self.ledger, self.shape, self.seed = urls, ledger, shape, seed
        self.keys = [f"k{i:03d}" for i in range(shape.keys)]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.crashes: list[str] = []  # a client thread that died of a bug in the workload itself

    def setup(self) -> None:
        s3 = s3_client(self.urls[0])
        for b in BUCKETS:
            s3.create_bucket(Bucket=b)
        s3.put_bucket_versioning(Bucket=VERSIONED, VersioningConfiguration={"Status": "Enabled"})

    def start(self) -> None:
        for i in range(self.shape.clients):
            t = threading.Thread(target=self._run, args=(i,), name=f"chaos-client-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()

    def _run(self, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        clients = [s3_client(u) for u in self.urls]
        try:
            while not self._stop.is_set():
                if not self.step(rng, clients):
                    time.sleep(rng.uniform(0.1, 0.5))  # an error answered: back off a little, as clients do
        except Exception as e:  # noqa: BLE001 - reported by the test, never swallowed
            self.crashes.append(f"client {index}: {type(e).__name__}: {e}\n{traceback.format_exc()}")

    def size(self, rng: random.Random, multipart: bool) -> int:
        if multipart:
            return rng.randint(PART + 1, max(self.shape.max_mpu, PART + 2))
        return int(2 ** rng.uniform(10, math.log2(self.shape.max_put)))

    def step(self, rng: random.Random, clients: list[Any]) -> bool:
        """One random operation; False when it was answered with an error."""
        gw = rng.randrange(len(clients))
        s3 = clients[gw]
        bucket = rng.choice(BUCKETS)
        key = rng.choice(self.keys)
        roll = rng.random()
        if roll < 0.42:  # read: the latest, or (versioned) one acknowledged version
            versions = self.live_versions(bucket, key) if bucket == VERSIONED else []
            vid = rng.choice(versions) if versions and rng.random() < 0.3 else ""
            return get(s3, self.ledger, gw, bucket, key, vid) != "error"
        if not self.ledger.claim(bucket, key):
            return True  # someone else is writing this key: writes to one key never overlap
        op = None
        try:
            if roll < 0.84:
                mpu = rng.random() < self.shape.mpu_share
                data, sha = body(rng, self.size(rng, mpu))
                op = (multipart if mpu else put)(s3, self.ledger, gw, bucket, key, data, sha)
            elif roll < 0.94 or bucket == PLAIN:
                op = delete(s3, self.ledger, gw, bucket, key)
            else:
                old = self.noncurrent_versions(bucket, key)
                if old:
                    op = delete(s3, self.ledger, gw, bucket, key, rng.choice(old))
        finally:
            self.ledger.release(bucket, key)
        return op is None or bool(op.ok)

    def live_versions(self, bucket: str, key: str) -> list[str]:
        """Acknowledged versions no delete of which was sent."""
        ops = self.ledger.key_ops(bucket, key)
        gone = {op.target for op in ops if op.kind == "delete_version"}
        return [op.version_id for op in ops if op.writes and op.ok and op.version_id not in gone]

    def noncurrent_versions(self, bucket: str, key: str) -> list[str]:
        """Acknowledged versions older than the last acknowledged write or delete marker: never the
        latest, whatever the writes with unknown outcomes did (so the latest stays well defined)."""
        ops = [op for op in self.ledger.key_ops(bucket, key) if op.kind != "delete_version"]
        last = max((i for i, op in enumerate(ops) if op.ok), default=-1)
        gone = {op.target for op in self.ledger.key_ops(bucket, key) if op.kind == "delete_version"}
        return [op.version_id for op in ops[:last] if op.writes and op.ok and op.version_id not in gone]
