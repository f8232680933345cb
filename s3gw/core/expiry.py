"""The lifecycle worker: applies every bucket's lifecycle rules, and expires stale multipart uploads.

Each pass, for each bucket with enabled rules (core/lifecycle.py), the worker takes
the bucket's lease in the metadata store (``MetaStore.take_lease``: a compare-and-set
on one row, so of several gateways exactly one applies a bucket's rules at a time;
a gateway that dies mid-pass loses the lease when it expires and the next gateway
takes over), then per rule:

- Expiration (Days, Date) of current versions: the latest versions under the rule's
  prefix written before the cutoff, read oldest first from the (bucket, mtime) index
  (``lifecycle_current``); tags and sizes are checked on each row. The deletion is the
  ordinary DeleteObject without a version: a versioned bucket gets a delete marker
  (nothing is removed, as in S3), an unversioned one loses the object. It happens
  only if the version is still the latest one seen (``expect``, checked inside the
  delete transaction), so an object overwritten meanwhile is never expired.
- ExpiredObjectDeleteMarker (and, as in S3/MinIO, Expiration Days): a delete marker
  that is the only version left of its key is removed.
- NoncurrentVersionExpiration: noncurrent versions written before the cutoff (their
  successor, which made them noncurrent, is later), each with its successor's time
  and the number of newer noncurrent versions (``lifecycle_noncurrent``); removed for
  good, through the same delete path: retention and legal hold are checked in the
  transaction, so a locked version is never removed (it is counted as skipped).
- AbortIncompleteMultipartUpload: uploads under the prefix initiated that many days
  ago are aborted (their parts' shards go to GC).

Besides the rules, uploads of every bucket older than ``api.stale_uploads_expiry``
(MinIO's default: 24 h) are aborted every ``api.stale_uploads_cleanup_interval``
(one gateway at a time, under the lease "*uploads").

Deletions go through ``Core.delete_object`` / ``Core.abort_upload``: shards go to the
GC queue in the same transaction, caches are invalidated, usage counters follow.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from ..meta.base import MetaUnavailable
from ..meta.lifecycle import FIRST
from ..meta.model import BucketRecord, VersionRecord
from . import errors as E
from .lifecycle import Lifecycle, Rule, due_before, expiry_time

log = logging.getLogger(__name__)

#: "no cutoff" for the indexed queries (every row is older than this)
ALWAYS = 1e18
UPLOADS_LEASE = "*uploads"


class LifecycleWorker:
    def __init__(
        self,
        core: Any,
        *,
        interval: float = 3600.0,
        day: float = 86400.0,
        stale_uploads_expiry: float = 86400.0,
        stale_uploads_interval: float = 6 * 3600.0,
        lease_ttl: float = 300.0,
        batch: int = 500,
    ) -> None:
        self.core = core
        self.meta = core.meta
        self.interval = interval  # time between passes over a bucket (lifecycle.interval)
        self.day = day  # seconds in a lifecycle "day" (lifecycle.day_seconds)
        self.stale_uploads_expiry = stale_uploads_expiry  # 0: never
        self.stale_uploads_interval = stale_uploads_interval
        self.lease_ttl = lease_ttl
        self.batch = batch
        self.owner = f"{uuid.uuid4().hex}"  # this gateway process, as a lease holder
        #: expired_objects (current versions removed or hidden by a delete marker),
        #: expired_versions (noncurrent removed), expired_delete_markers, aborted_uploads,
        #: skipped_locked, passes: since this process started
        self.stats: Counter[str] = Counter()
        self._wakeup = asyncio.Event()
        #: filtered rules' scan positions: key -> (after, when the last full scan began) (``_resume``)
        self._marks: dict[Any, tuple[tuple[float, bytes, str], float]] = {}

    def kick(self) -> None:
        """Run a pass now (a configuration was just set)."""
        self._wakeup.set()

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("lifecycle pass failed")
            try:
                await asyncio.wait_for(self._wakeup.wait(), self.pause())
            except TimeoutError:
                pass
            self._wakeup.clear()

    def pause(self) -> float:
        """How long to sleep between passes: a bucket is looked at about every ``interval``."""
        return max(0.05, min(self.interval, self.stale_uploads_interval or self.interval) / 2)

    async def run_once(self, now: float | None = None) -> None:
        """One pass: every bucket whose last pass (on any gateway) is ``interval`` old, then the
        stale-upload sweep when due."""
        passes = await self.meta.lease_passes()
        for brec in await self.meta.list_buckets():
            rules = brec.config.get("lifecycle")
            if not rules:
                continue
            lc = Lifecycle.from_json(rules)
            if not lc.active:
                continue
            t = time.time() if now is None else now
            if t - passes.get(brec.name, 0.0) < self.interval:
                continue
            try:
                await self._leased(brec.name, lambda b=brec, lc=lc: self.apply(b, lc, now))
            except E.NoSuchBucket:
                pass  # deleted during its pass
            except (asyncio.CancelledError, MetaUnavailable):
                raise  # the next pass tries again
            except Exception:
                log.exception("lifecycle pass over %s failed", brec.name)  # the other buckets go on
        t = time.time() if now is None else now
        if self.stale_uploads_expiry > 0 and t - passes.get(UPLOADS_LEASE, 0.0) >= self.stale_uploads_interval:
            await self._leased(UPLOADS_LEASE, lambda: self._stale_uploads(now))
        self.stats["passes"] += 1

    async def _leased(self, name: str, work: Callable[[], Awaitable[None]]) -> bool:
        if not await self.meta.take_lease(name, self.owner, self.lease_ttl, time.time()):
            return False  # another gateway is at it
        finished = False
        try:
            await work()
            finished = True
        except LeaseLost:
            log.warning("lifecycle: the lease on %s expired mid-pass and another gateway took it over", name)
        finally:
            await self.meta.release_lease(name, self.owner, time.time(), finished=finished)
        return True

    async def _renew(self, name: str) -> None:
        """Keep the lease while a long pass goes on; lost (expired and taken over): stop."""
        if not await self.meta.take_lease(name, self.owner, self.lease_ttl, time.time()):
            raise LeaseLost(name)

    # ------------------------------------------------------------------ rules
    async def apply(self, brec: BucketRecord, lc: Lifecycle, now: float | None = None) -> None:
        """Apply every enabled rule of one bucket once."""
        for rule in lc.active:
            t = time.time() if now is None else now
            if rule.expires_current or rule.expired_object_delete_marker:
                await self._current(brec.name, rule, t)
            if rule.expires_noncurrent:
                await self._noncurrent(brec.name, rule, t)
            if rule.abort_days is not None:
                before = t - rule.abort_days * self.day
                n = await self._abort_uploads(brec.name, rule.prefix, before)
                if n:
                    log.info("lifecycle: %s rule %s aborted %d incomplete uploads", brec.name, rule.id, n)

    async def _current(self, bucket: str, rule: Rule, now: float) -> None:
        """Expiration of current versions, and of lone delete markers."""
        days, date = rule.expiration_days, rule.expiration_ts
        if date is not None:
            before = ALWAYS if now > date else -1.0
        elif days is not None:
            before = due_before(now, days, self.day)
        else:
            before = -1.0  # only delete markers
        markers = bool(rule.expired_object_delete_marker) or days is not None
        expired = removed_markers = 0
        for kind, cutoff in (("objects", before), ("markers", ALWAYS if rule.expired_object_delete_marker else before)):
            if cutoff < 0 or (kind == "markers" and not markers):
                continue
            after, mark = FIRST, None
            if kind == "objects" and (rule.tags or rule.size_gt or rule.size_lt):
                after, mark = self._resume(bucket, rule, now)
            while True:
                rows = await self.meta.lifecycle_current(
                    bucket, rule.prefix, cutoff, after, self.batch, markers=kind == "markers"
                )
                for rec in rows:
                    if kind == "markers":
                        if rec.delete_marker and await self._expire_marker(rec, rule, now):
                            removed_markers += 1
                    elif not rec.delete_marker and rule.matches(rec.key, rec.info.tags, rec.size):
                        expired += await self._expire_current(rec)
                if rows:
                    after = (rows[-1].mtime, rows[-1].key.encode(), rows[-1].version_id)
                if mark is not None:
                    self._marks[mark] = (after, self._marks[mark][1])
                if len(rows) < self.batch:
                    break
                await self._renew(bucket)
        if expired or removed_markers:
            log.info(
                "lifecycle: %s rule %s expired %d objects and %d delete markers",
                bucket,
                rule.id,
                expired,
                removed_markers,
            )

    def _resume(self, bucket: str, rule: Rule, now: float) -> tuple[tuple[float, bytes, str], Any]:
        """Where a filtered rule's scan of current versions goes on. A rule with a tag or size
        filter leaves behind the old versions it does not match, and every version it read
        before is either expired or left so; this gateway resumes after the last one it read
        instead of reading them again each pass. Once a lifecycle day it reads from the start
        (a version's tags may have changed since). Kept in memory: a gateway (re)starting, or
        another gateway taking the bucket, reads from the start once."""
        key = (bucket, rule.id, repr(sorted(vars(rule).items())))
        mark = self._marks.get(key)
        if mark is None or now - mark[1] >= self.day:
            if len(self._marks) >= 10000:
                self._marks.clear()
            self._marks[key] = (FIRST, now)
            return FIRST, key
        return mark[0], key

    async def _expire_current(self, rec: VersionRecord) -> int:
        def still_latest(newest: list[VersionRecord]) -> bool:
            return (
                bool(newest)
                and newest[0].version_id == rec.version_id
                and newest[0].mtime == rec.mtime
                and not newest[0].delete_marker
            )

        try:
            removed, marker = await self.core.delete_object(rec.bucket, rec.key, None, expect=still_latest)
        except E.ObjectLocked:
            self.stats["skipped_locked"] += 1  # an unversioned-like delete of a locked null version
            return 0
        if removed is None and marker is None:
            return 0
        self.stats["expired_objects"] += 1
        return 1

    async def _expire_marker(self, rec: VersionRecord, rule: Rule, now: float) -> bool:
        if not rec.key.startswith(rule.prefix):
            return False
        if not rule.expired_object_delete_marker:
            days = rule.expiration_days
            if days is None or expiry_time(rec.mtime, days, self.day) >= now:
                return False

        def lone(newest: list[VersionRecord]) -> bool:
            return len(newest) == 1 and newest[0].version_id == rec.version_id and newest[0].delete_marker

        removed, _ = await self.core.delete_object(rec.bucket, rec.key, rec.version_id, expect=lone)
        if removed is None:
            return False
        self.stats["expired_delete_markers"] += 1
        return True

    async def _noncurrent(self, bucket: str, rule: Rule, now: float) -> None:
        days, keep = rule.noncurrent_days, rule.newer_noncurrent_versions
        before = due_before(now, days, self.day) if days is not None else ALWAYS
        after, expired = FIRST, 0
        while True:
            rows = await self.meta.lifecycle_noncurrent(bucket, rule.prefix, before, after, self.batch)
            for rec, since, newer in rows:
                if days is not None and expiry_time(since, days, self.day) >= now:
                    continue
                if keep is not None and newer < keep:
                    continue  # NewerNoncurrentVersions: the newest ``keep`` noncurrent versions stay
                if not rec.delete_marker and not rule.matches(rec.key, rec.info.tags, rec.size):
                    continue
                expired += await self._expire_version(rec)
            if len(rows) < self.batch:
                break
            last = rows[-1][0]
            after = (last.mtime, last.key.encode(), last.version_id)
            await self._renew(bucket)
        if expired:
            log.info("lifecycle: %s rule %s expired %d noncurrent versions", bucket, rule.id, expired)

    async def _expire_version(self, rec: VersionRecord) -> int:
        def still_noncurrent(newest: list[VersionRecord]) -> bool:
            return bool(newest) and newest[0].version_id != rec.version_id

        try:
            removed, _ = await self.core.delete_object(rec.bucket, rec.key, rec.version_id, expect=still_noncurrent)
        except E.ObjectLocked:
            self.stats["skipped_locked"] += 1  # retention or legal hold: kept (checked in the transaction)
            return 0
        if removed is None:
            return 0
        self.stats["expired_versions"] += 1
        return 1

    # ------------------------------------------------------------------ uploads
    async def _abort_uploads(self, bucket: str | None, prefix: str, before: float) -> int:
        after: tuple[float, str] = (-1.0, "")
        n = 0
        while True:
            rows = await self.meta.lifecycle_uploads(bucket, prefix, before, after, self.batch)
            for up in rows:
                await self.core.abort_upload(up.bucket, up.key, up.upload_id)
                self.stats["aborted_uploads"] += 1
                n += 1
            if len(rows) < self.batch:
                return n
            after = (rows[-1].initiated, rows[-1].upload_id)
            await self._renew(bucket if bucket is not None else UPLOADS_LEASE)

    async def _stale_uploads(self, now: float | None) -> None:
        t = time.time() if now is None else now
        n = await self._abort_uploads(None, "", t - self.stale_uploads_expiry)
        if n:
            log.info(
                "lifecycle: aborted %d multipart uploads older than %ss (api.stale_uploads_expiry)",
                n,
                self.stale_uploads_expiry,
            )


class LeaseLost(Exception):
    """This gateway's lease on a bucket expired and another gateway took it: stop the pass."""
