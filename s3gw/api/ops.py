"""Operations endpoints beside the S3 pipeline (registered by the composition
root before the S3 catch-all route; docs/operations.md is their contract):

Health, unauthenticated (load balancers and Kubernetes probe them)::

    GET|HEAD /health/live            200 {"status": "live", ...}
    GET|HEAD /health/ready           200 when metadata answers and a read quorum is reachable, else 503
    GET|HEAD /minio/health/ready     the same test, MinIO's shape (no body)

(``/minio/health/live``, ``/minio/health/cluster[/read]`` are in ``admin.py``.)

Metrics and debugging, behind the metrics authentication::

    GET /metrics                     s3gw's series (Prometheus text)
    GET /minio/v2/metrics/cluster    MinIO-named cluster series
    GET /minio/v2/metrics/bucket     MinIO-named bucket usage
    GET /minio/v2/metrics/node       MinIO-named series of this gateway
    GET /debug/db-stats              the metadata store's pool (JSON)

s3gw's admin API (SigV4 and the caller's policy; ``s3gw admin`` uses it)::

    GET  /minio/admin/s3gw/v1/info                      nodes, drives, healing state (admin:ServerInfo)
    POST /minio/admin/s3gw/v1/heal?bucket=&prefix=&deep=true&dry-run=true
         NDJSON: progress lines while it runs, then {"done": true, ...summary} (admin:Heal)
    GET  /minio/admin/s3gw/v1/maintenance               {"enabled": ..., "since", "reason", "by"}
    PUT  /minio/admin/s3gw/v1/maintenance?state=on|off[&reason=]
    GET  /minio/admin/s3gw/v1/manifest[?bucket=&prefix=] NDJSON: one line per version, then a summary
    GET  /minio/admin/s3gw/v1/backup                    the backup file (SQLite database / pg_dump archive)

Every path under ``/minio/admin/`` (these, madmin.py's, unknown ones) passes
``admin_gate`` (unsigned: 403 AccessDenied) and then ``admin_auth``; errors are
MinIO's JSON document.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import tempfile
import time
from typing import Any

from aiohttp import web

from ..auth import MAX_CLOCK_SKEW, AuthError, authenticate, claimed_access_key, is_sha256_hex, signature_kind
from ..common.numbers import json_number
from ..core import MetaUnavailable
from ..core.iam import Principal
from ..core.repair import HealSummary
from ..core.ops import backup_metadata, manifest_entry, quick_storage_state, walk_versions
from .admin import REPAIR
from .app import CORE, IAM, OPS, SETTINGS, TELEMETRY
from .errors import S3Error, render
from .observe import AUDIT_INFO, REQUEST_ID
from .policy_context import request_context

log = logging.getLogger("s3gw.ops")

ADMIN_V1 = "/minio/admin/s3gw/v1"
MAX_ADMIN_BODY = 1 << 20


# --------------------------------------------------------------------------- admin errors and auth


class AdminError(Exception):
    """An admin call refused: MinIO's JSON error document (cmd/api-errors.go codes)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def admin_error_response(request: web.Request, e: AdminError) -> web.Response:
    rid = request.get(REQUEST_ID, "")
    doc = {"Code": e.code, "Message": e.message, "Resource": request.path, "RequestId": rid, "HostId": rid}
    info = request.get(AUDIT_INFO)
    if info is not None:
        info["error"] = e.code
    return web.json_response(doc, status=e.status, headers={"x-amz-request-id": rid})


ADMIN_PREFIX = "/minio/admin/"
DENIED = "Access Denied."


