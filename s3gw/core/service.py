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
import hmac
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from ..common.records import Checksum, Encryption, ObjectInfo, ObjectLayout, RecordError, Retention, ShardSet
from ..kms import KMS, KeyNotFound, KMSError
from ..kms.stats import KMSStats
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
from . import replication as R
from . import sse as S
from .checksums import ALGORITHMS, new_checksum
from .conditions import Conditions, check_copy_source, check_read, check_write
from .lifecycle import Lifecycle, predict_expiry
from .multipart import MultipartMixin
from .names import check_bucket_name, check_object_name
from .notify import Events, Rule
from .payload import Payload, PutOptions, StreamPayload
from .ranges import parse_range
from .sse import SSERequest

log = logging.getLogger(__name__)
_T = TypeVar("_T")

MAX_OBJECT_SIZE = 5 * 1024**4  # 5 TiB, MinIO's and S3's limit for one object
INLINE_LIMIT = 128 * 1024  # MinIO inlines objects below 128 KiB in xl.meta
DEFAULT_CONTENT_TYPE = "binary/octet-stream"  # what MinIO serves for an object stored without one
MAX_USER_METADATA = 8 * 1024  # x-amz-meta-* names and values together (MinIO refuses a 9 KiB set)
GC_RETRY = 60.0  # seconds before retrying GC of shards on a drive that was down
GC_GRACE = 3600.0  # default age of a GC queue entry before its shards go (repair.gc_grace)
GC_READ_RECHECK = 5.0  # seconds before GC looks again at a shard set being read here
UNSETTLED_KEEP = 3600.0  # how long a write of unknown outcome is remembered (a client's retry)
MD5_BATCH = 1 << 20  # body bytes hashed per thread hop: MD5 (~0.7 GB/s) runs off the event loop


