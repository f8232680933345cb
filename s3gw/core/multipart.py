"""Multipart uploads, as MinIO does them.

Parts are written through the normal erasure-coded write path, each to its own
shard set, and recorded in the ``parts`` table. Completing an upload never
copies data: one metadata transaction turns the chosen parts into the new
version's layout (``{"parts": [...]}``), removes the upload, and queues the
parts left out for garbage collection. Of two concurrent completes, the second
finds the upload gone (NoSuchUpload).

ETag of the result (MinIO and S3): md5 of the concatenated binary part MD5s,
then "-" and the part count.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ..common.records import Checksum, Encryption, ObjectInfo, ObjectLayout, Part, ShardSet
from ..meta.base import CommitUnknown, MetaStore, UploadMissing
from ..meta.model import BucketRecord, PartRecord, UploadPage, UploadRecord, VersionRecord
from . import checksums
from . import errors as E
from .conditions import Conditions, check_copy_source
from .names import check_object_name
from .payload import Payload, PutOptions, StreamPayload
from .ranges import parse_range
from .sse import SSE_C, Sealing, SSERequest

MIN_PART_SIZE = 5 * 1024 * 1024  # every part but the last (EntityTooSmall)
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
MAX_PART_NUMBER = 10000


@dataclass
class CompletedPart:
    number: int
    etag: str
    checksum: str | None = None  # the client's value for the upload's algorithm, if it sent one


def check_part_number(n: int) -> None:
    """MinIO: a number below 1 is InvalidPart, one above 10000 InvalidArgument."""
    if n < 1:
        raise E.InvalidPart()
    if n > MAX_PART_NUMBER:
        raise E.InvalidArgument("Part number must be an integer between 1 and 10000, inclusive")


def multipart_etag(part_etags: list[str]) -> str:
    """S3's multipart ETag: md5 of the binary part MD5s, "-", the part count.

    >>> multipart_etag(["5d41402abc4b2a76b9719d911017c592"])
    '62109206880d38a4010a98e11243924a-1'
    """
    joined = b"".join(bytes.fromhex(e) for e in part_etags)
    return f"{hashlib.md5(joined).hexdigest()}-{len(part_etags)}"


class ObjectWrites(Protocol):
    """The parts of ``service.Core`` the multipart calls build on: its write path
    (``_store_body``, ``_write_check``, ...) and its bucket and record lookups.
    The mixin's methods take ``self`` as this, so this module never imports
    ``service`` (which imports this one: no cycle)."""

    meta: MetaStore
    _gc_wakeup: Any

    async def bucket(self, name: str) -> BucketRecord: ...
    async def get_record(self, bucket: str, key: str, version_id: str | None) -> VersionRecord: ...
    def _check_put_options(self, opts: PutOptions) -> None: ...
    def _apply_lock(self, brec: BucketRecord, opts: PutOptions) -> None: ...
    def _info(self, opts: PutOptions, checksum: Checksum | None) -> ObjectInfo: ...
    def _write_check(self, opts: PutOptions) -> Any: ...
    async def _store_body(
        self, payload: Payload, opts: PutOptions, *, inline: bool = True, max_size: int = ..., sealing: Any = None
    ) -> tuple[int, str, Checksum | None, ShardSet | None, bytes | None]: ...
    def encryption_for(self, brec: BucketRecord, req: SSERequest | None) -> SSERequest: ...
    async def _new_sealing(self, bucket: str, key: str, req: SSERequest) -> Any: ...
    async def data_key(
        self,
        bucket: str,
        key: str,
        enc: Encryption | None,
        req: SSERequest,
        *,
        open_key: bool = True,
        copy: bool = False,
    ) -> bytes | None: ...
    async def _part_sealing(self, up: UploadRecord, number: int, req: SSERequest | None) -> Any: ...
    async def _discard(self, shards: ShardSet) -> None: ...
    async def _end_writes(self, layouts: list[ShardSet]) -> None: ...
    async def _heal_if_degraded(self, rec: VersionRecord) -> None: ...
    async def _settle(self, rec: VersionRecord, again: Any) -> VersionRecord: ...
    def _read(
        self, rec: VersionRecord, offset: int, length: int, data_key: bytes | None = None
    ) -> AsyncIterator[bytes]: ...
    async def _upload(self, bucket: str, key: str, upload_id: str) -> UploadRecord: ...
    async def _save_part(self, part: PartRecord) -> PartRecord: ...
    async def _store_part(
        self, up: UploadRecord, number: int, payload: Payload, opts: PutOptions, sse: SSERequest | None
    ) -> PartRecord: ...
    def _with_event(self, rec: VersionRecord) -> VersionRecord: ...
    def _events_wake(self) -> None: ...


class MultipartMixin:
    """CreateMultipartUpload ... CompleteMultipartUpload on the Core."""

    async def create_upload(self: ObjectWrites, bucket: str, key: str, opts: PutOptions) -> UploadRecord:
        check_object_name(key)
        brec = await self.bucket(bucket)
        self._check_put_options(opts)
        self._apply_lock(brec, opts)
        if opts.checksum_type not in ("FULL_OBJECT", "COMPOSITE"):
            raise E.InvalidRequest("Value for x-amz-checksum-type header is invalid.")
        if opts.checksum_type == "FULL_OBJECT" and opts.checksum_algo in ("SHA1", "SHA256"):
            raise E.InvalidRequest("The FULL_OBJECT checksum type cannot be used with the SHA1 or SHA256 algorithm.")
        info = self._info(opts, None)
        if opts.checksum_algo:
            info.checksum_algo, info.checksum_type = opts.checksum_algo, opts.checksum_type
        # the object's data key is made now, and sealed with the upload; every part opens it
        sealing = await self._new_sealing(bucket, key, self.encryption_for(brec, opts.sse))
        if sealing is not None:
            info.sse = sealing.enc
        rec = UploadRecord(str(uuid.uuid4()), bucket, key, time.time(), info)
        await self.meta.create_upload(rec)
        return rec

    async def _upload(self: ObjectWrites, bucket: str, key: str, upload_id: str) -> UploadRecord:
        await self.bucket(bucket)
        up = await self.meta.get_upload(bucket, key, upload_id)
        if up is None:
            raise E.NoSuchUpload(bucket=bucket, key=key)
        return up

    async def upload_part(
        self: ObjectWrites, bucket: str, key: str, upload_id: str, number: int, payload: Payload, opts: PutOptions
    ) -> PartRecord:
        check_part_number(number)
        up = await self._upload(bucket, key, upload_id)
        algo = up.info.checksum_algo
        if opts.checksum_algo and algo and opts.checksum_algo != algo:
            raise E.InvalidRequest(f"Checksum Type mismatch, expected {algo}, got {opts.checksum_algo}")
        if algo and not opts.checksum_algo:
            opts.checksum_algo = algo  # computed even when the client sends none, for the final checksum
        self._check_put_options(opts)
        return await self._store_part(up, number, payload, opts, opts.sse)

    async def _store_part(
        self: ObjectWrites, up: UploadRecord, number: int, payload: Payload, opts: PutOptions, sse: SSERequest | None
    ) -> PartRecord:
        """Store one part's bytes (sealed with the upload's data key when it is encrypted) and record it."""
        sealing = await self._part_sealing(up, number, sse)
        size, etag, ck, shards, _ = await self._store_body(
            payload, opts, inline=False, max_size=MAX_PART_SIZE, sealing=sealing
        )
        assert shards is not None
        info = ObjectInfo(checksum=ck)
        if sealing is not None:
            info.sse, etag = sealing.finish_part(size, etag)
        return await self._save_part(PartRecord(up.upload_id, number, size, etag, time.time(), shards, info))

    async def _part_sealing(self: ObjectWrites, up: UploadRecord, number: int, req: SSERequest | None) -> Any:
        """How a part of ``up`` is encrypted: with the upload's data key (an SSE-C upload's part must
        carry the same customer key: MinIO's SSEMultipartEncrypted when it has none), under the
        part's number and a fresh iv."""
        req = req or SSERequest()
        enc = up.info.sse
        if enc is None:
            if req:
                raise E.InvalidEncryptionParameters()
            return None
        if enc.alg == SSE_C and req.kind != SSE_C:
            raise E.SSEMultipartEncrypted()
        data_key = await self.data_key(up.bucket, up.key, enc, req)
        assert data_key is not None
        return Sealing(enc, data_key, part=number)

    async def _save_part(self: ObjectWrites, part: PartRecord) -> PartRecord:
        try:
            await self.meta.put_part(part)
        except UploadMissing as e:
            await self._discard(part.layout)
            raise E.NoSuchUpload() from e
        self._gc_wakeup.set()
        await self._end_writes([part.layout])  # recorded: no longer a write in progress
        return part

    async def upload_part_copy(
        self: ObjectWrites,
        bucket: str,
        key: str,
        upload_id: str,
        number: int,
        src_bucket: str,
        src_key: str,
        src_version: str | None,
        source_range: str | None,
        cond: Conditions,
        sse: SSERequest | None = None,
        src_sse: SSERequest | None = None,
    ) -> tuple[VersionRecord, PartRecord]:
        check_part_number(number)
        up = await self._upload(bucket, key, upload_id)
        src = await self.get_record(src_bucket, src_key, src_version)
        src_data_key = await self.data_key(src.bucket, src.key, src.info.sse, src_sse or SSERequest(), copy=True)
        check_copy_source(cond, src.etag, src.mtime)
        offset, length = 0, src.size
        if source_range:
            if not source_range.startswith("bytes="):
                raise E.InvalidArgument("Range specified is not valid for source object")
            rng = parse_range(source_range, src.size)
            first = source_range[len("bytes=") :].split("-", 1)
            if rng is None or not first[0] or not first[1] or int(first[1]) >= src.size:
                raise E.InvalidArgument("Range specified is not valid for source object")
            offset, length = rng
        opts = PutOptions(checksum_algo=up.info.checksum_algo)
        payload = StreamPayload(self._read(src, offset, length, src_data_key))
        return src, await self._store_part(up, number, payload, opts, sse)

    async def list_parts(
        self: ObjectWrites, bucket: str, key: str, upload_id: str, after: int, limit: int
    ) -> tuple[UploadRecord, list[PartRecord], bool]:
        up = await self._upload(bucket, key, upload_id)
        parts = await self.meta.list_parts(upload_id, after, limit + 1)
        return up, parts[:limit], len(parts) > limit

    async def abort_upload(self: ObjectWrites, bucket: str, key: str, upload_id: str) -> None:
        await self.bucket(bucket)
        try:
            await self.meta.abort_upload(bucket, key, upload_id)
        except UploadMissing:
            return  # aborting what is already gone succeeds (MinIO answers 204)
        self._gc_wakeup.set()

    async def list_uploads(
        self: ObjectWrites,
        bucket: str,
        prefix: str,
        delimiter: str,
        key_marker: str,
        upload_id_marker: str,
        max_uploads: int,
    ) -> UploadPage:
        await self.bucket(bucket)
        return await self.meta.list_uploads(bucket, prefix, delimiter, key_marker, upload_id_marker, max_uploads)

    async def complete_upload(
        self: ObjectWrites,
        bucket: str,
        key: str,
        upload_id: str,
        chosen: list[CompletedPart],
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> VersionRecord:
        up = await self._upload(bucket, key, upload_id)
        if not chosen:
            raise E.InvalidRequest("You must specify at least one part")
        numbers = [c.number for c in chosen]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise E.InvalidPartOrder()
        stored = {p.part_number: p for p in await self.meta.list_parts(upload_id, 0, MAX_PART_NUMBER)}
        parts: list[PartRecord] = []
        for c in chosen:
            p = stored.get(c.number)
            if p is None or c.etag.strip().strip('"') != p.etag:
                if await self.meta.get_upload(bucket, key, upload_id) is None:
                    raise E.NoSuchUpload(bucket=bucket, key=key)  # a concurrent complete or abort took the parts
                raise E.InvalidPart()
            parts.append(p)
        for p in parts[:-1]:
            if p.size < MIN_PART_SIZE:
                raise E.EntityTooSmall()
        if any((p.info.sse is None) != (up.info.sse is None) for p in parts):
            raise E.InvalidPart()  # a part written before/without the upload's encryption
        ck = self._final_checksum(up.info.checksum_algo, up.info.checksum_type or "FULL_OBJECT", parts, chosen)
        info = replace(up.info, checksum_algo=None, checksum_type=None, checksum=ck)
        if info.sse is not None:
            info.sse = replace(info.sse, size=sum(p.size for p in parts))
        layout = ObjectLayout.multipart(
            [
                # a part's own checksum (algorithm and value: it has no object-level type)
                Part(
                    p.part_number,
                    p.size,
                    p.etag,
                    p.layout,
                    p.info.checksum.untyped() if p.info.checksum else None,
                    p.info.sse.iv if p.info.sse else "",
                )
                for p in parts
            ]
        )
        # a replica's upload (a replication request): the source's version id and time
        rvid, rmt = info.extra.pop("rvid", None), info.extra.pop("rmt", None)
        rec = VersionRecord(
            bucket=bucket,
            key=key,
            version_id=str(rvid) if rvid else str(uuid.uuid4()),
            mtime=float(rmt) if rmt else time.time(),
            size=sum(p.size for p in parts),
            etag=multipart_etag([p.etag for p in parts]),
            info=info,
            layout=layout,
        )
        check = self._write_check(PutOptions(if_match=if_match, if_none_match=if_none_match))
        self._with_event(rec)  # its bucket notifications are queued in the same transaction
        try:
            try:
                stored_rec = await self.meta.complete_upload(upload_id, rec, numbers, check)
            except CommitUnknown:
                stored_rec = await self._settle(rec, lambda: self.meta.complete_upload(upload_id, rec, numbers, check))
        except UploadMissing as e:
            raise E.NoSuchUpload(bucket=bucket, key=key) from e
        self._gc_wakeup.set()
        self._events_wake()
        await self._heal_if_degraded(stored_rec)  # parts written while drives were down
        return stored_rec

    @staticmethod
    def _final_checksum(
        algo: str | None, kind: str, parts: list[PartRecord], chosen: list[CompletedPart]
    ) -> Checksum | None:
        """The whole object's checksum: composite (checksum of part checksums, "-N") or full-object (combined CRC)."""
        if not algo:
            return None
        digests = []
        for p, c in zip(parts, chosen):
            value = p.info.checksum.value if p.info.checksum else None
            if value is None:
                return None
            if c.checksum is not None and c.checksum != value:
                raise E.InvalidPart()
            digests.append(base64.b64decode(value))
        if kind == "COMPOSITE":
            return Checksum(algo, checksums.composite(algo, digests), "COMPOSITE")
        crc = checksums.full_object_crc(algo, [(d, p.size) for d, p in zip(digests, parts)])
        return Checksum(algo, base64.b64encode(crc).decode(), "FULL_OBJECT")


__all__ = ["CompletedPart", "MultipartMixin", "MIN_PART_SIZE", "multipart_etag"]
