"""The bucket-replication worker: copies queued versions, delete markers and deletions to
their remote targets (docs/data-management.md, "Replication").

The queue is written by the metadata transactions of the changes themselves
(meta/replication.py), so nothing is lost by a crash. One worker runs per gateway
(background services); several gateways share the queue through leases, as the
notification sender does: ``take_replication`` hands out due rows, each the first
pending one of its key and target (so one key's changes reach a target in the order
they were made), and moves their ``not_before`` on by the lease; a gateway that dies
mid-copy leaves them due again when the lease runs out (at least once). Copies are
idempotent: the target keeps the source's version id (MinIO's replication request:
``versionId`` with ``X-Minio-Source-Replication-Request``), so a copy sent twice finds
the version there already.

Each copy streams: a version written in one piece is sent as one PUT from the stored
stream; a multipart version is sent as a multipart upload with the source's own parts
(same sizes, so the same ETag), each part read and sent as a stream. Memory stays
bounded by the storage's read buffers, whatever the object's size.

The HTTP side (SigV4, aiohttp) is the composition root's ``Remote`` (s3gw/remote_s3.py):
the core stays free of HTTP clients.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import random
import time
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from xml.sax.saxutils import escape

from ..meta.base import ReplicationItem
from . import lock
from .ops import walk_versions
from .replication import Target

if TYPE_CHECKING:
    from .service import Core

log = logging.getLogger(__name__)

Body = bytes | AsyncIterator[bytes]

#: seconds the queue's counts are reused (status: metrics, /health/ready, s3gw admin replicate status)
STATS_TTL = 2.0


class Remote(Protocol):
    """Signed requests to a target's endpoint (s3gw/remote_s3.py)."""

    async def send(
        self,
        target: Target,
        secret: str,
        method: str,
        key: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: Body = b"",
        size: int = 0,
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, response headers (lower case), response body); OSError/TimeoutError when unreachable."""
        ...


class CopyFailed(Exception):
    """The target refused or could not be reached (retried)."""


@dataclass
class ReplicationStats:
    replicated: int = 0
    replicated_bytes: int = 0
    failures: int = 0  # attempts that failed
    failures_by_target: dict[str, int] | None = None

    def failed(self, arn: str) -> None:
        self.failures += 1
        if self.failures_by_target is None:
            self.failures_by_target = {}
        self.failures_by_target[arn] = self.failures_by_target.get(arn, 0) + 1


def rfc3339(ts: float) -> str:
    """Go's RFC3339Nano as minio-go sends X-Minio-Source-Mtime."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Replicator:
    """The worker: ``run`` forever (one per gateway), ``wake`` after a write queued work."""

    def __init__(
        self,
        core: Core,
        remote: Remote,
        *,
        concurrency: int = 8,
        batch: int = 64,
        lease: float = 60.0,
        interval: float = 1.0,
        retry_base: float = 1.0,
        retry_max: float = 60.0,
        max_attempts: int = 100,
    ) -> None:
        self.core = core
        self.remote = remote
        self.concurrency = concurrency
        self.batch = batch
        self.lease = lease
        self.interval = interval
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.max_attempts = max_attempts
        self.stats = ReplicationStats()
        self.lag_warning = 600.0  # replication.lag_warning: /health/ready warns past this lag
        self._stats_cache: tuple[float, dict[str, Any]] | None = None
        self._wakeup = asyncio.Event()
        self._sem = asyncio.Semaphore(concurrency)
        self._running: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            try:
                took = await self.pass_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the metadata store is down, ...: log and poll again
                log.warning("replication: taking queued work failed: %s", e)
                took = 0
            if took:
                continue
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.interval)

    async def pass_once(self) -> int:
        """Take one batch of due rows and copy them, ``concurrency`` at a time; how many."""
        free = self.batch
        items = await self.core.meta.take_replication(free, time.time(), self.lease)
        if not items:
            return 0
        targets = {t.arn: t for t in await self.core.replication_targets()}
        # the lease is renewed while the batch runs (a long copy is not taken by another worker);
        # a worker that dies stops renewing, and its rows are due again within one lease
        pending = {item.id for item in items}
        renew = asyncio.create_task(self._renew(pending))
        try:
            await asyncio.gather(*(self._guarded(item, targets.get(item.target), pending) for item in items))
        finally:
            renew.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renew
        return len(items)

    async def _renew(self, pending: set[int]) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                await self.core.meta.renew_replication(sorted(pending), time.time() + self.lease)
            except Exception as e:
                log.warning("replication: renewing leases failed: %s", e)

    async def _guarded(self, item: ReplicationItem, target: Target | None, pending: set[int]) -> None:
        async with self._sem:
            try:
                await self._one(item, target)
            finally:
                pending.discard(item.id)

    async def _one(self, item: ReplicationItem, target: Target | None) -> None:
        meta = self.core.meta
        if target is None:
            log.error("replication of %s/%s to %s: the target was removed", item.bucket, item.key, item.target)
            await meta.finish_replication(item, "dead", "the remote target was removed")
            await self._set_status(item, "FAILED")
            return
        try:
            sent = await self._copy(item, target)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.stats.failed(item.target)
            attempts = item.attempts + 1
            why = str(e) or type(e).__name__
            if attempts >= self.max_attempts:
                log.error(
                    "replication of %s/%s (%s) to %s failed %d times, given up: %s",
                    item.bucket, item.key, item.op, target.endpoint, attempts, why,
                )  # fmt: skip
                await meta.finish_replication(item, "dead", why)
                await self._set_status(item, "FAILED")
                return
            delay = min(self.retry_max, self.retry_base * 2 ** min(attempts, 30)) * (0.75 + random.random() / 2)
            log.warning(
                "replication of %s/%s (%s) to %s failed (attempt %d, again in %.1fs): %s",
                item.bucket, item.key, item.op, target.endpoint, attempts, delay, why,
            )  # fmt: skip
            await meta.finish_replication(item, "retry", why, time.time() + delay)
            return
        self.stats.replicated += 1
        self.stats.replicated_bytes += sent
        if await meta.finish_replication(item, "done") and item.op in ("put", "marker"):
            await self._set_status(item, "COMPLETED")

    async def _set_status(self, item: ReplicationItem, status: str) -> None:
        if item.op not in ("put", "marker"):
            return

        def change(current: Any) -> Any:  # the version as stored -> its new info
            return replace(current.info, replication_status=status)

        try:  # the version may be gone since: nothing to mark
            await self.core.meta.update_info(item.bucket, item.key, item.version_id, change)
        except Exception as e:
            log.warning("replication status of %s/%s (%s): %s", item.bucket, item.key, item.version_id, e)

    # ------------------------------------------------------------------ the copies
    async def _copy(self, item: ReplicationItem, target: Target) -> int:
        """Copy one queued operation; the bytes sent. CopyFailed (or OSError) to retry."""
        secret = self.core.secrets.open(target.arn, base64.b64decode(target.secret_sealed))
        base = {"x-minio-source-replication-request": "true", "x-amz-replication-status": "REPLICA"}
        if item.op == "delete":
            status, _, body = await self.remote.send(
                target, secret, "DELETE", item.key, {"versionId": item.version_id}, base
            )
            _check(status, body, ok_missing=True)
            return 0
        rec = await self.core.meta.get_version(item.bucket, item.key, item.version_id)
        if rec is None:
            return 0  # deleted since: nothing left to copy (its deletion is queued if the rules say so)
        if item.op == "lock":  # its retention and legal hold as they are now
            if rec.delete_marker:
                return 0
            await self._send_lock(target, secret, item.key, rec, base)
            return 0
        if item.op == "tags":  # the version's tag set as it is now (PutObjectTagging / DeleteObjectTagging)
            if rec.delete_marker:
                return 0
            q = {"tagging": "", "versionId": rec.version_id}
            if rec.info.tags:
                doc = (
                    "<Tagging><TagSet>"
                    + "".join(
                        f"<Tag><Key>{escape(k)}</Key><Value>{escape(v)}</Value></Tag>"
                        for k, v in sorted(rec.info.tags.items())
                    )
                    + "</TagSet></Tagging>"
                )
                status, _, body = await self.remote.send(target, secret, "PUT", item.key, q, base, doc.encode())
            else:
                status, _, body = await self.remote.send(target, secret, "DELETE", item.key, q, base)
            _check(status, body)
            return 0
        if item.op == "marker" or rec.delete_marker:
            headers = {**base, "x-minio-source-deletemarker": "true", "x-minio-source-mtime": rfc3339(rec.mtime)}
            status, _, body = await self.remote.send(
                target, secret, "DELETE", item.key, {"versionId": item.version_id}, headers
            )
            _check(status, body)
            return 0
        headers = {**base, **object_headers(rec)}
        query = {"versionId": rec.version_id} if rec.version_id != "null" else {}
        parts = rec.layout.parts if rec.layout is not None else None
        if parts:
            return await self._multipart(item, target, secret, rec, headers, query)
        read = await self.core.get_object(item.bucket, item.key, version_id=rec.version_id)
        body: Body = read.body if read.body is not None else b""
        ck = rec.info.checksum
        if ck is not None and ck.type != "COMPOSITE":
            headers[f"x-amz-checksum-{ck.algo.lower()}"] = ck.value
        status, _, resp = await self.remote.send(target, secret, "PUT", item.key, query, headers, body, read.length)
        _check(status, resp)
        return rec.size

    async def _send_lock(self, target: Target, secret: str, key: str, rec: Any, base: dict[str, str]) -> None:
        """PutObjectRetention / PutObjectLegalHold with the version's current values (Content-MD5:
        S3 requires it on these calls)."""
        docs = []
        ret = rec.info.retention
        if ret is not None:
            docs.append(
                (
                    "retention",
                    f"<Retention><Mode>{ret.mode}</Mode><RetainUntilDate>{lock.iso(ret.until)}</RetainUntilDate>"
                    "</Retention>",
                )
            )
        if rec.info.legal_hold:
            docs.append(("legal-hold", f"<LegalHold><Status>{rec.info.legal_hold}</Status></LegalHold>"))
        for sub, doc in docs:
            body = doc.encode()
            headers = {**base, "content-md5": base64.b64encode(hashlib.md5(body).digest()).decode()}
            if sub == "retention":
                headers["x-amz-bypass-governance-retention"] = "true"  # a shortened GOVERNANCE retention
            status, _, resp = await self.remote.send(
                target, secret, "PUT", key, {sub: "", "versionId": rec.version_id}, headers, body
            )
            _check(status, resp)

    async def _multipart(
        self,
        item: ReplicationItem,
        target: Target,
        secret: str,
        rec: Any,
        headers: dict[str, str],
        query: dict[str, str],
    ) -> int:
        """A multipart version, part by part with the source's part sizes (each a stream)."""
        status, _, body = await self.remote.send(target, secret, "POST", item.key, {**query, "uploads": ""}, headers)
        _check(status, body)
        upload_id = _xml_text(body, "UploadId")
        if not upload_id:
            raise CopyFailed(f"CreateMultipartUpload answered no UploadId: {body[:200]!r}")
        done: list[tuple[int, str]] = []
        try:
            for number, _part in enumerate(rec.layout.parts, start=1):
                read = await self.core.get_object(item.bucket, item.key, version_id=rec.version_id, part_number=number)
                pbody: Body = read.body if read.body is not None else b""
                status, rh, resp = await self.remote.send(
                    target,
                    secret,
                    "PUT",
                    item.key,
                    {"partNumber": str(number), "uploadId": upload_id},
                    {"x-minio-source-replication-request": "true"},
                    pbody,
                    read.length,
                )
                _check(status, resp)
                done.append((number, rh.get("etag", "")))
            doc = (
                "<CompleteMultipartUpload>"
                + "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{escape(e)}</ETag></Part>" for n, e in done)
                + "</CompleteMultipartUpload>"
            )
            status, _, resp = await self.remote.send(
                target, secret, "POST", item.key, {"uploadId": upload_id}, {}, doc.encode()
            )
            _check(status, resp)
            if b"<Error>" in resp:  # a 200 whose body is an error (S3's CompleteMultipartUpload)
                raise CopyFailed(f"CompleteMultipartUpload failed: {resp[:300]!r}")
        except BaseException:
            with contextlib.suppress(Exception):
                await self.remote.send(target, secret, "DELETE", item.key, {"uploadId": upload_id}, {})
            raise
        return int(rec.size)

    # ------------------------------------------------------------------ resync and status
    async def resync(self, bucket: str, arn: str = "") -> int:
        """Queue every version of ``bucket`` that a rule with ExistingObjectReplication selects
        (``arn``: for that target only): ``s3gw admin replicate resync``. How many rows."""
        cfg = await self.core.replication(bucket)
        rows: list[tuple[str, str, str, str, str, int]] = []
        total = 0
        async for rec in walk_versions(self.core.meta, bucket, ""):
            if rec.delete_marker:
                continue
            for r in cfg.actionable(rec.key, rec.info.tags, existing=True):
                if arn and r.target != arn:
                    continue
                rows.append((bucket, rec.key, rec.version_id, r.target, "put", rec.size))
            if len(rows) >= 500:
                total += await self.core.meta.queue_replication(rows)
                rows = []
        total += await self.core.meta.queue_replication(rows)
        self.wake()
        return total

    async def status(self) -> dict[str, Any]:
        # the queue's counts are one aggregate over the table: read at most every STATS_TTL seconds,
        # however often probes (/health/ready) and scrapes (/metrics) ask
        now = time.monotonic()
        if self._stats_cache is None or now - self._stats_cache[0] > STATS_TTL:
            self._stats_cache = (now, await self.core.meta.replication_stats())
        st = self._stats_cache[1]
        oldest = st.get("oldest_pending", 0.0)
        lag = max(0.0, time.time() - oldest) if oldest else 0.0
        return {
            "lag_warning": self.lag_warning,
            "lagging": lag > self.lag_warning,
            "pending": int(st.get("pending", 0)),
            "pending_bytes": int(st.get("pending_bytes", 0)),
            "failed": int(st.get("dead", 0)),
            "oldest_pending_seconds": max(0.0, time.time() - oldest) if oldest else 0.0,
            "replicated": self.stats.replicated,
            "replicated_bytes": self.stats.replicated_bytes,
            "failures": self.stats.failures,
            "failures_by_target": dict(self.stats.failures_by_target or {}),
            "targets": st.get("targets", {}),
        }