def _md5_update(md5: Any, chunks: list[bytes]) -> None:
    for c in chunks:
        md5.update(c)  # hashlib releases the GIL on buffers this large


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
        self.kms: KMS | None = None  # server-side encryption's key manager (None: SSE-S3/KMS refused)
        self.kms_stats = KMSStats()  # its calls and rewraps, for /metrics (``kms_metrics``)
        self.lifecycle_day = 86400.0  # seconds in a lifecycle "day" (lifecycle.day_seconds; tests: a few)
        # lifecycle rules of buckets as last read (``bucket``): the stored form and its parse
        self._rules: dict[str, tuple[list[Any], Lifecycle]] = {}
        # replication rules of buckets as last read (``bucket``): the stored form and its parse
        self._replication: dict[str, tuple[dict[str, Any], R.Config]] = {}
        # bucket notifications (core/notify.py): no targets until the composition root sets them
        self.events = Events(meta, {})
        # bucket replication (core/replication.py): seals target secrets (iam.SecretBox; set by the
        # composition root: targets cannot be added before it is)
        self.secrets: Any = None
        self.replicator: Any = None  # core/replicate.Replicator (set by the composition root)

    # ------------------------------------------------------------------ buckets
    async def bucket(self, name: str) -> BucketRecord:
        rec = await self.meta.get_bucket(name)
        if rec is None:
            check_bucket_name(name)  # an impossible name is InvalidBucketName (400), as in MinIO
            self._rules.pop(name, None)
            raise E.NoSuchBucket(bucket=name)
        self._remember_rules(rec)
        self._remember_replication(rec)
        return rec

    def _remember_replication(self, rec: BucketRecord) -> None:
        """Keep the bucket's replication rules as last read: the writes of the request that read
        the bucket queue their replication from them (``_with_event``)."""
        stored = rec.config.get("replication")
        if not stored:
            self._replication.pop(rec.name, None)
            return
        known = self._replication.get(rec.name)
        if known is not None and known[0] == stored:
            return
        if len(self._replication) >= RULES_MEMO and known is None:
            self._replication.clear()
        self._replication[rec.name] = (stored, R.Config.from_json(stored))

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
        if opts.replica_version_id is not None:
            # a replication request sent again (at least once): the version is here already
            existing = await self.meta.get_version(bucket, key, opts.replica_version_id)
            if existing is not None:
                return existing
        self._apply_lock(brec, opts)
        if opts.if_match is not None or opts.if_none_match is not None:
            # fail fast before reading the body; the transaction checks again
            latest = await self.meta.get_version(bucket, key)
            check_write(opts.if_match, opts.if_none_match, _live_etag(latest))
        return await self._write_version(brec, bucket, key, payload, opts)

    async def _write_version(
        self, brec: BucketRecord, bucket: str, key: str, payload: Payload, opts: PutOptions
    ) -> VersionRecord:
        """Store ``payload`` (sealed as the bucket and ``opts`` ask) as a new version of ``key`` and
        commit it, or answer the version an earlier attempt of the same write already committed:
        the common end of PutObject and CopyObject."""
        sealing = await self._new_sealing(bucket, key, self.encryption_for(brec, opts.sse))
        size, etag, checksum, shards, inline = await self._store_body(payload, opts, sealing=sealing)
        info = self._info(opts, checksum)
        if sealing is not None:
            info.sse, etag = sealing.finish(size, etag)
        info.extra.pop("rvid", None)
        info.extra.pop("rmt", None)
        rec = VersionRecord(
            bucket=bucket,
            key=key,
            version_id=opts.replica_version_id or new_version_id(),
            mtime=opts.replica_mtime or time.time(),
            size=size,
            etag=etag,
            info=info,
            layout=_single(shards),
            inline=inline,
        )
        earlier = await self._earlier_attempt(rec)
        if earlier is not None:
            return earlier
        if opts.replica_version_id is None:
            return await self._commit(rec, self._write_check(opts))
        try:
            return await self._commit(rec, self._write_check(opts))
        except Exception:
            # the same replication request committed meanwhile (two copies at once): that version
            # id is taken by the very version sent, so this one is done; anything else is raised
            existing = await self.meta.get_version(bucket, key, opts.replica_version_id)
            if existing is None or existing.etag != rec.etag:
                raise
            return existing

    @staticmethod
    def _write_check(opts: PutOptions) -> Any:
        """The in-transaction check of a write: conditional headers, and no overwriting a locked null version."""

        def check(latest: VersionRecord | None, replaced: VersionRecord | None) -> None:
            check_write(opts.if_match, opts.if_none_match, _live_etag(latest))
            if replaced is not None and not replaced.delete_marker and lock.is_locked(replaced.info, time.time()):
                raise E.ObjectLocked()

        return check

    def _with_event(self, rec: VersionRecord) -> VersionRecord:
        """``rec`` carrying the bucket-notification hook of this request (core/notify.py): the
        metadata store queues the matching events in the transaction that stores it."""
        rec.event = self.events.note()
        known = self._replication.get(rec.bucket)
        # a replica (a write by another site's replication) is never queued again: no loops
        if known is not None and rec.info.replication_status != "REPLICA":
            rec.replicate = R.note(known[1])
        return rec

    def _events_wake(self) -> None:
        self.events.wake()
        if self.replicator is not None:
            self.replicator.wake()

    async def _commit(self, rec: VersionRecord, check: Any = None) -> VersionRecord:
        """The one metadata transaction that makes a version visible; undo the shards if it fails."""
        self._with_event(rec)
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
        self._events_wake()
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
        object's, or each part of a multipart object, a copy's) missed shards or
        was written with parity raised: the heal worker fills them in, and
        re-encodes raised ones into the normal geometry, once the drives are
        back (at once when a drive or node comes back: ``Repair.heal_worker``)."""
        if not any(s.missing or self.storage.raised(s) for s in rec.layouts()):
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
            replication_status="REPLICA" if opts.replica_version_id else None,
            # a replica's version id and time, kept until CompleteMultipartUpload (core/multipart.py)
            extra={"rvid": opts.replica_version_id, "rmt": opts.replica_mtime} if opts.replica_version_id else {},
        )

    async def _store_body(
        self,
        payload: Payload,
        opts: PutOptions,
        *,
        inline: bool = True,
        max_size: int = MAX_OBJECT_SIZE,
        sealing: S.Sealing | None = None,
    ) -> tuple[int, str, Checksum | None, ShardSet | None, bytes | None]:
        """Stream a body into storage; returns (size, etag, checksum, shard set, inline bytes).

        Everything is verified before the shards are committed: the API's
        verifiers (through ``payload.trailers()``), Content-MD5 and the flexible
        checksum, from its header or its trailer. With ``sealing`` the
        plaintext is digested and the ciphertext stored (``size`` and the ETag
        are the plaintext's; the shard set's size, the ciphertext's).
        """
        if not self.storage.write_quorum_possible():
            # too many nodes down: refuse every write, inline ones too (as MinIO does)
            raise E.SlowDownWrite()
        md5 = hashlib.md5()
        ck = new_checksum(opts.checksum_algo) if opts.checksum_algo else None
        buf = bytearray()
        writer = None
        size = 0
        encryptor = sealing.encryptor() if sealing is not None else None

        async def put(data: bytes) -> None:
            nonlocal writer, buf
            if writer is None:
                buf += data
                if len(buf) > (self.inline_limit if inline else 0):
                    writer = await self._open_writer()
                    await writer.write(bytes(buf))
                    buf = bytearray()
            elif data:
                await writer.write(data)

        # MD5 of each MiB runs in a thread while the event loop goes on (with this body's
        # erasure coding and writes, and other requests); one batch at a time, in order
        hashing: asyncio.Future[None] | None = None
        unhashed: list[bytes] = []
        unhashed_len = 0
        loop = asyncio.get_running_loop()
        try:
            async for chunk in payload:
                size += len(chunk)
                if size > max_size:
                    raise E.EntityTooLarge()
                unhashed.append(chunk)
                unhashed_len += len(chunk)
                if unhashed_len >= MD5_BATCH:
                    if hashing is not None:
                        await hashing
                    hashing = loop.run_in_executor(None, _md5_update, md5, unhashed)
                    unhashed, unhashed_len = [], 0
                if ck is not None:
                    ck.update(chunk)
                if encryptor is not None:
                    chunk = (
                        await asyncio.to_thread(encryptor.update, chunk)
                        if len(chunk) >= S.OFFLOAD
                        else encryptor.update(chunk)
                    )
                await put(chunk)
            if encryptor is not None:
                await put(encryptor.finish())
            if hashing is not None:
                await hashing
                hashing = None
            _md5_update(md5, unhashed)
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
            if hashing is not None:
                hashing.cancel()  # (a batch already running just finishes, unread)
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

    # ------------------------------------------------------------------ encryption
    @staticmethod
    def encryption_for(brec: BucketRecord, req: SSERequest | None) -> SSERequest:
        """What a write is encrypted with: what the request asks, else the bucket's default."""
        if req:
            return req
        default = brec.config.get("sse")
        if isinstance(default, dict) and default.get("alg") in (S.SSE_S3, S.SSE_KMS):
            return SSERequest(str(default["alg"]), str(default.get("key_id") or ""))
        return SSERequest()

    def _need_kms(self) -> KMS:
        if self.kms is None:
            raise E.KMSNotConfigured()
        return self.kms

    async def _kms_call(self, operation: str, call: Awaitable[_T]) -> _T:
        """Await one KMS call, counting it by operation and outcome with its latency (kms/stats.py)."""
        return await self.kms_stats.call(operation, call)

    def kms_metrics(self) -> dict[str, Any]:
        """This process's KMS calls and rewrap results (``KMSStats.snapshot``); empty without a KMS."""
        return self.kms_stats.snapshot() if self.kms is not None else {}

    def check_encryption_request(self, req: SSERequest) -> None:
        """Refuse early what cannot be honoured (no KMS for SSE-S3/KMS: MinIO's 501)."""
        if req and req.kind != S.SSE_C:
            self._need_kms()

    async def _new_sealing(self, bucket: str, key: str, req: SSERequest) -> S.Sealing | None:
        """A new object's data key, sealed (None: the write is not encrypted)."""
        if not req:
            return None
        data_key = S.new_data_key()
        if req.kind == S.SSE_C:
            assert req.customer_key is not None
            sealed = S.seal_with_customer_key(req.customer_key, data_key, bucket, key)
            enc = Encryption(S.SSE_C, "", S.b64(sealed), key_check=S.key_check(req.customer_key))
            return S.Sealing(enc, data_key)
        kms = self._need_kms()
        key_id = req.key_id or kms.default_key_id
        context = S.key_context(bucket, key, req.context)
        try:
            dk = await self._kms_call("generate", kms.generate_data_key(key_id, context))
        except KeyNotFound as e:
            raise E.KMSKeyNotFound() from e
        except KMSError as e:
            log.error("KMS: could not generate a data key for %s/%s under %r: %s", bucket, key, key_id, e)
            raise E.KMSUnavailable() from e
        ctx = dict(req.context) if req.kind == S.SSE_KMS else {}
        enc = Encryption(req.kind or S.SSE_S3, dk.key_id, S.b64(dk.sealed), context=ctx, key_version=dk.version)
        return S.Sealing(enc, dk.plaintext)

    async def data_key(
        self,
        bucket: str,
        key: str,
        enc: Encryption | None,
        req: SSERequest,
        *,
        open_key: bool = True,
        copy: bool = False,
    ) -> bytes | None:
        """The data key of a stored object (or upload), after checking the request's SSE-C headers
        against it as MinIO does (``copy``: the copy source's headers, which may come with an
        unencrypted source). ``open_key=False`` (HEAD) only checks; None: not encrypted."""
        if enc is None:
            if req.kind == S.SSE_C and not copy:
                raise E.InvalidEncryptionParameters()
            return None
        if enc.alg == S.SSE_C:
            if req.kind != S.SSE_C or req.customer_key is None:
                raise E.SSEEncryptedObject()
            if not hmac.compare_digest(S.key_check(req.customer_key), enc.key_check):
                raise E.AccessDenied()  # MinIO: no access without the right key
            try:
                return S.open_with_customer_key(req.customer_key, S.unb64(enc.sealed), bucket, key)
            except S.Tampered as e:
                raise E.AccessDenied() from e
        if req.kind == S.SSE_C:
            raise E.SSEEncryptedObject()
        if not open_key:
            return None
        kms = self._need_kms()
        try:
            context = S.key_context(bucket, key, enc.context)
            return await self._kms_call("open", kms.decrypt_data_key(enc.key_id, S.unb64(enc.sealed), context))
        except KMSError as e:
            log.error("KMS: could not open the data key of %s/%s (key %r): %s", bucket, key, enc.key_id, e)
            raise E.KMSUnavailable() from e

    async def rewrap_keys(self, bucket: str | None = None, *, progress: Any = None, every: int = 200) -> RewrapSummary:
        """Re-seal the data key of every SSE-S3/SSE-KMS version (of ``bucket``, or of every bucket)
        under the current version of its master key (``KMS.reencrypt``); no data is rewritten.

        The sealed keys live in one place, each version's ``info.sse`` (``sealed``, and ``kv``: the
        master key version that sealed it); a version already under the current version is left
        alone, so running it again after an interruption carries on where it stopped (resumable).
        Each update runs in the version's own metadata transaction and is skipped when the version
        changed meanwhile. SSE-C keys are the customer's (not re-wrapped); uploads in progress keep
        their key until they complete (old versions keep opening). ``progress(summary)`` is awaited
        every ``every`` versions.
        """
        kms = self._need_kms()
        summary = RewrapSummary()
        current: dict[str, str] = {}
        async for rec in self._every_version(bucket):
            summary.scanned += 1
            await self._rewrap_one(kms, rec, current, summary)
            if progress is not None and summary.scanned % every == 0:
                await progress(summary)
        return summary

    async def count_key_versions(self, key_id: str) -> dict[str, int]:
        """How many object versions each version of master key ``key_id`` still protects
        (``s3gw admin kms status``): a walk of every version's metadata, an admin-time cost."""
        counts: dict[str, int] = {}
        async for rec in self._every_version(None):
            enc = rec.info.sse
            if enc is not None and enc.alg != S.SSE_C and enc.key_id == key_id:
                counts[enc.key_version] = counts.get(enc.key_version, 0) + 1
        return counts

    async def _every_version(self, bucket: str | None) -> AsyncIterator[VersionRecord]:
        """Every object version of ``bucket`` (None: of every bucket), a page at a time."""
        names = [bucket] if bucket else [b.name for b in await self.meta.list_buckets()]
        for name in names:
            key_marker = version_marker = ""
            while True:
                page = await self.meta.list_versions(name, "", "", key_marker, version_marker, 1000)
                for rec in page.entries:
                    yield rec
                if not page.truncated:
                    break
                key_marker, version_marker = page.next_marker, page.next_version_marker

    async def _rewrap_one(self, kms: KMS, rec: VersionRecord, current: dict[str, str], summary: RewrapSummary) -> None:
        enc = rec.info.sse
        if enc is None or enc.alg == S.SSE_C:
            return
        summary.encrypted += 1
        try:
            if enc.key_id not in current:
                current[enc.key_id] = (await kms.status(enc.key_id)).current
            if enc.key_version == current[enc.key_id]:
                summary.current += 1
                self.kms_stats.rewrapped("skipped")
                return
            context = S.key_context(rec.bucket, rec.key, enc.context)
            dk = await self._kms_call("rewrap", kms.reencrypt(enc.key_id, S.unb64(enc.sealed), context))
        except KMSError as e:
            summary.failed += 1
            self.kms_stats.rewrapped("failed")
            log.error("rewrap: %s/%s (version %s): %s", rec.bucket, rec.key, rec.version_id, e)
            return

        def apply(now: VersionRecord) -> ObjectInfo:
            if now.info.sse is None or now.info.sse.sealed != enc.sealed:
                raise _Changed()
            # AWS KMS does not say which backing key sealed a blob: ReEncrypt used the current one,
            # recorded so a second run skips it (resumable) and status counts it under that version
            version = dk.version or current[enc.key_id]
            return replace(now.info, sse=replace(now.info.sse, sealed=S.b64(dk.sealed), key_version=version))

        try:
            if await self.meta.update_info(rec.bucket, rec.key, rec.version_id, apply):
                summary.rewrapped += 1
                self.kms_stats.rewrapped("resealed")
                return
        except _Changed:
            pass
        self.kms_stats.rewrapped("skipped")  # changed or gone meanwhile: left as it is

    async def set_bucket_encryption(self, bucket: str, alg: str, key_id: str) -> None:
        """PutBucketEncryption: the default of writes that ask for no encryption."""
        brec = await self.bucket(bucket)
        if alg not in (S.SSE_S3, S.SSE_KMS):
            raise E.MalformedXML()
        kms = self._need_kms()
        if alg == S.SSE_KMS and key_id:
            try:
                await kms.status(key_id)
            except KeyNotFound as e:
                raise E.KMSKeyNotFound() from e
            except KMSError as e:
                raise E.KMSUnavailable() from e
        config = dict(brec.config)
        config["sse"] = {"alg": alg, **({"key_id": key_id} if key_id and alg == S.SSE_KMS else {})}
        await self.meta.update_bucket(bucket, config=config)

    async def bucket_encryption(self, bucket: str) -> dict[str, str]:
        sse_cfg = (await self.bucket(bucket)).config.get("sse")
        if not sse_cfg:
            raise E.ServerSideEncryptionConfigurationNotFoundError(bucket=bucket)
        return dict(sse_cfg)

    async def delete_bucket_encryption(self, bucket: str) -> None:
        brec = await self.bucket(bucket)
        if "sse" in brec.config:
            config = dict(brec.config)
            del config["sse"]
            await self.meta.update_bucket(bucket, config=config)

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
        sse: SSERequest | None = None,
    ) -> ObjectRead:
        """GET/HEAD. An encrypted object's data key is opened before anything is answered (a wrong
        SSE-C key or an unreachable KMS is an error, never a cut body); HEAD checks an SSE-C key only."""
        rec = await self.get_record(bucket, key, version_id)
        data_key = await self.data_key(rec.bucket, rec.key, rec.info.sse, sse or SSERequest(), open_key=with_body)
        if cond:
            check_read(cond, rec.etag, rec.mtime, rec)
        rng = parse_range(range_header, rec.size) if range_header else None
        if part_number is not None:
            if rng is not None:
                raise E.RangeWithPartNumber(record=rec)
            rng = self._part_range(rec, part_number)
        offset, length = rng if rng is not None else (0, rec.size)
        body = self._read(rec, offset, length, data_key) if with_body else None
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

    async def _read(
        self, rec: VersionRecord, offset: int, length: int, data_key: bytes | None = None
    ) -> AsyncIterator[bytes]:
        """Stream ``length`` bytes from ``offset``: from the row, one shard set, or a chain of parts
        (an encrypted object's plaintext, given its data key: ``_read_sealed``)."""
        if length <= 0:
            return
        if rec.info.sse is not None:
            if data_key is None:
                raise E.SSEEncryptedObject(record=rec)
            async for chunk in self._read_sealed(rec, rec.info.sse, offset, length, data_key):
                yield chunk
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

    async def _read_sealed(
        self, rec: VersionRecord, enc: Encryption, offset: int, length: int, data_key: bytes
    ) -> AsyncIterator[bytes]:
        """An encrypted object's plaintext ``[offset, offset+length)``: of each write (the object,
        or each part) it covers, only the packages that hold the range are read and opened."""
        pieces: list[tuple[int, ShardSet | None, str, int]]  # (plaintext size, shards, iv, part number)
        if rec.layout is None:
            pieces = [(rec.size, None, enc.iv, 0)]
        elif rec.layout.parts is not None:
            pieces = [(p.size, p.shards, p.iv, p.number) for p in rec.layout.parts]
        else:
            assert rec.layout.shards is not None
            pieces = [(rec.size, rec.layout.shards, enc.iv, 0)]
        ids = [s.data_id for _, s, _, _ in pieces if s is not None]
        self._reading.update(ids)
        pos = 0
        try:
            for plain_size, shards, iv, part in pieces:
                lo, hi = max(offset, pos), min(offset + length, pos + plain_size)
                if lo < hi:
                    _, ct_off, ct_len, _ = S.cipher_range(lo - pos, hi - lo, plain_size)
                    source = (
                        self.storage.read(shards, ct_off, ct_len, on_degraded=self._degraded(rec))
                        if shards is not None
                        else _one((rec.inline or b"")[ct_off : ct_off + ct_len])
                    )
                    async for chunk in S.decrypt_range(
                        source, data_key, S.unb64(iv), part, plain_size, lo - pos, hi - lo
                    ):
                        yield chunk
                pos += plain_size
                if pos >= offset + length:
                    break
        except InsufficientReadQuorum as e:
            await self._explain_failed_read(rec)
            raise E.SlowDownRead() from e
        except S.Tampered as e:
            log.error("%s/%s (version %s): %s", rec.bucket, rec.key, rec.version_id, e)
            raise E.ObjectTampered(record=rec) from e
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
        replica: bool = False,
        replica_marker: tuple[str, float] | None = None,
    ) -> tuple[VersionRecord | None, VersionRecord | None]:
        """DeleteObject. Removing a version for good honours its retention and legal hold,
        checked inside the metadata transaction. ``expect``: see ``MetaStore.delete_object``
        (the lifecycle worker deletes only what it found due).

        A replication request (``replica``; authorised for s3:ReplicateDelete) is not queued for
        replication again; ``replica_marker`` (the source's delete-marker version id and time)
        places that delete marker, as MinIO's X-Minio-Source-DeleteMarker asks."""
        check_version_id(version_id)
        if not _readable_name(key):
            return None, None
        await self.bucket(bucket)
        marker = VersionRecord(
            bucket=bucket, key=key, version_id=new_version_id(), mtime=time.time(), delete_marker=True
        )
        if replica or replica_marker is not None:
            marker.info.replication_status = "REPLICA"
        if replica_marker is not None:
            existing = await self.meta.get_version(bucket, key, replica_marker[0])
            if existing is not None:
                return None, existing  # sent again (at least once): the marker is here already
            marker.version_id, marker.mtime = replica_marker
            version_id = None
        elif version_id is None and await self.meta.get_version(bucket, key) is None:
            return None, None  # MinIO places no delete marker for a key that never existed
        self._with_event(marker)

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
        except Exception:
            # a replicated delete marker placed by the same request sent at once: it is there
            if replica_marker is not None:
                existing = await self.meta.get_version(bucket, key, replica_marker[0])
                if existing is not None and existing.delete_marker:
                    return None, existing
            raise
        if removed is not None:
            self._gc_wakeup.set()
        if removed is not None or created is not None:
            self._events_wake()
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
        src_sse: SSERequest | None = None,
    ) -> tuple[VersionRecord, VersionRecord]:
        """CopyObject: the data is re-written through the normal write path (decrypted with the
        source's key, encrypted as the request or the destination bucket's default asks).

        Copying an object onto itself is only allowed when something changes
        (REPLACE directive), as in S3 and MinIO.
        """
        check_object_name(dst_key)
        src = await self.get_record(src_bucket, src_key, src_version)
        dst = await self.bucket(dst_bucket)
        src_data_key = await self.data_key(src.bucket, src.key, src.info.sse, src_sse or SSERequest(), copy=True)
        check_copy_source(cond, src.etag, src.mtime)
        if (
            src_bucket == dst_bucket
            and src_key == dst_key
            and src_version in (None, src.version_id)
            and not replace_meta
            and not opts.storage_class
            and not replace_tags
            and not opts.sse
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
        payload = StreamPayload(self._read(src, 0, src.size, src_data_key))
        return src, await self._write_version(dst, dst_bucket, dst_key, payload, opts)

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

    # ------------------------------------------------------------------ replication
    async def set_replication(self, bucket: str, doc: dict[str, Any] | None) -> None:
        """PutBucketReplication (None: DeleteBucketReplication): validated as MinIO does
        (core/replication.py), stored in the bucket's config like lifecycle rules."""
        brec = await self.bucket(bucket)
        config = dict(brec.config)
        if doc is None:
            config.pop("replication", None)
        else:
            if brec.versioning != "Enabled":
                raise E.ReplicationNeedsVersioning(bucket=bucket)
            rc = R.parse(doc)
            R.validate(rc, bucket, await self.replication_targets(bucket))
            config["replication"] = rc.to_json()
        await self.meta.update_bucket(bucket, config=config)

    async def replication(self, bucket: str) -> R.Config:
        stored = (await self.bucket(bucket)).config.get("replication")
        if not stored:
            raise E.ReplicationConfigurationNotFoundError(bucket=bucket)
        return R.Config.from_json(stored)

    async def replication_targets(self, bucket: str | None = None) -> list[R.Target]:
        return [R.Target.from_row(*row) for row in await self.meta.list_replication_targets(bucket)]

    async def add_replication_target(
        self, bucket: str, endpoint: str, target_bucket: str, access_key: str, secret: str, region: str = ""
    ) -> R.Target:
        """A new remote target of ``bucket`` (which must be versioned, as MinIO requires)."""
        brec = await self.bucket(bucket)
        if brec.versioning != "Enabled":
            raise E.ReplicationTargetNeedsVersioning(bucket=bucket)
        if self.secrets is None:
            raise E.ServiceUnavailable("replication targets need the root credentials' seal")
        t = R.make_target(bucket, endpoint, target_bucket, access_key, secret, self.secrets.seal, region)
        try:
            await self.meta.put_replication_target(t.arn, bucket, t.to_doc())
        except BucketMissing:
            raise E.NoSuchBucket(bucket=bucket) from None
        return t

    async def replication_status(self) -> dict[str, Any]:
        """The replication queue and this gateway's worker (metrics, ``s3gw admin replicate status``)."""
        if self.replicator is None:
            return {}
        st: dict[str, Any] = await self.replicator.status()
        return st

    async def replication_resync(self, bucket: str, arn: str = "") -> int:
        """Queue the bucket's existing versions for its targets (rules with ExistingObjectReplication)."""
        if self.replicator is None:
            raise E.ServiceUnavailable("replication is not running")
        if arn and arn not in {t.arn for t in await self.replication_targets(bucket)}:
            raise E.RemoteTargetNotFound(bucket=bucket)
        n: int = await self.replicator.resync(bucket, arn)
        return n

    async def remove_replication_target(self, bucket: str, arn: str) -> None:
        """Remove a target; refused while a replication rule of its bucket uses it (MinIO's rule)."""
        targets = {t.arn: t for t in await self.replication_targets(bucket)}
        if arn not in targets:
            raise E.RemoteTargetNotFound(bucket=bucket)
        stored = (await self.bucket(bucket)).config.get("replication")
        if stored and any(r.target == arn for r in R.Config.from_json(stored).rules):
            raise E.RemoteRemoveDisallowed(bucket=bucket)
        await self.meta.delete_replication_target(arn)

    # ------------------------------------------------------------------ version sub-resources
    async def set_bucket_notification(self, bucket: str, doc: dict[str, Any]) -> None:
        """PutBucketNotificationConfiguration: validate (core/notify.py) and store; no queue
        configuration removes it."""
        await self.bucket(bucket)
        await self.events.set_config(bucket, doc)

    async def bucket_notification(self, bucket: str) -> tuple[list[Rule], str]:
        """The bucket's notification rules and the region of their ARNs (none: empty)."""
        await self.bucket(bucket)
        return await self.events.get_config(bucket)

    def notification_targets(self) -> list[str]:
        """The ARNs of the configured notification targets (ServerInfo's ``sqsARN``)."""
        return self.events.arns()

    async def notification_status(self) -> dict[str, Any]:
        """The outbox and the sender (metrics, ``s3gw admin info``)."""
        return await self.events.status()

    async def _update_info(
        self, bucket: str, key: str, version_id: str | None, change: Any, replicate: Any = None
    ) -> VersionRecord:
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

        if not await self.meta.update_info(bucket, key, rec.version_id, apply, replicate):
            if version_id is not None and version_id != NULL_VERSION:
                raise E.NoSuchVersion(bucket=bucket, key=key, version_id=version_id)
            raise E.NoSuchKey(bucket=bucket, key=key, version_id=version_id)
        return rec

    async def set_tags(
        self, bucket: str, key: str, version_id: str | None, tags: dict[str, str], *, replica: bool = False
    ) -> VersionRecord:
        """Put/DeleteObjectTagging; queued for replication unless it is a replication request (``replica``)."""

        def change(_rec: VersionRecord, info: ObjectInfo) -> None:
            info.tags = dict(tags)

        await self.bucket(bucket)  # its replication rules, as for a write (``_remember_replication``)
        # a tag change is replicated like a write (the new tag set, to the targets whose rules select it)
        return await self._replicated_update(bucket, key, version_id, change, replica, "tags")

    async def _replicated_update(
        self, bucket: str, key: str, version_id: str | None, change: Any, replica: bool, what: str
    ) -> VersionRecord:
        """``_update_info``, queueing the change for replication (``what``: "tags" or "lock")
        when the bucket has rules, unless it is itself a replication request (``replica``)."""
        known = None if replica else self._replication.get(bucket)
        note = R.note(known[1]) if known else None
        hook = (lambda rec, _what: note(rec, what)) if note is not None else None
        rec = await self._update_info(bucket, key, version_id, change, hook)
        if hook is not None:
            self._events_wake()
        return rec

    async def set_retention(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        new: Retention | None,
        bypass_governance: bool,
        *,
        replica: bool = False,
    ) -> VersionRecord:
        brec = await self.bucket(bucket)
        if not brec.object_lock:
            raise E.InvalidRequest("Bucket is missing ObjectLockConfiguration")

        def change(_rec: VersionRecord, info: ObjectInfo) -> None:
            lock.check_retention_change(info.retention, new, bypass_governance, time.time())
            info.retention = new

        return await self._replicated_update(bucket, key, version_id, change, replica, "lock")

    async def set_legal_hold(
        self, bucket: str, key: str, version_id: str | None, status: str, *, replica: bool = False
    ) -> VersionRecord:
        brec = await self.bucket(bucket)
        if not brec.object_lock:
            raise E.InvalidRequest("Bucket is missing ObjectLockConfiguration")

        def change(_rec: VersionRecord, info: ObjectInfo) -> None:
            info.legal_hold = status

        return await self._replicated_update(bucket, key, version_id, change, replica, "lock")

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


@dataclass
class RewrapSummary:
    """What ``Core.rewrap_keys`` did: versions looked at, encrypted ones (SSE-S3/KMS), re-sealed,
    already under the current master key version, and failed (the KMS refused; logged)."""

    scanned: int = 0
    encrypted: int = 0
    rewrapped: int = 0
    current: int = 0
    failed: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(vars(self))


class _Changed(Exception):
    """The version's sealed key changed while it was being re-wrapped: leave it."""


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


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
