"""s3gw's own admin API, used by ``s3gw admin`` (``s3gw/admin_client.py``;
docs/operations.md is its contract). SigV4 and the caller's policies, through
the one admin path (``admin.py``); errors are MinIO's JSON document::

    GET  /minio/admin/s3gw/v1/info                      nodes, drives, healing state (admin:ServerInfo)
    POST /minio/admin/s3gw/v1/heal?bucket=&prefix=&deep=true&dry-run=true
         NDJSON: progress lines while it runs, then {"done": true, ...summary} (admin:Heal)
    GET  /minio/admin/s3gw/v1/maintenance               {"enabled": ..., "since", "reason", "by"} (admin:ServerInfo)
    PUT  /minio/admin/s3gw/v1/maintenance?state=on|off[&reason=]                          (admin:ServiceFreeze)
    GET  /minio/admin/s3gw/v1/manifest[?bucket=&prefix=] NDJSON: one line per version, then a summary
                                                                                           (admin:ExportManifest)
    GET  /minio/admin/s3gw/v1/backup                    the backup file (SQLite database / pg_dump archive)
                                                                                           (admin:Backup)
    GET  /minio/admin/s3gw/v1/replicate/targets[?bucket=] the remote targets, without secrets
                                                                                           (admin:GetBucketTarget)
    PUT  /minio/admin/s3gw/v1/replicate/targets?bucket= body sealed like madmin's (the caller's secret):
         {"endpoint", "targetBucket", "accessKey", "secretKey", "region"} -> {"arn"} (admin:SetBucketTarget)
    DELETE /minio/admin/s3gw/v1/replicate/targets?bucket=&arn=                            (admin:SetBucketTarget)
    GET  /minio/admin/s3gw/v1/replicate/status          the queue and the worker     (admin:ServerInfo)
    POST /minio/admin/s3gw/v1/replicate/resync?bucket=[&arn=]  queue existing objects
                                                        -> {"queued"}          (admin:SetBucketTarget)
    POST /minio/admin/s3gw/v1/kms/rewrap?bucket=
         NDJSON: progress lines, then {"done": true, ...summary}: every SSE-S3/KMS data key re-sealed
         under its master key's current version (kms:ReEncrypt; docs/encryption.md)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import time

from aiohttp import web

from ..core import MetaUnavailable
from ..core.iam import Principal
from ..core.ops import manifest_entry
from ..core.repair import HealSummary
from ..core.service import RewrapSummary
from .admin import KMS_NOT_CONFIGURED, S3GW_ADMIN_PREFIX, AdminError, Routes, stream
from .app import CORE, OPS, REPAIR
from .madmin_crypto import DecryptError, decrypt_data
from .observe import AUDIT_INFO

log = logging.getLogger(__name__)

ROUTES = Routes(S3GW_ADMIN_PREFIX)


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true", "yes", "on")


async def _scope(request: web.Request) -> tuple[str | None, str]:
    """``?bucket=&prefix=``: a prefix needs a bucket, and the bucket must exist."""
    bucket = request.query.get("bucket") or None
    prefix = request.query.get("prefix", "")
    if prefix and not bucket:
        raise AdminError("XMinioAdminInvalidArgument", "prefix needs a bucket")
    if bucket is not None and not await request.app[CORE].bucket_exists(bucket):
        raise AdminError("NoSuchBucket", "The specified bucket does not exist", 404)
    request[AUDIT_INFO].update(target=f"{bucket or '*'}/{prefix}")
    return bucket, prefix


@ROUTES.route("GET", "/info", "admin:ServerInfo")
async def info(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    return web.json_response(await request.app[REPAIR].info())


@ROUTES.route("POST", "/heal", "admin:Heal")
async def heal(request: web.Request, principal: Principal, body: bytes) -> web.StreamResponse:
    bucket, prefix = await _scope(request)
    resp = await stream(request, {"Content-Type": "application/x-ndjson"})

    async def progress(s: HealSummary) -> None:
        d = s.to_dict()
        d.pop("problems")
        await resp.write((json.dumps(d) + "\n").encode())

    summary = await request.app[REPAIR].run_heal(
        bucket, prefix, deep=_flag(request, "deep"), dry_run=_flag(request, "dry-run"), progress=progress
    )
    await resp.write((json.dumps({"done": True, **summary.to_dict()}) + "\n").encode())
    await resp.write_eof()
    return resp


@ROUTES.route("POST", "/kms/rewrap", "kms:ReEncrypt")
async def kms_rewrap(request: web.Request, principal: Principal, body: bytes) -> web.StreamResponse:
    bucket, _ = await _scope(request)
    core = request.app[CORE]
    if core.kms is None:
        raise KMS_NOT_CONFIGURED
    resp = await stream(request, {"Content-Type": "application/x-ndjson"})

    async def progress(s: RewrapSummary) -> None:
        await resp.write((json.dumps(s.to_dict()) + "\n").encode())

    summary = await core.rewrap_keys(bucket, progress=progress)
    log.warning("kms rewrap by %s (%s): %s", principal.access_key, bucket or "every bucket", summary.to_dict())
    await resp.write((json.dumps({"done": True, **summary.to_dict()}) + "\n").encode())
    await resp.write_eof()
    return resp


@ROUTES.route("GET", "/maintenance", "admin:ServerInfo")
async def maintenance_get(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    return web.json_response((await request.app[OPS].maintenance.current()).to_dict())


@ROUTES.route("PUT", "/maintenance", "admin:ServiceFreeze")
async def maintenance_put(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    state = request.query.get("state", "").lower()
    if state not in ("on", "off"):
        raise AdminError("XMinioAdminInvalidArgument", "state must be on or off")
    request[AUDIT_INFO].update(target="maintenance", detail=state)
    st = await request.app[OPS].maintenance.set(
        state == "on", by=principal.access_key, reason=request.query.get("reason", "")
    )
    log.warning("maintenance mode %s by %s%s", state, principal.access_key, f" ({st.reason})" if st.reason else "")
    return web.json_response(st.to_dict())


@ROUTES.route("GET", "/manifest", "admin:ExportManifest")
async def manifest(request: web.Request, principal: Principal, body: bytes) -> web.StreamResponse:
    bucket, prefix = await _scope(request)
    resp = await stream(request, {"Content-Type": "application/x-ndjson"})
    versions = objects = size = 0
    buf: list[bytes] = []
    async for rec in request.app[OPS].versions(bucket, prefix):
        versions += 1
        if rec.is_latest and not rec.delete_marker:
            objects += 1
            size += rec.size
        buf.append(json.dumps(manifest_entry(rec), separators=(",", ":")).encode() + b"\n")
        if len(buf) >= 200:
            await resp.write(b"".join(buf))
            buf.clear()
    buf.append(
        json.dumps(
            {"summary": {"versions": versions, "objects": objects, "bytes": size, "generated": time.time()}}
        ).encode()
        + b"\n"
    )
    await resp.write(b"".join(buf))
    await resp.write_eof()
    return resp


def _backup_kind(path: str) -> tuple[int, str]:
    """The backup file's size and format (SQLite's header, or pg_dump's custom format)."""
    with open(path, "rb") as f:
        return os.fstat(f.fileno()).st_size, "sqlite" if f.read(16) == b"SQLite format 3\x00" else "pg_dump"


