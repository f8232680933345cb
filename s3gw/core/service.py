"""S3 semantics over the metadata store and the erasure-coded storage.

Handlers in the API layer call one method here per S3 operation. Nothing here
knows HTTP: inputs are plain values, failures are ``core.errors`` classes, and
object bodies are async iterators of bytes.

Write path: the body streams through MD5 (the ETag) and the requested checksum
into either a small in-memory buffer (objects up to ``inline_limit`` live in the
metadata row) or an erasure-coded writer; only after every digest, signature
and checksum has been verified and the shards are durable does one metadata
transaction make the version visible.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from ..common.records import Checksum, ObjectInfo, ObjectLayout, RecordError, Retention, ShardSet
from ..meta.base import (
    BucketExists,
    BucketMissing,
    BucketNotEmptyError,
    CommitUnknown,
    DeleteExpect,
    MetaStore,
    MetaUnavailable,
)
from ..meta.model import NULL_VERSION, BucketRecord, ListPage, VersionRecord
from ..storage import InsufficientReadQuorum, InsufficientWriteQuorum, Storage
from . import errors as E
from . import lock
from .checksums import ALGORITHMS, new_checksum
from .conditions import Conditions, check_copy_source, check_read, check_write
from .lifecycle import Lifecycle, predict_expiry
from .multipart import MultipartMixin
from .names import check_bucket_name, check_object_name
from .payload import Payload, PutOptions, StreamPayload
from .ranges import parse_range

log = logging.getLogger(__name__)

MAX_OBJECT_SIZE = 5 * 1024**4  # 5 TiB, MinIO's and S3's limit for one object
INLINE_LIMIT = 128 * 1024  # MinIO inlines objects below 128 KiB in xl.meta
DEFAULT_CONTENT_TYPE = "binary/octet-stream"  # what MinIO serves for an object stored without one
MAX_USER_METADATA = 8 * 1024  # x-amz-meta-* names and values together (MinIO refuses a 9 KiB set)
GC_RETRY = 60.0  # seconds before retrying GC of shards on a drive that was down
GC_GRACE = 3600.0  # default age of a GC queue entry before its shards go (repair.gc_grace)
GC_READ_RECHECK = 5.0  # seconds before GC looks again at a shard set being read here
UNSETTLED_KEEP = 3600.0  # how long a write of unknown outcome is remembered (a client's retry)
UNSETTLED_MAX = 10000
RULES_MEMO = 10000  # buckets whose lifecycle rules are remembered (x-amz-expiration)


@dataclass
class Unsettled:
    """A write whose metadata commit had an unknown outcome (``CommitUnknown``)."""

    rec: VersionRecord
    since: float
    committed: bool | None = None  # None: not known yet


STORAGE_CLASSES = ("STANDARD", "REDUCED_REDUNDANCY")


@dataclass
class ObjectRead:
    """What GET/HEAD return: the version, the byte range served, and the body."""

    record: VersionRecord
    offset: int
    length: int
    partial: bool
    body: AsyncIterator[bytes] | None = None
    part_checksum: Checksum | None = None  # GET ?partNumber=N of a multipart object


def new_version_id() -> str:
    return str(uuid.uuid4())


def check_version_id(version_id: str | None) -> None:
    """MinIO accepts "null" or a UUID; anything else is InvalidArgument."""
    if version_id is None or version_id == NULL_VERSION:
        return
    if not version_id.isascii() or len(version_id) > 45:  # uuid.UUID's int(..., 16) takes any script's digits
        raise E.InvalidArgument("Invalid version id specified")
    try:
        uuid.UUID(version_id)
    except ValueError as e:
        raise E.InvalidArgument("Invalid version id specified") from e


class Core(MultipartMixin):
    def __init__(self, meta: MetaStore, storage: Storage, *, inline_limit: int = INLINE_LIMIT) -> None:
        self.meta = meta
        self.storage = storage
        self.inline_limit = inline_limit
        self._gc_wakeup = asyncio.Event()
        # Shard sets being written by this process, with when their write intent
        # was last refreshed (monotonic). ``intent_keeper`` refreshes them every
        # ``intent_refresh`` seconds, so the orphan reaper (whose grace must be
        # longer) never takes a slow upload for a crashed one.
        self.inflight: dict[str, float] = {}
        self.intent_refresh = 60.0
        # Reads in progress in this process, by data id: the GC worker leaves
        # their shard sets alone (``run_gc``) however long the read takes. Reads
        # on other gateways are protected by ``gc_grace`` alone: the GC queue
        # hands out a replaced shard set only that long after it was replaced.
        self._reading: Counter[str] = Counter()
        self.gc_grace = GC_GRACE
        # Writes whose commit had an unknown outcome, by (bucket, key): settled in
        # the background, and consulted when the client retries (``_earlier_attempt``).
        self._unsettled: dict[tuple[str, str], Unsettled] = {}
        self.settle_time = 10.0  # how long a request waits for the store to say (database.timeout)
        self._settling: set[asyncio.Task] = set()
        self.lifecycle_day = 86400.0  # seconds in a lifecycle "day" (lifecycle.day_seconds; tests: a few)
        # lifecycle rules of buckets as last read (``bucket``): the stored form and its parse
        self._rules: dict[str, tuple[list[Any], Lifecycle]] = {}

    # ------------------------------------------------------------------ buckets
    async def bucket(self, name: str) -> BucketRecord:
        rec = await self.meta.get_bucket(name)
        if rec is None:
            check_bucket_name(name)  # an impossible name is InvalidBucketName (400), as in MinIO
            self._rules.pop(name, None)
            raise E.NoSuchBucket(bucket=name)
        self._remember_rules(rec)
        return rec

    def _remember_rules(self, rec: BucketRecord) -> None:
        """Keep the bucket's lifecycle rules as last read: the x-amz-expiration of the request that
        read the bucket (PUT, GET, HEAD) comes from them without reading the bucket again."""
        rules = rec.config.get("lifecycle")
        if not rules:
            self._rules.pop(rec.name, None)
            return
        known = self._rules.get(rec.name)
        if known is not None and known[0] == rules:
            return  # unchanged: parsed once
        if len(self._rules) >= RULES_MEMO and known is None:
            self._rules.clear()
        self._rules[rec.name] = (rules, Lifecycle.from_json(rules))

    async def bucket_exists(self, name: str) -> bool:
        """Whether the bucket exists (no name check: the admin APIs ask about any name)."""
        return await self.meta.get_bucket(name) is not None

    async def create_bucket(self, name: str, *, object_lock: bool = False) -> None:
        check_bucket_name(name)
        rec = BucketRecord(
            name=name, created=time.time(), versioning="Enabled" if object_lock else "", object_lock=object_lock
        )
        try:
            await self.meta.create_bucket(rec)
        except BucketExists as e:
            # one owner per deployment: an existing bucket is always "yours" (MinIO answers the same)
            raise E.BucketAlreadyOwnedByYou() from e

    async def list_buckets(self) -> list[BucketRecord]:
        return await self.meta.list_buckets()

    async def delete_bucket(self, name: str) -> None:
        try:
            await self.meta.delete_bucket(name)
        except BucketMissing as e:
            raise E.NoSuchBucket(bucket=name) from e
        except BucketNotEmptyError as e:
            raise E.BucketNotEmpty(bucket=name) from e

    # ------------------------------------------------------------------ writes
    async def put_object(self, bucket: str, key: str, payload: Payload, opts: PutOptions) -> VersionRecord:
        check_object_name(key)
        brec = await self.bucket(bucket)
        self._check_put_options(opts)
        self._apply_lock(brec, opts)
        if opts.if_match is not None or opts.if_none_match is not None:
            # fail fast before reading the body; the transaction checks again
            latest = await self.meta.get_version(bucket, key)
            check_write(opts.if_match, opts.if_none_match, _live_etag(latest))
        size, etag, checksum, shards, inline = await self._store_body(payload, opts)
        info = self._info(opts, checksum)
        rec = VersionRecord(
            bucket=bucket,
            key=key,
            version_id=new_version_id(),
            mtime=time.time(),
            size=size,
            etag=etag,
            info=info,
            layout=_single(shards),
            inline=inline,
        )
        earlier = await self._earlier_attempt(rec)
        if earlier is not None:
            return earlier
        return await self._commit(rec, self._write_check(opts))

    @staticmethod
    def _write_check(opts: PutOptions) -> Any:
        """The in-transaction check of a write: conditional headers, and no overwriting a locked null version."""

        def check(latest: VersionRecord | None, replaced: VersionRecord | None) -> None:
            check_write(opts.if_match, opts.if_none_match, _live_etag(latest))
            if replaced is not None and not replaced.delete_marker and lock.is_locked(replaced.info, time.time()):
                raise E.ObjectLocked()

        return check

    async def _commit(self, rec: VersionRecord, check: Any = None) -> VersionRecord:
        """The one metadata transaction that makes a version visible; undo the shards if it fails."""
        try:
            try:
                stored = await self.meta.put_version(rec, check)
            except CommitUnknown:
                stored = await self._settle(rec, lambda: self.meta.put_version(rec, check))
        except (MetaUnavailable, E.OutcomeUnknown):
            # the outcome is unknown (the COMMIT may have landed before the connection broke):
            # keep the shards; their write intent lets the orphan reaper remove them later
            # if no version references them (and ``_settle_later`` finds out meanwhile)
            raise
        except BaseException:
            for shards in rec.layouts():
                await self._discard(shards)
            raise
        self._gc_wakeup.set()
        await self._heal_if_degraded(stored)
        await self._end_writes(rec.layouts())
        return stored

    # -- writes whose commit had an unknown outcome (docs/metadata.md, Failures)
    async def _settle(self, rec: VersionRecord, again: Any) -> VersionRecord:
        """The store failed while committing ``rec`` (``CommitUnknown``): find out.

        ``settled_version`` reads the version under its key's lock, so a COMMIT
        still in flight has ended when it answers: found (same mtime and ETag:
        this write's row) means committed, and the request succeeds; absent
        means it never took effect, and ``again`` (the same transaction, its
        checks run anew) is tried once. If the store does not answer within
        ``settle_time``, the outcome stays unknown: the request answers 503
        (``OutcomeUnknown``), the shards are kept, and a background task
        settles it later and logs what happened.
        """
        log.warning(
            "%s/%s (version %s): the metadata store failed during COMMIT; finding out whether it took effect",
            rec.bucket,
            rec.key,
            rec.version_id,
        )
        found = await self._settled(rec, self.settle_time)
        if found is True:
            log.warning(
                "%s/%s (version %s): the COMMIT had taken effect: the write succeeded",
                rec.bucket,
                rec.key,
                rec.version_id,
            )
            return rec
        if found is False:
            log.warning(
                "%s/%s (version %s): the COMMIT had not taken effect: committing again",
                rec.bucket,
                rec.key,
                rec.version_id,
            )
            try:
                return await again()
            except CommitUnknown:
                pass
        self._remember(rec)
        raise E.OutcomeUnknown(bucket=rec.bucket, key=rec.key, version_id=rec.version_id)

    async def _settled(self, rec: VersionRecord, within: float) -> bool | None:
        """Whether ``rec`` is stored (True / False), None when the store does not answer ``within`` seconds."""
        end = time.monotonic() + within
        while True:
            try:
                row = await self.meta.settled_version(rec.bucket, rec.key, rec.version_id)
                return row is not None and row.mtime == rec.mtime and row.etag == rec.etag
            except MetaUnavailable:
                if time.monotonic() >= end:
                    return None
                await asyncio.sleep(min(0.5, max(0.0, end - time.monotonic())))

    def _remember(self, rec: VersionRecord) -> None:
        """Keep a write of unknown outcome until it is settled (background task) and
        for ``UNSETTLED_KEEP`` after, for a retry of the same PUT to find."""
        now = time.time()
        for k in [k for k, u in self._unsettled.items() if now - u.since > UNSETTLED_KEEP]:
            del self._unsettled[k]
        if len(self._unsettled) >= UNSETTLED_MAX:
            self._unsettled.pop(next(iter(self._unsettled)))
        u = Unsettled(rec, now)
        self._unsettled[(rec.bucket, rec.key)] = u
        task = asyncio.ensure_future(self._settle_later(u))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _settle_later(self, u: Unsettled) -> None:
        rec = u.rec
        while u.committed is None and time.time() - u.since < UNSETTLED_KEEP:
            u.committed = await self._settled(rec, 30.0)
        if u.committed is True:
            log.warning(
                "%s/%s (version %s), whose write answered 503 (outcome unknown), was committed",
                rec.bucket,
                rec.key,
                rec.version_id,
            )
            self._gc_wakeup.set()
            await self._heal_if_degraded(rec)
            await self._end_writes(rec.layouts())
        elif u.committed is False:
            log.warning(
                "%s/%s (version %s), whose write answered 503 (outcome unknown), was not committed: "
                "its shards are removed",
                rec.bucket,
                rec.key,
                rec.version_id,
            )
            for shards in rec.layouts():
                await self._discard(shards)

    async def _earlier_attempt(self, rec: VersionRecord) -> VersionRecord | None:
        """A retry of a write that answered 503 with an unknown outcome on this
        gateway: when that write did commit, has the same size and ETag, and is
        still the key's latest version, it is the answer (no second version);
        the retry's own shards go. Else None: the retry is a write of its own."""
        u = self._unsettled.get((rec.bucket, rec.key))
        if u is None or (u.rec.etag, u.rec.size) != (rec.etag, rec.size):
            return None
        if u.committed is None:
            u.committed = await self._settled(u.rec, self.settle_time)
        latest = await self.meta.get_version(rec.bucket, rec.key) if u.committed else None
        if latest is None or (latest.version_id, latest.mtime) != (u.rec.version_id, u.rec.mtime):
            return None
        log.warning(
            "%s/%s: a retry of the write of version %s, which had committed: answering with it",
            rec.bucket,
            rec.key,
            latest.version_id,
        )
        for shards in rec.layouts():
            await self._discard(shards)
        return latest

    async def _heal_if_degraded(self, rec: VersionRecord) -> None:
        """Queue a version just written for heal when any of its shard sets (the
        object's, or each part of a multipart object, a copy's) missed shards:
        the heal worker fills them in once the drives are back (at once when
        a drive or node comes back: ``Repair.heal_worker``)."""
        if not any(s.missing for s in rec.layouts()):
            return
        try:
            await self.meta.enqueue_heal(rec.bucket, rec.key, rec.version_id, "write missed shards")
        except Exception:  # the scanner finds it later
            log.warning("could not queue %s/%s for heal", rec.bucket, rec.key, exc_info=True)

    async def _discard(self, shards: ShardSet) -> None:
        try:
            if not await self.storage.delete(shards):
                await self._end_writes([shards])
        except Exception:  # its write intent stays: the orphan reaper removes it later
            log.exception("could not remove shards of an uncommitted write")

    async def _end_writes(self, layouts: list[ShardSet]) -> None:
        """The write intents of these shard sets are settled (committed or removed)."""
        await self._end_writes_ids([s.data_id for s in layouts])

    async def _end_writes_ids(self, ids: list[str]) -> None:
        if ids:
            try:
                await self.meta.end_write(ids)
            except Exception:  # harmless: the reaper finds them referenced and drops them
                log.warning("could not clear write intents %s", ids, exc_info=True)

    @staticmethod
    def _apply_lock(brec: BucketRecord, opts: PutOptions) -> None:
        """Lock headers need an object-lock bucket; without them the bucket's default rule applies."""
        if opts.retention is not None or opts.legal_hold is not None:
            if not brec.object_lock:
                raise E.InvalidRequest("Bucket is missing ObjectLockConfiguration")
        elif brec.object_lock:
            opts.retention = lock.default_retention(brec.config, time.time())

    @staticmethod
    def _check_put_options(opts: PutOptions) -> None:
        if sum(len(k) + len(v) for k, v in opts.user_meta.items()) > MAX_USER_METADATA:
            raise E.MetadataTooLarge()
        if opts.storage_class and opts.storage_class not in STORAGE_CLASSES:
            raise E.InvalidStorageClass()
        if opts.checksum_algo and opts.checksum_algo not in ALGORITHMS:
            raise E.InvalidRequest("Invalid checksum algorithm")
        if opts.content_md5 is not None:
            try:
                raw = base64.b64decode(opts.content_md5, validate=True)
            except (binascii.Error, ValueError) as e:
                raise E.InvalidDigest() from e
            if len(raw) != 16:
                raise E.InvalidDigest()

    def _info(self, opts: PutOptions, checksum: Checksum | None) -> ObjectInfo:
        return ObjectInfo(
            content_type=opts.content_type or DEFAULT_CONTENT_TYPE,
            user_meta=dict(opts.user_meta),
            headers=dict(opts.headers),
            checksum=checksum,
            storage_class=opts.storage_class if opts.storage_class and opts.storage_class != "STANDARD" else None,
            tags=dict(opts.tags),
            retention=opts.retention,
            legal_hold=opts.legal_hold or None,
        )

    async def _store_body(
        self,
        payload: Payload,
        opts: PutOptions,
        *,
        inline: bool = True,
        max_size: int = MAX_OBJECT_SIZE,
    ) -> tuple[int, str, Checksum | None, ShardSet | None, bytes | None]:
        """Stream a body into storage; returns (size, etag, checksum, shard set, inline bytes).

        Everything is verified before the shards are committed: the API's
        verifiers (through ``payload.trailers()``), Content-MD5 and the flexible
        checksum, from its header or its trailer.
        """
        if not self.storage.write_quorum_possible():
            # too many nodes down: refuse every write, inline ones too (as MinIO does)
            raise E.SlowDownWrite()
        md5 = hashlib.md5()
        ck = new_checksum(opts.checksum_algo) if opts.checksum_algo else None
        buf = bytearray()
        writer = None
        size = 0
        try:
            async for chunk in payload:
                size += len(chunk)
                if size > max_size:
                    raise E.EntityTooLarge()
                md5.update(chunk)
                if ck is not None:
                    ck.update(chunk)
                if writer is None:
                    buf += chunk
                    if len(buf) > (self.inline_limit if inline else 0):
                        writer = await self._open_writer()
                        await writer.write(bytes(buf))
                        buf = bytearray()
                else:
                    await writer.write(chunk)
            trailers = await payload.trailers()
            digest = md5.digest()
            if opts.content_md5 is not None and base64.b64decode(opts.content_md5) != digest:
                raise E.BadDigest()
            checksum = None
            if ck is not None and opts.checksum_algo:
                expected = opts.checksum_value or trailers.get(f"x-amz-checksum-{opts.checksum_algo.lower()}")
                got = ck.b64()
                if expected is not None and expected != got:
                    raise E.XAmzContentChecksumMismatch()
                checksum = Checksum(opts.checksum_algo, got, "FULL_OBJECT")
            if writer is None and not inline:
                # empty parts still get a (zero-length) shard set, so every part has a layout
                writer = await self._open_writer()
            shards = await writer.commit() if writer is not None else None
            if writer is not None:
                await self._writer_done(writer.data_id, committed=True)
        except BaseException as exc:
            if writer is not None:
                await self._abandon(writer)
            if isinstance(exc, InsufficientWriteQuorum):
                raise E.SlowDownWrite() from exc
            raise
        return size, digest.hex(), checksum, shards, (bytes(buf) if writer is None else None)

    async def _abandon(self, writer: Any) -> None:
        """A write given up before its commit (quorum lost, the client gone, a
        digest that did not match): its shards go and, when every drive could be
        asked, its write intent too; else the orphan reaper finishes the job."""
        self.inflight.pop(writer.data_id, None)
        try:
            clean = await writer.discard()
        except Exception:
            log.warning("could not remove the shards of abandoned write %s", writer.data_id, exc_info=True)
            return
        if clean:
            await self._end_writes_ids([writer.data_id])

    async def _open_writer(self) -> Any:
        data_id = uuid.uuid4().hex
        placement = self.storage.new_placement(data_id)
        # the write intent comes first: shards of a write that never commits
        # (a crash) are found from it and removed (core/repair.py)
        await self.meta.begin_write(data_id, placement)
        self.inflight[data_id] = time.monotonic()
        return await self.storage.open_writer(data_id, placement)

    async def _writer_done(self, data_id: str, *, committed: bool) -> None:
        """The shards of ``data_id`` are written (or given up). A committed set's
        intent is refreshed once more if it is getting old, so the metadata
        commit that follows has a whole grace period to happen in."""
        touched = self.inflight.pop(data_id, None)
        if committed and touched is not None and time.monotonic() - touched > self.intent_refresh / 2:
            await self.meta.touch_writes([data_id])

    async def intent_keeper(self) -> None:
        """Refresh the write intents of the uploads in progress (see ``inflight``)."""
        while True:
            await asyncio.sleep(self.intent_refresh)
            ids = list(self.inflight)
            if not ids:
                continue
            try:
                await self.meta.touch_writes(ids)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("could not refresh %d write intents", len(ids), exc_info=True)
                continue
            now = time.monotonic()
            for data_id in ids:
                if data_id in self.inflight:
                    self.inflight[data_id] = now

    # ------------------------------------------------------------------ reads
    async def get_record(self, bucket: str, key: str, version_id: str | None) -> VersionRecord:
        """The version a GET/HEAD/copy names, with S3's delete-marker answers."""
        check_version_id(version_id)
        if not _readable_name(key):
            raise E.NoSuchKey(bucket=bucket, key=key, version_id=version_id)
        await self.bucket(bucket)
        rec = await self.meta.get_version(bucket, key, version_id)
        if rec is None:
            if version_id is not None and version_id != NULL_VERSION:
                raise E.NoSuchVersion(bucket=bucket, key=key, version_id=version_id)
            raise E.NoSuchKey(bucket=bucket, key=key, version_id=version_id)
        if rec.delete_marker:
            # the latest version is a delete marker: no such key; one named by its id: not a GET's
            # business (S3 answers both with the marker's headers, rendered from the record)
            if version_id is None:
                raise E.NoSuchKey(record=rec)
            raise E.MethodNotAllowed(record=rec)
        return rec

    async def existing_tags(self, bucket: str, key: str, version_id: str | None) -> dict[str, str] | None:
        """The tags of the version a request names, for ``s3:ExistingObjectTag`` conditions.

        None when there is no such version (or it is a delete marker): the
        condition key is then absent, as for an object without that tag.
        """
        try:
            rec = await self.get_record(bucket, key, version_id)
        except E.CoreError:
            return None
        return dict(rec.info.tags)

    async def get_object(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        range_header: str | None = None,
        cond: Conditions = Conditions(),  # noqa: B008 - a frozen dataclass
        part_number: int | None = None,
        with_body: bool = True,
    ) -> ObjectRead:
        rec = await self.get_record(bucket, key, version_id)
        if cond:
            check_read(cond, rec.etag, rec.mtime, rec)
        rng = parse_range(range_header, rec.size) if range_header else None
        if part_number is not None:
            if rng is not None:
                raise E.RangeWithPartNumber(record=rec)
            rng = self._part_range(rec, part_number)
        offset, length = rng if rng is not None else (0, rec.size)
        body = self._read(rec, offset, length) if with_body else None
        parts = rec.layout.parts if rec.layout is not None else None
        part_ck = parts[part_number - 1].checksum if parts and part_number else None
        return ObjectRead(rec, offset, length, rng is not None, body, part_ck)

    @staticmethod
    def _part_range(rec: VersionRecord, part_number: int) -> tuple[int, int] | None:
        parts = rec.layout.parts if rec.layout is not None else None
        if not parts:
            if part_number == 1:
                return 0, rec.size  # MinIO answers the whole object as part 1, with Content-Range
            raise E.InvalidPartNumber()
        if part_number > len(parts):
            raise E.InvalidPartNumber()
        offset = sum(p.size for p in parts[: part_number - 1])
        return offset, parts[part_number - 1].size

    def _degraded(self, rec: VersionRecord) -> Any:
        """The storage hook for a read that had to serve around bad shards: queue the version for heal."""

        async def hook(_shards: ShardSet, _bad: list[int]) -> None:
            try:
                await self.meta.enqueue_heal(rec.bucket, rec.key, rec.version_id, "degraded read")
            except Exception:
                log.warning("could not queue %s/%s for heal", rec.bucket, rec.key, exc_info=True)

        return hook

    async def _read(self, rec: VersionRecord, offset: int, length: int) -> AsyncIterator[bytes]:
        """Stream ``length`` bytes from ``offset``: from the row, one shard set, or a chain of parts."""
        if length <= 0:
            return
        if rec.inline is not None:
            yield rec.inline[offset : offset + length]
            return
        if rec.layout is None:
            raise RecordError(f"{rec.bucket}/{rec.key} ({rec.version_id}) has neither data nor a layout")
        ids = [s.data_id for s in rec.layout.layouts()]
        self._reading.update(ids)  # GC leaves them alone until this read ends (run_gc)
        pos = 0
        try:
            for seg_size, shards in rec.layout.segments():
                lo, hi = max(offset, pos), min(offset + length, pos + seg_size)
                if lo < hi:
                    async for chunk in self.storage.read(shards, lo - pos, hi - lo, on_degraded=self._degraded(rec)):
                        yield chunk
                pos += seg_size
                if pos >= offset + length:
                    break
        except InsufficientReadQuorum as e:
            await self._explain_failed_read(rec)
            raise E.SlowDownRead() from e
        finally:
            self._reading.subtract(ids)
            for i in ids:
                if self._reading[i] <= 0:
                    del self._reading[i]

    async def _explain_failed_read(self, rec: VersionRecord) -> None:
        """A read that ran out of shards: say whether its version was replaced
        meanwhile (its shards collected after the GC grace: docs/cluster.md)."""
        try:
            current = await self.meta.get_version(rec.bucket, rec.key, rec.version_id)
        except Exception:
            return
        if current is None or current.layout != rec.layout:
            log.warning(
                "read of %s/%s (version %s) cut short: the version was replaced or deleted during the "
                "read and its shards collected (repair.gc_grace is %.0f s); the client gets a short body, "
                "never other bytes",
                rec.bucket,
                rec.key,
                rec.version_id,
                self.gc_grace,
            )

    # ------------------------------------------------------------------ delete
    async def delete_object(
        self,
        bucket: str,
        key: str,
        version_id: str | None = None,
        *,
        bypass_governance: bool = False,
        expect: DeleteExpect | None = None,
    ) -> tuple[VersionRecord | None, VersionRecord | None]:
        """DeleteObject. Removing a version for good honours its retention and legal hold,
        checked inside the metadata transaction. ``expect``: see ``MetaStore.delete_object``
        (the lifecycle worker deletes only what it found due)."""
        check_version_id(version_id)
        if not _readable_name(key):
            return None, None
        await self.bucket(bucket)
        if version_id is None and await self.meta.get_version(bucket, key) is None:
            return None, None  # MinIO places no delete marker for a key that never existed
        marker = VersionRecord(
            bucket=bucket, key=key, version_id=new_version_id(), mtime=time.time(), delete_marker=True
        )

        def check(victim: VersionRecord) -> None:
            if not victim.delete_marker:
                lock.check_delete(victim.info, bypass_governance, time.time())

        try:
            removed, created = await self.meta.delete_object(bucket, key, version_id, marker, check, expect)
        except BucketMissing as e:
            raise E.NoSuchBucket(bucket=bucket) from e
        except CommitUnknown as e:
            # deleting again is the retry: it finds the version gone (or adds one more marker)
            raise E.OutcomeUnknown(bucket=bucket, key=key, version_id=version_id) from e
        if removed is not None:
            self._gc_wakeup.set()
        return removed, created

    # ------------------------------------------------------------------ copy
    async def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        src_version: str | None,
        dst_bucket: str,
        dst_key: str,
        *,
        cond: Conditions,
        replace_meta: bool,
        replace_tags: bool,
        opts: PutOptions,
    ) -> tuple[VersionRecord, VersionRecord]:
        """CopyObject: the data is re-written through the normal write path.

        Copying an object onto itself is only allowed when something changes
        (REPLACE directive), as in S3 and MinIO.
        """
        check_object_name(dst_key)
        src = await self.get_record(src_bucket, src_key, src_version)
        dst = await self.bucket(dst_bucket)
        check_copy_source(cond, src.etag, src.mtime)
        if (
            src_bucket == dst_bucket
            and src_key == dst_key
            and src_version in (None, src.version_id)
            and not replace_meta
            and not opts.storage_class
            and not replace_tags
        ):
            raise E.InvalidRequest(
                "This copy request is illegal because it is trying to copy an object to itself without changing "
                "the object's metadata, storage class, website redirect location or encryption attributes."
            )
        if not replace_meta:
            opts.content_type = src.info.content_type or ""
            opts.user_meta = dict(src.info.user_meta)
            opts.headers = dict(src.info.headers)
        if not replace_tags:
            opts.tags = dict(src.info.tags)
        self._check_put_options(opts)
        self._apply_lock(dst, opts)
        src_ck = src.info.checksum
        if opts.checksum_algo is None and src_ck:
            opts.checksum_algo = src_ck.algo
        payload = StreamPayload(self._read(src, 0, src.size))
        size, etag, checksum, shards, inline = await self._store_body(payload, opts)
        rec = VersionRecord(
            bucket=dst_bucket,
            key=dst_key,
            version_id=new_version_id(),
            mtime=time.time(),
            size=size,
            etag=etag,
            info=self._info(opts, checksum),
            layout=_single(shards),
            inline=inline,
        )
        earlier = await self._earlier_attempt(rec)
        if earlier is not None:
            return src, earlier
        return src, await self._commit(rec, self._write_check(opts))

    # ------------------------------------------------------------------ listing
    async def list_objects(self, bucket: str, prefix: str, delimiter: str, marker: str, max_keys: int) -> ListPage:
        await self.bucket(bucket)
        return await self.meta.list_objects(bucket, prefix, delimiter, marker, max_keys)

    async def list_versions(
        self, bucket: str, prefix: str, delimiter: str, key_marker: str, version_marker: str, max_keys: int
    ) -> ListPage:
        await self.bucket(bucket)
        return await self.meta.list_versions(bucket, prefix, delimiter, key_marker, version_marker, max_keys)

    # ------------------------------------------------------------------ bucket configuration
    async def set_versioning(self, bucket: str, status: str) -> None:
        brec = await self.bucket(bucket)
        if status not in ("Enabled", "Suspended"):
            raise E.MalformedXML()
        if brec.object_lock and status == "Suspended":
            raise E.InvalidBucketState(
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed."
            )
        await self.meta.update_bucket(bucket, versioning=status)

    async def set_lock_config(self, bucket: str, enabled: bool, rule: dict[str, Any] | None) -> None:
        brec = await self.bucket(bucket)
        if not brec.object_lock:
            raise E.InvalidBucketState("Object Lock configuration cannot be enabled on existing buckets")
        if not enabled:
            raise E.MalformedXML()
        config = dict(brec.config)
        if rule:
            config["lock_rule"] = rule
        else:
            config.pop("lock_rule", None)
        await self.meta.update_bucket(bucket, config=config)

    async def lock_config(self, bucket: str) -> dict[str, Any] | None:
        """The default rule ({} when none) of an object-lock bucket."""
        brec = await self.bucket(bucket)
        if not brec.object_lock:
            raise E.ObjectLockConfigurationNotFoundError()
        return brec.config.get("lock_rule") or {}

    async def set_bucket_tags(self, bucket: str, tags: dict[str, str] | None) -> None:
        brec = await self.bucket(bucket)
        config = dict(brec.config)
        if tags:
            config["tags"] = tags
        else:
            config.pop("tags", None)
        await self.meta.update_bucket(bucket, config=config)

    async def bucket_tags(self, bucket: str) -> dict[str, str]:
        tags = (await self.bucket(bucket)).config.get("tags")
        if not tags:
            raise E.NoSuchTagSet(bucket=bucket)
        return tags

    async def set_lifecycle(self, bucket: str, lc: Lifecycle | None) -> None:
        """Store (None: remove) the bucket's lifecycle rules, in its config: every gateway reads them
        with the bucket record (cached, invalidated by this write)."""
        brec = await self.bucket(bucket)
        config = dict(brec.config)
        if lc is not None:
            config["lifecycle"] = lc.to_json()
        else:
            config.pop("lifecycle", None)
        await self.meta.update_bucket(bucket, config=config)

    async def lifecycle(self, bucket: str) -> Lifecycle:
        rules = (await self.bucket(bucket)).config.get("lifecycle")
        if not rules:
            raise E.NoSuchLifecycleConfiguration(bucket=bucket)
        return Lifecycle.from_json(rules)

    async def expiration(self, rec: VersionRecord) -> tuple[str, float] | None:
        """When a lifecycle rule will expire this current version: (rule id, time), for the
        x-amz-expiration header of PUT, GET and HEAD (MinIO's PredictExpiryTime)."""
        known = self._rules.get(rec.bucket)  # as the request read the bucket (``bucket``)
        if rec.delete_marker or known is None:
            return None
        return predict_expiry(known[1], rec.key, rec.info.tags, rec.size, rec.mtime, self.lifecycle_day)

    # ------------------------------------------------------------------ version sub-resources
    async def _update_info(self, bucket: str, key: str, version_id: str | None, change: Any) -> VersionRecord:
        """Read-modify-write one version's info (tags, retention, legal hold).

        ``change`` runs inside the store's transaction, on the version as it is
        there: a concurrent tag/retention/hold change is never lost, a rule
        (retention may only grow) is checked against the current value, and a
        version deleted meanwhile is reported as gone, not silently "updated".
        """
        rec = await self.get_record(bucket, key, version_id)

        def apply(current: VersionRecord) -> ObjectInfo:
            info = replace(current.info)
            change(current, info)
            rec.info = info
            return info

        if not await self.meta.update_info(bucket, key, rec.version_id, apply):
            if version_id is not None and version_id != NULL_VERSION:
                raise E.NoSuchVersion(bucket=bucket, key=key, version_id=version_id)
            raise E.NoSuchKey(bucket=bucket, key=key, version_id=version_id)
        return rec

    async def set_tags(self, bucket: str, key: str, version_id: str | None, tags: dict[str, str]) -> VersionRecord:
        def change(_rec: VersionRecord, info: ObjectInfo) -> None:
            info.tags = dict(tags)

        return await self._update_info(bucket, key, version_id, change)

    async def set_retention(
        self, bucket: str, key: str, version_id: str | None, new: Retention | None, bypass_governance: bool
    ) -> VersionRecord:
        brec = await self.bucket(bucket)
        if not brec.object_lock:
            raise E.InvalidRequest("Bucket is missing ObjectLockConfiguration")

        def change(_rec: VersionRecord, info: ObjectInfo) -> None:
            lock.check_retention_change(info.retention, new, bypass_governance, time.time())
            info.retention = new

        return await self._update_info(bucket, key, version_id, change)

    async def set_legal_hold(self, bucket: str, key: str, version_id: str | None, status: str) -> VersionRecord:
        brec = await self.bucket(bucket)
        if not brec.object_lock:
            raise E.InvalidRequest("Bucket is missing ObjectLockConfiguration")

        def change(_rec: VersionRecord, info: ObjectInfo) -> None:
            info.legal_hold = status

        return await self._update_info(bucket, key, version_id, change)

    # ------------------------------------------------------------------ background
    async def gc_worker(self, interval: float = 5.0) -> None:
        """Remove shard sets whose versions are gone (overwritten, deleted, aborted)."""
        while True:
            try:
                await asyncio.wait_for(self._gc_wakeup.wait(), interval)
            except TimeoutError:
                pass
            self._gc_wakeup.clear()
            try:
                await self.run_gc()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("garbage collection pass failed")

    async def run_gc(self, batch: int = 100) -> int:
        """Delete the shard sets queued at least ``gc_grace`` seconds ago (a read
        that began before the version was replaced has that long to finish on
        any gateway), except those a read in this process still uses."""
        done = 0
        while True:
            items = await self.meta.take_gc(batch, time.time() - self.gc_grace)
            if not items:
                return done
            removed, later, reading = [], [], []
            for i, shards in items:
                if shards.data_id in self._reading:
                    reading.append(i)
                    continue
                # shards on drives that are down are retried later, not forgotten
                (later if await self.storage.delete(shards) else removed).append(i)
            await self.meta.done_gc(removed)
            if later:
                await self.meta.defer_gc(later, time.time() + GC_RETRY)
            if reading:
                await self.meta.defer_gc(reading, time.time() + GC_READ_RECHECK)
            done += len(removed)


def _single(shards: ShardSet | None) -> ObjectLayout | None:
    """The layout of a version written in one piece (None: inline)."""
    return ObjectLayout.single(shards) if shards is not None else None


def _readable_name(key: str) -> bool:
    """Reads and deletes check names as MinIO does: bad path components are an
    error (XMinioInvalidResourceName...), an over-long key simply does not exist."""
    try:
        check_object_name(key)
    except E.KeyTooLongError:
        return False
    return True


def _live_etag(rec: VersionRecord | None) -> str | None:
    return None if rec is None or rec.delete_marker else rec.etag


__all__ = ["Core", "ObjectRead", "Payload", "PutOptions", "MetaUnavailable"]