@web.middleware
async def admin_gate(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every path under ``/minio/admin/``, known or not, any method: an unsigned
    request is refused here with MinIO's JSON AccessDenied, before any user is
    looked up, any body read or any key derived (madmin's Argon2id), so an
    anonymous caller learns nothing about users and costs next to nothing.
    The handlers then verify the signature and the admin action (``admin_auth``).
    A CORS preflight passes (OPTIONS with Access-Control-Request-Method): browsers send
    it without credentials and its answer reveals nothing (api/cors.py), as MinIO's
    CORS handler answers it before any route."""
    preflight = request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
    if (request.path.startswith(ADMIN_PREFIX) and not preflight
            and signature_kind(request.headers, request.query) is None):
        request[AUDIT_INFO] = {"action": "admin:Anonymous", "target": request.path}
        return admin_error_response(request, AdminError("AccessDenied", DENIED, 403))
    return await handler(request)


async def admin_auth(request: web.Request, action: str | None, body: bytes | None = b"", target: str = "", *,
                     self_service: bool = False) -> Principal:
    """Authenticate an admin call (SigV4, any region: madmin signs with none) and
    check ``action`` against the caller's policies (None: authenticate only);
    the body's SHA-256 must match the signed x-amz-content-sha256 (``body``
    None: not read, not checked). ``self_service``: a user may act on itself
    (``target`` is its own access key) without the action unless a policy
    denies it explicitly, as MinIO lets a user read its own info and change its
    own secret (its ``DenyOnly`` check). Every admin call is audited."""
    audit: dict[str, Any] = {"action": action or "admin:Unknown", "target": target}
    request[AUDIT_INFO] = audit
    if signature_kind(request.headers, request.query) is None:       # anonymous: nothing is looked up
        raise AdminError("AccessDenied", DENIED, 403)
    iam = request.app[IAM]
    claimed = claimed_access_key(request.headers, request.query)
    principal = await iam.principal(claimed) if claimed else None
    if principal is not None and not principal.enabled:
        raise AdminError("InvalidAccessKeyId", "Your account is disabled; please contact your administrator.", 403)

    def lookup(access_key: str) -> str | None:
        return principal.secret_key if principal is not None and access_key == principal.access_key else None

    try:
        auth = authenticate(request.method, request.rel_url.raw_path, list(request.query.items()), request.headers,
                            lookup, region="")
    except AuthError as e:
        raise AdminError(e.code, e.message, e.status) from None
    if auth.anonymous or principal is None or auth.access_key != principal.access_key:
        raise AdminError("AccessDenied", DENIED, 403)
    audit["access_key"] = principal.access_key
    if body is not None and is_sha256_hex(auth.content_sha256 or "") and \
            hashlib.sha256(body).hexdigest() != auth.content_sha256:
        raise AdminError("XAmzContentSHA256Mismatch",
                         "The provided 'x-amz-content-sha256' header does not match what was computed.", 400)
    ctx = request_context(request, None, auth, principal, request.app[SETTINGS].trusted_proxies)
    if action is None or await iam.allowed(principal, action, context=ctx):    # conditions: aws:SourceIp, ...
        return principal
    if self_service and target == principal.access_key and not await iam.denied(principal, action, context=ctx):
        return principal
    raise AdminError("AccessDenied", DENIED, 403)


async def read_body(request: web.Request, limit: int = MAX_ADMIN_BODY) -> bytes:
    """The whole (small) body, each piece within server.read_timeout (RequestTimeout past it)."""
    too_large = AdminError("XMinioAdminConfigTooLarge", "Configuration data provided exceeds the allowed maximum", 400)
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    settings = request.app.get(SETTINGS)
    wait = (settings.read_timeout if settings is not None else 0.0) or None
    body = bytearray()
    while True:
        try:
            async with asyncio.timeout(wait):
                piece = await request.content.read(limit + 1 - len(body))
        except TimeoutError:
            raise AdminError("RequestTimeout", S3Error("RequestTimeout").message, 400) from None
        if not piece:
            return bytes(body)
        body += piece
        if len(body) > limit:
            raise too_large


def admin_route(action: str):
    """Decorate an admin handler ``(request, principal, body) -> response``: body, auth, errors."""

    def wrap(fn: Any) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                body = await read_body(request) if request.method in ("PUT", "POST") else b""
                principal = await admin_auth(request, action, body)
                return await fn(request, principal, body)
            except AdminError as e:
                return admin_error_response(request, e)
            except MetaUnavailable as e:
                return admin_error_response(request, AdminError("XMinioServerNotInitialized",
                                                                f"metadata store unavailable: {e}", 503))

        handler.__name__ = fn.__name__
        return handler

    return wrap


# --------------------------------------------------------------------------- health


def _maintenance_header(request: web.Request) -> dict[str, str]:
    ops = request.app.get(OPS)
    on = ops is not None and ops.maintenance.known().enabled
    return {"x-s3gw-maintenance": "on" if on else "off"}


async def readiness(request: web.Request) -> tuple[bool, dict[str, Any]]:
    """Ready: the metadata store answers and a read quorum of drives is reachable."""
    core = request.app[CORE]
    st = quick_storage_state(core.storage)
    metadata = "ok"
    try:
        await asyncio.wait_for(core.meta.ping(), 5.0)
    except Exception as e:
        metadata = f"{type(e).__name__}: {e}"
    ops = request.app.get(OPS)
    maintenance = False
    if ops is not None:
        maintenance = (await ops.maintenance.current()).enabled if metadata == "ok" else ops.maintenance.known().enabled
    ready = metadata == "ok" and st.read_ok
    return ready, {
        "status": "ready" if ready else "not ready", "metadata": metadata, "maintenance": maintenance,
        "read_quorum": st.read_ok, "write_quorum": st.write_ok,
        "nodes": {"online": st.nodes_online, "total": len(st.nodes)},
        "drives": {"online": st.drives_online, "total": len(st.drives)},
    }


async def health_live(request: web.Request) -> web.Response:
    ops = request.app.get(OPS)
    body = {"status": "live", "uptime": round(time.time() - ops.started, 3) if ops else None,
            "maintenance": ops.maintenance.known().enabled if ops else False}
    return web.json_response(body, headers=_maintenance_header(request))


async def health_ready(request: web.Request) -> web.Response:
    ready, body = await readiness(request)
    return web.json_response(body, status=200 if ready else 503, headers=_maintenance_header(request))


async def minio_health_ready(request: web.Request) -> web.Response:
    ready, _ = await readiness(request)
    headers = _maintenance_header(request)
    if not ready:
        headers["x-minio-server-status"] = "offline"
    return web.Response(status=200 if ready else 503, headers=headers)


# --------------------------------------------------------------------------- metrics


#: longest bearer token looked at (mc's JWTs are about 250 bytes)
MAX_TOKEN = 8192


def _b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


async def metrics_allowed(request: web.Request) -> bool:
    """Public, a static bearer token, or a JWT as ``mc admin prometheus generate``
    makes it (HS512 signed with the secret key of ``sub``, which must be root
    or allowed ``admin:Prometheus``; ``exp`` required and bounded)."""
    settings = request.app[SETTINGS]
    if settings.metrics_auth == "public":
        return True
    h = request.headers.get("Authorization", "")
    if not h.startswith("Bearer "):
        return False
    token = h[7:].strip()
    if settings.metrics_token and hmac.compare_digest(token.encode(), settings.metrics_token.encode()):
        return True
    if len(token) > MAX_TOKEN:
        return False
    try:
        head_b64, claims_b64, sig_b64 = token.split(".")
        head, claims = json.loads(_b64url(head_b64)), json.loads(_b64url(claims_b64))
        sig = _b64url(sig_b64)
    except (ValueError, RecursionError):      # RecursionError: JSON nested past the stack
        return False
    if not isinstance(head, dict) or head.get("alg") not in ("HS512", "HS256") or not isinstance(claims, dict):
        return False
    # exp is required (a token without one would never expire) and bounded: at most
    # metrics_token_max_lifetime ahead (default 100 years: what mc generates), with
    # the clock skew S3 allows
    try:
        exp = json_number(claims.get("exp"))    # a NumericDate (RFC 7519): a JSON number, nothing else
    except ValueError:
        return False
    now = time.time()
    if exp < now or exp > now + settings.metrics_token_max_lifetime + MAX_CLOCK_SKEW.total_seconds():
        return False
    iam = request.app[IAM]
    p = await iam.principal(str(claims.get("sub", "")))
    if p is None or not p.enabled:
        return False
    algo = hashlib.sha512 if head["alg"] == "HS512" else hashlib.sha256
    want = hmac.new(p.secret_key.encode(), f"{head_b64}.{claims_b64}".encode(), algo).digest()
    if not hmac.compare_digest(want, sig):
        return False
    return await iam.allowed(p, "admin:Prometheus")


def _denied(request: web.Request) -> web.Response:
    rid = request.get(REQUEST_ID, "")
    body = render(S3Error("AccessDenied"), request.path, rid)
    return web.Response(status=403, body=body, headers={"Content-Type": "application/xml", "x-amz-request-id": rid})


async def _refresh(request: web.Request, *, storage: bool = True, usage: bool = True) -> None:
    tel, core, ops = request.app[TELEMETRY], request.app[CORE], request.app[OPS]
    s = tel.state
    meta = core.meta
    if storage:
        s.storage = await ops.probe.get()
    try:
        s.healing = await meta.maintenance_stats()
    except Exception as e:
        log.warning("maintenance stats unavailable: %s", e)
        s.healing = {}
    repair = request.app.get(REPAIR)
    s.worker = dict(repair.worker_totals) if repair is not None else {}
    if usage:
        s.usage = await ops.usage.get()
    s.maintenance = (await ops.maintenance.current()).enabled
    s.meta = meta.pool_stats()
    stats = getattr(meta, "stats", None)
    s.meta_histogram = stats.histogram_snapshot() if stats is not None else None


def _metrics(kind: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        if not await metrics_allowed(request):
            return _denied(request)
        tel = request.app[TELEMETRY]
        await _refresh(request, usage=kind != "node")
        registry = {"s3gw": tel.registry, "cluster": tel.minio_cluster, "bucket": tel.minio_bucket,
                    "node": tel.minio_node}[kind]
        return tel.render(registry)

    handler.__name__ = f"metrics_{kind}"
    return handler


async def db_stats(request: web.Request) -> web.Response:
    if not await metrics_allowed(request):
        return _denied(request)
    meta = request.app[CORE].meta
    doc = meta.pool_stats()
    with contextlib.suppress(Exception):
        t0 = time.monotonic()
        await asyncio.wait_for(meta.ping(), 5.0)
        doc["ping_ms"] = round((time.monotonic() - t0) * 1000, 3)
    return web.json_response(doc)


# --------------------------------------------------------------------------- s3gw admin v1


@admin_route("admin:ServerInfo")
async def maintenance_get(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    return web.json_response((await request.app[OPS].maintenance.current()).to_dict())


@admin_route("admin:ServiceFreeze")
async def maintenance_put(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    state = request.query.get("state", "").lower()
    if state not in ("on", "off"):
        raise AdminError("XMinioAdminInvalidArgument", "state must be on or off")
    request[AUDIT_INFO].update(target="maintenance", detail=state)
    st = await request.app[OPS].maintenance.set(state == "on", by=principal.access_key,
                                                 reason=request.query.get("reason", ""))
    log.warning("maintenance mode %s by %s%s", state, principal.access_key,
                f" ({st.reason})" if st.reason else "")
    return web.json_response(st.to_dict())


@admin_route("admin:ExportManifest")
async def manifest(request: web.Request, principal: Principal, body: bytes) -> web.StreamResponse:
    core = request.app[CORE]
    bucket = request.query.get("bucket") or None
    prefix = request.query.get("prefix", "")
    if prefix and not bucket:
        raise AdminError("XMinioAdminInvalidArgument", "prefix needs a bucket")
    if bucket is not None and await core.meta.get_bucket(bucket) is None:
        raise AdminError("NoSuchBucket", "The specified bucket does not exist", 404)
    request[AUDIT_INFO].update(target=f"{bucket or '*'}/{prefix}")
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await resp.prepare(request)
    versions = objects = size = 0
    buf: list[bytes] = []
    async for rec in walk_versions(core.meta, bucket, prefix):
        versions += 1
        if rec.is_latest and not rec.delete_marker:
            objects += 1
            size += rec.size
        buf.append(json.dumps(manifest_entry(rec), separators=(",", ":")).encode() + b"\n")
        if len(buf) >= 200:
            await resp.write(b"".join(buf))
            buf.clear()
    buf.append(json.dumps({"summary": {"versions": versions, "objects": objects, "bytes": size,
                                       "generated": time.time()}}).encode() + b"\n")
    await resp.write(b"".join(buf))
    await resp.write_eof()
    return resp


@admin_route("admin:Backup")
async def backup(request: web.Request, principal: Principal, body: bytes) -> web.StreamResponse:
    meta = request.app[CORE].meta
    fd, path = tempfile.mkstemp(prefix="s3gw-backup-", suffix=".tmp")
    os.close(fd)
    os.unlink(path)            # the backends create the file themselves
    try:
        try:
            await backup_metadata(meta, path)
        except (NotImplementedError, RuntimeError, OSError, MetaUnavailable) as e:
            raise AdminError("XMinioAdminBackupFailed", f"backup failed: {e}", 500) from None
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            kind = "sqlite" if f.read(16) == b"SQLite format 3\x00" else "pg_dump"
        request[AUDIT_INFO].update(target=kind, detail=f"{size} bytes")
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream",
                                           "x-s3gw-backup-format": kind, "Content-Length": str(size)})
        await resp.prepare(request)
        loop = asyncio.get_running_loop()
        with open(path, "rb") as f:
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


@admin_route("admin:ServerInfo")
async def admin_info(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    return web.json_response(await request.app[REPAIR].info())


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true", "yes", "on")


@admin_route("admin:Heal")
async def admin_heal(request: web.Request, principal: Principal, body: bytes) -> web.StreamResponse:
    repair = request.app[REPAIR]
    bucket = request.query.get("bucket") or None
    prefix = request.query.get("prefix", "")
    if prefix and not bucket:
        raise AdminError("XMinioAdminInvalidArgument", "prefix needs a bucket")
    if bucket is not None and await request.app[CORE].meta.get_bucket(bucket) is None:
        raise AdminError("NoSuchBucket", "The specified bucket does not exist", 404)
    request[AUDIT_INFO].update(target=f"{bucket or '*'}/{prefix}")
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await resp.prepare(request)

    async def progress(s: HealSummary) -> None:
        d = s.to_dict()
        d.pop("problems")
        await resp.write((json.dumps(d) + "\n").encode())

    summary = await repair.run_heal(bucket, prefix, deep=_flag(request, "deep"),
                                    dry_run=_flag(request, "dry-run"), progress=progress)
    await resp.write((json.dumps({"done": True, **summary.to_dict()}) + "\n").encode())
    await resp.write_eof()
    return resp


def add_routes(app: web.Application) -> None:
    """Register before the S3 catch-all route (aiohttp matches in order)."""
    r = app.router
    for path, handler in (("/health/live", health_live), ("/health/ready", health_ready),
                          ("/minio/health/ready", minio_health_ready)):
        r.add_route("GET", path, handler)
        r.add_route("HEAD", path, handler)
    for path, kind in (("/metrics", "s3gw"), ("/minio/v2/metrics/cluster", "cluster"),
                       ("/minio/v2/metrics/bucket", "bucket"), ("/minio/v2/metrics/node", "node")):
        r.add_route("GET", path, _metrics(kind))
    r.add_route("GET", "/debug/db-stats", db_stats)
    r.add_route("GET", f"{ADMIN_V1}/info", admin_info)
    r.add_route("POST", f"{ADMIN_V1}/heal", admin_heal)
    r.add_route("GET", f"{ADMIN_V1}/maintenance", maintenance_get)
    r.add_route("PUT", f"{ADMIN_V1}/maintenance", maintenance_put)
    r.add_route("GET", f"{ADMIN_V1}/manifest", manifest)
    r.add_route("GET", f"{ADMIN_V1}/backup", backup)