@ROUTES.route("GET", "/backup", "admin:Backup")
async def backup(request: web.Request, principal: Principal, body: bytes) -> web.StreamResponse:
    fd, path = tempfile.mkstemp(prefix="s3gw-backup-", suffix=".tmp")
    os.close(fd)
    os.unlink(path)  # the backends create the file themselves
    try:
        try:
            await request.app[OPS].backup(path)
        except (NotImplementedError, RuntimeError, OSError, MetaUnavailable) as e:
            raise AdminError("XMinioAdminBackupFailed", f"backup failed: {e}", 500) from None
        size, kind = await asyncio.to_thread(_backup_kind, path)
        request[AUDIT_INFO].update(target=kind, detail=f"{size} bytes")
        resp = await stream(
            request,
            {"Content-Type": "application/octet-stream", "x-s3gw-backup-format": kind, "Content-Length": str(size)},
        )
        loop = asyncio.get_running_loop()
        with open(path, "rb") as f:  # noqa: ASYNC230 - opening a local file; the reads run in the executor
            while True:
                chunk = await loop.run_in_executor(None, f.read, 1 << 20)
                if not chunk:
                    break
                await resp.write(chunk)
        await resp.write_eof()
        return resp
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


# --------------------------------------------------------------------------- replication targets
@ROUTES.route("GET", "/replicate/targets", "admin:GetBucketTarget")
async def replicate_targets(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    bucket = request.query.get("bucket") or None
    if bucket is not None:
        await _scope(request)
    targets = await request.app[CORE].replication_targets(bucket)
    return web.json_response([t.public() for t in targets])


@ROUTES.route("PUT", "/replicate/targets", "admin:SetBucketTarget")
async def replicate_add(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    bucket = request.query.get("bucket", "")
    if not bucket:
        raise AdminError("XMinioAdminInvalidArgument", "bucket is required")
    try:
        doc = json.loads(await asyncio.to_thread(decrypt_data, principal.secret_key, body))
        if not isinstance(doc, dict) or not all(isinstance(doc.get(k, ""), str) for k in doc):
            raise ValueError
    except (DecryptError, ValueError, RecursionError):
        raise AdminError("XMinioAdminConfigBadJSON", "JSON configuration provided is of incorrect format") from None
    request[AUDIT_INFO].update(target=bucket, detail=f"{doc.get('endpoint', '')}/{doc.get('targetBucket', '')}")
    t = await request.app[CORE].add_replication_target(
        bucket,
        doc.get("endpoint", ""),
        doc.get("targetBucket", ""),
        doc.get("accessKey", ""),
        doc.get("secretKey", ""),
        doc.get("region", ""),
    )
    log.warning("replication target %s added to %s by %s", t.arn, bucket, principal.access_key)
    return web.json_response({"arn": t.arn})


@ROUTES.route("DELETE", "/replicate/targets", "admin:SetBucketTarget")
async def replicate_remove(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    bucket, arn = request.query.get("bucket", ""), request.query.get("arn", "")
    if not bucket or not arn:
        raise AdminError("XMinioAdminInvalidArgument", "bucket and arn are required")
    request[AUDIT_INFO].update(target=bucket, detail=arn)
    await request.app[CORE].remove_replication_target(bucket, arn)
    log.warning("replication target %s of %s removed by %s", arn, bucket, principal.access_key)
    return web.json_response({"arn": arn})


@ROUTES.route("GET", "/replicate/status", "admin:ServerInfo")
async def replicate_status(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    return web.json_response(await request.app[CORE].replication_status())


@ROUTES.route("POST", "/replicate/resync", "admin:SetBucketTarget")
async def replicate_resync(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    bucket, _ = await _scope(request)
    if bucket is None:
        raise AdminError("XMinioAdminInvalidArgument", "bucket is required")
    n = await request.app[CORE].replication_resync(bucket, request.query.get("arn", ""))
    log.warning("replication resync of %s by %s: %d versions queued", bucket, principal.access_key, n)
    return web.json_response({"queued": n})