def object_headers(rec: Any) -> dict[str, str]:
    """What the target stores of a version: content type, stored headers, user metadata, tags,
    lock retention and legal hold, the source's time and ETag (MinIO's replication headers)."""
    info = rec.info
    h: dict[str, str] = {"x-minio-source-mtime": rfc3339(rec.mtime), "x-minio-source-etag": rec.etag}
    if info.content_type:
        h["content-type"] = info.content_type
    for name, value in info.headers.items():
        h[name] = value
    for name, value in info.user_meta.items():
        h[name] = value
    if info.tags:
        h["x-amz-tagging"] = urllib.parse.urlencode(sorted(info.tags.items()), quote_via=urllib.parse.quote)
    if info.retention is not None:
        h["x-amz-object-lock-mode"] = info.retention.mode
        h["x-amz-object-lock-retain-until-date"] = lock.iso(info.retention.until)
    if info.legal_hold:
        h["x-amz-object-lock-legal-hold"] = info.legal_hold
    return h


def _check(status: int, body: bytes, *, ok_missing: bool = False) -> None:
    if 200 <= status < 300 or (ok_missing and status == 404):
        return
    code = _xml_text(body, "Code") or str(status)
    raise CopyFailed(f"{status} {code}: {_xml_text(body, 'Message')}")


def _xml_text(body: bytes, tag: str) -> str:
    start = body.find(f"<{tag}>".encode())
    if start < 0:
        return ""
    start += len(tag) + 2
    end = body.find(f"</{tag}>".encode(), start)
    return body[start:end].decode("utf-8", "replace") if end > start else ""
